package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/hookd/hookd/engine/store/eventlog"
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
	// accept holds the events of an Accept, for the event log.
	accept *acceptance
	// logWork, when set instead of apply, is work on the event log,
	// which only the writer touches.
	logWork func() error
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
//
// Batches that append events are answered by the syncer goroutine once
// the event log is synced: while it syncs, the writer goes on writing the
// next batches, and the syncer's next sync covers all of them.
func (s *Store) writer() {
	defer close(s.stopped)
	syncs := make(chan synced, 64)
	syncerDone := make(chan struct{})
	go s.syncer(syncs, syncerDone)
	defer func() {
		close(syncs)
		<-syncerDone
	}()
	// The writer waits for more only when no caller waits for the batch
	// (job updates with Options.LazyJobUpdates): each SQLite commit
	// writes every page it touched to the WAL, so updates committed
	// together cost little more than one. Otherwise it does not wait:
	// while it commits, the next operations queue up, and the syncer is
	// where waiting pays (one fsync for many events).
	batch := make([]*op, 0, s.maxBatch)
	for first := range s.ops {
		batch = append(batch[:0], first)
		s.collect(&batch)
		if s.lazyDelay > 0 && allLazy(batch) {
			s.collectLazy(&batch, s.lazyDelay)
		}
		s.runBatch(batch, syncs)
	}
}

// allLazy reports whether no caller waits for any operation of batch.
func allLazy(batch []*op) bool {
	for _, o := range batch {
		if !o.lazy {
			return false
		}
	}
	return true
}

