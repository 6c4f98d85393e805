// Package sqlite is hookd's embedded store: events, jobs and dead letters
// in one SQLite file, hookd.db in the data folder. It implements
// store.Store and passes the conformance suite in store/storetest.
//
// # Promise
//
// Accept returns only after its records are committed as Options.Sync
// says, so the daemon answers 2xx only for events that are on disk. An
// event's identity key is stored once: a UNIQUE index on it makes the
// insert of a second copy (an earlier delivery, a racing one, or another
// record of the same batch) do nothing, and Accept reports it as a
// duplicate that writes and runs nothing. When a write fails (disk full,
// file system read-only, lock held too long by another process), every
// caller of that write gets an error and nothing of it is stored; the
// daemon answers 503 and Wassenger sends the event again.
//
// # Order of writes: one transaction
//
// An event and its jobs are inserted in one transaction, so neither is
// ever stored without the other. One writer goroutine owns the only write
// connection: Accept, Done, Retry, Dead, Requeue, TakeRequeued,
// PendingPage, Prune and the health probe queue an operation and wait for
// its result; the writer takes everything queued (up to Options.MaxBatch
// operations), runs it in one transaction, each operation inside its own
// SAVEPOINT so that one that fails is rolled back alone, and commits once
// (group commit: one sync of the file for the whole batch). Reads
// (Events, Job, DeadLetters, Stats) run on separate read-only connections
// and never wait for the writer.
//
// # State and mutes
//
// What rules remember is a table of (scope, key) rows with an expiry and,
// for digests, a due time; a record's steps read and write it inside the
// transaction that inserts the event (so a duplicate, whose insert does
// nothing, changes no state). The writer keeps a count of the rows of each
// scope it has seen, read once from the file and recounted after any
// rollback or prune, to refuse a new key beyond the scope's cap without a
// count per event; at the cap it first deletes the scope's expired rows.
// It also keeps the rows it read and wrote last (up to 50,000), so that
// the next event on a key reads them without a query; it forgets them
// where it forgets the counts.
//
// # Durability: Options.Sync
//
//   - "full" (the default): SQLite's WAL mode with synchronous=FULL for
//     every commit holding accepted events or requeued dead letters. An
//     accepted event survives kill -9, an OS crash and power loss. A batch
//     of job updates alone (Done, Retry, Dead) is committed with
//     synchronous=NORMAL: WAL mode keeps the file consistent and the next
//     synced commit makes those updates durable too; power loss before
//     that can only make a job run again, which at-least-once allows.
//   - "normal": WAL mode with synchronous=NORMAL for every commit. An
//     accepted event survives kill -9 of hookd (the OS has the data), but
//     an OS crash or power loss can lose the last commits.
//
// SQLite syncs with fsync(2) unless the process calls SyncWithFdatasync,
// as hookd's commands do: fdatasync(2), as durable and cheaper.
//
// # Health
//
// When a write fails (disk full, file system read-only), Writable reports
// why until a write of the store's own succeeds again, or, once no write
// has failed for a while (writehealth.FailureHold), until a probe of its own (a one-row
// write, committed and synced) succeeds: a store whose disk has room again
// reports healthy again also when no event comes in, and one whose events
// keep failing stays unhealthy instead of flapping. With no recent write
// to judge by, Writable writes the probe.
//
// # Processes
//
// The daemon and hookd commands (exporting events, retrying dead letters)
// may open the file at the same time: WAL mode lets readers read while
// the daemon writes, and a command's writes wait up to
// Options.BusyTimeout for the file's write lock. Jobs requeued by another
// process carry a flag that the daemon collects with TakeRequeued. A
// command opens with Options.MustExist, so that a wrong folder is an
// error rather than a new, empty store.
//
// # Schema and migration
//
// The schema version is kept in PRAGMA user_version (7); Open refuses a
// file written by a newer hookd. A file of version 3 to 6 is upgraded
// in place by any Open (a hookd command's too): version 4 only adds the
// state and mutes tables and the muted column of events, version 5 the
// attempts table (each attempt of a job: time, outcome, reason, redacted
// error), version 6 drops the index of state by expiry (PruneState walks
// the table instead), version 7 adds body_encoding: bodies are stored
// compressed with S2 from then on, those stored before stay as they
// were. A data folder of an earlier hookd
// (schema 1 or 2: jobs in hookd.db, events in the event log folder
// events/ and, for schema 1, in hookd.db) is migrated by the first Open
// that may create a store (not with MustExist), in one transaction: the
// events of the log (checksums verified; a record cut short at the end of
// the newest segment, never acknowledged, is left out, as the earlier
// hookd did) and every job with all its fields and state, its id
// included. Once that transaction is committed the folder events/ is
// renamed to events.migrated/: nothing reads it any more, and it is kept
// so that nothing is lost should the migration have missed something;
// delete it when satisfied. An earlier hookd refuses the migrated file
// (its schema is newer), so it cannot run on stale data. Stop the earlier
// hookd before the first start of this one. Times are stored as Unix
// milliseconds and returned in UTC.
package sqlite
