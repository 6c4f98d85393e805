package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/hookd/hookd/store"
)

// consoleTests are the conformance tests of what the console reads and
// fixes: event pages, one event, jobs by state, attempts, cancel, delete
// and rule counts.
func consoleTests() []struct {
	name string
	run  func(t *testing.T, open Opener)
} {
	return []struct {
		name string
		run  func(t *testing.T, open Opener)
	}{
		{"EventPage", testEventPage},
		{"JobsAndAttempts", testJobsAndAttempts},
		{"CancelDelete", testCancelDelete},
		{"RuleCounts", testRuleCounts},
	}
}

// page walks every page of q and returns the keys in order.
func pageAll(t *testing.T, s store.Store, q store.EventPageQuery) [][]string {
	t.Helper()
	var pages [][]string
	for range 100 {
		evs, next, err := s.EventPage(context.Background(), q)
		if err != nil {
			t.Fatalf("EventPage(%+v): %v", q, err)
		}
		pages = append(pages, keys(evs))
		if next == "" {
			return pages
		}
		q.Cursor = next
	}
	t.Fatalf("EventPage(%+v): more than 100 pages", q)
	return nil
}

func testEventPage(t *testing.T, open Opener) {
	s := fresh(t, open)
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var recs []store.Record
	for i := range 7 {
		name := "message:in:new"
		if i%2 == 1 {
			name = "group:update"
		}
		rec := store.Record{Event: event(fmt.Sprintf("e%d", i), name, at.Add(time.Duration(i)*time.Minute))}
		if i%3 == 0 {
			rec.Event.Rules = []string{"three"}
			rec.Jobs = []store.Job{job("three", 0)}
		}
		if i == 4 {
			rec.Event.Muted = []string{"three"}
		}
		recs = append(recs, rec)
	}
	out := accept(t, s, recs...)
	for _, tc := range []struct {
		q    store.EventPageQuery
		want [][]string
	}{
		{store.EventPageQuery{Limit: 3}, [][]string{{"e6", "e5", "e4"}, {"e3", "e2", "e1"}, {"e0"}}},
		{store.EventPageQuery{Limit: 7}, [][]string{{"e6", "e5", "e4", "e3", "e2", "e1", "e0"}}},
		{store.EventPageQuery{Limit: 2, Name: "group:*"}, [][]string{{"e5", "e3"}, {"e1"}}},
		{store.EventPageQuery{Limit: 2, Rule: "three"}, [][]string{{"e6", "e4"}, {"e3", "e0"}}},
		{store.EventPageQuery{Limit: 5, Since: at.Add(4 * time.Minute)}, [][]string{{"e6", "e5", "e4"}}},
		{store.EventPageQuery{Limit: 5, JobState: store.StatePending}, [][]string{{"e6", "e3", "e0"}}},
		{store.EventPageQuery{Limit: 5, JobState: store.StateDead}, [][]string{{}}},
	} {
		if got := pageAll(t, s, tc.q); fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("pages of %+v = %v, want %v", tc.q, got, tc.want)
		}
	}
	ctx := context.Background()
	j := out[3].Jobs[0]
	if err := s.Dead(ctx, j.ID, 1, "http_4xx", "400 Bad Request"); err != nil {
		t.Fatal(err)
	}
	if got := pageAll(t, s, store.EventPageQuery{Limit: 5, JobState: store.StateDead}); fmt.Sprint(got) != "[[e3]]" {
		t.Errorf("events with a dead job: %v, want [[e3]]", got)
	}
	ev, err := s.Event(ctx, "e4")
	if err != nil || ev.Name != "message:in:new" || !slices.Equal(ev.Muted, []string{"three"}) || !ev.ReceivedAt.Equal(at.Add(4*time.Minute)) {
		t.Errorf("Event(e4) = %+v, %v", ev, err)
	}
	if _, err := s.Event(ctx, "nope"); !errors.Is(err, store.ErrNoEvent) {
		t.Errorf("Event(nope): %v, want ErrNoEvent", err)
	}
	if _, _, err := s.EventPage(ctx, store.EventPageQuery{Limit: 1, Cursor: "garbage"}); !errors.Is(err, store.ErrBadQuery) {
		t.Errorf("EventPage with a cursor it never gave: %v, want an error matching ErrBadQuery", err)
	}
	if _, _, err := s.EventPage(ctx, store.EventPageQuery{Limit: 1, Name: "group:[update"}); !errors.Is(err, store.ErrBadQuery) {
		t.Errorf("EventPage with a malformed pattern: %v, want an error matching ErrBadQuery", err)
	}
	if _, _, err := s.EventPage(ctx, store.EventPageQuery{Limit: 1, JobState: "sleeping"}); err == nil {
		t.Error("EventPage with an unknown job state: no error")
	}
}

