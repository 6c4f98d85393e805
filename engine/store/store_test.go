package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// clock is a settable clock for Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// open opens a store in dir and closes it when the test ends.
func open(t testing.TB, dir string, opts Options) *Store {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// body is a realistic group:update event of about size bytes.
func body(id string, size int) []byte {
	b := fmt.Appendf(nil, `{"id":%q,"event":"group:update","action":"add","author":"+34600000001","participants":["+34600000002"],"data":{"body":"`, id)
	// Pseudo-random letters, so that compression keeps the size.
	x := uint32(2463534242)
	for len(b) < size-3 {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b = append(b, 'a'+byte(x%26))
	}
	return append(b, `"}}`...)
}

// record builds an event with n jobs, each from its own rule.
func record(id string, n int) Record {
	r := Record{Event: Event{
		ID:     id,
		Name:   "group:update",
		Action: "add",
		Body:   body(id, 300),
		Rules:  []string{"welcome"},
	}}
	for i := range n {
		r.Jobs = append(r.Jobs, Job{
			Rule:      "welcome",
			Index:     i,
			Type:      "slack",
			Name:      fmt.Sprintf("welcome/slack[%d]", i),
			Params:    []byte(`{"text":"hi"}`),
			Reference: fmt.Sprintf("hookd:%s:welcome:%d", id, i),
		})
	}
	return r
}

// accept stores recs and fails the test on error.
func accept(t testing.TB, s *Store, recs ...Record) []Outcome {
	t.Helper()
	out, err := s.Accept(context.Background(), recs)
	if err != nil {
		t.Fatalf("Accept: %v", err)
	}
	return out
}

// allEvents lists the stored events, oldest first.
func allEvents(t testing.TB, s *Store) []Event {
	t.Helper()
	var evs []Event
	err := s.Events(context.Background(), EventQuery{OldestFirst: true}, func(e Event) error {
		evs = append(evs, e)
		return nil
	})
	if err != nil {
		t.Fatalf("Events: %v", err)
	}
	return evs
}

func eventIDs(evs []Event) []string {
	var ids []string
	for _, e := range evs {
		ids = append(ids, e.ID)
	}
	return ids
}

func jobIDs(jobs []Job) []int64 {
	var ids []int64
	for _, j := range jobs {
		ids = append(ids, j.ID)
	}
	return ids
}

func stats(t testing.TB, s *Store) Stats {
	t.Helper()
	st, err := s.Stats(context.Background())
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	return st
}

func pending(t testing.TB, s *Store) []Job {
	t.Helper()
	jobs, err := s.PendingPage(context.Background(), 1<<20)
	if err != nil {
		t.Fatalf("PendingPage: %v", err)
	}
	return jobs
}

func TestAcceptThenPending(t *testing.T) {
	clk := &clock{t: t0}
	s := open(t, t.TempDir(), Options{Now: clk.Now})
	ctx := context.Background()

	later := record("EV-2", 1)
	later.Jobs[0].NextAt = t0.Add(time.Minute)
	first := record("EV-1", 2)
	first.Event.ReceivedAt = t0.Add(-time.Second)
	first.Event.Errors = []string{`rule "x": condition: unknown name`}
	out := accept(t, s, later, first)

	if len(out) != 2 || out[0].Duplicate || out[1].Duplicate {
		t.Fatalf("outcomes = %+v, want two stored records", out)
	}
	if len(out[0].Jobs) != 1 || len(out[1].Jobs) != 2 {
		t.Fatalf("outcome jobs = %d, %d; want 1, 2", len(out[0].Jobs), len(out[1].Jobs))
	}
	for _, o := range out {
		for _, j := range o.Jobs {
			if j.ID == 0 || j.State != StatePending || !j.CreatedAt.Equal(t0) {
				t.Errorf("outcome job %+v: want an id, state pending, created at %v", j, t0)
			}
		}
	}

	got := pending(t, s)
	// By NextAt then ID: EV-1's two jobs are due now, EV-2's in a minute.
	want := []int64{out[1].Jobs[0].ID, out[1].Jobs[1].ID, out[0].Jobs[0].ID}
	if !slices.Equal(jobIDs(got), want) {
		t.Fatalf("Pending ids = %v, want %v", jobIDs(got), want)
	}
	j := got[1]
	if j.EventID != "EV-1" || j.Rule != "welcome" || j.Index != 1 || j.Type != "slack" ||
		j.Name != "welcome/slack[1]" || string(j.Params) != `{"text":"hi"}` ||
		j.Reference != "hookd:EV-1:welcome:1" || j.Attempts != 0 || !j.NextAt.Equal(t0) ||
		!j.CreatedAt.Equal(t0) || !j.UpdatedAt.Equal(t0) {
		t.Errorf("stored job = %+v", j)
	}
	if !got[2].NextAt.Equal(t0.Add(time.Minute)) {
		t.Errorf("NextAt = %v, want %v", got[2].NextAt, t0.Add(time.Minute))
	}

	// Events come back in the order they were stored (the log's order),
	// whatever their ReceivedAt.
	evs := allEvents(t, s)
	if !slices.Equal(eventIDs(evs), []string{"EV-2", "EV-1"}) {
		t.Fatalf("events = %v, want EV-2, EV-1 (as stored)", eventIDs(evs))
	}
	e := evs[1]
	if !bytes.Equal(e.Body, first.Event.Body) || e.Name != "group:update" || e.Action != "add" ||
		!e.ReceivedAt.Equal(t0.Add(-time.Second)) || !slices.Equal(e.Rules, []string{"welcome"}) ||
		!slices.Equal(e.Errors, first.Event.Errors) {
		t.Errorf("stored event = %+v", e)
	}
	if !evs[0].ReceivedAt.Equal(t0) || evs[0].Errors != nil {
		t.Errorf("event without ReceivedAt or errors = %+v, want received at %v, no errors", evs[0], t0)
	}
	if st := stats(t, s); st != (Stats{Events: 2, Pending: 3}) {
		t.Errorf("Stats = %+v", st)
	}
	if _, err := s.Accept(ctx, nil); err != nil {
		t.Errorf("Accept(nil) = %v", err)
	}
}

func TestJobTransitions(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: t0}
	s := open(t, t.TempDir(), Options{Now: clk.Now})
	out := accept(t, s, record("EV-1", 3))
	a, b, c := out[0].Jobs[0].ID, out[0].Jobs[1].ID, out[0].Jobs[2].ID

	clk.Set(t0.Add(time.Second))
	if err := s.Done(ctx, a, 1, "200 ok"); err != nil {
		t.Fatalf("Done: %v", err)
	}
	next := t0.Add(time.Hour)
	if err := s.Retry(ctx, b, 2, next, "http_5xx", "502 Bad Gateway"); err != nil {
		t.Fatalf("Retry: %v", err)
	}
	if err := s.Dead(ctx, c, 12, "http_4xx", "404 channel_not_found"); err != nil {
		t.Fatalf("Dead: %v", err)
	}

	p := pending(t, s)
	if len(p) != 1 || p[0].ID != b {
		t.Fatalf("Pending = %v, want only the retried job %d", jobIDs(p), b)
	}
	if r := p[0]; r.Attempts != 2 || !r.NextAt.Equal(next) || r.LastReason != "http_5xx" ||
		r.LastError != "502 Bad Gateway" || !r.UpdatedAt.Equal(t0.Add(time.Second)) {
		t.Errorf("retried job = %+v", r)
	}
	dead, err := s.DeadLetters(ctx, 0)
	if err != nil {
		t.Fatalf("DeadLetters: %v", err)
	}
	if len(dead) != 1 || dead[0].ID != c || dead[0].State != StateDead || dead[0].Attempts != 12 ||
		dead[0].LastReason != "http_4xx" || dead[0].LastError != "404 channel_not_found" {
		t.Fatalf("DeadLetters = %+v", dead)
	}
	if st := stats(t, s); st != (Stats{Events: 1, Pending: 1, Dead: 1}) {
		t.Errorf("Stats = %+v", st)
	}

	// Finished and unknown jobs cannot change; the error says which.
	for _, tc := range []struct {
		name string
		do   func() error
		want error
	}{
		{"done twice", func() error { return s.Done(ctx, a, 2, "") }, ErrNotPending},
		{"retry a done job", func() error { return s.Retry(ctx, a, 2, next, "", "") }, ErrNotPending},
		{"dead a dead job", func() error { return s.Dead(ctx, c, 13, "", "") }, ErrNotPending},
		{"done on unknown id", func() error { return s.Done(ctx, 999, 1, "") }, ErrNotFound},
		{"retry unknown id", func() error { return s.Retry(ctx, 999, 1, next, "", "") }, ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.do(); !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
	// A refused transition leaves the store as it was.
	if st := stats(t, s); st != (Stats{Events: 1, Pending: 1, Dead: 1}) {
		t.Errorf("Stats after refused transitions = %+v", st)
	}

	// A finished job's response is kept.
	if err := s.Done(ctx, b, 3, "201 Created"); err != nil {
		t.Fatalf("Done: %v", err)
	}
	var resp string
	if err := s.r.QueryRow(`SELECT response FROM jobs WHERE id = ?`, b).Scan(&resp); err != nil || resp != "201 Created" {
		t.Errorf("response = %q, %v; want 201 Created", resp, err)
	}
}

func TestRequeue(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: t0}
	dir := t.TempDir()
	daemon := open(t, dir, Options{Now: clk.Now})

	kill := func(jobs []Job) {
		t.Helper()
		for _, j := range jobs {
			if err := daemon.Dead(ctx, j.ID, 12, "http_5xx", "503"); err != nil {
				t.Fatalf("Dead: %v", err)
			}
		}
	}
	out := accept(t, daemon, record("EV-1", 3))
	jobs := out[0].Jobs
	kill(jobs)

	if got, err := daemon.TakeRequeued(ctx); err != nil || got != nil {
		t.Fatalf("TakeRequeued before any requeue = %v, %v; want nothing", got, err)
	}
	if n, err := daemon.Requeue(ctx, []int64{}); err != nil || n != 0 {
		t.Errorf("Requeue(empty) = %d, %v; want 0", n, err)
	}

	clk.Set(t0.Add(time.Hour))
	// One id, plus ids that are not dead letters: only the dead one moves.
	n, err := daemon.Requeue(ctx, []int64{jobs[0].ID, 424242})
	if err != nil || n != 1 {
		t.Fatalf("Requeue(one) = %d, %v; want 1", n, err)
	}
	got, err := daemon.TakeRequeued(ctx)
	if err != nil {
		t.Fatalf("TakeRequeued: %v", err)
	}
	if len(got) != 1 || got[0].ID != jobs[0].ID || got[0].State != StatePending ||
		got[0].Attempts != 0 || !got[0].NextAt.Equal(t0.Add(time.Hour)) || got[0].LastReason != "http_5xx" {
		t.Fatalf("TakeRequeued = %+v, want job %d pending, attempts 0, due now", got, jobs[0].ID)
	}
	if again, err := daemon.TakeRequeued(ctx); err != nil || again != nil {
		t.Fatalf("second TakeRequeued = %v, %v; want nothing (flag cleared)", jobIDs(again), err)
	}

	// Another process (the CLI) requeues every dead letter while the
	// daemon runs; the daemon picks them up.
	cli := open(t, dir, Options{ShareEvents: true})
	if n, err := cli.Requeue(ctx, nil); err != nil || n != 2 {
		t.Fatalf("CLI Requeue(nil) = %d, %v; want 2", n, err)
	}
	got, err = daemon.TakeRequeued(ctx)
	if err != nil {
		t.Fatalf("TakeRequeued: %v", err)
	}
	if want := []int64{jobs[1].ID, jobs[2].ID}; !slices.Equal(jobIDs(got), want) {
		t.Fatalf("TakeRequeued after CLI requeue = %v, want %v", jobIDs(got), want)
	}
	if st := stats(t, cli); st.Dead != 0 || st.Pending != 3 {
		t.Errorf("Stats = %+v, want 3 pending, 0 dead", st)
	}

	// A requeued job that finished meanwhile is not handed out again.
	kill(jobs[:1])
	if n, err := cli.Requeue(ctx, nil); err != nil || n != 1 {
		t.Fatalf("Requeue = %d, %v; want 1", n, err)
	}
	if err := daemon.Done(ctx, jobs[0].ID, 1, "ok"); err != nil {
		t.Fatal(err)
	}
	if got, err := daemon.TakeRequeued(ctx); err != nil || got != nil {
		t.Fatalf("TakeRequeued of a job done since = %v, %v; want nothing", jobIDs(got), err)
	}
}

func TestDuplicates(t *testing.T) {
	ctx := context.Background()

	t.Run("two calls", func(t *testing.T) {
		s := open(t, t.TempDir(), Options{})
		first := accept(t, s, record("EV-1", 2))
		second := accept(t, s, record("EV-1", 2))
		if first[0].Duplicate || !second[0].Duplicate || second[0].Jobs != nil {
			t.Fatalf("outcomes = %+v then %+v; want stored, then duplicate without jobs", first, second)
		}
		if st := stats(t, s); st != (Stats{Events: 1, Pending: 2}) {
			t.Errorf("Stats = %+v, want 1 event, 2 jobs", st)
		}
	})

	t.Run("one call", func(t *testing.T) {
		s := open(t, t.TempDir(), Options{})
		out := accept(t, s, record("EV-1", 2), record("EV-2", 1), record("EV-1", 2))
		if out[0].Duplicate || out[1].Duplicate || !out[2].Duplicate {
			t.Fatalf("outcomes = %+v; want stored, stored, duplicate", out)
		}
		if st := stats(t, s); st != (Stats{Events: 2, Pending: 3}) {
			t.Errorf("Stats = %+v, want 2 events, 3 jobs", st)
		}
	})

	t.Run("one batch", func(t *testing.T) {
		// Hold the writer on a first operation until two Accepts of the
		// same event are queued, so that they share one transaction.
		g := newGate()
		s := open(t, t.TempDir(), Options{hooks: g.hooks()})
		g.start(t, s)
		results := make(chan Outcome, 2)
		for range 2 {
			go func() {
				out, err := s.Accept(ctx, []Record{record("EV-1", 2)})
				if err != nil {
					t.Errorf("Accept: %v", err)
					results <- Outcome{}
					return
				}
				results <- out[0]
			}()
		}
		g.waitQueued(t, 2)
		g.release()
		a, b := recv(t, results, "Accept result"), recv(t, results, "Accept result")
		if a.Duplicate == b.Duplicate {
			t.Fatalf("outcomes = %+v, %+v; want exactly one duplicate", a, b)
		}
		g.wait(t)
		if c := s.Counters(); c.Commits != 2 {
			t.Errorf("commits = %d, want 2 (the gate's, then both Accepts together)", c.Commits)
		}
		if st := stats(t, s); st != (Stats{Events: 2, Pending: 2}) {
			t.Errorf("Stats = %+v, want the gate's event and EV-1 with 2 jobs", st)
		}
	})

	t.Run("50 at once", func(t *testing.T) {
		s := open(t, t.TempDir(), Options{})
		const n = 50
		var (
			wg     sync.WaitGroup
			mu     sync.Mutex
			stored []Outcome
		)
		start := make(chan struct{})
		for range n {
			wg.Go(func() {
				<-start
				out, err := s.Accept(ctx, []Record{record("EV-1", 2)})
				if err != nil {
					t.Errorf("Accept: %v", err)
					return
				}
				if !out[0].Duplicate {
					mu.Lock()
					stored = append(stored, out[0])
					mu.Unlock()
				}
			})
		}
		close(start)
		wg.Wait()
		if len(stored) != 1 || len(stored[0].Jobs) != 2 {
			t.Fatalf("non-duplicate outcomes = %+v, want exactly one with 2 jobs", stored)
		}
		if st := stats(t, s); st != (Stats{Events: 1, Pending: 2}) {
			t.Errorf("Stats = %+v, want 1 event, 2 jobs", st)
		}
		if p := pending(t, s); !slices.Equal(jobIDs(p), jobIDs(stored[0].Jobs)) {
			t.Errorf("Pending = %v, want the one set of jobs %v", jobIDs(p), jobIDs(stored[0].Jobs))
		}
	})
}

func TestAcceptRejectsBadRecords(t *testing.T) {
	s := open(t, t.TempDir(), Options{})
	twice := record("EV-2", 2)
	twice.Jobs[1].Index = 0
	other := record("EV-3", 1)
	other.Jobs[0].EventID = "EV-9"
	for _, tc := range []struct {
		name string
		rec  Record
		want string
	}{
		{"no id", record("", 1), "no id"},
		{"same rule and index twice", twice, `two jobs for rule "welcome" action 0`},
		{"job of another event", other, `names event "EV-9"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The good record beside the bad one is not stored either.
			_, err := s.Accept(context.Background(), []Record{record("EV-1", 1), tc.rec})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
	if st := stats(t, s); st != (Stats{}) {
		t.Errorf("Stats = %+v, want nothing stored", st)
	}
}

func TestEventsQuery(t *testing.T) {
	s := open(t, t.TempDir(), Options{})
	var recs []Record
	for i, name := range []string{"group:update", "message:in:new", "message:out:ack", "group:update"} {
		r := record(fmt.Sprintf("EV-%d", i), 0)
		r.Event.Name = name
		r.Event.ReceivedAt = t0.Add(time.Duration(i) * time.Minute)
		recs = append(recs, r)
	}
	accept(t, s, recs...)

	for _, tc := range []struct {
		name string
		q    EventQuery
		want []string
	}{
		{"newest first", EventQuery{}, []string{"EV-3", "EV-2", "EV-1", "EV-0"}},
		{"oldest first", EventQuery{OldestFirst: true}, []string{"EV-0", "EV-1", "EV-2", "EV-3"}},
		{"limit", EventQuery{Limit: 2}, []string{"EV-3", "EV-2"}},
		{"since", EventQuery{Since: t0.Add(2 * time.Minute), OldestFirst: true}, []string{"EV-2", "EV-3"}},
		{"name", EventQuery{Name: "group:update"}, []string{"EV-3", "EV-0"}},
		{"name glob", EventQuery{Name: "message:*", OldestFirst: true}, []string{"EV-1", "EV-2"}},
		{"no match", EventQuery{Name: "chat:update"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			err := s.Events(context.Background(), tc.q, func(e Event) error {
				got = append(got, e.ID)
				return nil
			})
			if err != nil || !slices.Equal(got, tc.want) {
				t.Errorf("Events = %v, %v; want %v", got, err, tc.want)
			}
		})
	}

	stop := errors.New("enough")
	calls := 0
	err := s.Events(context.Background(), EventQuery{}, func(Event) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("Events with a failing fn = %v after %d calls, want %v after 1", err, calls, stop)
	}
}

func TestPrune(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: t0}
	s := open(t, t.TempDir(), Options{Now: clk.Now})
	at := func(id string, jobs int, received time.Time) Record {
		r := record(id, jobs)
		r.Event.ReceivedAt = received
		return r
	}
	// The old events fill the first segment of the event log; the new
	// one, two hours later, starts another.
	out := accept(t, s,
		at("done-old", 1, t0),    // job done before the cutoff: goes
		at("pending-old", 1, t0), // job still pending: the job stays
		at("no-jobs-old", 0, t0),
		at("dead-old", 1, t0),  // dead letter before the cutoff: goes
		at("done-late", 1, t0), // job finished after the cutoff: stays
	)
	out = append(out, accept(t, s, at("new", 1, t0.Add(2*time.Hour)))...)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.Done(ctx, out[0].Jobs[0].ID, 1, "ok"))
	must(s.Dead(ctx, out[3].Jobs[0].ID, 12, "http_4xx", "404"))
	clk.Set(t0.Add(2 * time.Hour))
	must(s.Done(ctx, out[4].Jobs[0].ID, 1, "ok"))
	must(s.Done(ctx, out[5].Jobs[0].ID, 1, "ok"))

	events, jobs, err := s.Prune(ctx, t0.Add(time.Hour))
	if err != nil {
		t.Fatalf("Prune: %v", err)
	}
	if events != 5 || jobs != 2 {
		t.Errorf("Prune deleted %d events, %d jobs; want 5, 2", events, jobs)
	}
	if got, want := eventIDs(allEvents(t, s)), []string{"new"}; !slices.Equal(got, want) {
		t.Errorf("events kept = %v, want %v", got, want)
	}
	if st := stats(t, s); st.Events != 1 {
		t.Errorf("Stats.Events = %d after Prune, want 1", st.Events)
	}
	// A pending job outlives its event: it holds what it needs.
	if p := pending(t, s); len(p) != 1 || p[0].EventID != "pending-old" || string(p[0].Params) != `{"text":"hi"}` {
		t.Errorf("Pending = %+v, want the job of pending-old", p)
	}
	if events, jobs, err := s.Prune(ctx, t0.Add(time.Hour)); err != nil || events != 0 || jobs != 0 {
		t.Errorf("second Prune = %d, %d, %v; want nothing to do", events, jobs, err)
	}
	// A pruned event is forgotten: sent again, it is stored again.
	if again := accept(t, s, at("no-jobs-old", 0, t0.Add(2*time.Hour))); again[0].Duplicate {
		t.Errorf("pruned event sent again = %+v, want stored", again)
	}
}

func TestPruneInChunks(t *testing.T) {
	// More finished jobs than one chunk: Prune deletes them in several
	// transactions.
	ctx := context.Background()
	clk := &clock{t: t0}
	s := open(t, t.TempDir(), Options{Now: clk.Now, LazyJobUpdates: true})
	const n = 3*pruneChunk + 7
	var recs []Record
	for i := range n {
		r := record(fmt.Sprintf("EV-%05d", i), 1)
		r.Event.Body = []byte(`{}`)
		recs = append(recs, r)
	}
	out := accept(t, s, recs...)
	var keep []int64
	for i, o := range out {
		if i%97 == 0 {
			keep = append(keep, o.Jobs[0].ID) // pending: kept
			continue
		}
		if err := s.Done(ctx, o.Jobs[0].ID, 1, "ok"); err != nil {
			t.Fatal(err)
		}
	}
	c0 := s.Counters().Commits
	_, jobs, err := s.Prune(ctx, t0.Add(time.Hour))
	if err != nil {
		t.Fatalf("Prune: %v", err)
	}
	if jobs != n-len(keep) {
		t.Errorf("Prune deleted %d jobs, want %d", jobs, n-len(keep))
	}
	if c := s.Counters().Commits - c0; c < 4 {
		t.Errorf("Prune used %d transactions, want at least 4 chunks of %d", c, pruneChunk)
	}
	if got := jobIDs(pending(t, s)); !slices.Equal(got, keep) {
		t.Errorf("kept %d jobs, want the %d pending ones", len(got), len(keep))
	}
}

func TestReopen(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{Sync: "normal", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	out := accept(t, s, record("EV-1", 2))
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := s.Accept(context.Background(), []Record{record("EV-2", 1)}); !errors.Is(err, ErrClosed) {
		t.Errorf("Accept after Close = %v, want ErrClosed", err)
	}
	if _, err := s.Stats(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("Stats after Close = %v, want ErrClosed", err)
	}

	s = open(t, dir, Options{})
	if v, err := schemaVersion(context.Background(), s.r); err != nil || v != len(migrations) {
		t.Errorf("schema version = %d, %v; want %d", v, err, len(migrations))
	}
	if p := pending(t, s); !slices.Equal(jobIDs(p), jobIDs(out[0].Jobs)) {
		t.Errorf("Pending after reopen = %v, want %v", jobIDs(p), jobIDs(out[0].Jobs))
	}
	if again := accept(t, s, record("EV-1", 2)); !again[0].Duplicate {
		t.Errorf("EV-1 after reopen not a duplicate: %+v", again)
	}
	info, err := os.Stat(filepath.Join(dir, FileName))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("file mode = %v, %v; want 0600", info.Mode().Perm(), err)
	}
}

func TestOpenOptions(t *testing.T) {
	if _, err := Open(t.TempDir(), Options{Sync: "fast"}); err == nil || !strings.Contains(err.Error(), `sync "fast"`) {
		t.Errorf("Open with sync fast = %v, want an error naming it", err)
	}
	for _, mode := range []struct{ opt, want string }{{"", "2"}, {"FULL", "2"}, {"normal", "1"}} {
		s := open(t, t.TempDir(), Options{Sync: mode.opt})
		var got string
		if err := s.w.QueryRow("PRAGMA synchronous").Scan(&got); err != nil || got != mode.want {
			t.Errorf("sync %q: PRAGMA synchronous = %s, %v; want %s", mode.opt, got, err, mode.want)
		}
		var jm string
		if err := s.w.QueryRow("PRAGMA journal_mode").Scan(&jm); err != nil || jm != "wal" {
			t.Errorf("journal_mode = %s, %v; want wal", jm, err)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	newDir := func(t *testing.T, fill func(t *testing.T, file string)) string {
		dir := t.TempDir()
		if fill != nil {
			fill(t, filepath.Join(dir, FileName))
		}
		return dir
	}
	for _, tc := range []struct {
		name string
		dir  func(t *testing.T) string
		want []string
	}{
		{
			name: "file is not SQLite",
			dir: func(t *testing.T) string {
				return newDir(t, func(t *testing.T, file string) {
					if err := os.WriteFile(file, bytes.Repeat([]byte("not a database\n"), 300), 0o600); err != nil {
						t.Fatal(err)
					}
				})
			},
			want: []string{FileName, "not a hookd store"},
		},
		{
			name: "data folder is a file",
			dir: func(t *testing.T) string {
				file := filepath.Join(t.TempDir(), "data")
				if err := os.WriteFile(file, nil, 0o600); err != nil {
					t.Fatal(err)
				}
				return file
			},
			want: []string{"create data folder", "not a directory"},
		},
		{
			name: "SQLite file of another program",
			dir: func(t *testing.T) string {
				return newDir(t, func(t *testing.T, file string) {
					rawExec(t, file, "CREATE TABLE events (x)")
				})
			},
			want: []string{FileName, "another program"},
		},
		{
			name: "schema from a newer hookd",
			dir: func(t *testing.T) string {
				dir := t.TempDir()
				s, err := Open(dir, Options{Logger: slog.New(slog.DiscardHandler)})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := s.w.Exec("PRAGMA user_version = 99"); err != nil {
					t.Fatal(err)
				}
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
				return dir
			},
			want: []string{"schema version 99", "upgrade hookd"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(tc.dir(t), Options{Logger: slog.New(slog.DiscardHandler)})
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded, want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err = %v, want it to contain %q", err, w)
				}
			}
		})
	}
}

func TestOpenReadOnly(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root ignores file permissions; TestOpenErrors and TestWriteFailures cover failing opens and writes")
	}
	for _, tc := range []struct {
		name     string
		existing bool
	}{
		{"new store in a read-only folder", false},
		{"existing store made read-only", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.existing {
				s, err := Open(dir, Options{Logger: slog.New(slog.DiscardHandler)})
				if err != nil {
					t.Fatal(err)
				}
				accept(t, s, record("EV-1", 1))
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(filepath.Join(dir, FileName), 0o400); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.Chmod(dir, 0o500); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.Chmod(dir, 0o700) })
			s, err := Open(dir, Options{Logger: slog.New(slog.DiscardHandler)})
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded, want an error")
			}
			for _, w := range []string{FileName, "writable"} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err = %v, want it to contain %q", err, w)
				}
			}
		})
	}
}

// rawExec runs SQL on file through a plain connection, as another program
// would.
func rawExec(t *testing.T, file string, query string) {
	t.Helper()
	db, err := sql.Open("sqlite", file)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(query); err != nil {
		t.Fatal(err)
	}
}

// TestBodiesRoundTrip stores bodies of every kind and reads them back
// byte for byte.
func TestBodiesRoundTrip(t *testing.T) {
	s := open(t, t.TempDir(), Options{})
	bodies := map[string][]byte{
		"small":  []byte(`{"id":"small","event":"x"}`),
		"large":  body("large", 64<<10),
		"utf8":   []byte(`{"id":"utf8","event":"message:in:new","data":{"body":"¡Hola! 🙏 #1020"}}`),
		"spaces": []byte("{\n  \"id\": \"spaces\",\n  \"event\": \"x\"\n}"),
	}
	for id, b := range bodies {
		rec := record(id, 0)
		rec.Event.Body = b
		accept(t, s, rec)
	}
	got := map[string][]byte{}
	err := s.Events(context.Background(), EventQuery{}, func(e Event) error {
		got[e.ID] = e.Body
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for id, want := range bodies {
		if !bytes.Equal(got[id], want) {
			t.Errorf("%s: read back %q, stored %q", id, got[id], want)
		}
	}
}

// TestPendingPageSeesQueuedUpdates checks that PendingPage runs after the
// job updates queued before it, lazy ones included, and pages by NextAt.
func TestPendingPageSeesQueuedUpdates(t *testing.T) {
	ctx := context.Background()
	s := open(t, t.TempDir(), Options{LazyJobUpdates: true})
	out := accept(t, s, record("EV-1", 3))
	jobs := out[0].Jobs
	if err := s.Done(ctx, jobs[0].ID, 1, "ok"); err != nil {
		t.Fatal(err)
	}
	page, err := s.PendingPage(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(page) != 2 || page[0].ID != jobs[1].ID || page[1].ID != jobs[2].ID {
		t.Fatalf("PendingPage = %v, want jobs %d and %d (the first is done)", ids(page), jobs[1].ID, jobs[2].ID)
	}
	if page, _ := s.PendingPage(ctx, 1); len(page) != 1 {
		t.Fatalf("PendingPage(1) returned %d jobs", len(page))
	}
}

func ids(jobs []Job) []int64 {
	out := make([]int64, len(jobs))
	for i, j := range jobs {
		out[i] = j.ID
	}
	return out
}

// TestJobIDsNotReused: once every job is pruned, new jobs still get new
// ids, so an id in an old log line or a dead-letter listing never names
// another job.
func TestJobIDsNotReused(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: t0}
	s := open(t, t.TempDir(), Options{Now: clk.Now})
	first := accept(t, s, record("EV-1", 2))[0].Jobs
	for _, j := range first {
		if err := s.Done(ctx, j.ID, 1, "ok"); err != nil {
			t.Fatal(err)
		}
	}
	clk.Set(t0.Add(2 * time.Hour))
	if _, jobs, err := s.Prune(ctx, t0.Add(time.Hour)); err != nil || jobs != 2 {
		t.Fatalf("Prune = %d jobs, %v; want 2", jobs, err)
	}
	next := accept(t, s, record("EV-2", 1))[0].Jobs
	if next[0].ID <= first[1].ID {
		t.Errorf("job id %d after pruning jobs up to %d: ids are reused", next[0].ID, first[1].ID)
	}
}
