package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/engine/store/eventlog"
)

// TestShareEvents opens a second store on a data folder whose event log
// another store writes.
func TestShareEvents(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	w := open(t, dir, Options{})

	// Without ShareEvents the second store refuses to open.
	if s, err := Open(dir, Options{Logger: slog.New(slog.DiscardHandler)}); err == nil {
		s.Close()
		t.Fatal("second Open without ShareEvents succeeded, want ErrLocked")
	} else if !errors.Is(err, eventlog.ErrLocked) || !strings.Contains(err.Error(), dir) {
		t.Fatalf("second Open = %v, want an error naming %s wrapping eventlog.ErrLocked", err, dir)
	}

	r := open(t, dir, Options{ShareEvents: true})
	if st := stats(t, r); st != (Stats{}) {
		t.Errorf("shared Stats of an empty store = %+v", st)
	}
	// The writer's events, accepted after the shared store opened.
	ev1, ev2, ev3 := record("EV-1", 1), record("EV-2", 0), record("EV-3", 2)
	ev3.Event.Body = body("EV-3", 70<<10)
	out := accept(t, w, ev1, ev2)
	out = append(out, accept(t, w, ev3)...)
	got := allEvents(t, r)
	if ids := eventIDs(got); !slices.Equal(ids, []string{"EV-1", "EV-2", "EV-3"}) {
		t.Fatalf("shared Events = %v, want EV-1..3", ids)
	}
	if string(got[2].Body) != string(ev3.Event.Body) || !slices.Equal(got[0].Rules, ev1.Event.Rules) {
		t.Errorf("shared Events read back other bodies or rules than stored")
	}
	if st := stats(t, r); st != (Stats{Events: 3, Pending: 3}) {
		t.Errorf("shared Stats = %+v, want 3 events, 3 pending", st)
	}

	// The shared store cannot accept, and stores nothing trying.
	if o, err := r.Accept(ctx, []Record{record("EV-4", 1)}); err == nil || !errors.Is(err, eventlog.ErrReadOnly) {
		t.Errorf("shared Accept = %+v, %v; want an error wrapping eventlog.ErrReadOnly", o, err)
	}
	if st := stats(t, w); st != (Stats{Events: 3, Pending: 3}) {
		t.Errorf("writer Stats after the shared Accept = %+v, want it unchanged", st)
	}
	if o := accept(t, w, record("EV-4", 1)); o[0].Duplicate || len(o[0].Jobs) != 1 {
		t.Errorf("writer Accept of EV-4 = %+v, want stored", o)
	}

	// Jobs are shared through SQLite: the shared store sees and requeues
	// the writer's dead letters.
	deadID := out[0].Jobs[0].ID
	if err := w.Dead(ctx, deadID, 12, "http_4xx", "404"); err != nil {
		t.Fatal(err)
	}
	dead, err := r.DeadLetters(ctx, 0)
	if err != nil || len(dead) != 1 || dead[0].ID != deadID || dead[0].LastReason != "http_4xx" {
		t.Fatalf("shared DeadLetters = %+v, %v; want job %d", dead, err, deadID)
	}
	if n, err := r.Requeue(ctx, nil); err != nil || n != 1 {
		t.Fatalf("shared Requeue = %d, %v; want 1", n, err)
	}
	taken, err := w.TakeRequeued(ctx)
	if err != nil || len(taken) != 1 || taken[0].ID != deadID || taken[0].State != StatePending || taken[0].Attempts != 0 {
		t.Errorf("writer TakeRequeued = %+v, %v; want job %d pending again", taken, err, deadID)
	}
	if st := stats(t, r); st != (Stats{Events: 4, Pending: 4}) {
		t.Errorf("shared Stats after requeue = %+v, want 4 events, 4 pending", st)
	}

	// Once the writer is gone, a plain Open takes the log (the shared
	// store holds no lock), and sees everything.
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w2 := open(t, dir, Options{})
	if o := accept(t, w2, record("EV-1", 1), record("EV-5", 0)); !o[0].Duplicate || o[1].Duplicate {
		t.Errorf("new writer Accept = %+v, want EV-1 a duplicate and EV-5 stored", o)
	}
	if ids := eventIDs(allEvents(t, r)); !slices.Equal(ids, []string{"EV-1", "EV-2", "EV-3", "EV-4", "EV-5"}) {
		t.Errorf("shared Events after the writer changed = %v", ids)
	}
}

