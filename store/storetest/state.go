package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/store"
)

// windowStep is a step of a window rule "fire on the n-th event of key":
// the state is the count so far; the n-th event fires and deletes it.
// The state expires keep after at.
func windowStep(rule, key string, n int, at time.Time, keep time.Duration) store.Step {
	return store.Step{
		Rule: rule, Scope: rule + "#w", Key: key, At: at,
		Apply: func(old []byte) ([]byte, bool, time.Time) {
			c, _ := strconv.Atoi(string(old))
			c++
			if c >= n {
				return nil, true, time.Time{}
			}
			return []byte(strconv.Itoa(c)), false, at.Add(keep)
		},
		Jobs: func(state []byte) ([]store.Job, []string) {
			return []store.Job{job(rule, 0)}, nil
		},
	}
}

// stateOf reads a state's value ("" when there is none).
func stateOf(t *testing.T, s store.Store, scope, key string, at time.Time) string {
	t.Helper()
	st, ok, err := s.GetState(context.Background(), scope, key, at)
	if err != nil {
		t.Fatalf("GetState: %v", err)
	}
	if !ok {
		return ""
	}
	return string(st.Value)
}

// eventByID finds a stored event.
func eventByID(t *testing.T, s store.Store, id string) store.Event {
	t.Helper()
	for _, e := range collect(t, s, store.EventQuery{}) {
		if e.ID == id {
			return e
		}
	}
	t.Fatalf("event %s not stored", id)
	return store.Event{}
}

// testStateWindow: a window of 3 fires on the 3rd event of its key, in
// the event's transaction, with its jobs and its rule named on the event;
// other keys count apart; the state starts again after firing.
func testStateWindow(t *testing.T, open Opener) {
	s := fresh(t, open)
	now := time.Now()
	send := func(id, key string) store.Outcome {
		t.Helper()
		return accept(t, s, store.Record{Event: event(id, "group:update", now), Steps: []store.Step{windowStep("removals", key, 3, now, time.Hour)}})[0]
	}
	for i, key := range []string{"g1", "g2", "g1"} {
		o := send(fmt.Sprintf("w%d", i), key)
		if len(o.Steps) != 1 || o.Steps[0].Fired || len(o.Jobs) != 0 {
			t.Fatalf("event %d: outcome %+v, want one step that does not fire", i, o)
		}
	}
	if got := stateOf(t, s, "removals#w", "g1", now); got != "2" {
		t.Fatalf("state of g1 = %q, want 2", got)
	}
	o := send("w3", "g1")
	if len(o.Steps) != 1 || !o.Steps[0].Fired || len(o.Jobs) != 1 || o.Jobs[0].EventID != "w3" || o.Jobs[0].ID <= 0 {
		t.Fatalf("3rd event of g1: outcome %+v, want the step fired with one stored job of w3", o)
	}
	if got := eventByID(t, s, "w3").Rules; !slices.Equal(got, []string{"removals"}) {
		t.Fatalf("rules of w3 = %v, want [removals]", got)
	}
	if got := stateOf(t, s, "removals#w", "g1", now); got != "" {
		t.Fatalf("state of g1 after firing = %q, want none", got)
	}
	if got := stateOf(t, s, "removals#w", "g2", now); got != "1" {
		t.Fatalf("state of g2 = %q, want 1", got)
	}
	if got := len(pending(t, s)); got != 1 {
		t.Fatalf("%d pending jobs, want 1", got)
	}
}

// testStateDuplicate: a duplicate changes no state, also within one
// call, and Apply's result for it is never written.
func testStateDuplicate(t *testing.T, open Opener) {
	s := fresh(t, open)
	now := time.Now()
	rec := func(id string) store.Record {
		return store.Record{Event: event(id, "group:update", now), Steps: []store.Step{windowStep("r", "k", 3, now, time.Hour)}}
	}
	accept(t, s, rec("d1"))
	out := accept(t, s, rec("d1"), rec("d2"), rec("d2"))
	if !out[0].Duplicate || out[1].Duplicate || !out[2].Duplicate {
		t.Fatalf("outcomes %+v, want duplicate, new, duplicate", out)
	}
	if out[0].Steps != nil || out[2].Steps != nil {
		t.Fatalf("duplicates report steps: %+v", out)
	}
	if got := stateOf(t, s, "r#w", "k", now); got != "2" {
		t.Fatalf("state = %q after 2 new events and 2 duplicates, want 2", got)
	}
	// Records of one call read what the ones before them wrote.
	out = accept(t, s, rec("d3"), rec("d4"), rec("d5"))
	if !out[0].Steps[0].Fired || out[1].Steps[0].Fired || out[2].Steps[0].Fired {
		t.Fatalf("3 new events in one call: %+v, want the first to fire (the 3rd event)", out)
	}
	if got := stateOf(t, s, "r#w", "k", now); got != "2" {
		t.Fatalf("state = %q after the window fired and 2 more events, want 2", got)
	}
}

