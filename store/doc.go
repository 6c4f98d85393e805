// Package store defines hookd's durable record: the Store interface, its
// contract, and the types it keeps (events, jobs, dead letters).
//
// The daemon accepts an event only once a Store has it: Accept commits
// the event with the jobs its matching rules produced, all of a record or
// nothing, and returns only when they are durable. An event's identity key
// (Event.ID) is stored once, so a second delivery of an event, also one
// racing the first, is reported as a duplicate and runs nothing. Jobs
// then go pending → done, or pending → (retried) → dead, and dead letters
// can be put back (Requeue, TakeRequeued). Jobs are delivered at least
// once: a pending job survives a crash and runs again after it.
//
// The store also keeps what rules that remember (throttles, windows,
// digests, timer rules) know per key: a record's steps change it in the
// commit that stores the event, and a digest's flush or a timer's tick
// changes it with a compare-and-set (Swap) in the commit that queues its
// jobs, so neither a crash nor a duplicate loses or doubles anything. It
// keeps the mutes (silences) the daemon applies too.
//
// The embedded default is package store/sqlite (one SQLite file in the
// data folder). Any implementation, such as a replicated one on a
// networked log, must pass the conformance suite in store/storetest; the
// interface therefore names no SQL type, takes a context everywhere, and
// promises nothing of job ids but that they are unique and never reused.
package store