func testJobsAndAttempts(t *testing.T, open Opener) {
	s := fresh(t, open)
	ctx := context.Background()
	a, b, c := acceptJob(t, s, "a"), acceptJob(t, s, "b"), acceptJob(t, s, "c")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.Retry(ctx, a.ID, 1, time.Now().Add(time.Hour), "http_5xx", "503 Service Unavailable"))
	must(s.Retry(ctx, b.ID, 1, time.Now(), "timeout", "deadline exceeded"))
	must(s.Done(ctx, b.ID, 2, "201 Created"))
	must(s.Dead(ctx, c.ID, 1, "http_4xx", "400 Bad Request"))
	for state, want := range map[string][]int64{
		"": {c.ID, b.ID, a.ID}, store.StatePending: nil, store.JobStateRetrying: {a.ID},
		store.StateDone: {b.ID}, store.StateDead: {c.ID},
	} {
		jobs, err := s.Jobs(ctx, store.JobQuery{State: state})
		if err != nil || !slices.Equal(ids(jobs), want) {
			t.Errorf("Jobs(state %q) = %v, %v; want %v", state, ids(jobs), err, want)
		}
	}
	if jobs, err := s.Jobs(ctx, store.JobQuery{Limit: 1, Before: c.ID}); err != nil || !slices.Equal(ids(jobs), []int64{b.ID}) {
		t.Errorf("Jobs(limit 1, before %d) = %v, %v; want [%d]", c.ID, ids(jobs), err, b.ID)
	}
	if jobs, err := s.Jobs(ctx, store.JobQuery{EventID: "a"}); err != nil || !slices.Equal(ids(jobs), []int64{a.ID}) {
		t.Errorf("Jobs(event a) = %v, %v", ids(jobs), err)
	}
	att, err := s.Attempts(ctx, []int64{a.ID, b.ID, c.ID})
	if err != nil {
		t.Fatal(err)
	}
	describe := func(l []store.Attempt) string {
		out := ""
		for _, x := range l {
			if x.At.IsZero() {
				out += "(no time)"
			}
			out += fmt.Sprintf("%d:%s:%s:%s;", x.N, x.Outcome, x.Reason, x.Detail)
		}
		return out
	}
	for id, want := range map[int64]string{
		a.ID: "1:retry:http_5xx:503 Service Unavailable;",
		b.ID: "1:retry:timeout:deadline exceeded;2:done::201 Created;",
		c.ID: "1:dead:http_4xx:400 Bad Request;",
	} {
		if got := describe(att[id]); got != want {
			t.Errorf("attempts of job %d = %q, want %q", id, got, want)
		}
	}
}

