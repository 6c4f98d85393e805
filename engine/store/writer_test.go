package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// gate holds the writer on its first batch, so that a test can queue
// operations behind it and know they will be taken together.
type gate struct {
	first    chan struct{} // closed when the writer holds the first batch
	released chan struct{}
	queued   chan struct{} // one value per queued operation
	gateErr  chan error

	mu      sync.Mutex
	batches []int
}

func newGate() *gate {
	return &gate{
		first:    make(chan struct{}),
		released: make(chan struct{}),
		queued:   make(chan struct{}, 4096),
		gateErr:  make(chan error, 1),
	}
}

func (g *gate) hooks() *hooks {
	return &hooks{
		enqueued: func() { g.queued <- struct{}{} },
		batch: func(n int) {
			g.mu.Lock()
			g.batches = append(g.batches, n)
			first := len(g.batches) == 1
			g.mu.Unlock()
			if first {
				close(g.first)
				<-g.released
			}
		},
	}
}

// deadline bounds every wait of a test on the writer.
const deadline = 10 * time.Second

// recv waits for a value on ch, failing the test after the deadline.
func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(deadline):
		t.Fatalf("no %s after %v", what, deadline)
		panic("unreachable")
	}
}

// start queues the gate's own operation and waits until the writer holds
// it.
func (g *gate) start(t *testing.T, s *Store) {
	t.Helper()
	go func() {
		_, err := s.Accept(context.Background(), []Record{record("GATE", 0)})
		g.gateErr <- err
	}()
	recv(t, g.first, "first batch")
	recv(t, g.queued, "queued gate operation")
}

// waitQueued waits until n more operations are queued.
func (g *gate) waitQueued(t *testing.T, n int) {
	t.Helper()
	for i := range n {
		recv(t, g.queued, fmt.Sprintf("queued operation %d of %d", i+1, n))
	}
}

func (g *gate) release() { close(g.released) }

// waitFor polls cond until it holds, failing the test after the deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	timeout := time.After(deadline)
	for !cond() {
		select {
		case <-tick.C:
		case <-timeout:
			t.Fatalf("no %s after %v", what, deadline)
		}
	}
}

// wait waits for the gate's own operation.
func (g *gate) wait(t *testing.T) {
	t.Helper()
	if err := recv(t, g.gateErr, "gate result"); err != nil {
		t.Errorf("gate Accept: %v", err)
	}
}

func (g *gate) sizes() []int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.batches)
}

func TestGroupCommitBatches(t *testing.T) {
	g := newGate()
	s := open(t, t.TempDir(), Options{hooks: g.hooks()})
	g.start(t, s)

	const n = 100
	errs := make(chan error, n)
	for i := range n {
		go func() {
			_, err := s.Accept(context.Background(), []Record{record(fmt.Sprintf("EV-%d", i), 2)})
			errs <- err
		}()
	}
	g.waitQueued(t, n)
	g.release()
	for range n {
		if err := recv(t, errs, "result"); err != nil {
			t.Fatalf("Accept: %v", err)
		}
	}
	g.wait(t)

	c := s.Counters()
	if c.Operations != n+1 || c.FailedBatches != 0 {
		t.Errorf("counters = %+v, want %d operations, no failure", c, n+1)
	}
	if c.Commits >= n+1 {
		t.Errorf("%d commits for %d calls: the writer did not batch", c.Commits, n+1)
	}
	if got := g.sizes(); !slices.Equal(got, []int{1, n}) {
		t.Errorf("batch sizes = %v, want [1 %d]", got, n)
	}
	if st := stats(t, s); st != (Stats{Events: n + 1, Pending: 2 * n}) {
		t.Errorf("Stats = %+v", st)
	}
}

func TestMaxBatch(t *testing.T) {
	g := newGate()
	s := open(t, t.TempDir(), Options{MaxBatch: 4, hooks: &hooks{batch: g.hooks().batch}})
	close(g.released) // record sizes only
	const n = 40
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if _, err := s.Accept(context.Background(), []Record{record(fmt.Sprintf("EV-%d", i), 1)}); err != nil {
				t.Errorf("Accept: %v", err)
			}
		})
	}
	wg.Wait()
	sum := 0
	for _, size := range g.sizes() {
		if size > 4 {
			t.Errorf("batch of %d operations, MaxBatch is 4", size)
		}
		sum += size
	}
	if sum != n || s.Counters().Commits != uint64(len(g.sizes())) {
		t.Errorf("batches %v hold %d operations in %d commits, want %d", g.sizes(), sum, s.Counters().Commits, n)
	}
}

