package engine_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hookd/hookd/engine"
	"github.com/hookd/hookd/event"
)

const explainRules = `version: 1
vars:
  trusted: ["+1000"]
rules:
  - name: own-edits
    on: group:update
    if: action == "subject" && author == device.phone
    stop: true
  - name: welcome
    on: group:update
    if: action == "add" && len(participants) > 0
    do: [log: {message: "hi {{ join(participants, ', ') }}"}]
  - name: removal
    on: [group:update]
    if: action == "remove" && author not in vars.trusted
    do: [log: {message: removed}]
  - name: either
    on: group:update
    if: author == "+1000" || !(len(participants ?? []) > 1)
    do: [log: {message: either}]
  - name: prices
    on: message:in:new
    if: data.body matches "(?i)price"
    do: [log: {message: price}]
  - name: subjects
    on: group:update
    do: [log: {message: "subject {{ data.chat.name }}"}]
  - name: broken-template
    on: group:update
    if: action == "leave"
    do: [log: {message: "{{ len(participants) }} left"}]
`

// stepLines prints a step tree one line per part: expression, then the
// comparison or value, or why it was not evaluated.
func stepLines(s *engine.Step, depth int) []string {
	if s == nil {
		return nil
	}
	line := strings.Repeat("  ", depth) + s.Expr + " → "
	switch {
	case s.Skipped != "":
		line = strings.Repeat("  ", depth) + s.Expr + " (not evaluated: " + s.Skipped + ")"
	case s.Error != "":
		if s.Comparison() {
			line += s.Compared() + " → "
		}
		line += "error: " + s.Error
	case s.Comparison():
		line += s.Compared() + " → " + engine.FormatValue(s.Value)
	default:
		line += engine.FormatValue(s.Value)
	}
	out := []string{line}
	for _, o := range s.Operands {
		out = append(out, stepLines(o, depth+1)...)
	}
	return out
}

func explainEvent(t *testing.T, js string) *event.Event {
	t.Helper()
	evs, err := event.Parse([]byte(js))
	if err != nil || len(evs) != 1 {
		t.Fatalf("event %s: %v", js, err)
	}
	return evs[0]
}

