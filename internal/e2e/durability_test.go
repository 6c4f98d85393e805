package e2e

import (
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/hookd/hookd/internal/standin"
	"github.com/hookd/hookd/internal/testbackend"
)

// concurrency is connections.wassenger.concurrency in testdata/rules.yaml:
// how many requests hookd has in flight at the stand-in at most.
const concurrency = 4

// docs/reliability.md item 8: accepted events whose actions have not run
// survive kill -9, and after a restart every action runs exactly once.
func TestKill9BeforeActionsRunEachRunsOnceAfterRestart(t *testing.T) {
	t.Parallel()
	testbackend.Each(t, func(t *testing.T, backend string) {
		const n = 200
		w := newWorldOn(t, backend, "rules.yaml")
		w.ws.HangAll() // no action can complete
		p := w.start()

		ids := make([]string, n)
		want := map[string]int{}
		for i := range ids {
			ids[i] = fmt.Sprintf("kill9-before-%03d", i)
			want[ref(ids[i], "echo")] = 1
		}
		postAll(t, p.Addr, ids)
		waitStandin(t, w.ws, fmt.Sprintf("%d requests held in flight", concurrency), func(r []standin.Request) bool {
			return len(r) >= concurrency
		})
		p.Kill9()
		if got := w.ws.References(); len(got) != 0 {
			t.Fatalf("the stand-in accepted %d messages while hanging every request", len(got))
		}
		if st := w.storeStats(t); st.Events != n || st.Pending != n || st.Dead != 0 {
			t.Fatalf("store after kill -9: %+v, want %d events and %d pending jobs", st, n, n)
		}

		w.ws.Heal()
		before := w.ws.Count()
		p2 := w.start()
		h := p2.waitIdle()
		if h.DeadLetters != 0 {
			t.Errorf("%d dead letters after the restart, want 0", h.DeadLetters)
		}
		if got := w.ws.References(); !maps.Equal(got, want) {
			t.Errorf("after the restart the stand-in accepted %s, want each of the %d references once", describeCounts(got), n)
		}
		after := w.ws.Requests()[before:]
		if got := sentRefs(after); len(after) != n || !maps.Equal(got, want) {
			t.Errorf("after the restart hookd sent %d requests (%s), want %d: one per action", len(after), describeCounts(got), n)
		}
		if got := p2.Logs.withMsg("resuming pending actions"); len(got) != 1 || got[0].Fields["jobs"] != float64(n) {
			t.Errorf("log \"resuming pending actions\": %v, want one line with jobs=%d", got, n)
		}
		p2.stop()
	})
}

// docs/reliability.md item 9: an action in flight when hookd is killed runs
// again after the restart, once, with the same reference.
func TestKill9DuringActionRunsAgainWithSameReference(t *testing.T) {
	t.Parallel()
	testbackend.Each(t, func(t *testing.T, backend string) {
		w := newWorldOn(t, backend, "rules.yaml")
		w.ws.HangNext(1) // the first attempt is held until hookd dies
		p := w.start()
		const id = "kill9-in-flight"
		mustAccept(t, p.Addr, id, false)
		waitStandin(t, w.ws, "the first attempt", func(r []standin.Request) bool { return len(r) >= 1 })
		p.Kill9()

		p2 := w.start()
		p2.waitIdle()
		reqs := w.ws.Requests()
		want := ref(id, "echo")
		if len(reqs) != 2 {
			t.Fatalf("stand-in got %d requests (%s), want 2: the interrupted attempt and one retry", len(reqs), describeCounts(sentRefs(reqs)))
		}
		for i, r := range reqs {
			if got := reference(r); got != want {
				t.Errorf("request %d has reference %q, want %q", i, got, want)
			}
		}
		if reqs[0].Status != 0 || reqs[1].Status != 201 {
			t.Errorf("answers %d then %d, want the first held (0) and the retry accepted (201)", reqs[0].Status, reqs[1].Status)
		}
		if string(reqs[0].Body) != string(reqs[1].Body) {
			t.Errorf("the retry sent a different body:\nfirst: %s\nretry: %s", reqs[0].Body, reqs[1].Body)
		}
		if got := w.ws.References(); !maps.Equal(got, map[string]int{want: 1}) {
			t.Errorf("stand-in accepted %s, want %s once", describeCounts(got), want)
		}
		p2.stop()
	})
}

// docs/reliability.md item 11 across a restart: an event delivered again after
// hookd restarted is acknowledged as a duplicate and runs nothing more,
// whether its action had finished or was still pending at the restart.
func TestDuplicateAcrossRestartRunsOnce(t *testing.T) {
	t.Parallel()
	testbackend.Each(t, func(t *testing.T, backend string) {
		tests := []struct {
			name string
			id   string
			// pending leaves the action unfinished (held, then killed) at the
			// restart.
			pending bool
			// sent is how many requests carry the event's reference in the end.
			sent int
		}{
			{name: "finished before the restart", id: "dup-done", pending: false, sent: 1},
			{name: "pending at the restart", id: "dup-pending", pending: true, sent: 2},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				w := newWorldOn(t, backend, "rules.yaml")
				id := tt.id
				if tt.pending {
					w.ws.HangAll()
				}
				p := w.start()
				mustAccept(t, p.Addr, id, false)
				if tt.pending {
					waitStandin(t, w.ws, "the held attempt", func(r []standin.Request) bool { return len(r) >= 1 })
				} else {
					p.waitIdle()
				}
				p.Kill9()
				w.ws.Heal()

				p2 := w.start()
				mustAccept(t, p2.Addr, id, true)
				// A new event after the duplicate: once it has run, anything the
				// duplicate might have started would have run too.
				later := id + "-later"
				mustAccept(t, p2.Addr, later, false)
				p2.waitIdle()

				wantAccepted := map[string]int{ref(id, "echo"): 1, ref(later, "echo"): 1}
				if got := w.ws.References(); !maps.Equal(got, wantAccepted) {
					t.Errorf("stand-in accepted %s, want %s", describeCounts(got), describeCounts(wantAccepted))
				}
				if got := sentRefs(w.ws.Requests())[ref(id, "echo")]; got != tt.sent {
					t.Errorf("%d requests carry the duplicate's reference, want %d", got, tt.sent)
				}
				ids := p2.eventIDs()
				slices.Sort(ids)
				if want := []string{id, later}; !slices.Equal(ids, want) {
					t.Errorf("stored events %q, want %q", ids, want)
				}
				p2.stop()
			})
		}
	})
}

// describeCounts prints a count per key, sorted, shortened when long.
func describeCounts(m map[string]int) string {
	keys := slices.Sorted(maps.Keys(m))
	total := 0
	for _, k := range keys {
		total += m[k]
	}
	if len(keys) > 6 {
		off := 0
		for _, k := range keys {
			if m[k] != 1 {
				off++
			}
		}
		return fmt.Sprintf("%d references, %d requests, %d of them not exactly once", len(keys), total, off)
	}
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s×%d", k, m[k])
	}
	return fmt.Sprintf("%v", parts)
}