// collectLazy adds operations queued within d to a batch of lazy ones,
// until it is full; an operation whose caller waits ends the wait at
// once, with what is queued behind it.
func (s *Store) collectLazy(batch *[]*op, d time.Duration) {
	if s.hooks != nil && s.hooks.holding != nil {
		s.hooks.holding()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	for len(*batch) < s.maxBatch {
		select {
		case o, ok := <-s.ops:
			if !ok {
				return
			}
			*batch = append(*batch, o)
			if !o.lazy {
				s.collect(batch)
				return
			}
		case <-t.C:
			return
		}
	}
}

// synced is a committed batch waiting for the event log's sync.
type synced struct {
	ops     []*op
	errs    []error
	accepts int             // how many of ops are Accept calls
	ticket  eventlog.Ticket // the event log's Write of their events
}

// syncer syncs the event log for the batches the writer hands it, taking
// every batch waiting at once under one sync, and answers their callers.
func (s *Store) syncer(in <-chan synced, done chan<- struct{}) {
	defer close(done)
	var (
		waiting []synced
		last    time.Time
	)
	for b := range in {
		waiting = append(waiting[:0], b)
		if time.Since(last) < busyWindow {
			s.gather(in, &waiting)
		}
		if s.hooks != nil && s.hooks.beforeLogSync != nil {
			s.hooks.beforeLogSync()
		}
		// The log syncs SQLite's WAL first when it must (syncWAL).
		if err := s.events.Sync(); err != nil {
			s.log.Error("store: event log write failed; its events were not acknowledged", "path", s.dir, "err", err)
		}
		if s.hooks != nil && s.hooks.logSynced != nil {
			s.hooks.logSynced()
		}
		last = time.Now()
		for _, w := range waiting {
			err := s.events.Stored(w.ticket)
			if err != nil {
				err = fmt.Errorf("store %s: %w", s.dir, err)
			}
			for i, o := range w.ops {
				if err != nil && o.accept != nil && w.errs[i] == nil {
					w.errs[i] = err
				}
			}
			s.answer(w.ops, w.errs)
			s.awaitingSync.Add(-int64(w.accepts))
		}
	}
}

// busyWindow is how recent the last sync must be for the syncer to think
// it is under load.
const busyWindow = 2 * time.Millisecond

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

// syncWAL makes the jobs committed unsynced (see commit) durable, by
// syncing SQLite's WAL file: the same flush synchronous=FULL does at
// commit, done here so that the writer does not wait for it. The event
// log calls it before it writes records to a file: every record it then
// holds was buffered after its jobs were committed, so the sync covers
// them, and an event never reaches the disk before its jobs.
func (s *Store) syncWAL() error {
	if s.wal == nil || !s.walDirty.Swap(false) {
		return nil
	}
	if err := s.walSyncs.Sync(s.wal); err != nil {
		// The log stops writes (it says so, and what to do): the
		// commits this sync should have made durable may be lost.
		s.walDirty.Store(true)
		return fmt.Errorf("store %s: sync %s: %w", s.path, s.wal.Name(), err)
	}
	if s.hooks != nil && s.hooks.walSynced != nil {
		s.hooks.walSynced()
	}
	return nil
}

// gather adds the batches handed over meanwhile to *waiting and, under
// load, waits for more while events announced with Arriving are still on
// their way, up to the commit delay: a sync costs the same for one event
// as for many, so one sync then acknowledges them all.
func (s *Store) gather(in <-chan synced, waiting *[]synced) {
	if s.commitDelay <= 0 {
		return
	}
	deadline := time.Now().Add(s.commitDelay)
	if runtime.GOMAXPROCS(0) > 1 {
		// The requests run beside this goroutine: wait for them.
		t := time.NewTimer(s.commitDelay)
		defer t.Stop()
		for s.arriving.Load() > s.awaitingSync.Load() {
			select {
			case b, ok := <-in:
				if !ok {
					return
				}
				*waiting = append(*waiting, b)
			case <-t.C:
				return
			}
		}
	}
	for {
		// On one core the requests on their way only run when this
		// goroutine yields.
		runtime.Gosched()
		got := false
	drain:
		for {
			select {
			case b, ok := <-in:
				if !ok {
					return
				}
				*waiting = append(*waiting, b)
				got = true
			default:
				break drain
			}
		}
		if !got && s.arriving.Load() <= s.awaitingSync.Load() || time.Now().After(deadline) {
			return
		}
	}
}

// runBatch commits the live operations of batch in one transaction and
// answers their callers, or hands them to the syncer when the batch holds
// events.
func (s *Store) runBatch(batch []*op, syncs chan<- synced) {
	live := make([]*op, 0, len(batch))
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
	errs, ticket, err := s.commit(live)
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
	if s.hooks != nil && s.hooks.committed != nil {
		s.hooks.committed()
	}
	// Accepted events, and duplicates of events the log may not have
	// synced yet, are answered after the log's sync.
	accepts := 0
	for _, o := range live {
		if o.accept != nil {
			accepts++
		}
	}
	if accepts > 0 {
		s.awaitingSync.Add(int64(accepts))
		syncs <- synced{ops: live, errs: errs, accepts: accepts, ticket: ticket}
		return
	}
	s.answer(live, errs)
}

// answer gives each operation of a committed batch its result.
func (s *Store) answer(ops []*op, errs []error) {
	var ok uint64
	for i, o := range ops {
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
// one failing operation is rolled back alone, then appends the accepted
// events to the event log. It returns each operation's own error, or a
// non-nil error when the batch as a whole failed and nothing was stored.
//
// The order keeps every 2xx honest. An event's jobs are committed to SQLite
// before the event is appended: an event the log holds (and so reports as
// a duplicate from then on) always has its jobs. A batch of events without
// jobs never touches SQLite.
func (s *Store) commit(ops []*op) (errs []error, ticket eventlog.Ticket, err error) {
	ctx := context.Background()
	w := &wtx{ctx: ctx, s: s}
	abort := func(err error) ([]error, eventlog.Ticket, error) {
		w.rollback()
		return nil, 0, s.fail("write", err)
	}
	// Whether the commit is synced is set before it begins: it is when
	// an operation that may write to SQLite was promised durability. The
	// jobs of accepted events are the exception: their commit is not
	// synced here but before the events are written (see syncWAL), so
	// the writer goes on meanwhile.
	durable, jobs := false, false
	for _, o := range ops {
		if !o.durable || o.apply == nil {
			continue
		}
		if o.accept == nil {
			durable = true
		} else if o.accept.hasJobs() {
			jobs = true
		}
	}
	if jobs && !durable && s.wal == nil {
		durable = true
	}
	errs = make([]error, len(ops))
	seen := make(map[string]struct{})
	for i, o := range ops {
		if o.logWork != nil {
			errs[i] = o.logWork()
			continue
		}
		if o.accept != nil {
			if err := s.dedup(o.accept, seen); err != nil {
				errs[i] = err
				continue
			}
		}
		if o.apply == nil || (o.accept != nil && !o.accept.hasJobs()) {
			continue
		}
		if err := w.begin(durable); err != nil {
			return abort(err)
		}
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
			if o.accept != nil {
				o.accept.forget(seen, len(o.accept.frames))
			}
		}
		if _, err := w.exec(s.st.release); err != nil {
			return abort(err)
		}
	}
	if w.tx != nil {
		if err := w.tx.Commit(); err != nil {
			w.rollback()
			return nil, 0, s.fail("commit", err)
		}
		if jobs && !durable && s.syncFull {
			// Before the events are buffered: the log syncs the WAL
			// before it writes them (syncWAL).
			s.walDirty.Store(true)
		}
	}
	return errs, s.appendEvents(ops, errs), nil
}

// appendEvents writes the events of the batch's successful accepts to the
// event log (the syncer writes them out and syncs them), and returns the
// write's ticket. When the write fails, the accepts fail; the batch's
// other operations stand.
func (s *Store) appendEvents(ops []*op, errs []error) eventlog.Ticket {
	var frames []eventlog.Frame
	for i, o := range ops {
		if o.accept == nil || errs[i] != nil {
			continue
		}
		for k, f := range o.accept.frames {
			if !o.accept.out[k].Duplicate {
				frames = append(frames, f)
			}
		}
	}
	if len(frames) == 0 {
		// Duplicates only: acknowledged once the writes before them
		// (which may hold their events) are stored.
		return s.events.Last()
	}
	t, err := s.events.Write(frames)
	if err != nil {
		err = fmt.Errorf("store %s: %w", s.dir, err)
		s.log.Error("store: event log write failed; the events of the batch were not acknowledged", "path", s.dir, "err", err)
		for i, o := range ops {
			if o.accept != nil && errs[i] == nil {
				errs[i] = err
			}
		}
	}
	return t
}

// wtx is the writer's transaction, handed to each operation. It begins on
// the first operation that writes to SQLite.
type wtx struct {
	ctx   context.Context
	s     *Store
	tx    *sql.Tx
	stmts map[*sql.Stmt]*sql.Stmt
}

// begin starts the transaction if it has not started yet; durable says
// whether its commit must be synced.
func (w *wtx) begin(durable bool) error {
	if w.tx != nil {
		return nil
	}
	if w.s.syncFull {
		if err := w.s.setSync(w.ctx, durable); err != nil {
			return err
		}
	}
	tx, err := w.s.w.BeginTx(w.ctx, nil)
	if err != nil {
		return err
	}
	w.tx = tx
	w.stmts = make(map[*sql.Stmt]*sql.Stmt)
	return nil
}

// rollback ends the transaction, if any, storing nothing.
func (w *wtx) rollback() {
	if w.tx != nil {
		_ = w.tx.Rollback()
	}
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
