// Package store is the daemon's durable record: every accepted event, the
// jobs its matching rules produced, their retries and the dead letters. It
// keeps one SQLite file, hookd.db, in the data folder.
//
// # Promise
//
// Accept returns only after the transaction holding the events and their
// jobs is committed, so the daemon answers 2xx only for events that are on
// disk. An event id is stored once (a UNIQUE index, written with INSERT ...
// ON CONFLICT DO NOTHING, never check-then-insert): a second delivery of the
// same event, also one racing the first, is reported as a duplicate and
// writes nothing, so it runs nothing. When a write fails (disk full, file
// read-only, database damaged, lock held too long by another process), every
// caller of that write gets an error and nothing of it is reported stored;
// the daemon answers 503 and Wassenger sends the event again.
//
// # Group commit
//
// One writer goroutine owns the only write connection. Accept, Done, Retry,
// Dead, Requeue, TakeRequeued, PendingPage and Prune queue an operation and wait
// for its result; the writer takes everything queued (up to
// Options.MaxBatch operations), runs it in one transaction, commits once and
// answers every caller. There is no artificial delay: a batch forms from the
// operations that arrived while the previous commit was being written. Each
// operation runs inside its own SAVEPOINT, so one that fails is rolled back
// alone and the rest of its batch still commits. Reads (DeadLetters, Events,
// Stats) use a separate read-only pool and, thanks to WAL, never wait for
// the writer.
//
// # Durability: synchronous=FULL or NORMAL
//
// The file is in WAL mode. Options.Sync picks SQLite's synchronous setting:
//
//   - "full" (the default): every commit is flushed to the disk (fsync of the
//     WAL) before Accept returns. A committed event survives kill -9, an OS
//     crash and power loss. Group commit spreads the cost of one flush over
//     every event of the batch, which is why hookd uses it by default.
//   - "normal": commits are written to the WAL but flushed only at
//     checkpoints. A committed event survives kill -9 of hookd (the OS still
//     has the data), but an OS crash or power loss can lose the last commits,
//     events that were already acknowledged to Wassenger. Use it only where
//     that risk is acceptable (a disk with a power-loss-protected cache, or
//     test set-ups).
//
// With "full", only commits that hold something the sender was promised
// (Accept, Requeue) are flushed. A batch of job updates alone (Done, Retry,
// Dead) is committed with synchronous=NORMAL: WAL mode keeps the file
// consistent, and the next flushed commit makes those updates durable too.
// Power loss before that can only lose job updates, so a job runs again,
// which the at-least-once contract allows; kill -9 loses nothing. With
// Options.LazyJobUpdates the daemon's workers do not even wait for those
// commits.
//
// # Concurrency with other processes
//
// The daemon owns the file, but a hookd command (for example retrying dead
// letters) may open the same folder while the daemon runs. Write
// transactions take the lock up front (BEGIN IMMEDIATE) and wait up to
// Options.BusyTimeout for it. Jobs requeued by another process carry a flag
// that the daemon collects with TakeRequeued.
//
// # Schema
//
// The schema version is kept in PRAGMA user_version; Open upgrades an older
// file one migration step per version and refuses a file written by a newer
// hookd. Times are stored as Unix milliseconds and returned in UTC.
package store
