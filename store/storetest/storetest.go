// Package storetest is the conformance suite of store.Store: every
// implementation runs Run from a test of its own and must pass it.
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T, dir string) store.Store {
//			s, err := sqlite.Open(dir, sqlite.Options{})
//			if err != nil {
//				t.Fatal(err)
//			}
//			return s
//		})
//	}
//
// The suite checks the promises written on store.Store: dedupe (one after
// another, within a batch, racing), all-or-nothing records, job
// transitions and their errors, dead letters and requeues, event queries,
// stats, pruning, durability across Close and Open, ErrClosed, and the
// state of rules that remember (applied with new events only, capped,
// expiring, swapped atomically) and mutes. It
// uses the store's own clock, and waits on nothing but the store's
// answers.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/store"
)

// Opener opens the store identified by dir, a folder the suite made with
// t.TempDir: the first call for a dir gives an empty store, and a later
// call for the same dir (after Close) the same store with what it held.
// An implementation that keeps nothing in folders (a networked one) may
// derive the store's name from dir. The suite closes what it opens.
type Opener func(t *testing.T, dir string) store.Store

// Run runs the conformance suite against the stores open gives.
func Run(t *testing.T, open Opener) {
	t.Helper()
	tests := []struct {
		name string
		run  func(t *testing.T, open Opener)
	}{
		{"Accept", testAccept},
		{"AcceptRace", testAcceptRace},
		{"AcceptInvalid", testAcceptInvalid},
		{"PendingPage", testPendingPage},
		{"Transitions", testTransitions},
		{"Requeue", testRequeue},
		{"DeadLetters", testDeadLetters},
		{"Events", testEvents},
		{"Stats", testStats},
		{"Prune", testPrune},
		{"Reopen", testReopen},
		{"Closed", testClosed},
		{"StateWindow", testStateWindow},
		{"StateDuplicate", testStateDuplicate},
		{"StateReopen", testStateReopen},
		{"StateExpiry", testStateExpiry},
		{"StateCap", testStateCap},
		{"Swap", testSwap},
		{"Mutes", testMutes},
		{"MutedEvent", testMutedEvent},
	}
	tests = append(tests, consoleTests()...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, open) })
	}
}

// fresh opens an empty store that is closed when the test ends.
func fresh(t *testing.T, open Opener) store.Store {
	t.Helper()
	return reopen(t, open, t.TempDir())
}

// reopen opens the store of dir, closed when the test ends.
func reopen(t *testing.T, open Opener, dir string) store.Store {
	t.Helper()
	s := open(t, dir)
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// event returns an event named name with key id received at.
func event(id, name string, at time.Time) store.Event {
	return store.Event{ID: id, Name: name, Body: []byte(fmt.Sprintf(`{"event":%q,"id":%q}`, name, id)), ReceivedAt: at}
}

// job returns a job of rule's action idx.
func job(rule string, idx int) store.Job {
	return store.Job{Rule: rule, Index: idx, Type: "webhook", Name: fmt.Sprintf("%s/webhook[%d]", rule, idx),
		Params: []byte(`{"url":"http://example.test/` + rule + `"}`), Reference: fmt.Sprintf("ref-%s-%d", rule, idx)}
}

// accept stores recs and fails the test on error.
func accept(t *testing.T, s store.Store, recs ...store.Record) []store.Outcome {
	t.Helper()
	out, err := s.Accept(context.Background(), recs)
	if err != nil {
		t.Fatalf("Accept: %v", err)
	}
	if len(out) != len(recs) {
		t.Fatalf("Accept returned %d outcomes for %d records", len(out), len(recs))
	}
	return out
}

// acceptJob stores a new event with one job and returns the job.
func acceptJob(t *testing.T, s store.Store, key string) store.Job {
	t.Helper()
	out := accept(t, s, store.Record{Event: event(key, "message:in:new", time.Now()), Jobs: []store.Job{job("r", 0)}})
	if out[0].Duplicate || len(out[0].Jobs) != 1 {
		t.Fatalf("Accept %s: outcome %+v, want one new job", key, out[0])
	}
	return out[0].Jobs[0]
}

// getJob reads a job and fails the test on error.
func getJob(t *testing.T, s store.Store, id int64) store.Job {
	t.Helper()
	j, err := s.Job(context.Background(), id)
	if err != nil {
		t.Fatalf("Job(%d): %v", id, err)
	}
	return j
}

// ids returns the ids of jobs.
func ids(jobs []store.Job) []int64 {
	out := make([]int64, len(jobs))
	for i, j := range jobs {
		out[i] = j.ID
	}
	return out
}

// keys returns the ids of events.
func keys(evs []store.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.ID
	}
	return out
}

// collect returns the events q selects.
func collect(t *testing.T, s store.Store, q store.EventQuery) []store.Event {
	t.Helper()
	var evs []store.Event
	if err := s.Events(context.Background(), q, func(e store.Event) error {
		evs = append(evs, e)
		return nil
	}); err != nil {
		t.Fatalf("Events(%+v): %v", q, err)
	}
	return evs
}