func TestExplain(t *testing.T) {
	rs, problems := engine.Load("rules.yaml", []byte(explainRules), engine.LoadOptions{})
	if rs == nil {
		t.Fatalf("load: %v", problems)
	}
	const device = `"device":{"id":"d1","phone":"+1000"}`
	add := `{"id":"e1","event":"group:update","action":"add","author":"+2000","participants":["+3000","+3001"],` + device + `,"data":{"chat":{"name":"Sales"}}}`
	remove := `{"id":"e2","event":"group:update","action":"remove","author":"+1000","participants":["+3000"],` + device + `,"data":{"chat":{"name":"Sales"}}}`
	addNobody := `{"id":"e3","event":"group:update","action":"add","author":"+2000",` + device + `,"data":{"chat":{"name":"Sales"}}}`
	ownSubject := `{"id":"e4","event":"group:update","action":"subject","author":"+1000",` + device + `,"data":{"chat":{"name":"Sales"}}}`
	leave := `{"id":"e5","event":"group:update","action":"leave","author":"+2000",` + device + `,"data":{"chat":{"name":"Sales"}}}`
	message := `{"id":"e6","event":"message:in:new","data":{"body":"What is the PRICE?"}}`

	tests := []struct {
		name    string
		event   string
		rule    string
		outcome engine.Outcome
		reason  string // substring of Reason ("" for none)
		steps   []string
	}{
		{
			name: "fired with every part shown", event: add, rule: "welcome", outcome: engine.OutcomeFired,
			steps: []string{
				`action == "add" && len(participants) > 0 → true`,
				`  action == "add" → "add" == "add" → true`,
				`  len(participants) > 0 → 2 > 0 → true`,
			},
		},
		{
			name: "false comparison stops &&", event: remove, rule: "removal", outcome: engine.OutcomeFalse,
			reason: `condition was false: author not in vars.trusted is "+1000" not in ["+1000"]`,
			steps: []string{
				`action == "remove" && author not in vars.trusted → false`,
				`  action == "remove" → "remove" == "remove" → true`,
				`  author not in vars.trusted → "+1000" not in ["+1000"] → false`,
			},
		},
		{
			name: "skipped by the action index, condition shown", event: add, rule: "removal", outcome: engine.OutcomeOtherAction,
			reason: `skipped by the action index: the condition needs action "remove", the event's action is "add"`,
			steps: []string{
				`action == "remove" && author not in vars.trusted → false`,
				`  action == "remove" → "add" == "remove" → false`,
				`  author not in vars.trusted (not evaluated: && stopped)`,
			},
		},
		{
			name: "runtime error named with its part", event: addNobody, rule: "welcome", outcome: engine.OutcomeError,
			reason: "condition failed: len(participants): invalid argument for len (type <nil>)",
			steps: []string{
				`action == "add" && len(participants) > 0 → error: invalid argument for len (type <nil>)`,
				`  action == "add" → "add" == "add" → true`,
				`  len(participants) > 0 → error(invalid argument for len (type <nil>)) > 0 → error: invalid argument for len (type <nil>)`,
			},
		},
		{
			name: "|| and ! operands", event: add, rule: "either", outcome: engine.OutcomeFalse,
			reason: `condition was false: author == "+1000" is "+2000" == "+1000"; and len(participants ?? []) > 1 is true`,
			steps: []string{
				`author == "+1000" || !(len(participants ?? []) > 1) → false`,
				`  author == "+1000" → "+2000" == "+1000" → false`,
				`  !(len(participants ?? []) > 1) → false`,
				`    len(participants ?? []) > 1 → 2 > 1 → true`,
			},
		},
		{
			name: "|| already true", event: remove, rule: "either", outcome: engine.OutcomeFired,
			steps: []string{
				`author == "+1000" || !(len(participants ?? []) > 1) → true`,
				`  author == "+1000" → "+1000" == "+1000" → true`,
				`  !(len(participants ?? []) > 1) (not evaluated: || already true)`,
			},
		},
		{
			name: "other event", event: add, rule: "prices", outcome: engine.OutcomeOtherEvent,
			reason: "listens to message:in:new, event is group:update",
		},
		{
			name: "matches", event: message, rule: "prices", outcome: engine.OutcomeFired,
			steps: []string{`data.body matches "(?i)price" → "What is the PRICE?" matches "(?i)price" → true`},
		},
		{
			name: "no condition", event: add, rule: "subjects", outcome: engine.OutcomeFired,
		},
		{
			name: "stopped by an earlier rule", event: ownSubject, rule: "subjects", outcome: engine.OutcomeStopped,
			reason: "skipped: rule own-edits (stop: true) fired before it",
		},
		{
			name: "the stopping rule fired", event: ownSubject, rule: "own-edits", outcome: engine.OutcomeFired,
			steps: []string{
				`action == "subject" && author == device.phone → true`,
				`  action == "subject" → "subject" == "subject" → true`,
				`  author == device.phone → "+1000" == "+1000" → true`,
			},
		},
		{
			name: "template error still fires", event: leave, rule: "broken-template", outcome: engine.OutcomeFired,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := explainEvent(t, tt.event)
			var x *engine.RuleExplanation
			xs := rs.Explain(ev)
			if len(xs) != len(rs.Rules) {
				t.Fatalf("Explain returned %d explanations for %d rules", len(xs), len(rs.Rules))
			}
			for i := range xs {
				if xs[i].Rule != rs.Rules[i] {
					t.Fatalf("explanation %d is for %s, want %s (file order)", i, xs[i].Rule.Name, rs.Rules[i].Name)
				}
				if xs[i].Rule.Name == tt.rule {
					x = &xs[i]
				}
			}
			if x == nil {
				t.Fatalf("no explanation for rule %s", tt.rule)
			}
			if x.Outcome != tt.outcome {
				t.Errorf("outcome %s, want %s (reason %q)", x.Outcome, tt.outcome, x.Reason)
			}
			if tt.reason != "" && !strings.Contains(x.Reason, tt.reason) {
				t.Errorf("reason\n  %q\nwant it to contain\n  %q", x.Reason, tt.reason)
			}
			if tt.outcome == engine.OutcomeFired && x.Reason != "" {
				t.Errorf("a rule that fired has a reason %q", x.Reason)
			}
			if tt.steps != nil {
				got := stepLines(x.Condition, 0)
				if strings.Join(got, "\n") != strings.Join(tt.steps, "\n") {
					t.Errorf("steps:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.steps, "\n"))
				}
			}
		})
	}
}

