package engine_test

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/hookd/hookd/engine"
	"github.com/hookd/hookd/event"
)

// readSpec reads recorded events of testdata/events/spec by file name.
func readSpec(t *testing.T, names ...string) []*event.Event {
	t.Helper()
	var out []*event.Event
	for _, n := range names {
		evs, err := event.ReadFile(filepath.Join("..", "testdata", "events", "spec", n))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, evs...)
	}
	return out
}

// TestDedup: the events of one message (its acks) are distinct events
// though they share an id; a file read again is a redelivery, as is a
// byte-identical event without id or entityId (keyed by its digest);
// an identity: override that leaves out what tells events apart makes
// them duplicates, and the rule set's own section decides.
func TestDedup(t *testing.T) {
	plain := loadRules(t, "version: 1\nrules: []\n")
	collapsing := loadRules(t, "version: 1\nidentity:\n  message:out:ack: \"{{ id }}\"\nrules: []\n")
	acks := []string{"message-out-ack-server.json", "message-out-ack-delivered.json", "message-out-ack-read.json"}
	noID := `{"event":"contact:update","data":{"name":"Ana"}}`
	tests := []struct {
		name   string
		rs     *engine.RuleSet
		events func(t *testing.T) []*event.Event
		// want is, per event, the 1-based place of the event it
		// duplicates, 0 for none.
		want []int
	}{
		{"acks of one message", plain, func(t *testing.T) []*event.Event { return readSpec(t, acks...) }, []int{0, 0, 0}},
		{"an ack redelivered", plain, func(t *testing.T) []*event.Event {
			return readSpec(t, append(acks, "message-out-ack-delivered.json")...)
		}, []int{0, 0, 0, 2}},
		{"an override that keys acks on the id alone", collapsing, func(t *testing.T) []*event.Event { return readSpec(t, acks...) }, []int{0, 1, 1}},
		{"no id: identical bytes", plain, func(t *testing.T) []*event.Event {
			return []*event.Event{parseOne(t, noID, plain), parseOne(t, `{"event":"contact:update","data":{"name":"Eva"}}`, plain), parseOne(t, noID, plain)}
		}, []int{0, 0, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d engine.Dedup
			for i, ev := range tt.events(t) {
				dup := d.Check(tt.rs, ev)
				got := 0
				if dup != nil {
					got = dup.Nth
					if dup.Key != ev.Key {
						t.Errorf("event %d: duplicate key %q, event key %q", i+1, dup.Key, ev.Key)
					}
				}
				if got != tt.want[i] {
					t.Errorf("event %d (%s): duplicate of %d, want %d", i+1, ev.Key, got, tt.want[i])
				}
			}
		})
	}
}

// TestReplayDuplicate: a redelivery in a replay evaluates nothing and
// changes no state: a window counting acks counts the ack once.
func TestReplayDuplicate(t *testing.T) {
	rs := loadRules(t, `version: 1
rules:
  - name: two-acks
    on: message:out:ack
    window: { at_least: 2, within: 30d }
    do:
      - log: { message: "{{ window.count }} acks" }
`)
	events := readSpec(t, "message-out-ack-read.json", "message-out-ack-read.json", "message-out-ack-played.json")
	var dups, fired []int
	n := 0
	m := engine.NewMemoryState()
	m.DropDuplicates()
	rs.Replay(events, m, func(it engine.ReplayItem) {
		if it.Result == nil {
			return
		}
		n++
		if it.Duplicate != nil {
			dups = append(dups, n)
			if len(it.Result.Fired)+len(it.Result.Errors)+len(it.Outcomes) > 0 {
				t.Errorf("duplicate %d: something ran: %+v", n, it)
			}
		}
		if len(it.Result.Fired) > 0 {
			fired = append(fired, n)
		}
	})
	if len(dups) != 1 || dups[0] != 2 {
		t.Errorf("duplicates at %v, want [2]", dups)
	}
	if len(fired) != 1 || fired[0] != 3 {
		t.Errorf("fired at %v, want [3] (the second distinct ack)", fired)
	}
}

// TestReplayDuplicateInArrivalOrder: the event a replay keeps is the
// first in the order given (the order a recording keeps, as the daemon
// keeps the first to arrive), also when a later one sorts earlier in
// event time; without DropDuplicates (a test sequence) none is dropped.
func TestReplayDuplicateInArrivalOrder(t *testing.T) {
	rs := loadRules(t, `version: 1
identity:
  message:out:ack: "{{ id }}"
rules:
  - name: acks
    on: message:out:ack
    throttle: { per: 1m }
    do:
      - log: { message: "{{ ack }}" }
`)
	// The delivered ack arrived first; the server ack, redelivered late,
	// is dated earlier (data.events.sent).
	events := readSpec(t, "message-out-ack-delivered.json", "message-out-ack-server.json")
	for _, drop := range []bool{true, false} {
		m := engine.NewMemoryState()
		if drop {
			m.DropDuplicates()
		}
		var dups []string
		rs.Replay(slices.Clone(events), m, func(it engine.ReplayItem) {
			if it.Result != nil && it.Duplicate != nil {
				dups = append(dups, it.Result.Event.Fields["ack"].(string)+" of "+it.Duplicate.Of.Fields["ack"].(string))
			}
		})
		want := []string{"server of delivered"}
		if !drop {
			want = nil
		}
		if !slices.Equal(dups, want) {
			t.Errorf("DropDuplicates %v: duplicates %q, want %q", drop, dups, want)
		}
	}
}
