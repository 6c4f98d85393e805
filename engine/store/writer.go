package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
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
	// durable ops (events accepted, dead letters put back) need their
	// commit synced to disk; the others (job updates) may ride on the next
	// synced commit.
	durable bool
	// lazy ops have no waiting caller: the writer logs their errors.
	lazy bool
}

// write queues apply, waits for the group commit that holds it and returns
// its result. ctx bounds the wait until the writer takes the operation;
// once taken, write waits for the commit, so the caller always learns
// whether the operation was stored.
func (s *Store) write(ctx context.Context, apply func(w *wtx) error) error {
	return s.enqueue(ctx, &op{apply: apply, done: make(chan error, 1), durable: true})
}

// update queues a job update. It is not synced on its own when the store
// syncs fully: it becomes durable with the next synced commit, and until
// then a crash of the machine (not of hookd) may lose it, so the job runs
// again. With Options.LazyJobUpdates it returns as soon as the update is
// queued.
func (s *Store) update(ctx context.Context, apply func(w *wtx) error) error {
	o := &op{apply: apply, done: make(chan error, 1), lazy: s.lazyUpdates}
	if o.lazy {
		s.mu.RLock()
		defer s.mu.RUnlock()
		if s.closed {
			return ErrClosed
		}
		select {
		case s.ops <- o:
			return nil
		case <-ctx.Done():
			return fmt.Errorf("store: waiting to write: %w", ctx.Err())
		}
	}
	return s.enqueue(ctx, o)
}

func (s *Store) enqueue(ctx context.Context, o *op) error {
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return ErrClosed
	}
	select {
	case s.ops <- o:
	case <-ctx.Done():
		s.mu.RUnlock()
		return fmt.Errorf("store: waiting to write: %w", ctx.Err())
	}
	s.mu.RUnlock()
	if s.hooks != nil && s.hooks.enqueued != nil {
		s.hooks.enqueued()
	}
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

// writer is the one goroutine that writes. It runs until Close closes the
// queue and every queued operation has been answered.
func (s *Store) writer() {
	defer close(s.stopped)
	batch := make([]*op, 0, s.maxBatch)
	var last time.Time
	for first := range s.ops {
		batch = append(batch[:0], first)
		open := s.collect(&batch, nil)
		// Under load (the last commit was moments ago) a small batch of
		// synced writes waits a little for more: the fsync and the pages
		// they share are then paid once for all of them. When idle, a
		// write is committed at once.
		if open && s.commitDelay > 0 && len(batch) < s.maxBatch/4 && time.Since(last) < busyWindow && hasDurable(batch) {
			t := time.NewTimer(s.commitDelay)
			s.collect(&batch, t.C)
			t.Stop()
		}
		s.runBatch(batch)
		last = time.Now()
	}
}

// busyWindow is how recent the last commit must be for the writer to
// think it is under load.
const busyWindow = 2 * time.Millisecond

// collect adds queued operations to batch until it is full and, with wait
// nil, until the queue is empty, or else until wait fires. It reports
// whether the queue is still open.
func (s *Store) collect(batch *[]*op, wait <-chan time.Time) bool {
	for len(*batch) < s.maxBatch {
		if wait == nil {
			select {
			case o, ok := <-s.ops:
				if !ok {
					return false
				}
				*batch = append(*batch, o)
			default:
				return true
			}
			continue
		}
		select {
		case o, ok := <-s.ops:
			if !ok {
				return false
			}
			*batch = append(*batch, o)
		case <-wait:
			return true
		}
	}
	return true
}

func hasDurable(batch []*op) bool {
	for _, o := range batch {
		if o.durable {
			return true
		}
	}
	return false
}

// runBatch commits the live operations of batch in one transaction and
// answers their callers.
func (s *Store) runBatch(batch []*op) {
	live := batch[:0]
	for _, o := range batch {
		if o.state.CompareAndSwap(opQueued, opClaimed) {
			live = append(live, o)
		}
	}
	if len(live) == 0 {
		return
	}
	if s.hooks != nil && s.hooks.batch != nil {
		s.hooks.batch(len(live))
	}
	errs, err := s.commit(live)
	if err != nil {
		s.failed.Add(1)
		s.log.Error("store: write failed, nothing of it was stored", "path", s.path, "operations", len(live), "err", err)
		for _, o := range live {
			if o.lazy {
				continue
			}
			o.done <- err
		}
		return
	}
	s.commits.Add(1)
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

// commit runs ops in one transaction, each inside its own savepoint so that
// one failing operation is rolled back alone. It returns each operation's
// own error, or a non-nil error when the transaction as a whole failed and
// nothing was stored.
func (s *Store) commit(ops []*op) ([]error, error) {
	ctx := context.Background()
	if s.syncFull {
		durable := false
		for _, o := range ops {
			durable = durable || o.durable
		}
		if err := s.setSync(ctx, durable); err != nil {
			return nil, s.fail("set synchronous", err)
		}
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, s.fail("start write", err)
	}
	w := &wtx{ctx: ctx, tx: tx, stmts: make(map[*sql.Stmt]*sql.Stmt)}
	abort := func(err error) ([]error, error) {
		_ = tx.Rollback()
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
			if !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrNotPending) {
				err = s.fail("write", err)
			}
			errs[i] = err
		}
		if _, err := w.exec(s.st.release); err != nil {
			return abort(err)
		}
	}
	if err := tx.Commit(); err != nil {
		_ = tx.Rollback()
		return nil, s.fail("commit", err)
	}
	return errs, nil
}

// wtx is the writer's transaction, handed to each operation.
type wtx struct {
	ctx   context.Context
	tx    *sql.Tx
	stmts map[*sql.Stmt]*sql.Stmt
}

// stmt returns the prepared statement bound to the transaction.
func (w *wtx) stmt(st *sql.Stmt) *sql.Stmt {
	if t, ok := w.stmts[st]; ok {
		return t
	}
	t := w.tx.StmtContext(w.ctx, st)
	w.stmts[st] = t
	return t
}

// exec runs a prepared statement in the transaction.
func (w *wtx) exec(st *sql.Stmt, args ...any) (sql.Result, error) {
	return w.stmt(st).ExecContext(w.ctx, args...)
}

// query runs a prepared statement that returns rows in the transaction.
func (w *wtx) query(st *sql.Stmt, args ...any) (*sql.Rows, error) {
	return w.stmt(st).QueryContext(w.ctx, args...)
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
	if _, err := s.w.ExecContext(ctx, "PRAGMA synchronous = "+mode); err != nil {
		return err
	}
	s.syncedNow = full
	return nil
}