// TestConcurrentDuplicates sends the same events from many goroutines at
// once, so that duplicates meet in one batch, in consecutive batches and
// in batches whose events are still waiting for the log's sync.
func TestConcurrentDuplicates(t *testing.T) {
	const (
		nIDs     = 50
		nSenders = 8
	)
	for _, tc := range []struct {
		name   string
		opts   Options
		batch  int  // records per Accept
		arrive bool // announce each Accept with Arriving
	}{
		{name: "one record per Accept", batch: 1},
		{name: "one record per Accept, announced", batch: 1, arrive: true},
		{name: "seven records per Accept", batch: 7, arrive: true},
		{name: "small batches, no commit delay", opts: Options{MaxBatch: 3, CommitDelay: -1}, batch: 2},
		{name: "sync normal", opts: Options{Sync: "normal"}, batch: 1, arrive: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t, t.TempDir(), tc.opts)
			type result struct {
				id  string
				out Outcome
			}
			results := make(chan []result, nSenders*nIDs)
			errs := make(chan error, nSenders*nIDs)
			var wg sync.WaitGroup
			for g := range nSenders {
				wg.Go(func() {
					order := rand.New(rand.NewPCG(uint64(g), 7)).Perm(nIDs)
					for chunk := range slices.Chunk(order, tc.batch) {
						recs := make([]Record, len(chunk))
						for i, k := range chunk {
							recs[i] = record(fmt.Sprintf("EV-%02d", k), 1)
						}
						done := func() {}
						if tc.arrive {
							done = s.Arriving()
						}
						out, err := s.Accept(context.Background(), recs)
						done()
						if err != nil {
							errs <- err
							continue
						}
						rs := make([]result, len(out))
						for i := range out {
							rs[i] = result{recs[i].Event.ID, out[i]}
						}
						results <- rs
					}
				})
			}
			waitGroup(t, &wg)
			close(errs)
			close(results)
			for err := range errs {
				t.Errorf("Accept: %v", err)
			}

			news := make(map[string][]Job)
			dups := 0
			for rs := range results {
				for _, r := range rs {
					if r.out.Duplicate {
						dups++
						if r.out.Jobs != nil {
							t.Errorf("duplicate %s came with jobs %+v", r.id, r.out.Jobs)
						}
						continue
					}
					if _, twice := news[r.id]; twice {
						t.Errorf("%s reported new twice", r.id)
					}
					news[r.id] = r.out.Jobs
				}
			}
			if len(news) != nIDs || dups != nIDs*(nSenders-1) {
				t.Errorf("%d ids reported new and %d duplicates, want %d and %d", len(news), dups, nIDs, nIDs*(nSenders-1))
			}
			var newJobs []int64
			for id, jobs := range news {
				if len(jobs) != 1 || jobs[0].EventID != id || jobs[0].State != StatePending {
					t.Errorf("%s stored with jobs %+v, want one pending job", id, jobs)
					continue
				}
				newJobs = append(newJobs, jobs[0].ID)
			}
			slices.Sort(newJobs)
			got := jobIDs(pending(t, s))
			slices.Sort(got)
			if !slices.Equal(got, newJobs) {
				t.Errorf("pending jobs %v, want the %d jobs reported new %v", got, len(newJobs), newJobs)
			}
			evs := eventIDs(allEvents(t, s))
			slices.Sort(evs)
			if want := sortedIDs(nIDs); !slices.Equal(evs, want) {
				t.Errorf("events %v, want each of %d ids once", evs, nIDs)
			}
			if st := stats(t, s); st != (Stats{Events: nIDs, Pending: nIDs}) {
				t.Errorf("Stats = %+v", st)
			}
			if a := s.arriving.Load(); a != 0 {
				t.Errorf("arriving = %d after every done, want 0", a)
			}
		})
	}
}

func sortedIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("EV-%02d", i)
	}
	return ids
}

// waitGroup waits for wg, failing the test after the deadline.
func waitGroup(t *testing.T, wg *sync.WaitGroup) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	recv(t, done, "end of the goroutines")
}

