package daemon

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
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

// capturedGroupRules post what a rule reads of a member's message in a
// group to the recorder.
const capturedGroupRules = `rules:
  - name: group-message
    on: message:in:new
    if: isGroup(data.chat.id) && data.meta.isGroup && !data.meta.isNotification && data.type == "image"
    do:
      - webhook:
          url: "@HOOK@/group"
          body:
            number: "{{ device.id }}"
            sender: "{{ sender(data) }}"
            phone: "{{ senderPhone(data) }}"
            group: "{{ data.chat.name }} ({{ data.chat.group.totalParticipants }}, owner {{ data.chat.group.owner }})"
            media: "{{ data.media.mime }} {{ data.media.size }}: {{ data.media.caption }}"
            at: "{{ unixTime(created) }}"
`

// A member's image in a group as a receiver captured it from Wassenger
// (testdata/events/message-in-group-live.json) is accepted and runs its
// rule once, with the member as sender; sent again it is a duplicate.
// The same message through another number of the account, in the same
// group, is an event of its own (see docs/daemon.md, "Event identity").
func TestCapturedGroupMessage(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(filepath.Join("..", "testdata", "events", "message-in-group-live.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ev map[string]any
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	ev["device"].(map[string]any)["id"] = "6650b2c3d4e5f60718293a4c"
	other, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	testbackend.Each(t, func(t *testing.T, backend string) {
		h := start(t, options{backend: backend, rules: capturedGroupRules})
		for i, c := range []struct {
			body string
			want accepted
		}{
			{string(raw), accepted{Accepted: 1}},
			{string(raw), accepted{Duplicates: 1}},
			{string(other), accepted{Accepted: 1}},
			{string(other), accepted{Duplicates: 1}},
		} {
			if got := h.accept(t, c.body); got != c.want {
				t.Errorf("post %d answered %+v, want %+v", i+1, got, c.want)
			}
		}
		var keys []string
		for _, e := range h.events(t) {
			keys = append(keys, e.Key)
		}
		slices.Sort(keys)
		wantKeys := []string{
			"message:in:new/3EB0D4E5F60718293A4B5C/on:6650b2c3d4e5f60718293a4b",
			"message:in:new/3EB0D4E5F60718293A4B5C/on:6650b2c3d4e5f60718293a4c",
		}
		if !slices.Equal(keys, wantKeys) {
			t.Errorf("stored keys %q, want %q", keys, wantKeys)
		}
		eventually(t, "both actions to be done", func() bool { return allInState(h.jobs(t), 2, store.StateDone) })

		var got []map[string]string
		for _, r := range h.hook.Requests() {
			var b map[string]string
			if err := json.Unmarshal(r.Body, &b); err != nil {
				t.Fatal(err)
			}
			got = append(got, b)
		}
		slices.SortFunc(got, func(a, b map[string]string) int { return strings.Compare(a["number"], b["number"]) })
		if len(got) != 2 {
			t.Fatalf("the recorder got %d requests, want 2: %v", len(got), got)
		}
		for i, number := range []string{"6650b2c3d4e5f60718293a4b", "6650b2c3d4e5f60718293a4c"} {
			want := map[string]string{
				"number": number,
				"sender": "34600000201@c.us",
				"phone":  "+34600000201",
				"group":  "Watch Traders (289, owner 34600000202@c.us)",
				"media":  "image/jpeg 339070: Looking for a steel diver, full set ",
				"at":     "2026-05-19T10:14:35Z",
			}
			if !maps.Equal(got[i], want) {
				t.Errorf("request %d: %v, want %v", i, got[i], want)
			}
		}
	})
}