// stats reads Stats and fails the test on error.
func stats(t *testing.T, s store.Store) store.Stats {
	t.Helper()
	st, err := s.Stats(context.Background())
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	return st
}

// pending returns every pending job.
func pending(t *testing.T, s store.Store) []store.Job {
	t.Helper()
	jobs, err := s.PendingPage(context.Background(), 1000)
	if err != nil {
		t.Fatalf("PendingPage: %v", err)
	}
	return jobs
}

func testAccept(t *testing.T, open Opener) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		before  [][]store.Record // calls made first
		recs    []store.Record
		dup     []bool
		jobs    []int // jobs per outcome
		events  int64 // stored afterwards
		pending int64
	}{
		{name: "new event without jobs",
			recs: []store.Record{{Event: event("a", "message:in:new", at)}},
			dup:  []bool{false}, jobs: []int{0}, events: 1},
		{name: "new event with jobs",
			recs: []store.Record{{Event: event("a", "message:in:new", at), Jobs: []store.Job{job("r", 0), job("r", 1), job("s", 0)}}},
			dup:  []bool{false}, jobs: []int{3}, events: 1, pending: 3},
		{name: "stored by an earlier call",
			before: [][]store.Record{{{Event: event("a", "message:in:new", at), Jobs: []store.Job{job("r", 0)}}}},
			recs:   []store.Record{{Event: event("a", "message:in:new", at), Jobs: []store.Job{job("r", 0)}}},
			dup:    []bool{true}, jobs: []int{0}, events: 1, pending: 1},
		{name: "twice in one batch",
			recs: []store.Record{
				{Event: event("a", "message:in:new", at), Jobs: []store.Job{job("r", 0)}},
				{Event: event("a", "message:in:new", at), Jobs: []store.Job{job("r", 0)}},
			},
			dup: []bool{false, true}, jobs: []int{1, 0}, events: 1, pending: 1},
		{name: "mixed batch",
			before: [][]store.Record{{{Event: event("b", "message:in:new", at)}}},
			recs: []store.Record{
				{Event: event("a", "message:in:new", at), Jobs: []store.Job{job("r", 0)}},
				{Event: event("b", "message:in:new", at), Jobs: []store.Job{job("r", 0)}},
				{Event: event("c", "group:update", at), Jobs: []store.Job{job("r", 0), job("r", 1)}},
				{Event: event("c", "group:update", at), Jobs: []store.Job{job("r", 0)}},
			},
			dup: []bool{false, true, false, true}, jobs: []int{1, 0, 2, 0}, events: 3, pending: 3},
		{name: "same key, other name and body",
			before: [][]store.Record{{{Event: event("a", "message:in:new", at)}}},
			recs:   []store.Record{{Event: event("a", "message:out:new", at.Add(time.Hour)), Jobs: []store.Job{job("r", 0)}}},
			dup:    []bool{true}, jobs: []int{0}, events: 1},
		{name: "no records",
			dup: []bool{}, jobs: []int{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := fresh(t, open)
			for _, b := range tt.before {
				accept(t, s, b...)
			}
			out, err := s.Accept(context.Background(), tt.recs)
			if err != nil {
				t.Fatalf("Accept: %v", err)
			}
			if len(out) != len(tt.recs) {
				t.Fatalf("Accept returned %d outcomes for %d records", len(out), len(tt.recs))
			}
			for i, o := range out {
				if o.Duplicate != tt.dup[i] || len(o.Jobs) != tt.jobs[i] {
					t.Errorf("outcome %d: duplicate %v with %d jobs, want %v with %d", i, o.Duplicate, len(o.Jobs), tt.dup[i], tt.jobs[i])
				}
			}
			st := stats(t, s)
			if st.Events != tt.events || st.Pending != tt.pending {
				t.Errorf("Stats = %+v, want %d events, %d pending", st, tt.events, tt.pending)
			}
		})
	}

	t.Run("stored jobs", func(t *testing.T) {
		s := fresh(t, open)
		before := time.Now().Truncate(time.Millisecond)
		empty := job("r", 1)
		empty.Params = nil
		due := at.Add(time.Minute)
		later := job("r", 2)
		later.NextAt = due
		out := accept(t, s, store.Record{Event: store.Event{ID: "a", Name: "message:in:new", Body: []byte(`{}`)},
			Jobs: []store.Job{job("r", 0), empty, later}})
		after := time.Now()
		seen := map[int64]bool{}
		for i, j := range out[0].Jobs {
			if j.ID <= 0 || seen[j.ID] {
				t.Errorf("job %d: id %d, want a positive id of its own", i, j.ID)
			}
			seen[j.ID] = true
			if j.EventID != "a" || j.State != store.StatePending || j.Attempts != 0 {
				t.Errorf("job %d: %+v, want event a, pending, 0 attempts", i, j)
			}
			if j.CreatedAt.Before(before) || j.CreatedAt.After(after) {
				t.Errorf("job %d: created at %v, want between %v and %v", i, j.CreatedAt, before, after)
			}
			if stored := getJob(t, s, j.ID); !SameJob(stored, j) {
				t.Errorf("job %d: Job returns %+v, Accept returned %+v", i, stored, j)
			}
		}
		if got := string(out[0].Jobs[1].Params); got != "{}" {
			t.Errorf("empty params stored as %q, want {}", got)
		}
		if j := out[0].Jobs[0]; j.NextAt.Before(before) || j.NextAt.After(after) {
			t.Errorf("job without NextAt: due %v, want now", j.NextAt)
		}
		if j := out[0].Jobs[2]; !j.NextAt.Equal(due) {
			t.Errorf("job with NextAt: due %v, want %v", j.NextAt, due)
		}
		evs := collect(t, s, store.EventQuery{})
		if len(evs) != 1 || evs[0].ReceivedAt.Before(before) || evs[0].ReceivedAt.After(after) {
			t.Errorf("event without ReceivedAt: %+v, want received now", evs)
		}
	})
}