// acceptWithin runs Accept and fails the test if it does not return
// within the deadline.
func acceptWithin(t *testing.T, s *Store, recs ...Record) []Outcome {
	t.Helper()
	type result struct {
		out []Outcome
		err error
	}
	ch := make(chan result, 1)
	go func() {
		out, err := s.Accept(context.Background(), recs)
		ch <- result{out, err}
	}()
	r := recv(t, ch, "Accept result")
	if r.err != nil {
		t.Fatalf("Accept: %v", r.err)
	}
	return r.out
}

// TestArrivingNeverAccepted checks that requests announced with Arriving
// that never reach Accept (a body too large, a client gone) hold the sync
// back by the commit delay at most.
func TestArrivingNeverAccepted(t *testing.T) {
	for _, tc := range []struct {
		name  string
		delay time.Duration
	}{
		{"default commit delay", 0},
		{"long commit delay", 20 * time.Millisecond},
		{"no commit delay", -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t, t.TempDir(), Options{CommitDelay: tc.delay})
			// One announced request that never comes.
			abandoned := s.Arriving()
			for i := range 3 {
				if out := acceptWithin(t, s, record(fmt.Sprintf("ONE-%d", i), 1)); out[0].Duplicate {
					t.Fatalf("ONE-%d: %+v", i, out)
				}
			}

			// Many of them, while others are accepted concurrently, each
			// announced and done like a request.
			var dones []func()
			for range 500 {
				dones = append(dones, s.Arriving())
			}
			const senders, each = 8, 20
			var wg sync.WaitGroup
			errs := make(chan error, senders*each)
			for g := range senders {
				wg.Go(func() {
					for i := range each {
						done := s.Arriving()
						_, err := s.Accept(context.Background(), []Record{record(fmt.Sprintf("MANY-%d-%d", g, i), i%2)})
						done()
						if err != nil {
							errs <- err
						}
					}
				})
			}
			waitGroup(t, &wg)
			close(errs)
			for err := range errs {
				t.Errorf("Accept: %v", err)
			}
			if a := s.arriving.Load(); a != 501 {
				t.Errorf("arriving = %d with 501 requests announced and not done, want 501", a)
			}

			abandoned()
			for _, d := range dones {
				d()
			}
			if a := s.arriving.Load(); a != 0 {
				t.Errorf("arriving = %d after every done, want 0", a)
			}
			// The syncer lowers its count just after answering.
			waitFor(t, "awaitingSync back to 0", func() bool { return s.awaitingSync.Load() == 0 })
			if st := stats(t, s); st.Events != 3+senders*each {
				t.Errorf("Stats = %+v, want %d events", st, 3+senders*each)
			}
		})
	}
}

