package engine_test

import (
	"strings"
	"testing"

	"github.com/hookd/hookd/event"
)

const identityRules = `version: 1
identity:
  chat:update: "{{ data.id }}/{{ data.status }}"
rules:
  - name: resolved
    on: chat:update
    if: data.status == "resolved"
    do:
      - log: { message: "resolved {{ data.id }}" }
`

// TestIdentityOverride: the identity section sets the key of the events it
// names, and only of those; two updates of one chat to the same status
// share a key, whatever else differs, unless they came through two
// numbers of the account: each number's chat is its own, with the same id.
func TestIdentityOverride(t *testing.T) {
	rs := loadRules(t, identityRules)
	tests := []struct {
		body, want string
	}{
		{`{"id":"x1","event":"chat:update","data":{"id":"C1@c.us","status":"resolved","n":1}}`, "chat:update/C1@c.us/resolved"},
		{`{"id":"x2","event":"chat:update","data":{"id":"C1@c.us","status":"resolved","n":2}}`, "chat:update/C1@c.us/resolved"},
		{`{"id":"x3","event":"chat:update","data":{"id":"C1@c.us","status":"active"}}`, "chat:update/C1@c.us/active"},
		{`{"id":"x4","event":"chat:update","device":{"id":"D1"},"data":{"id":"C1@c.us","status":"resolved"}}`, "chat:update/C1@c.us/resolved/on:D1"},
		{`{"id":"x4","event":"chat:update","device":{"id":"D2"},"data":{"id":"C1@c.us","status":"resolved"}}`, "chat:update/C1@c.us/resolved/on:D2"},
		{`{"id":"x5","event":"chat:update","device":"D2","data":{"id":"C1@c.us","status":"resolved"}}`, "chat:update/C1@c.us/resolved/on:D2"},
		{`{"id":"M1","event":"message:in:new","data":{}}`, "message:in:new/M1"},
	}
	for _, tt := range tests {
		ev := parseOne(t, tt.body, rs)
		res := rs.Evaluate(ev)
		if len(res.Errors) > 0 {
			t.Errorf("%s: errors %v", tt.body, res.Errors)
		}
		if ev.Key != tt.want {
			t.Errorf("%s: key %q, want %q", tt.body, ev.Key, tt.want)
		}
	}
}

// TestIdentityFailureKeepsDefault: a key template that fails on an event
// leaves the default key (the event is not lost) and reports why.
func TestIdentityFailureKeepsDefault(t *testing.T) {
	rs := loadRules(t, strings.Replace(identityRules, "{{ data.id }}/{{ data.status }}", "{{ data.owner.agent }}", 1))
	ev := parseOne(t, `{"id":"x1","event":"chat:update","data":{"id":"C1@c.us"}}`, rs)
	def := ev.Key
	res := rs.Evaluate(ev)
	if ev.Key != def {
		t.Errorf("key %q, want the default %q", ev.Key, def)
	}
	if len(res.Errors) != 1 || !strings.Contains(res.Errors[0].Error(), "identity.chat:update") {
		t.Errorf("errors %v, want one naming identity.chat:update", res.Errors)
	}
}

func TestIdentityProblems(t *testing.T) {
	tests := []struct {
		section, want string
	}{
		{`identity: [a]`, "2:11: identity must be a mapping"},
		{"identity:\n  \"message:*\": \"{{ id }}\"", `3:3: identity: "message:*" is not an event name`},
		{"identity:\n  chat:update: constant", "3:16: identity.chat:update: the key must read the event"},
		{"identity:\n  chat:update: \"{{ data.id + }}\"", "3:29: identity.chat:update: the expression ends too early"},
	}
	for _, tt := range tests {
		src := strings.Replace(identityRules, "identity:\n  chat:update: \"{{ data.id }}/{{ data.status }}\"", tt.section, 1)
		problems := loadProblems(t, src, nil)
		if !strings.Contains(problems.Error(), tt.want) {
			t.Errorf("%s: problems\n%v\nwant %q", tt.section, problems, tt.want)
		}
	}
}

// parseOne decodes one event as the daemon does, with the rule set's
// projection.
func parseOne(t *testing.T, body string, rs interface{ Projection() *event.Projection }) *event.Event {
	t.Helper()
	evs, err := event.ParseProjected([]byte(body), rs.Projection())
	if err != nil {
		t.Fatal(err)
	}
	return evs[0]
}