// SameJob reports whether two jobs are equal, comparing times by
// instant: for implementations' own tests too.
func SameJob(a, b store.Job) bool {
	return a.ID == b.ID && a.EventID == b.EventID && a.Rule == b.Rule && a.Index == b.Index && a.Type == b.Type &&
		a.Name == b.Name && string(a.Params) == string(b.Params) && a.Reference == b.Reference && a.State == b.State &&
		a.Attempts == b.Attempts && a.NextAt.Equal(b.NextAt) && a.LastError == b.LastError && a.LastReason == b.LastReason &&
		a.Response == b.Response && a.CreatedAt.Equal(b.CreatedAt) && a.UpdatedAt.Equal(b.UpdatedAt)
}

func testAcceptRace(t *testing.T, open Opener) {
	const n = 50
	tests := []struct {
		name     string
		key      func(i int) string
		accepted int
	}{
		{"one key", func(int) string { return "same" }, 1},
		{"distinct keys", func(i int) string { return fmt.Sprintf("k%d", i) }, n},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := fresh(t, open)
			var (
				wg       sync.WaitGroup
				mu       sync.Mutex
				accepted int
				jobIDs   []int64
				errs     []error
			)
			start := make(chan struct{})
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					out, err := s.Accept(context.Background(), []store.Record{{
						Event: event(tt.key(i), "message:in:new", time.Now()), Jobs: []store.Job{job("r", 0)}}})
					mu.Lock()
					defer mu.Unlock()
					if err != nil {
						errs = append(errs, err)
						return
					}
					if !out[0].Duplicate {
						accepted++
						jobIDs = append(jobIDs, ids(out[0].Jobs)...)
					} else if out[0].Jobs != nil {
						errs = append(errs, fmt.Errorf("duplicate with jobs %v", ids(out[0].Jobs)))
					}
				}()
			}
			close(start)
			wg.Wait()
			if len(errs) > 0 {
				t.Fatalf("Accept: %v", errors.Join(errs...))
			}
			if accepted != tt.accepted {
				t.Errorf("%d of %d racing Accepts stored their event, want %d", accepted, n, tt.accepted)
			}
			got := ids(pending(t, s))
			slices.Sort(got)
			slices.Sort(jobIDs)
			if !slices.Equal(got, jobIDs) || len(got) != tt.accepted {
				t.Errorf("pending jobs %v, want the %d returned: %v", got, tt.accepted, jobIDs)
			}
			if st := stats(t, s); st.Events != int64(tt.accepted) {
				t.Errorf("Stats.Events = %d, want %d", st.Events, tt.accepted)
			}
		})
	}
}