// TestEventLostAfterJobsCommitted makes the event log refuse an event
// whose jobs SQLite has committed: Accept fails, and the sender's retry,
// after a restart, gets the same jobs back instead of new ones.
func TestEventLostAfterJobsCommitted(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		// meanwhile runs on the committed jobs before the retry (the
		// daemon may run them: they are pending).
		meanwhile func(t *testing.T, s *Store, jobs []Job)
		// want are the indexes of the committed jobs the retry returns.
		want []int
	}{
		{name: "jobs still pending", want: []int{0, 1}},
		{
			name: "one job retried meanwhile",
			meanwhile: func(t *testing.T, s *Store, jobs []Job) {
				if err := s.Retry(ctx, jobs[1].ID, 1, t0.Add(time.Hour), "http_5xx", "503"); err != nil {
					t.Fatal(err)
				}
			},
			want: []int{0, 1},
		},
		{
			name: "one job done meanwhile",
			meanwhile: func(t *testing.T, s *Store, jobs []Job) {
				if err := s.Done(ctx, jobs[0].ID, 1, "ok"); err != nil {
					t.Fatal(err)
				}
			},
			want: []int{1},
		},
		{
			name: "both jobs finished meanwhile",
			meanwhile: func(t *testing.T, s *Store, jobs []Job) {
				if err := s.Done(ctx, jobs[0].ID, 1, "ok"); err != nil {
					t.Fatal(err)
				}
				if err := s.Dead(ctx, jobs[1].ID, 1, "http_4xx", "400"); err != nil {
					t.Fatal(err)
				}
			},
			want: []int{},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s, err := Open(dir, Options{Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			first := accept(t, s, record("EV-0", 1))

			// The log refuses every write from now on; SQLite still works.
			if err := s.events.Close(); err != nil {
				t.Fatal(err)
			}
			rec := record("EV-1", 2)
			out, err := s.Accept(ctx, []Record{rec})
			if err == nil || !errors.Is(err, eventlog.ErrClosed) || out != nil {
				t.Fatalf("Accept with the log closed = %+v, %v; want eventlog.ErrClosed", out, err)
			}
			var committed []Job
			for _, j := range pending(t, s) {
				if j.EventID == "EV-1" {
					committed = append(committed, j)
				}
			}
			if len(committed) != 2 {
				t.Fatalf("jobs of EV-1 in SQLite after the failed Accept = %+v, want 2 (committed before the log refused)", committed)
			}
			if tc.meanwhile != nil {
				tc.meanwhile(t, s, committed)
			}
			if err := s.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}

			s = open(t, dir, Options{})
			if got := eventIDs(allEvents(t, s)); !slices.Equal(got, []string{"EV-0"}) {
				t.Fatalf("events after restart = %v, want only EV-0", got)
			}
			before := pending(t, s)
			again := accept(t, s, rec)
			if again[0].Duplicate {
				t.Fatalf("retry = %+v, want it stored, not a duplicate", again)
			}
			var wantIDs []int64
			for _, k := range tc.want {
				wantIDs = append(wantIDs, committed[k].ID)
			}
			if got := jobIDs(again[0].Jobs); !slices.Equal(got, wantIDs) {
				t.Errorf("retry's jobs = %v, want the committed pending ones %v", got, wantIDs)
			}
			for _, j := range again[0].Jobs {
				if j.State != StatePending || j.EventID != "EV-1" || j.Reference != rec.Jobs[j.Index].Reference {
					t.Errorf("retry's job %+v, want pending, of EV-1, with its reference", j)
				}
			}
			if after := pending(t, s); !slices.Equal(jobIDs(after), jobIDs(before)) {
				t.Errorf("pending jobs %v after the retry, want those before it %v (no new ones)", jobIDs(after), jobIDs(before))
			}
			var n int
			if err := s.r.QueryRow(`SELECT count(*) FROM jobs WHERE event_id = 'EV-1'`).Scan(&n); err != nil || n != 2 {
				t.Errorf("EV-1 has %d jobs (%v), want its 2", n, err)
			}
			if got := eventIDs(allEvents(t, s)); !slices.Equal(got, []string{"EV-0", "EV-1"}) {
				t.Errorf("events after the retry = %v, want EV-0, EV-1", got)
			}
			if dup := accept(t, s, rec, record("EV-0", 1)); !dup[0].Duplicate || !dup[1].Duplicate {
				t.Errorf("second retry = %+v, want duplicates", dup)
			}
			if p := pending(t, s); !slices.Contains(jobIDs(p), first[0].Jobs[0].ID) {
				t.Errorf("EV-0's job %d is no longer pending: %v", first[0].Jobs[0].ID, jobIDs(p))
			}
		})
	}
}

