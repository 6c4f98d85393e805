package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync/atomic"
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
}

// write queues apply, waits for the group commit that holds it and returns
// its result. ctx bounds the wait until the writer takes the operation;
// once taken, write waits for the commit, so the caller always learns
// whether the operation was stored.
func (s *Store) write(ctx context.Context, apply func(w *wtx) error) error {
	o := &op{apply: apply, done: make(chan error, 1)}
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
	for first := range s.ops {
		batch = append(batch[:0], first)
	collect:
		for len(batch) < s.maxBatch {
			select {
			case o, ok := <-s.ops:
				if !ok {
					break collect
				}
				batch = append(batch, o)
			default:
				break collect
			}
		}
		s.runBatch(batch)
	}
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
			o.done <- err
		}
		return
	}
	s.commits.Add(1)
	var ok uint64
	for i, o := range live {
		if errs[i] == nil {
			ok++
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