func testAcceptInvalid(t *testing.T, open Opener) {
	now := time.Now()
	other := job("r", 1)
	other.EventID = "another"
	tests := []struct {
		name string
		bad  store.Record
	}{
		{"no id", store.Record{Event: store.Event{Name: "message:in:new", Body: []byte(`{}`)}}},
		{"job of another event", store.Record{Event: event("b", "message:in:new", now), Jobs: []store.Job{other}}},
		{"two jobs for one action", store.Record{Event: event("b", "message:in:new", now), Jobs: []store.Job{job("r", 0), job("r", 0)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := fresh(t, open)
			good := store.Record{Event: event("a", "message:in:new", now), Jobs: []store.Job{job("r", 0)}}
			if out, err := s.Accept(context.Background(), []store.Record{good, tt.bad}); err == nil {
				t.Fatalf("Accept stored an invalid record: %+v", out)
			}
			if st := stats(t, s); st != (store.Stats{}) {
				t.Errorf("after a failed Accept, Stats = %+v, want nothing stored", st)
			}
			if out := accept(t, s, good); out[0].Duplicate {
				t.Errorf("the valid record of a failed Accept was stored")
			}
		})
	}
}

func testPendingPage(t *testing.T, open Opener) {
	s := fresh(t, open)
	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	mk := func(rule string, due time.Duration) store.Job {
		j := job(rule, 0)
		j.NextAt = base.Add(due)
		return j
	}
	out := accept(t, s, store.Record{Event: event("a", "message:in:new", base),
		Jobs: []store.Job{mk("late", 3*time.Minute), mk("early", time.Minute), mk("tie1", 2*time.Minute), mk("tie2", 2*time.Minute)}})
	byRule := map[string]int64{}
	for _, j := range out[0].Jobs {
		byRule[j.Rule] = j.ID
	}
	tie := []int64{byRule["tie1"], byRule["tie2"]}
	slices.Sort(tie)
	want := []int64{byRule["early"], tie[0], tie[1], byRule["late"]}
	if got := ids(pending(t, s)); !slices.Equal(got, want) {
		t.Errorf("PendingPage order = %v, want by NextAt then ID: %v", got, want)
	}
	page, err := s.PendingPage(context.Background(), 2)
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(page); !slices.Equal(got, want[:2]) {
		t.Errorf("PendingPage(2) = %v, want %v", got, want[:2])
	}
	ctx := context.Background()
	if err := s.Done(ctx, byRule["early"], 1, "ok"); err != nil {
		t.Fatal(err)
	}
	if err := s.Dead(ctx, byRule["late"], 1, "invalid", "bad"); err != nil {
		t.Fatal(err)
	}
	if got := ids(pending(t, s)); !slices.Equal(got, tie) {
		t.Errorf("after Done and Dead, PendingPage = %v, want %v", got, tie)
	}
}

func testTransitions(t *testing.T, open Opener) {
	ctx := context.Background()
	next := time.Now().Add(time.Hour).Truncate(time.Millisecond)
	ops := map[string]func(s store.Store, id int64) error{
		"Done":  func(s store.Store, id int64) error { return s.Done(ctx, id, 2, `{"ok":true}`) },
		"Retry": func(s store.Store, id int64) error { return s.Retry(ctx, id, 2, next, "timeout", "dial: timeout") },
		"Dead":  func(s store.Store, id int64) error { return s.Dead(ctx, id, 2, "invalid", "400 Bad Request") },
	}
	tests := []struct {
		op    string
		from  string // the job's state before: pending, retrying, done, dead, or "" for an unknown id
		want  error
		state string // afterwards
	}{
		{"Done", "pending", nil, store.StateDone},
		{"Retry", "pending", nil, store.StatePending},
		{"Dead", "pending", nil, store.StateDead},
		{"Done", "retrying", nil, store.StateDone},
		{"Dead", "retrying", nil, store.StateDead},
		{"Done", "done", store.ErrNotPending, store.StateDone},
		{"Retry", "done", store.ErrNotPending, store.StateDone},
		{"Dead", "done", store.ErrNotPending, store.StateDone},
		{"Done", "dead", store.ErrNotPending, store.StateDead},
		{"Retry", "dead", store.ErrNotPending, store.StateDead},
		{"Dead", "dead", store.ErrNotPending, store.StateDead},
		{"Done", "", store.ErrNotFound, ""},
		{"Retry", "", store.ErrNotFound, ""},
		{"Dead", "", store.ErrNotFound, ""},
	}
	for _, tt := range tests {
		t.Run(tt.op+" on "+cmpOr(tt.from, "unknown"), func(t *testing.T) {
			s := fresh(t, open)
			j := acceptJob(t, s, "a")
			id := j.ID
			switch tt.from {
			case "retrying":
				if err := s.Retry(ctx, id, 1, time.Now(), "network", "dial: connection refused"); err != nil {
					t.Fatal(err)
				}
			case "done":
				if err := s.Done(ctx, id, 1, "first"); err != nil {
					t.Fatal(err)
				}
			case "dead":
				if err := s.Dead(ctx, id, 1, "server", "first"); err != nil {
					t.Fatal(err)
				}
			case "":
				id = j.ID + 1_000_000
			}
			before := getJobOrZero(t, s, id)
			err := ops[tt.op](s, id)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("%s: error %v, want %v", tt.op, err, tt.want)
			}
			if tt.from == "" {
				if _, err := s.Job(ctx, id); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("Job(unknown): error %v, want ErrNotFound", err)
				}
				return
			}
			after := getJob(t, s, id)
			if after.State != tt.state {
				t.Errorf("state %s, want %s", after.State, tt.state)
			}
			if tt.want != nil {
				if !SameJob(after, before) {
					t.Errorf("a refused %s changed the job: %+v, was %+v", tt.op, after, before)
				}
				return
			}
			if after.Attempts != 2 || after.UpdatedAt.Before(before.UpdatedAt) {
				t.Errorf("after %s: attempts %d, updated %v (was %v); want 2 and no earlier", tt.op, after.Attempts, after.UpdatedAt, before.UpdatedAt)
			}
			switch tt.op {
			case "Done":
				if after.Response != `{"ok":true}` {
					t.Errorf("response %q, want the target's answer", after.Response)
				}
				// The failures before are in the attempts; a done job has
				// no last failure.
				if after.LastReason != "" || after.LastError != "" {
					t.Errorf("after Done: last reason %q, last error %q; want none", after.LastReason, after.LastError)
				}
			case "Retry":
				if !after.NextAt.Equal(next) || after.LastReason != "timeout" || after.LastError != "dial: timeout" {
					t.Errorf("after Retry: %+v, want due %v, reason timeout, error dial: timeout", after, next)
				}
			case "Dead":
				if after.LastReason != "invalid" || after.LastError != "400 Bad Request" {
					t.Errorf("after Dead: %+v, want reason invalid, error 400 Bad Request", after)
				}
			}
		})
	}
}

