package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync/atomic"

	"github.com/hookd/hookd/store"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// States of a queued operation.
const (
	opQueued    int32 = iota // waiting in the queue
	opClaimed                // taken by the writer: its caller waits for the result
	opAbandoned              // its caller gave up before the writer took it: skipped
)

// op is one write waiting for the writer.
type op struct {
	apply func(w *wtx) error
	done  chan error // buffered: the writer never blocks on it
	state atomic.Int32
	// durable ops (events accepted, dead letters put back, the health
	// probe) need their commit synced to disk; the others (job updates)
	// may ride on the next synced commit.
	durable bool
	// lazy ops have no waiting caller: the writer logs their errors.
	lazy bool
}

// write queues a durable operation, waits for the group commit that holds
// it and returns its result.
func (s *Store) write(ctx context.Context, apply func(w *wtx) error) error {
	return s.enqueue(ctx, &op{apply: apply, done: make(chan error, 1), durable: true})
}

// unsynced queues an operation whose commit need not be synced (it reads
// what the writes queued before it wrote, or deletes), and waits for it.
func (s *Store) unsynced(ctx context.Context, apply func(w *wtx) error) error {
	return s.enqueue(ctx, &op{apply: apply, done: make(chan error, 1)})
}

// update queues a job update. With Options.LazyJobUpdates it returns as
// soon as the update is queued.
func (s *Store) update(ctx context.Context, apply func(w *wtx) error) error {
	o := &op{apply: apply, done: make(chan error, 1), lazy: s.lazy}
	if !o.lazy {
		return s.enqueue(ctx, o)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return store.ErrClosed
	}
	select {
	case s.ops <- o:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("store: waiting to write: %w", ctx.Err())
	}
}

// enqueue queues o and waits for its result. ctx bounds the wait until
// the writer takes the operation; once taken, enqueue waits for the
// commit, so the caller always learns whether the operation was stored.
func (s *Store) enqueue(ctx context.Context, o *op) error {
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return store.ErrClosed
	}
	select {
	case s.ops <- o:
	case <-ctx.Done():
		s.mu.RUnlock()
		return fmt.Errorf("store: waiting to write: %w", ctx.Err())
	}
	s.mu.RUnlock()
	select {
	case err := <-o.done:
		return err
	case <-ctx.Done():
		if o.state.CompareAndSwap(opQueued, opAbandoned) {
			return fmt.Errorf("store: waiting to write: %w", ctx.Err())
		}
		return <-o.done
	}
}

// writer is the one goroutine that writes. It takes everything queued
// (up to MaxBatch operations), commits it in one transaction, answers the
// callers, and runs until Close closes the queue and every queued
// operation has been answered. While it commits, the next operations
// queue up: the busier the store, the larger the batches.
func (s *Store) writer() {
	defer close(s.stopped)
	batch := make([]*op, 0, s.maxBatch)
	for first := range s.ops {
		s.gather()
		batch = append(batch[:0], first)
		s.collect(&batch)
		s.runBatch(batch)
	}
}

// gather yields the processor while the queue grows, so that the
// callers that are ready to run queue their operations before the writer
// takes the batch. Without it, on one processor (GOMAXPROCS=1) the first
// caller's send wakes the writer to run next, ahead of the other
// requests already read: the writer commits a batch of one, and those
// requests wait through its commit and sync (a short system call keeps
// the processor), to be committed one or two at a time in turn. With
// nothing else to run, a yield returns at once.
func (s *Store) gather() {
	for n := len(s.ops); n < s.maxBatch; {
		runtime.Gosched()
		m := len(s.ops)
		if m == n {
			return
		}
		n = m
	}
}

// collect adds the queued operations to batch, until it is full or the
// queue is empty.
func (s *Store) collect(batch *[]*op) {
	for len(*batch) < s.maxBatch {
		select {
		case o, ok := <-s.ops:
			if !ok {
				return
			}
			*batch = append(*batch, o)
		default:
			return
		}
	}
}

// runBatch commits the live operations of batch and answers their
// callers.
func (s *Store) runBatch(batch []*op) {
	live := make([]*op, 0, len(batch))
	for _, o := range batch {
		if o.state.CompareAndSwap(opQueued, opClaimed) {
			live = append(live, o)
		}
	}
	if len(live) == 0 {
		return
	}
	errs, err := s.commit(live)
	if err != nil {
		s.failed.Add(1)
		s.health.Record(s.now(), err)
		s.log.Error("store: write failed, nothing of it was stored", "path", s.path, "operations", len(live), "err", err)
		for _, o := range live {
			o.done <- err
		}
		return
	}
	s.commits.Add(1)
	// Health first: a caller told of a failure may ask for it at once.
	var storageErr error
	for _, err := range errs {
		if unwritable(err) {
			storageErr = err
		}
	}
	// A commit of job updates alone is small and unsynced: it can succeed
	// on a disk that refuses events, so only a synced commit (events, a
	// requeue, the probe) counts as the store taking writes again.
	if storageErr != nil || slices.ContainsFunc(live, func(o *op) bool { return o.durable }) {
		s.health.Record(s.now(), storageErr)
	}
	var ok uint64
	for i, o := range live {
		if errs[i] == nil {
			ok++
		} else if o.lazy {
			s.log.Warn("store: job update not recorded", "path", s.path, "err", errs[i])
		}
		o.done <- errs[i]
	}
	s.applied.Add(ok)
}