func testCancelDelete(t *testing.T, open Opener) {
	s := fresh(t, open)
	ctx := context.Background()
	a, b, c := acceptJob(t, s, "a"), acceptJob(t, s, "b"), acceptJob(t, s, "c")
	if err := s.Dead(ctx, c.ID, 1, "http_4xx", "400 Bad Request"); err != nil {
		t.Fatal(err)
	}
	var ne *store.NotEligibleError
	if _, err := s.Cancel(ctx, []int64{a.ID, c.ID}, "by test"); !errors.As(err, &ne) || !slices.Equal(ne.IDs, []int64{c.ID}) || len(ne.Unknown) != 0 || !errors.Is(err, store.ErrNotFound) || store.UnknownJobs(err) {
		t.Fatalf("Cancel of a dead letter: %v, want NotEligibleError naming %d, not as unknown", err, c.ID)
	}
	const unknown = 999_999_999
	if _, err := s.Cancel(ctx, []int64{unknown}, "by test"); !errors.As(err, &ne) || !slices.Equal(ne.Unknown, []int64{unknown}) || !store.UnknownJobs(err) {
		t.Fatalf("Cancel of an unknown id: %v, want NotEligibleError with it Unknown", err)
	}
	if _, err := s.Delete(ctx, []int64{b.ID, unknown}); !errors.As(err, &ne) || !slices.Equal(ne.IDs, []int64{b.ID, unknown}) || !slices.Equal(ne.Unknown, []int64{unknown}) || store.UnknownJobs(err) {
		t.Fatalf("Delete of a pending job and an unknown id: %v, want NotEligibleError naming both, the second Unknown", err)
	}
	if j := getJob(t, s, a.ID); j.State != store.StatePending {
		t.Fatalf("a refused Cancel changed job a: %+v", j)
	}
	got, err := s.Cancel(ctx, []int64{a.ID}, "cancelled by test")
	if err != nil || !slices.Equal(got, []int64{a.ID}) {
		t.Fatalf("Cancel(a) = %v, %v", got, err)
	}
	if j := getJob(t, s, a.ID); j.State != store.StateDead || j.LastReason != store.ReasonCancelled || j.LastError != "cancelled by test" {
		t.Errorf("cancelled job: %+v, want dead, reason cancelled", j)
	}
	if err := s.Done(ctx, a.ID, 1, "201 Created"); !errors.Is(err, store.ErrNotPending) {
		t.Errorf("Done of a cancelled job: %v, want ErrNotPending", err)
	}
	if _, err := s.Delete(ctx, []int64{b.ID}); !errors.As(err, &ne) || !slices.Equal(ne.IDs, []int64{b.ID}) {
		t.Errorf("Delete of a pending job: %v, want NotEligibleError", err)
	}
	if n, err := s.Delete(ctx, []int64{a.ID}); err != nil || n != 1 {
		t.Errorf("Delete(a) = %d, %v", n, err)
	}
	if _, err := s.Job(ctx, a.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Job(a) after Delete: %v, want ErrNotFound", err)
	}
	if att, err := s.Attempts(ctx, []int64{c.ID}); err != nil || len(att[c.ID]) != 1 {
		t.Fatalf("attempts of c: %v, %v", att, err)
	}
	all, err := s.Cancel(ctx, nil, "all")
	if err != nil || !slices.Equal(all, []int64{b.ID}) {
		t.Errorf("Cancel(nil) = %v, %v; want [%d]", all, err, b.ID)
	}
	if n, err := s.Delete(ctx, nil); err != nil || n != 2 {
		t.Errorf("Delete(nil) = %d, %v; want the 2 dead letters", n, err)
	}
	if att, err := s.Attempts(ctx, []int64{c.ID}); err != nil || len(att[c.ID]) != 0 {
		t.Errorf("attempts of deleted job c: %v, %v; want none", att, err)
	}
	if st := stats(t, s); st.Pending != 0 || st.Dead != 0 {
		t.Errorf("stats after deleting everything: %+v", st)
	}
}

// testRuleCounts: per rule, the events that fired it (and the digests
// and ticks it sent), matched it muted or failed in it, and its dead
// letters, in a window of time.
func testRuleCounts(t *testing.T, open Opener) {
	s := fresh(t, open)
	now := time.Now()
	old := now.Add(-2 * time.Hour)
	out := accept(t, s,
		store.Record{Event: store.Event{ID: "1", Name: "x", Body: []byte(`{}`), ReceivedAt: now, Rules: []string{"a", "b"}}, Jobs: []store.Job{job("a", 0)}},
		store.Record{Event: store.Event{ID: "2", Name: "x", Body: []byte(`{}`), ReceivedAt: now, Rules: []string{"a"}, Muted: []string{"c"},
			Errors: []string{`rule "b": condition: no such field`, `rule "a \"q\"": action x: bad`, "not about a rule"}}},
		store.Record{Event: store.Event{ID: "3", Name: "x", Body: []byte(`{}`), ReceivedAt: old, Rules: []string{"a"}}},
	)
	if err := s.Dead(context.Background(), out[0].Jobs[0].ID, 1, "http_4xx", "400"); err != nil {
		t.Fatal(err)
	}
	// A digest of a sent with two actions, and a tick of timer rule t:
	// jobs without an event, one firing each.
	swapJobs := func(scope, eventID string, jobs ...store.Job) {
		t.Helper()
		for i := range jobs {
			jobs[i].EventID = eventID
		}
		if out, err := s.Swap(context.Background(), store.Swap{Scope: scope, At: now, New: []byte("1"), Jobs: jobs}); err != nil || !out.Swapped || len(out.Jobs) != len(jobs) {
			t.Fatalf("Swap %s = %+v, %v; want swapped with %d jobs", scope, out, err, len(jobs))
		}
	}
	swapJobs("a#digest", store.DigestPrefix+"a#digest:k:1", job("a", 0), job("a", 1))
	swapJobs("timer:t", store.TickPrefix+"timer:t:1", job("t", 0))
	got, err := s.RuleCounts(context.Background(), now.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]store.RuleCount{"a": {Fired: 3, Dead: 1}, "b": {Fired: 1, Errors: 1}, "c": {Muted: 1}, `a "q"`: {Errors: 1}, "t": {Fired: 1}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("RuleCounts(last hour) = %v, want %v (a digest sent and a tick count as firings)", got, want)
	}
	got, err = s.RuleCounts(context.Background(), now.Add(-3*time.Hour))
	if err != nil || got["a"].Fired != 4 {
		t.Errorf("RuleCounts(3 hours) a = %+v, %v; want fired 4", got["a"], err)
	}
}