// cmpOr returns a, or b when a is empty.
func cmpOr(a, b string) string {
	if a == "" {
		return b
	}
	return a
}

// getJobOrZero reads a job, or returns the zero Job for an unknown id.
func getJobOrZero(t *testing.T, s store.Store, id int64) store.Job {
	t.Helper()
	j, err := s.Job(context.Background(), id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Job{}
	}
	if err != nil {
		t.Fatalf("Job(%d): %v", id, err)
	}
	return j
}

func testRequeue(t *testing.T, open Opener) {
	ctx := context.Background()
	tests := []struct {
		name     string
		ids      func(dead1, dead2, live int64) []int64
		n        int
		missing  func(dead1, dead2, live int64) []int64 // NotDeadError.IDs; nil: success
		unknown  []int64                                // NotDeadError.Unknown
		requeued func(dead1, dead2, live int64) []int64
	}{
		{name: "all",
			ids: func(_, _, _ int64) []int64 { return nil }, n: 2,
			requeued: func(d1, d2, _ int64) []int64 { return []int64{d1, d2} }},
		{name: "one",
			ids: func(d1, _, _ int64) []int64 { return []int64{d1} }, n: 1,
			requeued: func(d1, _, _ int64) []int64 { return []int64{d1} }},
		{name: "none",
			ids: func(_, _, _ int64) []int64 { return []int64{} }, n: 0,
			requeued: func(_, _, _ int64) []int64 { return nil }},
		{name: "an unknown id",
			ids:      func(d1, _, _ int64) []int64 { return []int64{d1, 999_999_999} },
			missing:  func(_, _, _ int64) []int64 { return []int64{999_999_999} },
			unknown:  []int64{999_999_999},
			requeued: func(_, _, _ int64) []int64 { return nil }},
		{name: "a pending job",
			ids:      func(d1, _, live int64) []int64 { return []int64{live, d1} },
			missing:  func(_, _, live int64) []int64 { return []int64{live} },
			requeued: func(_, _, _ int64) []int64 { return nil }},
		{name: "a pending job and unknown ids, twice",
			ids:      func(_, _, live int64) []int64 { return []int64{999_999_998, live, 999_999_999, live, 999_999_998} },
			missing:  func(_, _, live int64) []int64 { return []int64{999_999_998, live, 999_999_999} },
			unknown:  []int64{999_999_998, 999_999_999},
			requeued: func(_, _, _ int64) []int64 { return nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := fresh(t, open)
			d1, d2, live := acceptJob(t, s, "a").ID, acceptJob(t, s, "b").ID, acceptJob(t, s, "c").ID
			for _, id := range []int64{d1, d2} {
				if err := s.Dead(ctx, id, 3, "server", "503"); err != nil {
					t.Fatal(err)
				}
			}
			n, err := s.Requeue(ctx, tt.ids(d1, d2, live))
			if tt.missing != nil {
				var nd *store.NotDeadError
				if !errors.As(err, &nd) || !errors.Is(err, store.ErrNotFound) || !slices.Equal(nd.IDs, tt.missing(d1, d2, live)) {
					t.Fatalf("Requeue: %d, %v; want a NotDeadError for %v matching ErrNotFound", n, err, tt.missing(d1, d2, live))
				}
				if !slices.Equal(nd.Unknown, tt.unknown) {
					t.Errorf("NotDeadError.Unknown = %v, want %v (the ids of no job at all)", nd.Unknown, tt.unknown)
				}
				if got, want := store.UnknownJobs(err), len(tt.unknown) == len(nd.IDs); got != want {
					t.Errorf("UnknownJobs(%v) = %v, want %v", err, got, want)
				}
			} else if err != nil || n != tt.n {
				t.Fatalf("Requeue: %d, %v; want %d", n, err, tt.n)
			}
			want := tt.requeued(d1, d2, live)
			slices.Sort(want) // requeued at once: by ID
			for _, id := range []int64{d1, d2} {
				j := getJob(t, s, id)
				if slices.Contains(want, id) {
					if j.State != store.StatePending || j.Attempts != 0 {
						t.Errorf("requeued job %d: %s after %d attempts, want pending with 0", id, j.State, j.Attempts)
					}
				} else if j.State != store.StateDead {
					t.Errorf("job %d: %s, want still dead", id, j.State)
				}
			}
			taken, err := s.TakeRequeued(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(taken); !slices.Equal(got, want) && len(got)+len(want) > 0 {
				t.Errorf("TakeRequeued = %v, want %v", got, want)
			}
			again, err := s.TakeRequeued(ctx)
			if err != nil || len(again) != 0 {
				t.Errorf("second TakeRequeued = %v, %v; want nothing (each requeued job is handed out once)", ids(again), err)
			}
			if got := len(pending(t, s)); got != 1+len(want) {
				t.Errorf("%d pending jobs, want %d", got, 1+len(want))
			}
		})
	}

	t.Run("done before taken", func(t *testing.T) {
		s := fresh(t, open)
		id := acceptJob(t, s, "a").ID
		if err := s.Dead(ctx, id, 1, "server", "503"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Requeue(ctx, []int64{id}); err != nil {
			t.Fatal(err)
		}
		if err := s.Done(ctx, id, 1, "ok"); err != nil {
			t.Fatal(err)
		}
		if taken, err := s.TakeRequeued(ctx); err != nil || len(taken) != 0 {
			t.Errorf("TakeRequeued = %v, %v; want nothing: the job is done", ids(taken), err)
		}
	})
}

func testDeadLetters(t *testing.T, open Opener) {
	ctx := context.Background()
	s := fresh(t, open)
	a, b, c := acceptJob(t, s, "a").ID, acceptJob(t, s, "b").ID, acceptJob(t, s, "c").ID
	for _, id := range []int64{a, b} {
		if err := s.Dead(ctx, id, 1, "invalid", "bad"); err != nil {
			t.Fatal(err)
		}
	}
	// Most recently dead first; dead in the same millisecond, by ID
	// descending.
	order := []int64{b, a}
	if ja, jb := getJob(t, s, a), getJob(t, s, b); ja.UpdatedAt.Equal(jb.UpdatedAt) && a > b {
		order = []int64{a, b}
	}
	tests := []struct {
		limit int
		want  []int64
	}{
		{0, order},
		{-1, order},
		{1, order[:1]},
		{5, order},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint("limit ", tt.limit), func(t *testing.T) {
			jobs, err := s.DeadLetters(ctx, tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(jobs); !slices.Equal(got, tt.want) {
				t.Errorf("DeadLetters(%d) = %v, want %v (most recently dead first; %d is pending)", tt.limit, got, tt.want, c)
			}
			for i := 1; i < len(jobs); i++ {
				if jobs[i].UpdatedAt.After(jobs[i-1].UpdatedAt) {
					t.Errorf("dead letter %d died after the one before it", jobs[i].ID)
				}
			}
		})
	}
}

func testEvents(t *testing.T, open Opener) {
	ctx := context.Background()
	s := fresh(t, open)
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	full := store.Event{ID: "m2", Name: "message:in:new", Action: "", Body: []byte(`{"event":"message:in:new","data":{"body":"héllo"}}`),
		ReceivedAt: base.Add(2 * time.Minute), Rules: []string{"alert", "log"}, Errors: []string{`rule "vip": unknown field`}}
	// Stored out of order, with two in one millisecond.
	accept(t, s,
		store.Record{Event: event("g3", "group:update", base.Add(3*time.Minute))},
		store.Record{Event: event("m1", "message:in:new", base.Add(time.Minute))},
		store.Record{Event: full},
		store.Record{Event: event("a2", "message:out:ack", base.Add(2*time.Minute))},
	)
	accept(t, s, store.Record{Event: event("m0", "message:in:new", base)})
	errStop := errors.New("stop here")
	tests := []struct {
		name string
		q    store.EventQuery
		want []string
	}{
		{"newest first", store.EventQuery{}, []string{"g3", "a2", "m2", "m1", "m0"}},
		{"oldest first", store.EventQuery{OldestFirst: true}, []string{"m0", "m1", "m2", "a2", "g3"}},
		{"name", store.EventQuery{Name: "message:in:new", OldestFirst: true}, []string{"m0", "m1", "m2"}},
		{"glob", store.EventQuery{Name: "message:*"}, []string{"a2", "m2", "m1", "m0"}},
		{"no match", store.EventQuery{Name: "chat:*"}, nil},
		{"since", store.EventQuery{Since: base.Add(2 * time.Minute), OldestFirst: true}, []string{"m2", "a2", "g3"}},
		{"limit", store.EventQuery{Limit: 2}, []string{"g3", "a2"}},
		{"limit after filter", store.EventQuery{Name: "message:in:*", Limit: 2, OldestFirst: true}, []string{"m0", "m1"}},
		{"all filters", store.EventQuery{Name: "message:*", Since: base.Add(time.Minute), Limit: 2}, []string{"a2", "m2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := keys(collect(t, s, tt.q)); !slices.Equal(got, tt.want) {
				t.Errorf("Events(%+v) = %v, want %v", tt.q, got, tt.want)
			}
		})
	}
	t.Run("fields", func(t *testing.T) {
		evs := collect(t, s, store.EventQuery{Name: "message:in:new", Since: full.ReceivedAt, Limit: 1})
		if len(evs) != 1 {
			t.Fatalf("got %d events, want 1", len(evs))
		}
		e := evs[0]
		if e.ID != full.ID || e.Name != full.Name || e.Action != full.Action || string(e.Body) != string(full.Body) ||
			!e.ReceivedAt.Equal(full.ReceivedAt) || e.ReceivedAt.Location() != time.UTC ||
			!slices.Equal(e.Rules, full.Rules) || !slices.Equal(e.Errors, full.Errors) {
			t.Errorf("stored event %+v, want %+v (received in UTC)", e, full)
		}
	})
	t.Run("fn error", func(t *testing.T) {
		n := 0
		err := s.Events(ctx, store.EventQuery{}, func(store.Event) error {
			n++
			return errStop
		})
		if err != errStop || n != 1 {
			t.Errorf("Events returned %v after %d calls, want fn's error unchanged after 1", err, n)
		}
	})
	t.Run("bad pattern", func(t *testing.T) {
		err := s.Events(ctx, store.EventQuery{Name: "message:["}, func(store.Event) error { return nil })
		if err == nil {
			t.Error("Events accepted the pattern message:[")
		}
	})
	t.Run("many", func(t *testing.T) {
		s := fresh(t, open)
		const n = 700 // more than a page of any sensible size
		recs := make([]store.Record, n)
		for i := range recs {
			recs[i] = store.Record{Event: event(fmt.Sprintf("e%04d", i), "message:in:new", base.Add(time.Duration(i/3)*time.Millisecond))}
		}
		accept(t, s, recs...)
		got := keys(collect(t, s, store.EventQuery{OldestFirst: true}))
		want := keys(func() []store.Event {
			evs := make([]store.Event, n)
			for i := range recs {
				evs[i] = recs[i].Event
			}
			return evs
		}())
		if !slices.Equal(got, want) {
			t.Errorf("oldest first: %d events, first %v, want %d in the order stored", len(got), got[:min(3, len(got))], n)
		}
		slices.Reverse(want)
		if got := keys(collect(t, s, store.EventQuery{})); !slices.Equal(got, want) {
			t.Errorf("newest first: %d events, want %d in reverse order", len(got), n)
		}
	})
}

func testStats(t *testing.T, open Opener) {
	ctx := context.Background()
	s := fresh(t, open)
	if st := stats(t, s); st != (store.Stats{}) {
		t.Errorf("empty store: Stats = %+v", st)
	}
	a, b := acceptJob(t, s, "a"), acceptJob(t, s, "b")
	acceptJob(t, s, "c")
	accept(t, s, store.Record{Event: event("d", "message:in:new", time.Now())})
	if err := s.Done(ctx, a.ID, 1, "ok"); err != nil {
		t.Fatal(err)
	}
	if err := s.Dead(ctx, b.ID, 1, "invalid", "bad"); err != nil {
		t.Fatal(err)
	}
	if st, want := stats(t, s), (store.Stats{Events: 4, Pending: 1, Dead: 1}); st != want {
		t.Errorf("Stats = %+v, want %+v", st, want)
	}
	if err := s.Writable(ctx); err != nil {
		t.Errorf("Writable on a working store: %v", err)
	}
}

func testPrune(t *testing.T, open Opener) {
	ctx := context.Background()
	s := fresh(t, open)
	now := time.Now()
	old, recent := now.Add(-48*time.Hour), now.Add(2*time.Hour)
	rec := func(key string, at time.Time, jobs int) store.Record {
		r := store.Record{Event: event(key, "message:in:new", at)}
		for i := range jobs {
			r.Jobs = append(r.Jobs, job("r", i))
		}
		return r
	}
	out := accept(t, s,
		rec("old-nojobs", old, 0),
		rec("old-pending", old, 1),
		rec("old-finished", old, 2),
		rec("recent", recent, 1),
	)
	fin := out[2].Jobs
	if err := s.Done(ctx, fin[0].ID, 1, "ok"); err != nil {
		t.Fatal(err)
	}
	if err := s.Dead(ctx, fin[1].ID, 1, "invalid", "bad"); err != nil {
		t.Fatal(err)
	}
	// Everything updated so far is older than the cut; only "recent" was
	// received after it.
	events, jobs, err := s.Prune(ctx, now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if events != 2 || jobs != 2 {
		t.Errorf("Prune deleted %d events and %d jobs, want 2 and 2", events, jobs)
	}
	if got := keys(collect(t, s, store.EventQuery{OldestFirst: true})); !slices.Equal(got, []string{"old-pending", "recent"}) {
		t.Errorf("events kept: %v, want the one with a pending job and the recent one", got)
	}
	for _, j := range fin {
		if _, err := s.Job(ctx, j.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("finished job %d: %v, want pruned", j.ID, err)
		}
	}
	if got, want := ids(pending(t, s)), []int64{out[1].Jobs[0].ID, out[3].Jobs[0].ID}; !slices.Equal(got, want) {
		t.Errorf("pending jobs after Prune: %v, want %v", got, want)
	}
	if o := accept(t, s, rec("old-pending", old, 1)); !o[0].Duplicate {
		t.Errorf("the kept event is no longer a duplicate of itself")
	}
	events, jobs, err = s.Prune(ctx, now.Add(time.Hour))
	if err != nil || events+jobs != 0 {
		t.Errorf("second Prune: %d events, %d jobs, %v; want nothing left to prune", events, jobs, err)
	}
	notReused(t, acceptJob(t, s, "new").ID, fin, "after Prune")
}

// notReused checks that a new job's id is none of the old jobs' ids.
func notReused(t *testing.T, id int64, old []store.Job, when string) {
	t.Helper()
	for _, j := range old {
		if id == j.ID {
			t.Errorf("job id %d given again %s", id, when)
		}
	}
}

func testReopen(t *testing.T, open Opener) {
	ctx := context.Background()
	dir := t.TempDir()
	s := open(t, dir)
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ev := store.Event{ID: "a", Name: "group:update", Action: "add", Body: []byte(`{"event":"group:update"}`),
		ReceivedAt: at, Rules: []string{"welcome"}, Errors: []string{"oops"}}
	out := accept(t, s, store.Record{Event: ev, Jobs: []store.Job{job("r", 0), job("r", 1), job("r", 2), job("r", 3)}},
		store.Record{Event: event("b", "message:in:new", at.Add(time.Second))})
	j := out[0].Jobs
	next := at.Add(time.Hour)
	steps := []error{
		s.Done(ctx, j[0].ID, 1, "ok"),
		s.Retry(ctx, j[1].ID, 1, next, "timeout", "slow"),
		s.Dead(ctx, j[2].ID, 2, "invalid", "bad"),
		s.Dead(ctx, j[3].ID, 2, "server", "503"),
	}
	if err := errors.Join(steps...); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Requeue(ctx, []int64{j[3].ID}); err != nil {
		t.Fatal(err)
	}
	var before []store.Job
	for _, x := range j {
		before = append(before, getJob(t, s, x.ID))
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s = reopen(t, open, dir)
	for i, x := range before {
		if got := getJob(t, s, x.ID); !SameJob(got, x) {
			t.Errorf("job %d after reopen: %+v, want %+v", i, got, x)
		}
	}
	evs := collect(t, s, store.EventQuery{OldestFirst: true})
	if len(evs) != 2 || evs[0].ID != "a" || string(evs[0].Body) != string(ev.Body) || !evs[0].ReceivedAt.Equal(at) ||
		evs[0].Action != "add" || !slices.Equal(evs[0].Rules, ev.Rules) || !slices.Equal(evs[0].Errors, ev.Errors) {
		t.Errorf("events after reopen: %+v, want a (as stored) and b", evs)
	}
	if o := accept(t, s, store.Record{Event: ev, Jobs: []store.Job{job("r", 0)}}); !o[0].Duplicate {
		t.Errorf("after reopen, a stored event is not a duplicate")
	}
	taken, err := s.TakeRequeued(ctx)
	if err != nil || !slices.Equal(ids(taken), []int64{j[3].ID}) {
		t.Errorf("TakeRequeued after reopen = %v, %v; want the job requeued before Close, %d", ids(taken), err, j[3].ID)
	}
	if st, want := stats(t, s), (store.Stats{Events: 2, Pending: 2, Dead: 1}); st != want {
		t.Errorf("Stats after reopen = %+v, want %+v", st, want)
	}
	notReused(t, acceptJob(t, s, "c").ID, j, "after reopen")
}

func testClosed(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t, t.TempDir())
	id := acceptJob(t, s, "a").ID
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v, want nil", err)
	}
	calls := map[string]func() error{
		"Accept": func() error {
			_, err := s.Accept(ctx, []store.Record{{Event: event("b", "message:in:new", time.Now())}})
			return err
		},
		"Done":         func() error { return s.Done(ctx, id, 1, "") },
		"Retry":        func() error { return s.Retry(ctx, id, 1, time.Now(), "", "") },
		"Dead":         func() error { return s.Dead(ctx, id, 1, "", "") },
		"Requeue":      func() error { _, err := s.Requeue(ctx, nil); return err },
		"TakeRequeued": func() error { _, err := s.TakeRequeued(ctx); return err },
		"PendingPage":  func() error { _, err := s.PendingPage(ctx, 10); return err },
		"Job":          func() error { _, err := s.Job(ctx, id); return err },
		"DeadLetters":  func() error { _, err := s.DeadLetters(ctx, 0); return err },
		"Events": func() error {
			return s.Events(ctx, store.EventQuery{}, func(store.Event) error { return nil })
		},
		"Stats":    func() error { _, err := s.Stats(ctx); return err },
		"Prune":    func() error { _, _, err := s.Prune(ctx, time.Now()); return err },
		"Writable": func() error { return s.Writable(ctx) },
		"GetState": func() error { _, _, err := s.GetState(ctx, "s", "k", time.Now()); return err },
		"DueStates": func() error {
			_, err := s.DueStates(ctx, []string{"s"}, time.Now(), 1)
			return err
		},
		"Swap":       func() error { _, err := s.Swap(ctx, store.Swap{Scope: "s"}); return err },
		"PruneState": func() error { _, _, err := s.PruneState(ctx, time.Now(), time.Now()); return err },
		"AddMute": func() error {
			_, err := s.AddMute(ctx, store.Mute{Rule: "r", Until: time.Now().Add(time.Hour)})
			return err
		},
		"Mutes":   func() error { _, err := s.Mutes(ctx, time.Now(), true); return err },
		"EndMute": func() error { _, err := s.EndMute(ctx, 1, "", time.Now()); return err },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, store.ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
}