// testStateReopen: state survives Close and Open, and counting goes on.
func testStateReopen(t *testing.T, open Opener) {
	dir := t.TempDir()
	now := time.Now()
	s := open(t, dir)
	for i := range 2 {
		accept(t, s, store.Record{Event: event(fmt.Sprint("r", i), "group:update", now), Steps: []store.Step{windowStep("r", "k", 3, now, time.Hour)}})
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = reopen(t, open, dir)
	if got := stateOf(t, s, "r#w", "k", now); got != "2" {
		t.Fatalf("state after reopen = %q, want 2", got)
	}
	o := accept(t, s, store.Record{Event: event("r2", "group:update", now), Steps: []store.Step{windowStep("r", "k", 3, now, time.Hour)}})[0]
	if !o.Steps[0].Fired || len(o.Jobs) != 1 {
		t.Fatalf("3rd event after reopen: %+v, want it fired", o)
	}
}

// testStateExpiry: a state read after its expiry (judged at the step's
// time) counts as absent, and PruneState deletes it.
func testStateExpiry(t *testing.T, open Opener) {
	s := fresh(t, open)
	t0 := time.Now().Add(-time.Hour)
	step := func(id string, at time.Time) store.Outcome {
		t.Helper()
		return accept(t, s, store.Record{Event: event(id, "group:update", at), Steps: []store.Step{windowStep("r", "k", 2, at, time.Minute)}})[0]
	}
	step("e1", t0)
	if o := step("e2", t0.Add(2*time.Minute)); o.Steps[0].Fired {
		t.Fatal("the 2nd event after the first expired fired: the expired state was counted")
	}
	if got := stateOf(t, s, "r#w", "k", t0.Add(2*time.Minute)); got != "1" {
		t.Fatalf("state = %q, want 1 (counting again)", got)
	}
	if got := stateOf(t, s, "r#w", "k", t0.Add(10*time.Minute)); got != "" {
		t.Fatalf("GetState after expiry = %q, want none", got)
	}
	n, _, err := s.PruneState(context.Background(), t0.Add(10*time.Minute), t0)
	if err != nil || n != 1 {
		t.Fatalf("PruneState = %d, %v; want 1 state deleted", n, err)
	}
	if o := step("e3", t0.Add(3*time.Minute)); o.Steps[0].Fired {
		t.Fatal("a pruned state was counted")
	}
}

// testStateCap: a new key beyond MaxKeys is refused and said so; keys
// already held still count; a key that expired makes room.
func testStateCap(t *testing.T, open Opener) {
	s := fresh(t, open)
	now := time.Now()
	send := func(id, key string, at time.Time) store.Outcome {
		t.Helper()
		st := windowStep("r", key, 3, at, time.Minute)
		st.MaxKeys = 2
		return accept(t, s, store.Record{Event: event(id, "group:update", at), Steps: []store.Step{st}})[0]
	}
	send("c1", "a", now)
	send("c2", "b", now)
	o := send("c3", "c", now)
	if !o.Steps[0].Capped || o.Steps[0].Fired {
		t.Fatalf("3rd key: %+v, want capped", o)
	}
	if got := stateOf(t, s, "r#w", "c", now); got != "" {
		t.Fatalf("a capped key was stored: %q", got)
	}
	if errs := eventByID(t, s, "c3").Errors; len(errs) != 1 || !strings.Contains(errs[0], "cap") {
		t.Fatalf("errors of the capped event = %q, want one naming the cap", errs)
	}
	if o := send("c4", "a", now); o.Steps[0].Capped {
		t.Fatalf("a held key was refused: %+v", o)
	}
	if got := stateOf(t, s, "r#w", "a", now); got != "2" {
		t.Fatalf("state of a = %q, want 2", got)
	}
	later := now.Add(time.Hour) // a and b expired
	if o := send("c5", "d", later); o.Steps[0].Capped {
		t.Fatalf("a new key once the others expired was refused: %+v", o)
	}
}

// testSwap: a swap writes only over the value read, inserts its jobs
// with it, and a second swap over the same value does nothing: a flush is
// never doubled, and what was collected meanwhile is not lost.
func testSwap(t *testing.T, open Opener) {
	s := fresh(t, open)
	ctx := context.Background()
	now := time.Now()
	digest := func(id string) store.Step {
		return store.Step{Rule: "d", Scope: "d#x", Key: "k", At: now,
			Apply: func(old []byte) ([]byte, bool, time.Time) {
				return append(append([]byte(nil), old...), id...), false, now.Add(time.Hour)
			},
			Due: func([]byte) (time.Time, bool) { return now.Add(-time.Second), true },
		}
	}
	accept(t, s, store.Record{Event: event("a", "message:in:new", now), Steps: []store.Step{digest("a")}})
	due, err := s.DueStates(ctx, []string{"d#x", "other"}, now, 10)
	if err != nil || len(due) != 1 || string(due[0].Value) != "a" || due[0].Due.IsZero() {
		t.Fatalf("DueStates = %+v, %v; want the digest holding a", due, err)
	}
	if other, err := s.DueStates(ctx, []string{"other"}, now, 10); err != nil || len(other) != 0 {
		t.Fatalf("DueStates of another scope = %+v, %v; want none", other, err)
	}
	// An event is collected after the read.
	accept(t, s, store.Record{Event: event("b", "message:in:new", now), Steps: []store.Step{digest("b")}})
	j := job("d", 0)
	j.EventID = "digest:d#x/k"
	sw := store.Swap{Scope: "d#x", Key: "k", At: now, Old: due[0].Value, Jobs: []store.Job{j}}
	out, err := s.Swap(ctx, sw)
	if err != nil || out.Swapped {
		t.Fatalf("Swap over a changed value = %+v, %v; want not swapped", out, err)
	}
	if len(pending(t, s)) != 0 {
		t.Fatal("a failed swap inserted jobs")
	}
	sw.Old = []byte("ab")
	out, err = s.Swap(ctx, sw)
	if err != nil || !out.Swapped || len(out.Jobs) != 1 || out.Jobs[0].ID <= 0 {
		t.Fatalf("Swap = %+v, %v; want swapped with one job", out, err)
	}
	if got := stateOf(t, s, "d#x", "k", now); got != "" {
		t.Fatalf("state after the flush = %q, want none", got)
	}
	if out, err := s.Swap(ctx, sw); err != nil || out.Swapped {
		t.Fatalf("second Swap = %+v, %v; want not swapped", out, err)
	}
	if got := len(pending(t, s)); got != 1 {
		t.Fatalf("%d pending jobs, want 1", got)
	}
	// A swap from nothing (a timer's first tick) and on from there.
	tick := store.Swap{Scope: "t", New: []byte("1")}
	if out, err := s.Swap(ctx, tick); err != nil || !out.Swapped {
		t.Fatalf("Swap from nothing = %+v, %v", out, err)
	}
	if out, err := s.Swap(ctx, tick); err != nil || out.Swapped {
		t.Fatalf("Swap from nothing again = %+v, %v; want not swapped", out, err)
	}
	bad := store.Swap{Scope: "t", Old: []byte("1"), Jobs: []store.Job{job("t", 0)}}
	if _, err := s.Swap(ctx, bad); err == nil {
		t.Fatal("Swap with a job without EventID: no error")
	}
}

// testMutes: mutes are kept with who, why and until when, listed while
// active, ended once, and pruned after they end.
func testMutes(t *testing.T, open Opener) {
	s := fresh(t, open)
	ctx := context.Background()
	now := time.Now()
	a, err := s.AddMute(ctx, store.Mute{Rule: "r", Key: "k", Reason: "noisy", By: "ana", Until: now.Add(time.Hour)})
	if err != nil || a.ID <= 0 || a.CreatedAt.IsZero() {
		t.Fatalf("AddMute = %+v, %v", a, err)
	}
	b, err := s.AddMute(ctx, store.Mute{Rule: "q", Reason: "x", By: "bo", Until: now.Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	list := func(at time.Time, all bool) []int64 {
		t.Helper()
		ms, err := s.Mutes(ctx, at, all)
		if err != nil {
			t.Fatal(err)
		}
		var out []int64
		for _, m := range ms {
			out = append(out, m.ID)
		}
		return out
	}
	if got := list(now, false); !slices.Equal(got, []int64{a.ID, b.ID}) {
		t.Fatalf("active mutes = %v, want %d, %d", got, a.ID, b.ID)
	}
	ms, _ := s.Mutes(ctx, now, false)
	if m := ms[0]; m.Rule != "r" || m.Key != "k" || m.Reason != "noisy" || m.By != "ana" || !m.Active(now) {
		t.Fatalf("mute read back as %+v", m)
	}
	if got := list(now.Add(2*time.Minute), false); !slices.Equal(got, []int64{a.ID}) {
		t.Fatalf("active mutes after b expired = %v, want %d", got, a.ID)
	}
	ended, err := s.EndMute(ctx, a.ID, "carl", now)
	if err != nil || ended.EndedBy != "carl" || ended.EndedAt.IsZero() || ended.Active(now.Add(time.Second)) {
		t.Fatalf("EndMute = %+v, %v", ended, err)
	}
	if _, err := s.EndMute(ctx, a.ID, "carl", now); !errors.Is(err, store.ErrNoMute) {
		t.Fatalf("EndMute again: %v, want ErrNoMute", err)
	}
	if got := list(now, false); len(got) != 1 || got[0] != b.ID {
		t.Fatalf("active mutes after ending a = %v", got)
	}
	if got := list(now, true); len(got) != 2 {
		t.Fatalf("all mutes = %v, want both", got)
	}
	if _, n, err := s.PruneState(ctx, now, now.Add(time.Hour)); err != nil || n != 2 {
		t.Fatalf("PruneState deleted %d mutes, %v; want 2", n, err)
	}
}

// testMutedEvent: an event's Muted list is stored and read back.
func testMutedEvent(t *testing.T, open Opener) {
	s := fresh(t, open)
	ev := event("m1", "message:in:new", time.Now())
	ev.Muted = []string{"welcome"}
	accept(t, s, store.Record{Event: ev})
	if got := eventByID(t, s, "m1").Muted; !slices.Equal(got, []string{"welcome"}) {
		t.Fatalf("Muted = %v, want [welcome]", got)
	}
}
