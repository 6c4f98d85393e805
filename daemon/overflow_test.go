package daemon

import (
	"fmt"
	"testing"

	"github.com/hookd/hookd/internal/testbackend"
)

// TestQueueBoundedWhileTargetIsDown checks that while Wassenger is down
// the in-memory queue holds at most MaxQueued actions, the rest waiting in
// the store, and that once it is back every action runs exactly once.
func TestQueueBoundedWhileTargetIsDown(t *testing.T) {
	t.Parallel()
	testbackend.Each(t, func(t *testing.T, backend string) {
		const maxQueued, events = 5, 40
		const patient = "delivery:\n  attempts: 1000\n  backoff: {min: 10ms, max: 40ms}\n  timeout: 2s\n"
		h := start(t, options{backend: backend, rules: patient + deliveryRules, maxQueued: maxQueued})
		h.wa.FailAll(503, nil, `{"status":503,"message":"temporarily unavailable"}`)
		for i := range events {
			h.accept(t, js(t, groupEvent(fmt.Sprintf("OVF-%02d", i), "add")))
			if d := h.d.delivery.Depth(); d > maxQueued {
				t.Fatalf("%d actions in memory after %d events, want at most %d", d, i+1, maxQueued)
			}
		}
		if st := h.stats(t); st.Pending != events {
			t.Fatalf("store holds %d pending actions, want %d", st.Pending, events)
		}
		eventually(t, "retries to go on", func() bool { return h.wa.Count() > 3*maxQueued })
		if d := h.d.delivery.Depth(); d > maxQueued {
			t.Fatalf("%d actions in memory while retrying, want at most %d", d, maxQueued)
		}
		h.wa.Heal()
		eventually(t, "every action to reach Wassenger", func() bool { return len(h.wa.References()) == events })
		eventually(t, "every action to be done", func() bool { return h.stats(t).Pending == 0 })
		refs := h.wa.References()
		for i := range events {
			ref := refFor(t, groupEvent(fmt.Sprintf("OVF-%02d", i), "add"), "greet", 0)
			if refs[ref] != 1 {
				t.Errorf("%s accepted %d times, want once", ref, refs[ref])
			}
		}
		if d := h.d.delivery.Depth(); d != 0 {
			t.Errorf("%d actions left in memory", d)
		}
	})
}