// TestPruneSegments accepts events over several hours, so that the event
// log starts a segment for each block of them, and prunes at cutoffs
// around the segments' bounds.
func TestPruneSegments(t *testing.T) {
	const blocks, perBlock = 5, 3
	// Blocks start 90 minutes apart (more than eventlog.DefaultSegmentAge)
	// and last 20 minutes (less), so each is one segment.
	at := func(b, i int) time.Time {
		return t0.Add(time.Duration(b)*90*time.Minute + time.Duration(i)*10*time.Minute)
	}
	id := func(b, i int) string { return fmt.Sprintf("EV-%d-%d", b, i) }
	for _, tc := range []struct {
		name   string
		cut    time.Time
		pruned int // blocks whose segment goes
	}{
		{"before every event", t0, 0},
		{"at the first segment's newest event", at(0, perBlock-1), 0},
		{"just after the first segment", at(0, perBlock-1).Add(time.Millisecond), 1},
		{"inside the third segment", at(2, 0).Add(5 * time.Minute), 2},
		{"at the newest segment's start", at(blocks-1, 0), blocks - 1},
		{"after every event: the newest segment stays", at(blocks, 0), blocks - 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			clk := &clock{t: t0}
			s := open(t, dir, Options{Now: clk.Now})
			for b := range blocks {
				for i := range perBlock {
					clk.Set(at(b, i))
					r := record(id(b, i), 1)
					r.Event.ReceivedAt = at(b, i)
					out := accept(t, s, r)
					// Each job is done when its event arrives.
					if err := s.Done(ctx, out[0].Jobs[0].ID, 1, "ok"); err != nil {
						t.Fatal(err)
					}
				}
			}
			if n := segments(t, dir); n != blocks {
				t.Fatalf("%d segments, want %d (one per block)", n, blocks)
			}

			wantJobs := 0 // jobs go by their own time, not by segment
			var kept, gone []string
			for b := range blocks {
				for i := range perBlock {
					if at(b, i).Before(tc.cut) {
						wantJobs++
					}
					if b < tc.pruned {
						gone = append(gone, id(b, i))
					} else {
						kept = append(kept, id(b, i))
					}
				}
			}
			clk.Set(at(blocks+2, 0))
			events, jobs, err := s.Prune(ctx, tc.cut)
			if err != nil {
				t.Fatalf("Prune: %v", err)
			}
			if events != len(gone) || jobs != wantJobs {
				t.Errorf("Prune deleted %d events, %d jobs; want %d, %d", events, jobs, len(gone), wantJobs)
			}
			if n := segments(t, dir); n != blocks-tc.pruned {
				t.Errorf("%d segments after Prune, want %d", n, blocks-tc.pruned)
			}
			if got := eventIDs(allEvents(t, s)); !slices.Equal(got, kept) {
				t.Errorf("events after Prune = %v, want %v", got, kept)
			}
			if st := stats(t, s); st.Events != int64(len(kept)) {
				t.Errorf("Stats.Events = %d after Prune, want %d", st.Events, len(kept))
			}

			// Pruned ids are forgotten: sent again, they are stored again
			// with new jobs (their old ones, finished, were pruned too).
			// Kept ones are still duplicates.
			now := clk.Now()
			var recs []Record
			for _, e := range append(slices.Clone(gone), kept...) {
				recs = append(recs, record(e, 1))
			}
			out := accept(t, s, recs...)
			for i, o := range out {
				e := recs[i].Event.ID
				if i < len(gone) {
					if o.Duplicate || len(o.Jobs) != 1 || o.Jobs[0].State != StatePending || !o.Jobs[0].CreatedAt.Equal(now) {
						t.Errorf("pruned %s sent again = %+v, want stored with a new job", e, o)
					}
				} else if !o.Duplicate {
					t.Errorf("kept %s sent again = %+v, want a duplicate", e, o)
				}
			}
			if st := stats(t, s); st.Events != int64(blocks*perBlock) || st.Pending != int64(len(gone)) {
				t.Errorf("Stats after sending again = %+v, want %d events, %d pending", st, blocks*perBlock, len(gone))
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			// The log's index is rebuilt from what is on disk.
			s = open(t, dir, Options{})
			if st := stats(t, s); st.Events != int64(blocks*perBlock) {
				t.Errorf("Stats.Events after reopen = %d, want %d", st.Events, blocks*perBlock)
			}
		})
	}
}

// segments counts the event log's segment files.
func segments(t *testing.T, dir string) int {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, EventsFolder))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".log") {
			n++
		}
	}
	return n
}

