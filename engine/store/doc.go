// Package store is the daemon's durable record: every accepted event, the
// jobs its matching rules produced, their retries and the dead letters. It
// keeps two things in the data folder: the event log (folder events/, see
// package eventlog), which holds every accepted event, and one SQLite file,
// hookd.db, which holds the jobs.
//
// # Promise
//
// Accept returns only after the records are stored, so the daemon answers
// 2xx only for events that are on disk. An event id is stored once: the
// event log's index finds a second delivery of the same event, also one
// racing the first in the same batch, and reports it as a duplicate that
// writes and runs nothing. When a write fails (disk full, file read-only,
// lock held too long by another process), every caller of that write gets
// an error and nothing of it is reported stored; the daemon answers 503
// and Wassenger sends the event again.
//
// # Order of writes
//
// An event's jobs are committed to SQLite before the event is written to
// the log. So an event the log holds, which from then on is a duplicate,
// always has its jobs. When the log's write fails after the jobs were
// committed, Accept fails; the sender's retry finds the jobs stored and
// gets them back (still pending) instead of new ones, so they run once.
// Events that no rule acts on never touch SQLite.
//
// # Group commit, pipelined
//
// One writer goroutine owns the only SQLite write connection and the
// log's writing side. Accept, Done, Retry, Dead, Requeue, TakeRequeued,
// PendingPage and Prune queue an operation and wait for its result; the
// writer takes everything queued (up to Options.MaxBatch operations), runs
// it in one transaction (each operation in its own SAVEPOINT, so one that
// fails is rolled back alone), commits once and buffers the batch's events
// in the log. A second goroutine, the syncer, writes out and syncs the
// log for every batch waiting at once, then answers their callers: while
// it syncs, the writer goes on with the next batches. Under load the
// syncer waits a little (up to Options.CommitDelay) for the requests
// announced with Arriving, so that one sync acknowledges them all. Reads
// (Events, DeadLetters, Stats) never wait for the writer.
//
// # Durability: Options.Sync
//
//   - "full" (the default): each sync of the log is an fsync, and SQLite
//     commits holding jobs of accepted events or requeued dead letters are
//     flushed too: requeues by SQLite itself (synchronous=FULL), jobs of
//     accepted events by an fsync of SQLite's WAL file (the same flush,
//     done without holding up the writer), which the event log asks for
//     whenever it is about to write records to a file and commits of jobs
//     are not synced yet: whatever writes the events (the syncer, or the
//     writer when a segment fills), their jobs are on disk first. An
//     accepted event survives kill -9, an OS crash and power loss.
//   - "normal": the log is written but not fsynced, and SQLite runs with
//     synchronous=NORMAL. An accepted event survives kill -9 of hookd (the
//     OS still has the data), but an OS crash or power loss can lose the
//     last ones. Use it only where that risk is acceptable.
//
// With "full", a batch of job updates alone (Done, Retry, Dead) is
// committed with synchronous=NORMAL: WAL mode keeps the file consistent,
// and the next synced commit makes those updates durable too. Power loss
// before that can only lose job updates, so a job runs again, which the
// at-least-once contract allows. With Options.LazyJobUpdates the daemon's
// workers do not even wait for those commits, and the writer holds a
// batch made only of such updates for up to Options.LazyBatchDelay so
// that more of them share one commit.
//
// # Processes
//
// The daemon owns the data folder: the event log takes a lock on it. A
// hookd command (exporting events, retrying dead letters) opens it with
// Options.ShareEvents while the daemon runs: it reads the log without the
// lock, and its SQLite writes take the lock up front (BEGIN IMMEDIATE) and
// wait up to Options.BusyTimeout for it. Jobs requeued by another process
// carry a flag that the daemon collects with TakeRequeued.
//
// # Schema
//
// The schema version is kept in PRAGMA user_version; Open upgrades an older
// file one migration step per version and refuses a file written by a newer
// hookd. Version 2 moved events out of SQLite: Open moves the events an
// older store kept in hookd.db into the log. Times are stored as Unix
// milliseconds and returned in UTC.
package store