// commit runs ops in one transaction and returns each operation's own
// error, or a non-nil error when the batch as a whole failed and nothing
// of it was stored. It first runs the operations one after the other,
// the common case of a batch in which none fails; when one does, it rolls
// the whole transaction back and runs the batch again with each operation
// inside its own savepoint, so that the failing one is rolled back alone.
// Operations must therefore give the same result when they run again
// (they set their results, never add to them). Savepoints cost two
// statements per operation, about as many as an event's own inserts.
func (s *Store) commit(ops []*op) ([]error, error) {
	ctx := context.Background()
	durable := false
	for _, o := range ops {
		durable = durable || o.durable
	}
	if s.syncFull {
		if err := s.setSync(ctx, durable); err != nil {
			return nil, s.fail("write", err)
		}
	}
	if failed, err := s.commitAll(ctx, ops); !failed {
		if err != nil {
			return nil, err
		}
		return make([]error, len(ops)), nil
	}
	return s.commitEach(ctx, ops)
}

// commitAll runs ops in one transaction without savepoints. When an
// operation fails it rolls back and reports failed; err is an error of
// the transaction itself (nothing was stored).
func (s *Store) commitAll(ctx context.Context, ops []*op) (failed bool, err error) {
	w, err := s.begin(ctx)
	if err != nil {
		return false, s.fail("write", err)
	}
	for _, o := range ops {
		if err := o.apply(w); err != nil {
			s.rollback(w)
			return true, nil
		}
	}
	if err := s.commitTx(w); err != nil {
		return false, s.fail("commit", err)
	}
	return false, nil
}

// commitEach runs ops in one transaction, each inside its own savepoint.
func (s *Store) commitEach(ctx context.Context, ops []*op) ([]error, error) {
	w, err := s.begin(ctx)
	if err != nil {
		return nil, s.fail("write", err)
	}
	abort := func(err error) ([]error, error) {
		s.rollback(w)
		return nil, s.fail("write", err)
	}
	errs := make([]error, len(ops))
	for i, o := range ops {
		if _, err := w.exec(s.st.savepoint); err != nil {
			return abort(err)
		}
		if err := o.apply(w); err != nil {
			if _, rerr := w.exec(s.st.rollbackTo); rerr != nil {
				// The transaction itself is gone (SQLite rolls it back
				// on some I/O errors): nothing of the batch is stored.
				return abort(err)
			}
			s.forgetCounts()
			var se *sqlite.Error
			if errors.As(err, &se) {
				err = s.fail("write", err)
			}
			errs[i] = err
		}
		if _, err := w.exec(s.st.release); err != nil {
			return abort(err)
		}
	}
	if err := s.commitTx(w); err != nil {
		return nil, s.fail("commit", err)
	}
	return errs, nil
}

// wtx is the writer's transaction, handed to each operation.
type wtx struct {
	ctx  context.Context
	conn *sql.Conn // the writer's connection, in the transaction
}

// begin starts a write transaction on the writer's connection.
func (s *Store) begin(ctx context.Context) (*wtx, error) {
	if _, err := s.st.begin.ExecContext(ctx); err != nil {
		return nil, err
	}
	return &wtx{ctx: ctx, conn: s.wc}, nil
}

// commitTx commits w, or rolls it back when the commit fails.
func (s *Store) commitTx(w *wtx) error {
	if _, err := s.st.commit.ExecContext(w.ctx); err != nil {
		s.rollback(w)
		return err
	}
	return nil
}

// rollback ends w storing nothing, and drops the key counts it may have
// changed. SQLite rolls a transaction back itself on some I/O errors,
// so a ROLLBACK that finds none is not an error.
func (s *Store) rollback(w *wtx) {
	_, _ = s.st.rollback.ExecContext(w.ctx)
	s.forgetCounts()
}

// exec runs a prepared statement in the transaction.
func (w *wtx) exec(st *sql.Stmt, args ...any) (sql.Result, error) {
	return st.ExecContext(w.ctx, args...)
}

// execCount runs a prepared statement in the transaction and returns
// how many rows it changed.
func (w *wtx) execCount(st *sql.Stmt, args ...any) (int64, error) {
	res, err := w.exec(st, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// queryRow runs a prepared statement that returns one row in the
// transaction.
func (w *wtx) queryRow(st *sql.Stmt, args ...any) *sql.Row {
	return st.QueryRowContext(w.ctx, args...)
}

// query runs a prepared statement that returns rows in the transaction.
func (w *wtx) query(st *sql.Stmt, args ...any) (*sql.Rows, error) {
	return st.QueryContext(w.ctx, args...)
}

// setSync switches the write connection between synchronous FULL (the
// commit is synced to disk) and NORMAL (it is not; WAL mode keeps it
// consistent, and the next synced commit makes it durable too).
func (s *Store) setSync(ctx context.Context, full bool) error {
	if s.syncedNow == full {
		return nil
	}
	mode := "NORMAL"
	if full {
		mode = "FULL"
	}
	if _, err := s.wc.ExecContext(ctx, "PRAGMA synchronous = "+mode); err != nil {
		return err
	}
	s.syncedNow = full
	return nil
}

// unwritable reports whether err says the file cannot be written now
// (rather than that one operation was refused).
func unwritable(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM,
		sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_CORRUPT,
		sqlite3.SQLITE_NOTADB:
		return true
	}
	return false
}