// TestPruneAndSinceWithOutOfOrderTimes stores, in one segment, an event
// received later than the one appended after it (requests overtaking each
// other, or a clock set back): the segment's newest event decides whether
// Prune deletes it and whether Events with Since reads it.
func TestPruneAndSinceWithOutOfOrderTimes(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: t0}
	s := open(t, t.TempDir(), Options{Now: clk.Now})
	for _, e := range []struct {
		id string
		at time.Duration
	}{
		{"A", 0},
		{"B", 30 * time.Minute}, // the first segment's newest event...
		{"C", 10 * time.Minute}, // ...appended before this one
		{"D", 3 * time.Hour},    // a second segment
	} {
		r := record(e.id, 0)
		r.Event.ReceivedAt = t0.Add(e.at)
		accept(t, s, r)
	}
	if n := segments(t, filepath.Dir(s.Path())); n != 2 {
		t.Fatalf("%d segments, want 2", n)
	}
	since := func(d time.Duration) []string {
		t.Helper()
		var ids []string
		err := s.Events(ctx, EventQuery{Since: t0.Add(d), OldestFirst: true}, func(e Event) error {
			ids = append(ids, e.ID)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return ids
	}
	if got, want := since(20*time.Minute), []string{"B", "D"}; !slices.Equal(got, want) {
		t.Errorf("Events since +20m = %v, want %v", got, want)
	}
	// B was received after the cutoff: its segment stays.
	if events, _, err := s.Prune(ctx, t0.Add(20*time.Minute)); err != nil || events != 0 {
		t.Errorf("Prune(+20m) = %d events, %v; want none (B is newer)", events, err)
	}
	if got, want := eventIDs(allEvents(t, s)), []string{"A", "B", "C", "D"}; !slices.Equal(got, want) {
		t.Errorf("events after Prune(+20m) = %v, want %v", got, want)
	}
	if events, _, err := s.Prune(ctx, t0.Add(31*time.Minute)); err != nil || events != 3 {
		t.Errorf("Prune(+31m) = %d events, %v; want A, B, C", events, err)
	}
	if got, want := eventIDs(allEvents(t, s)), []string{"D"}; !slices.Equal(got, want) {
		t.Errorf("events after Prune(+31m) = %v, want %v", got, want)
	}
}

// TestDedupFailureKeepsBatchDedup makes the event log fail to check one
// id of an Accept (its segment cannot be read) while other Accepts of the
// same batch send an id of that Accept: the failing Accept must not free
// ids it never took, or the event is stored twice.
func TestDedupFailureKeepsBatchDedup(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: t0}
	dir := t.TempDir()
	s, err := Open(dir, Options{Now: clk.Now, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	old := record("Y", 0)
	old.Event.ReceivedAt = t0.Add(-3 * time.Hour)
	accept(t, s, old)            // segment 1
	accept(t, s, record("Z", 0)) // segment 2
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if n := segments(t, dir); n != 2 {
		t.Fatalf("%d segments, want 2", n)
	}

	// Hold the writer on a batch while P, A and Q queue behind it.
	g := newGate()
	s = open(t, dir, Options{Now: clk.Now, hooks: g.hooks()})
	g.start(t, s)
	seg1 := filepath.Join(dir, EventsFolder, fmt.Sprintf("%020d.log", 1))
	if err := os.Rename(seg1, seg1+".away"); err != nil {
		t.Fatal(err)
	}
	type result struct {
		out []Outcome
		err error
	}
	send := func(recs ...Record) chan result {
		ch := make(chan result, 1)
		go func() {
			out, err := s.Accept(ctx, recs)
			ch <- result{out, err}
		}()
		g.waitQueued(t, 1)
		return ch
	}
	p := send(record("X", 1))
	a := send(record("Y", 0), record("X", 1)) // checking Y fails
	q := send(record("X", 1))
	g.release()
	rp, ra, rq := recv(t, p, "P"), recv(t, a, "A"), recv(t, q, "Q")
	g.wait(t)
	if err := os.Rename(seg1+".away", seg1); err != nil {
		t.Fatal(err)
	}
	if sizes := g.sizes(); !slices.Equal(sizes, []int{1, 3}) {
		t.Fatalf("batch sizes %v, want P, A and Q in one batch", sizes)
	}
	if rp.err != nil || rp.out[0].Duplicate {
		t.Errorf("P = %+v, %v; want X stored", rp.out, rp.err)
	}
	if ra.err == nil {
		t.Errorf("A = %+v, want an error (its segment is gone)", ra.out)
	}
	if rq.err != nil || !rq.out[0].Duplicate {
		t.Errorf("Q = %+v, %v; want X a duplicate of P's", rq.out, rq.err)
	}
	n := 0
	for _, e := range allEvents(t, s) {
		if e.ID == "X" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("X stored %d times, want once", n)
	}
}