// TestExplainAgreesWithEvaluate checks that the rules Explain marks as
// fired are exactly those Evaluate fires, over several events.
func TestExplainAgreesWithEvaluate(t *testing.T) {
	rs, problems := engine.Load("rules.yaml", []byte(explainRules), engine.LoadOptions{})
	if rs == nil {
		t.Fatalf("load: %v", problems)
	}
	for i, action := range []string{"add", "remove", "subject", "leave", "promote"} {
		js := fmt.Sprintf(`{"id":"a%d","event":"group:update","action":%q,"author":"+1000","participants":["+1"],"device":{"phone":"+1000"},"data":{"chat":{"name":"x"}}}`, i, action)
		ev := explainEvent(t, js)
		var want, got []string
		for _, f := range rs.Evaluate(ev).Fired {
			want = append(want, f.Rule.Name)
		}
		for _, x := range rs.Explain(ev) {
			if x.Outcome == engine.OutcomeFired {
				got = append(got, x.Rule.Name)
			}
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("action %s: Explain fired %v, Evaluate fired %v", action, got, want)
		}
	}
}

func TestExplainTemplateErrors(t *testing.T) {
	rs, problems := engine.Load("rules.yaml", []byte(explainRules), engine.LoadOptions{})
	if rs == nil {
		t.Fatalf("load: %v", problems)
	}
	ev := explainEvent(t, `{"id":"l","event":"group:update","action":"leave","author":"+2","device":{"phone":"+1"},"data":{"chat":{"name":"x"}}}`)
	for _, x := range rs.Explain(ev) {
		if x.Rule.Name != "broken-template" {
			continue
		}
		if len(x.Errors) != 1 || x.Errors[0].Action == "" || !strings.Contains(x.Errors[0].Error(), "invalid argument for len") {
			t.Fatalf("errors %v, want the log action's template error", x.Errors)
		}
		if len(x.Actions) != 0 {
			t.Errorf("the failing action was rendered: %v", x.Actions)
		}
		return
	}
	t.Fatal("no explanation for broken-template")
}

func TestFormatValue(t *testing.T) {
	tests := []struct {
		in   any
		want string
	}{
		{nil, "nil"},
		{"add", `"add"`},
		{"a\"b", `"a\"b"`},
		{true, "true"},
		{int64(1020), "1020"},
		{1.5, "1.5"},
		{[]any{"a", int64(2)}, `["a", 2]`},
		{[]string{"x"}, `["x"]`},
		{map[string]any{"b": 1.5, "a": nil}, `{"a": nil, "b": 1.5}`},
		{strings.Repeat("x", 100), `"` + strings.Repeat("x", 78) + "…"},
	}
	for _, tt := range tests {
		if got := engine.FormatValue(tt.in); got != tt.want {
			t.Errorf("FormatValue(%#v) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestOutcomeString(t *testing.T) {
	want := map[engine.Outcome]string{
		engine.OutcomeFired: "fired", engine.OutcomeOtherEvent: "other-event", engine.OutcomeOtherAction: "other-action",
		engine.OutcomeOtherValue: "other-value", engine.OutcomeStopped: "stopped", engine.OutcomeFalse: "false", engine.OutcomeError: "error",
		engine.OutcomeHeld: "held", engine.OutcomeOwnSend: "own-send", engine.OutcomeMuted: "muted",
	}
	for o, s := range want {
		if o.String() != s {
			t.Errorf("%d.String() = %s, want %s", o, o.String(), s)
		}
	}
}

// TestFieldOfTextSaysWhatHappened: in Wassenger's group webhook article
// (testdata/events/group-update/remove.json) a chat's owner.agent is the
// agent's id, text, where a rule may expect the agent object. Reading a
// field of it failed with expr's "invalid operation: int(string)", which
// says neither what happened nor what to do; Evaluate and Explain say
// both.
func TestFieldOfTextSaysWhatHappened(t *testing.T) {
	rs := loadRules(t, `version: 1
rules:
  - name: agent-email
    on: group:update
    if: data.chat.owner.agent.email != ""
    do: [log: {message: m}]
`)
	evs, err := event.ReadFile("../testdata/events/group-update/remove.json")
	if err != nil {
		t.Fatal(err)
	}
	const want = `a field is read from a value that is text in this event, not an object: test its type first, e.g. type(x) == "map"`
	res := rs.Evaluate(evs[0])
	if len(res.Errors) != 1 || res.Errors[0].Error() != `rule "agent-email": condition: `+want+` (at character 23 of the expression)` {
		t.Errorf("Evaluate errors %v, want the field of a text value, at character 23", res.Errors)
	}
	xs := rs.Explain(evs[0])
	if len(xs) != 1 || xs[0].Condition == nil || !strings.Contains(strings.Join(stepLines(xs[0].Condition, 0), "\n"), "error: "+want) {
		t.Errorf("Explain %+v, want the condition's error %q", xs, want)
	}
}
