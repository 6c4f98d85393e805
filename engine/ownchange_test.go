package engine_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/engine"
	"github.com/hookd/hookd/event"
)

// groupUpdate is a group:update of Wassenger's shape: action by author
// in group, about participants, from the number phone.
func groupUpdate(t *testing.T, action, author, group, phone string, participants ...string) *event.Event {
	t.Helper()
	m := map[string]any{
		"id": "3EB0" + action, "event": "group:update", "action": action,
		"participants": participants,
		"device":       map[string]any{"id": "61b37a069cba0c15d0000000", "phone": phone},
		"data":         map[string]any{"id": "3EB0" + action, "chat": map[string]any{"id": group}},
	}
	if author != "" {
		m["author"] = author
	}
	raw, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	evs, err := event.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return evs[0]
}

// TestOwnChangesRecognise: the group:update of a participant change
// hookd asked for is its own, and only that one.
func TestOwnChangesRecognise(t *testing.T) {
	const (
		group = "120363000000000001@g.us"
		phone = "+34600000001" // the number hookd sends from
	)
	t0 := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	params := map[string]any{
		"device": "61b37a069cba0c15d0000000", "group": group,
		"participants": []any{"+34 600 000 009", "34600000010@c.us"},
	}
	cases := []struct {
		name                  string
		action, author, group string
		participants          []string
		at                    time.Time
		own                   bool
	}{
		{"one member asked for", "remove", phone, group, []string{"+34600000009"}, t0.Add(2 * time.Second), true},
		{"every member asked for", "remove", phone, group, []string{"+34600000009", "+34600000010"}, t0.Add(time.Minute), true},
		{"no author", "remove", "", group, []string{"+34600000010"}, t0.Add(time.Minute), true},
		{"before the answer", "remove", phone, group, []string{"+34600000009"}, t0.Add(-time.Second), true},
		{"a member not asked for", "remove", phone, group, []string{"+34600000009", "+34600000011"}, t0.Add(time.Minute), false},
		{"another admin removed them", "remove", "+34600000002", group, []string{"+34600000009"}, t0.Add(time.Minute), false},
		{"another action", "add", phone, group, []string{"+34600000009"}, t0.Add(time.Minute), false},
		{"another group", "remove", phone, "120363000000000002@g.us", []string{"+34600000009"}, t0.Add(time.Minute), false},
		{"too late", "remove", phone, group, []string{"+34600000009"}, t0.Add(engine.OwnChangeWithin + time.Second), false},
		{"no participants", "remove", phone, group, []string{}, t0.Add(time.Minute), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := engine.NewOwnChanges()
			o.Expect("wassenger.group.remove", "kick/wassenger.group.remove[0]", params, t0)
			why := o.Recognise(groupUpdate(t, c.action, c.author, c.group, phone, c.participants...), c.at)
			if (why != "") != c.own {
				t.Fatalf("Recognise = %q, want own: %v", why, c.own)
			}
			if c.own && !strings.Contains(why, "kick/wassenger.group.remove[0]") {
				t.Errorf("reason %q does not name the action", why)
			}
		})
	}
}

// TestOwnChangesOnlyParticipantActions: other actions, and group
// actions whose params make no request, record nothing.
func TestOwnChangesOnlyParticipantActions(t *testing.T) {
	const group = "120363000000000001@g.us"
	t0 := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	ev := groupUpdate(t, "remove", "+34600000001", group, "+34600000001", "+34600000009")
	for _, c := range []struct {
		typ    string
		params map[string]any
	}{
		{"slack", map[string]any{"text": "hi", "group": group, "participants": []any{"+34600000009"}}},
		{"wassenger.group.approve", map[string]any{"group": group, "participants": []any{"+34600000009"}}},
		{"wassenger.group.remove", map[string]any{"group": "not a group", "participants": []any{"+34600000009"}}},
		{"wassenger.group.remove", map[string]any{"group": group, "participants": []any{}}},
	} {
		o := engine.NewOwnChanges()
		o.Expect(c.typ, "r/x[0]", c.params, t0)
		if why := o.Recognise(ev, t0); why != "" {
			t.Errorf("%s %v: Recognise = %q, want not own", c.typ, c.params, why)
		}
	}
}

// TestOwnChangesProjected: the daemon decodes only the fields the rules
// read; a rule set with a group action keeps those Recognise needs, even
// when no rule reads them (here the group comes from vars and no rule
// reads data.chat.id or device.phone), and one without keeps none.
func TestOwnChangesProjected(t *testing.T) {
	const group = "120363000000000001@g.us"
	t0 := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	full := groupUpdate(t, "remove", "+34600000001", group, "+34600000001", "+34600000009")
	rs := loadRules(t, `version: 1
vars: { group: "`+group+`" }
connections:
  wassenger: { token: t }
rules:
  - name: kick
    on: message:in:new
    if: data.body contains "http"
    do:
      - wassenger.group.remove: { device: "{{ device.id }}", group: "{{ vars.group }}", participants: ["{{ data.fromNumber }}"] }
  - name: alert
    on: group:update
    if: action == "remove" && len(participants) > 0
    do:
      - log: { message: "{{ author }}" }
`)
	evs, err := event.ParseProjected(full.Raw, rs.Projection())
	if err != nil {
		t.Fatal(err)
	}
	o := engine.NewOwnChanges()
	o.Expect("wassenger.group.remove", "kick/wassenger.group.remove[0]", map[string]any{"group": group, "participants": "+34600000009"}, t0)
	if why := o.Recognise(evs[0], t0); why == "" {
		t.Fatalf("a projected event was not recognised; its fields: %v", evs[0].Fields)
	}
	plain := loadRules(t, `version: 1
rules:
  - name: alert
    on: group:update
    if: action == "remove"
    do:
      - log: { message: "removed" }
`)
	evs, err = event.ParseProjected(full.Raw, plain.Projection())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := evs[0].Fields["participants"]; ok {
		t.Error("a rule set without group actions decodes participants, which no rule reads")
	}
}
