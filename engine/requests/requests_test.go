package requests_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/hookd/hookd/engine"
	"github.com/hookd/hookd/engine/requests"
	"github.com/hookd/hookd/event"
)

const rules = `version: 1
connections:
  wassenger: { token: test-token }
  slack: { webhook_url: "${HOOKD_TEST_UNSET_SLACK_URL}" }
rules:
  - name: remove
    on: message:in:new
    do:
      - wassenger.group.remove:
          device: 61b37a069cba0c15d6c89757
          group: 120363041234567890@g.us
          participants: ["{{ data.from }}"]
      - slack: { text: "{{ data.body }}" }
`

func TestBuild(t *testing.T) {
	rs, problems := engine.Load("rules.yaml", []byte(rules), engine.LoadOptions{AllowUnsetEnv: true})
	if rs == nil {
		t.Fatalf("load: %v", problems)
	}
	b := requests.ForRules(rs)
	tests := []struct {
		name  string
		from  string
		index int
		// text starts the request, or says why it cannot be built;
		// unbuildable is whether that is an error of the event.
		text        string
		unbuildable bool
	}{
		{"a phone number", "34600000001@c.us", 0, "DELETE https://api.wassenger.com/v1/devices/61b37a069cba0c15d6c89757/groups/120363041234567890@g.us/participants", false},
		{"a linked id", "203456789012345@lid", 0, `cannot build the request: wassenger.group.remove: participant "203456789012345@lid" is not a phone number`, true},
		{"an unset variable", "34600000001@c.us", 1, "not built: it reads ${HOOKD_TEST_UNSET_SLACK_URL}, which is not set (fine here; hookd serve refuses to start without it): set it to see the request (slack: ", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := event.Parse([]byte(`{"id":"m1","event":"message:in:new","data":{"from":"` + tt.from + `","body":"hi"}}`))
			if err != nil || len(ev) != 1 {
				t.Fatalf("parse: %v", err)
			}
			res := rs.Evaluate(ev[0])
			if len(res.Fired) != 1 {
				t.Fatalf("fired %d rules, want 1; errors: %v", len(res.Fired), res.Errors)
			}
			a := res.Fired[0].Actions[tt.index]
			text, rerr := b.Build(ev[0], a)
			if !strings.HasPrefix(text, tt.text) {
				t.Errorf("text:\n%s\nwant it to start with:\n%s", text, tt.text)
			}
			if b.Show(ev[0], a) != text {
				t.Errorf("Show differs from Build's text")
			}
			if (rerr != nil) != tt.unbuildable {
				t.Fatalf("error: %v, want one: %v", rerr, tt.unbuildable)
			}
			errs := b.Check(res).Errors
			if !tt.unbuildable {
				if len(errs) != 0 {
					t.Errorf("Check added %v, want none", errs)
				}
				return
			}
			var e *requests.Error
			if !errors.As(rerr.Err, &e) || !requests.Unbuildable(*rerr) {
				t.Errorf("error %v is not a *requests.Error", rerr)
			}
			want := `rule "remove": action remove/wassenger.group.remove[0]: cannot build the request (the daemon would dead-letter it): wassenger.group.remove: participant`
			if !strings.HasPrefix(rerr.Error(), want) {
				t.Errorf("error:\n%s\nwant it to start with:\n%s", rerr, want)
			}
			if len(errs) != 1 || errs[0].Error() != rerr.Error() {
				t.Errorf("Check added %v, want [%v]", errs, rerr)
			}
		})
	}
}

func TestUnbuildableOtherErrors(t *testing.T) {
	if requests.Unbuildable(engine.RuleError{Rule: "r", Action: "r/log[0]", Err: errors.New("template: no such field")}) {
		t.Error("a template error counts as unbuildable")
	}
}
