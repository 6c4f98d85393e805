package ruletest_test

import (
	"strings"
	"testing"

	"github.com/hookd/hookd/engine"
	"github.com/hookd/hookd/engine/ruletest"
)

const stateRulesYAML = `version: 1
rules:
  - name: mass-removal
    on: group:update
    if: action == "remove"
    window: { key: "{{ data.chat.id }}", within: 10m, at_least: 3 }
    throttle: { per: 1h }
    do: [log: {message: "{{ window.count }} removals in {{ data.chat.name }}"}]
  - name: joins
    on: group:update
    if: action == "add"
    digest: { key: "{{ data.chat.id }}", every: 1d }
    do: [log: {message: "{{ digest.count }} joined {{ data.chat.name }}"}]
  - name: big-removal
    on: group:update
    if: action == "remove" && len(participants ?? []) > 2
    do: [log: {message: "{{ len(participants) }} removed"}]
  - name: reads
    on: message:out:ack
    if: ack == "read"
    window: { key: "{{ data.chat.id }}", within: 10m, at_least: 2 }
    do: [log: {message: "{{ window.count }} reads"}]
  - name: reaction-burst
    on: message:reaction
    window: { key: "{{ data.chat.id }}", within: 10m, at_least: 3 }
    do: [log: {message: "{{ window.count }} reactions"}]
`

// readAck is a read ack of a message sent at 10:00 and read at 11:00
// (data.events.read.date), as Wassenger's acks carry the message's
// created; its time is the read's date.
func readAck(readAt string) string {
	return `{ event: message:out:ack, ack: read, created: 1772445600, data: { id: m1, ack: read, timestamp: 1772445600, chat: { id: c1@c.us }, events: { read: { date: "` + readAt + `" } } } }`
}

// reactionTo is a reaction to the message id, sent at 10:00, with that
// message's created and no date of its own.
func reactionTo(id string) string {
	return `{ event: message:reaction, id: ` + id + `, created: 1772445600, data: { id: ` + id + `, timestamp: 1772445600, chat: { id: c1@c.us } } }`
}

const (
	removal = `{ event: group:update, action: remove, data: { chat: { id: g1@g.us, name: Sales } } }`
	join    = `{ event: group:update, action: add, data: { chat: { id: g1@g.us, name: Sales } } }`
)

