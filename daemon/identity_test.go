package daemon

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/hookd/hookd/internal/testbackend"
	"github.com/hookd/hookd/store"
)

// identityRules post every message event to the recorder, with what tells
// the events of one message apart.
const identityRules = `rules:
  - name: track
    on: ["message:out:new", "message:out:ack", "message:out:sent", "message:out:failed"]
    do:
      - webhook:
          url: "@HOOK@/track"
          body: {event: "{{ event }}", ack: "{{ ack ?? '' }}"}
`

// Identity 23: the events Wassenger documents about one message (its
// message:out:new, four acks with the same id, then message:out:sent and
// message:out:failed with the same entityId) are each accepted once and
// run their rule once, with references of their own; each of them sent
// again is a duplicate that runs nothing.
func TestEventsOfOneMessageEachRunOnce(t *testing.T) {
	t.Parallel()
	testbackend.Each(t, func(t *testing.T, backend string) {
		h := start(t, options{backend: backend, rules: identityRules})
		bodies := identityEvents(t)
		for _, b := range bodies {
			if got := h.accept(t, b); got != (accepted{Accepted: 1}) {
				t.Fatalf("first post of %.80s answered %+v, want 1 accepted", b, got)
			}
		}
		for _, b := range bodies {
			if got := h.accept(t, b); got != (accepted{Duplicates: 1}) {
				t.Errorf("second post of %.80s answered %+v, want 1 duplicate", b, got)
			}
		}
		if st := h.stats(t); st.Events != int64(len(bodies)) {
			t.Errorf("store holds %d events, want %d", st.Events, len(bodies))
		}
		eventually(t, "every action to be done", func() bool { return allInState(h.jobs(t), len(bodies), store.StateDone) })

		var got []string
		for _, r := range h.hook.Requests() {
			var b struct{ Event, Ack string }
			if err := json.Unmarshal(r.Body, &b); err != nil {
				t.Fatal(err)
			}
			got = append(got, b.Event+" "+b.Ack)
		}
		slices.Sort(got)
		want := []string{
			"message:out:ack delivered", "message:out:ack played", "message:out:ack read", "message:out:ack server",
			"message:out:failed ", "message:out:new ", "message:out:sent ",
		}
		if !slices.Equal(got, want) {
			t.Errorf("the recorder got\n%q\nwant\n%q", got, want)
		}
		refs := map[string]bool{}
		for _, j := range h.jobs(t) {
			if refs[j.Reference] {
				t.Errorf("reference %s is used by two jobs", j.Reference)
			}
			refs[j.Reference] = true
		}
	})
}

// identityEvents reads testdata/identity: one message's events, from
// Wassenger's API spec.
func identityEvents(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "testdata", "identity", "*.json"))
	if err != nil || len(files) != 7 {
		t.Fatalf("testdata/identity: %d files (%v), want 7", len(files), err)
	}
	var out []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
	}
	return out
}