func TestFailedOperationDoesNotSinkItsBatch(t *testing.T) {
	ctx := context.Background()
	g := newGate()
	s := open(t, t.TempDir(), Options{hooks: g.hooks()})
	g.start(t, s)
	doneErr := make(chan error, 1)
	acceptErr := make(chan error, 1)
	go func() { doneErr <- s.Done(ctx, 999, 1, "") }()
	g.waitQueued(t, 1)
	go func() {
		_, err := s.Accept(ctx, []Record{record("EV-1", 1)})
		acceptErr <- err
	}()
	g.waitQueued(t, 1)
	g.release()
	if err := recv(t, doneErr, "result"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Done(999) = %v, want ErrNotFound", err)
	}
	if err := recv(t, acceptErr, "result"); err != nil {
		t.Errorf("Accept in the same batch = %v, want success", err)
	}
	g.wait(t)
	if got := g.sizes(); !slices.Equal(got, []int{1, 2}) {
		t.Errorf("batch sizes = %v, want [1 2]", got)
	}
	if st := stats(t, s); st != (Stats{Events: 2, Pending: 1}) {
		t.Errorf("Stats = %+v, want GATE and EV-1 stored", st)
	}
}

func TestCancelledBeforeWriteStoresNothing(t *testing.T) {
	g := newGate()
	s := open(t, t.TempDir(), Options{hooks: g.hooks()})
	g.start(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	res := make(chan error, 1)
	go func() {
		_, err := s.Accept(ctx, []Record{record("EV-1", 1)})
		res <- err
	}()
	g.waitQueued(t, 1)
	cancel()
	if err := recv(t, res, "result"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Accept = %v, want context.Canceled", err)
	}
	g.release()
	g.wait(t)
	if st := stats(t, s); st != (Stats{Events: 1}) {
		t.Fatalf("Stats = %+v, want only the gate's event", st)
	}
	if out := accept(t, s, record("EV-1", 1)); out[0].Duplicate {
		t.Errorf("EV-1 reported as duplicate, but its first Accept was abandoned")
	}
}

func TestCloseWaitsForQueuedWrites(t *testing.T) {
	dir := t.TempDir()
	g := newGate()
	s, err := Open(dir, Options{hooks: g.hooks(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	g.start(t, s)
	const n = 20
	errs := make(chan error, n)
	for i := range n {
		go func() {
			_, err := s.Accept(context.Background(), []Record{record(fmt.Sprintf("EV-%d", i), 1)})
			errs <- err
		}()
	}
	g.waitQueued(t, n)
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	// Release the writer only once Close has stopped taking operations:
	// Close must then wait for the queued ones.
	waitFor(t, "Close to start", func() bool { return errors.Is(s.readable(), ErrClosed) })
	g.release()
	for range n {
		if err := recv(t, errs, "result"); err != nil {
			t.Errorf("Accept queued before Close: %v", err)
		}
	}
	if err := recv(t, closed, "result"); err != nil {
		t.Fatalf("Close: %v", err)
	}
	g.wait(t)

	s = open(t, dir, Options{})
	if st := stats(t, s); st != (Stats{Events: n + 1, Pending: n}) {
		t.Errorf("after reopen: Stats = %+v, want every queued write", st)
	}
}

func TestCloseRacingAccepts(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	type result struct {
		id  string
		err error
	}
	results := make(chan result, n)
	for i := range n {
		go func() {
			id := fmt.Sprintf("EV-%03d", i)
			_, err := s.Accept(context.Background(), []Record{record(id, 1)})
			results <- result{id, err}
		}()
	}
	var stored, refused []string
	for i := range n {
		r := recv(t, results, "Accept result")
		if i == n/4 {
			if err := s.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
		}
		switch {
		case r.err == nil:
			stored = append(stored, r.id)
		case errors.Is(r.err, ErrClosed):
			refused = append(refused, r.id)
		default:
			t.Errorf("Accept %s: %v", r.id, r.err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s = open(t, dir, Options{})
	got := eventIDs(allEvents(t, s))
	slices.Sort(got)
	slices.Sort(stored)
	if !slices.Equal(got, stored) {
		t.Errorf("after reopen: %d events stored, %d Accepts succeeded (%d refused); want the same set",
			len(got), len(stored), len(refused))
	}
}

func TestWriteFailures(t *testing.T) {
	ctx := context.Background()
	const sentinel = "SENTINEL-BODY-1f2e3d"

	for _, tc := range []struct {
		name string
		// breakIt makes the next write fail and returns the undo.
		breakIt func(t *testing.T, s *Store, dir string) func()
		code    int
		want    string
	}{
		{
			name: "another process holds the lock",
			breakIt: func(t *testing.T, s *Store, dir string) func() {
				db, err := sql.Open("sqlite", filepath.Join(dir, FileName))
				if err != nil {
					t.Fatal(err)
				}
				conn, err := db.Conn(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
					t.Fatal(err)
				}
				return func() {
					if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
						t.Fatal(err)
					}
					conn.Close()
					db.Close()
				}
			},
			code: sqlite3.SQLITE_BUSY,
			want: "another process holds the store's lock",
		},
		{
			// max_page_count makes SQLite answer exactly as on a full disk.
			name: "disk full",
			breakIt: func(t *testing.T, s *Store, dir string) func() {
				var pages int
				if err := s.w.QueryRow("PRAGMA page_count").Scan(&pages); err != nil {
					t.Fatal(err)
				}
				if _, err := s.w.Exec(fmt.Sprintf("PRAGMA max_page_count = %d", pages)); err != nil {
					t.Fatal(err)
				}
				return func() {
					if _, err := s.w.Exec("PRAGMA max_page_count = 1073741823"); err != nil {
						t.Fatal(err)
					}
				}
			},
			code: sqlite3.SQLITE_FULL,
			want: "the disk is full",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			var logs bytes.Buffer
			s := open(t, dir, Options{
				BusyTimeout: 50 * time.Millisecond, // the lock is never released while we wait
				Logger:      slog.New(slog.NewTextHandler(&logs, nil)),
			})
			accept(t, s, record("EV-0", 1))

			undo := tc.breakIt(t, s, dir)
			rec := record("EV-1", 2)
			rec.Event.Body = body(sentinel, 1<<10)
			// Jobs are what goes to SQLite: make them big enough to
			// need new pages.
			rec.Jobs[0].Params = fmt.Appendf(nil, `{"text":%q}`, body(sentinel, 256<<10))
			out, err := s.Accept(ctx, []Record{rec})
			undo()

			if err == nil {
				t.Fatalf("Accept succeeded (%+v), want an error", out)
			}
			var se *sqlite.Error
			if !errors.As(err, &se) || se.Code()&0xff != tc.code {
				t.Errorf("err = %v, want SQLite code %d inside", err, tc.code)
			}
			for _, w := range []string{s.Path(), tc.want} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err = %q, want it to contain %q", err, w)
				}
			}
			if out != nil {
				t.Errorf("outcomes %+v returned with an error", out)
			}
			// SQLite may fail the statement (the batch's other operations
			// go on) or the whole transaction (logged by the writer).
			if c := s.Counters(); c.FailedBatches == 1 && !strings.Contains(logs.String(), "write failed") {
				t.Errorf("log = %q, want the failed batch logged", logs.String())
			}
			if strings.Contains(logs.String()+err.Error(), sentinel) {
				t.Errorf("event body leaked into a log or error")
			}

			// Nothing of the failed write is stored; the retry is no duplicate.
			if st := stats(t, s); st != (Stats{Events: 1, Pending: 1}) {
				t.Errorf("Stats after failure = %+v, want only EV-0", st)
			}
			if again := accept(t, s, rec); again[0].Duplicate || len(again[0].Jobs) != 2 {
				t.Errorf("retry after failure = %+v, want stored with 2 jobs", again)
			}
		})
	}
}

// TestJobsCommitsSyncedBySyncer: with sync full, the jobs of accepted
// events are committed unsynced by the writer and flushed by the syncer
// (an fsync of SQLite's WAL) before the Accept returns; events without
// jobs, and stores with sync normal, need no such flush.
func TestJobsCommitsSyncedBySyncer(t *testing.T) {
	for _, tc := range []struct {
		name     string
		sync     string
		jobs     int
		wantSync bool
	}{
		{"full, with jobs", "full", 2, true},
		{"full, no jobs", "full", 0, false},
		{"normal, with jobs", "normal", 2, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			synced := 0
			h := &hooks{walSynced: func() {
				mu.Lock()
				synced++
				mu.Unlock()
			}}
			s := open(t, t.TempDir(), Options{Sync: tc.sync, hooks: h})
			if tc.sync == "full" && s.wal == nil {
				t.Fatal("sync full: SQLite's WAL file is not open for the syncer")
			}
			out := accept(t, s, record("EV-1", tc.jobs))
			if len(out[0].Jobs) != tc.jobs {
				t.Fatalf("jobs = %d, want %d", len(out[0].Jobs), tc.jobs)
			}
			mu.Lock()
			got := synced
			mu.Unlock()
			if (got > 0) != tc.wantSync {
				t.Errorf("WAL synced %d times before Accept returned, want synced: %v", got, tc.wantSync)
			}
			var mode string
			if err := s.w.QueryRow("PRAGMA synchronous").Scan(&mode); err != nil {
				t.Fatal(err)
			}
			if tc.sync == "full" && tc.jobs > 0 && mode != "1" {
				t.Errorf("PRAGMA synchronous = %s after a batch of jobs, want 1 (NORMAL: the syncer flushes)", mode)
			}
		})
	}
}

// An event never reaches the event log's file before its jobs are synced
// in SQLite's WAL: a batch with jobs committed while the syncer is about
// to sync an earlier one is written out by that sync, so the WAL must be
// synced again before it, not only for the batches the syncer knew of.
func TestEventsNotWrittenBeforeTheirJobsAreSynced(t *testing.T) {
	var (
		mu        sync.Mutex
		walSyncs  int
		committed = make(chan int, 8) // WAL syncs so far, per batch committed
		paused    = make(chan struct{})
		release   = make(chan struct{})
		firstSync sync.Once
		afterSync = make(chan int, 8) // WAL syncs so far, per log sync
	)
	walCount := func() int {
		mu.Lock()
		defer mu.Unlock()
		return walSyncs
	}
	h := &hooks{
		walSynced: func() {
			mu.Lock()
			walSyncs++
			mu.Unlock()
		},
		committed: func() { trySend(committed, walCount()) },
		beforeLogSync: func() {
			firstSync.Do(func() {
				close(paused)
				<-release
			})
		},
		logSynced: func() { trySend(afterSync, walCount()) },
	}
	s := open(t, t.TempDir(), Options{Sync: "full", hooks: h})
	if s.wal == nil {
		t.Fatal("sync full: SQLite's WAL file is not open")
	}
	errs := make(chan error, 2)
	acceptAsync := func(id string) {
		go func() {
			_, err := s.Accept(context.Background(), []Record{record(id, 2)})
			errs <- err
		}()
	}

	acceptAsync("EV-A")
	recv(t, committed, "EV-A committed")
	recv(t, paused, "the syncer to reach its first log sync")
	acceptAsync("EV-B")
	atB := recv(t, committed, "EV-B committed") // its events are buffered now
	close(release)

	// The sync the syncer was about to run writes EV-B's record too.
	if got := recv(t, afterSync, "the first log sync"); got <= atB {
		t.Errorf("the event log synced EV-B's record with the WAL synced %d times, as many as when EV-B's jobs were committed: the event could outlive its jobs", got)
	}
	for range 2 {
		if err := recv(t, errs, "Accept"); err != nil {
			t.Fatal(err)
		}
	}
}

// trySend sends v on ch unless ch is full: hooks must not block the
// writer or the syncer once a test stopped listening.
func trySend[T any](ch chan<- T, v T) {
	select {
	case ch <- v:
	default:
	}
}

// Lazy job updates wait in the writer (Options.LazyBatchDelay) to share a
// commit; an operation whose caller waits ends the wait at once and
// joins their batch, and Close does not wait for the delay either.
func TestLazyUpdatesShareABatch(t *testing.T) {
	dir := t.TempDir()
	var (
		mu      sync.Mutex
		batches []int
	)
	holding := make(chan struct{}, 8)
	h := &hooks{
		batch: func(n int) {
			mu.Lock()
			batches = append(batches, n)
			mu.Unlock()
		},
		holding: func() { trySend(holding, struct{}{}) },
	}
	// A delay no test would wait out: it must be ended, not expire.
	s := open(t, dir, Options{LazyJobUpdates: true, LazyBatchDelay: time.Hour, hooks: h})
	jobs := accept(t, s, record("EV-1", 3))[0].Jobs
	mu.Lock()
	before := len(batches)
	mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	for i, j := range jobs[:2] {
		if err := s.Done(ctx, j.ID, 1, "ok"); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			recv(t, holding, "hold of the first update by the writer")
		}
	}
	page, err := s.PendingPage(ctx, 10)
	if err != nil {
		t.Fatalf("PendingPage behind lazy updates held for an hour: %v", err)
	}
	if len(page) != 1 || page[0].ID != jobs[2].ID {
		t.Errorf("PendingPage = %v, want only job %d: it runs after the updates queued before it", ids(page), jobs[2].ID)
	}
	mu.Lock()
	got := append([]int(nil), batches[before:]...)
	mu.Unlock()
	if len(got) != 1 || got[0] != 3 {
		t.Errorf("batches after Accept: %v, want one of 3 (two updates and PendingPage)", got)
	}

	// A last update, then Close: it is committed, without the delay.
	if err := s.Done(ctx, jobs[2].ID, 1, "ok"); err != nil {
		t.Fatal(err)
	}
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	if err := recv(t, closed, "Close with a lazy update held"); err != nil {
		t.Fatal(err)
	}
	s = open(t, dir, Options{})
	if page, err := s.PendingPage(context.Background(), 10); err != nil || len(page) != 0 {
		t.Errorf("after reopening, PendingPage = %v, %v; want no pending job", ids(page), err)
	}
}