// TestSequence runs sequences of events: the expectations of each step
// are checked when it arrives, and the case's own on the last step and
// the digests sent at the end. A failure is at the rule name that states
// it, or at the action expectation.
func TestSequence(t *testing.T) {
	rs, problems := engine.Load("rules.yaml", []byte(stateRulesYAML), engine.LoadOptions{})
	if rs == nil {
		t.Fatal(problems)
	}
	for _, tc := range []struct {
		name, yaml string
		fails      []string
	}{
		{"third fires", `
    events:
      - { event: ` + removal + `, at: "2026-03-02T10:00:00Z", repeat: 2, not_fires: mass-removal }
      - { event: ` + removal + `, at: +5m, fires: mass-removal }
      - { event: ` + removal + `, at: +1m, repeat: 3, not_fires: mass-removal }
    actions: [{ rule: mass-removal, contains: { message: "3 removals in Sales" } }]`,
			[]string{`test.yaml:8:15: expected rule "mass-removal" to fire, to check its action`}},
		{"expect the 2nd to fire", `
    events:
      - { event: ` + removal + `, at: "2026-03-02T10:00:00Z", repeat: 2, fires: mass-removal }`,
			[]string{`test.yaml:5:151: expected rule "mass-removal" to fire at event 2 (2026-03-02T10:01:00Z); fired: nothing; at event 2: 2nd event within 10m of this key, needs 3: waits`}},
		{"outside the window", `
    events:
      - { event: ` + removal + `, at: "2026-03-02T10:00:00Z", repeat: 3, every: 6m, not_fires: mass-removal }`,
			nil},
		{"digest at the end", `
    events:
      - { event: { event: group:update, action: add, data: { chat: { id: g1@g.us, name: Sales } } }, repeat: 4, every: 1h }
    fires: joins
    actions: [{ rule: joins, params: { message: "4 joined Sales" } }]`,
			nil},
		{"a digest sent between events fires at the later one", `
    events:
      - { event: ` + join + `, at: "2026-03-03T12:00:00Z" }
      - { event: ` + join + `, at: "2026-03-04T10:00:00Z", not_fires: joins }`,
			[]string{`test.yaml:6:141: expected rule "joins" not to fire at event 2 (2026-03-04T10:00:00Z), but it fired: the digest of "g1@g.us" due at 2026-03-04T00:00:00Z, sent before event 2, with 1 event`}},
		{"the case checks the digests sent before its last event and at the end", `
    events:
      - { event: ` + join + `, at: "2026-03-03T12:00:00Z" }
      - { event: ` + join + `, at: "2026-03-03T13:00:00Z" }
      - { event: ` + join + `, at: "2026-03-04T10:00:00Z", fires: joins }
    fires: joins
    actions: [{ rule: joins, params: { message: "2 joined Sales" } }, { rule: joins, params: { message: "1 joined Sales" } }]`,
			nil},
		{"a step explains a false condition", `
    events:
      - { event: ` + removal + `, at: "2026-03-02T10:00:00Z", fires: big-removal }`,
			[]string{`test.yaml:5:140: expected rule "big-removal" to fire at event 1 (2026-03-02T10:00:00Z); fired: nothing; condition of "big-removal" was false: len(participants ?? []) > 2 is 0 > 2`}},
		{"a step explains a true condition", `
    events:
      - { event: { event: group:update, action: remove, participants: [a, b, c], data: { chat: { id: g1@g.us } } }, at: "2026-03-02T10:00:00Z", not_fires: big-removal }`,
			[]string{`test.yaml:5:156: expected rule "big-removal" not to fire at event 1 (2026-03-02T10:00:00Z), but it fired: its condition action == "remove" && len(participants ?? []) > 2 was true`}},
		{"acks count at their state's date, not the message's", `
    events:
      - { event: ` + readAck("2026-03-02T11:00:00Z") + ` }
      - { event: ` + readAck("2026-03-02T13:00:00Z") + `, not_fires: reads }`,
			nil},
		{"an ack's at is its time", `
    events:
      - { event: ` + readAck("2026-03-02T11:00:00Z") + `, at: "2026-03-02T11:00:00Z" }
      - { event: ` + readAck("2026-03-02T11:00:00Z") + `, at: +1h, not_fires: reads }
      - { event: ` + readAck("2026-03-02T11:00:00Z") + `, at: +5m, fires: reads }`,
			nil},
		{"a reaction's at is its time", `
    events:
      - { event: ` + reactionTo("m1") + `, at: "2026-03-02T10:00:00Z" }
      - { event: ` + reactionTo("m1") + `, at: +1h }
      - { event: ` + reactionTo("m1") + `, at: +1h, not_fires: reaction-burst }
      - { event: ` + reactionTo("m1") + `, at: +1m }
      - { event: ` + reactionTo("m1") + `, at: +1m, fires: reaction-burst }`,
			nil},
		{"reactions without at take the message's time, as a replay does", `
    events:
      - { event: ` + reactionTo("m1") + ` }
      - { event: ` + reactionTo("m2") + ` }
      - { event: ` + reactionTo("m3") + `, fires: reaction-burst }`,
			nil},
		{"sub-second repeats are events of their own", `
    events:
      - { event: ` + removal + `, at: "2026-03-02T10:00:00Z", repeat: 3, every: 500ms, fires: mass-removal }`,
			nil},
		{"the same event written three times without at is three events", `
    events:
      - { event: ` + removal + ` }
      - { event: ` + removal + ` }
      - { event: ` + removal + `, fires: mass-removal }`,
			nil},
		{"a reaction's at holds also before the step before it", `
    events:
      - { event: ` + reactionTo("m1") + `, at: "2026-03-02T10:00:00Z" }
      - { event: ` + reactionTo("m2") + `, at: "2026-03-02T10:01:00Z" }
      - { event: { event: message:in:new, id: n1, data: { id: n1, chat: { id: c9@c.us } } }, at: "2026-03-02T11:00:00Z" }
      - { event: ` + reactionTo("m3") + `, at: "2026-03-02T10:05:00Z", fires: reaction-burst }`,
			nil},
	} {
		src := "rules: rules.yaml\ntests:\n  - name: " + tc.name + tc.yaml + "\n"
		suite, problems := ruletest.Decode("test.yaml", []byte(src))
		if suite == nil {
			t.Fatalf("%s: %v", tc.name, problems)
		}
		var got []string
		for _, f := range suite.Cases[0].Run(rs) {
			got = append(got, f.String())
		}
		if len(got) != len(tc.fails) {
			t.Errorf("%s: failures\n%s\nwant %d: %q", tc.name, strings.Join(got, "\n"), len(tc.fails), tc.fails)
			continue
		}
		for i := range got {
			if !strings.HasPrefix(got[i], tc.fails[i]) {
				t.Errorf("%s: failure\n%s\nwant it to start with\n%s", tc.name, got[i], tc.fails[i])
			}
		}
	}
}

// TestSequenceProblems: a bad sequence is refused at its line.
func TestSequenceProblems(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"    event: " + removal + "\n    events: [{ event: " + removal + " }]\n    fires: x", "test.yaml:4:5: test \"t\": give event: (one event) or events: (a sequence), not both"},
		{"    events: [{ event: " + removal + ", at: tomorrow }]\n    fires: x", "test.yaml:4:114: test \"t\": events[0]: at must be a time such as 2026-03-02T10:00:00Z or +10m"},
		{"    events: [{ event: " + removal + ", at: \"2026-03-02T10:00:00\" }]\n    fires: x", "test.yaml:4:114: test \"t\": events[0]: at: \"2026-03-02T10:00:00\" has no time zone: add Z for UTC (2026-03-02T10:00:00Z) or the offset (2026-03-02T10:00:00+01:00)"},
		{"    events: [{ event: " + removal + ", repeat: 0 }]\n    fires: x", "test.yaml:4:118: test \"t\": events[0]: repeat must be at least 1"},
		{"    events: []\n    fires: x", "test.yaml:4:13: test \"t\": events must be a list of events"},
	} {
		_, problems := ruletest.Decode("test.yaml", []byte("rules: rules.yaml\ntests:\n  - name: t\n"+tc.yaml+"\n"))
		if !strings.Contains(problems.Error(), tc.want) {
			t.Errorf("problems\n%s\nwant one containing %q", problems.Error(), tc.want)
		}
	}
}
