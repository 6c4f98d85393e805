package engine_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/hookd/hookd/engine"
	"github.com/hookd/hookd/event"
)

// TestActionIndexSkipsOtherActions checks that rules whose condition
// starts with an action test are not even considered for other actions,
// for each way of writing the test.
func TestActionIndexSkipsOtherActions(t *testing.T) {
	tests := []struct{ cond string }{
		{`action == "promote" && author != ""`},
		{`"promote" == action && author != ""`},
		{`action in ["promote", "demote"] && author != ""`},
		{`author != "" && action in ["demote", "promote"]`},
	}
	for _, tt := range tests {
		t.Run(tt.cond, func(t *testing.T) {
			rs := loadRules(t, "version: 1\nrules:\n  - name: r\n    on: group:update\n    if: '"+tt.cond+"'\n    do:\n      - log: {message: x}\n")
			add := mustEvent(t, `{"id":"a","event":"group:update","action":"add","author":"+1"}`)
			if got := rs.Explain(add)[0].Outcome; got != engine.OutcomeOtherAction {
				t.Errorf("add: outcome %v, want the action index to skip the rule", got)
			}
			promote := mustEvent(t, `{"id":"p","event":"group:update","action":"promote","author":"+1"}`)
			if fired := rs.Evaluate(promote).Fired; len(fired) != 1 {
				t.Errorf("promote: fired %d rules, want 1", len(fired))
			}
		})
	}
}

// TestValueIndex checks that rules testing a field against constants, for
// each way of writing the test, are only evaluated for events whose field
// holds one of them, and that Explain says so for the others.
func TestValueIndex(t *testing.T) {
	tests := []struct {
		name  string
		cond  string // %s is the rule's value
		field string // the field, as it appears in the event's JSON
	}{
		{"field == value", `author == "%s" && data?.body != "never"`, `"author":"%s"`},
		{"value == field", `data?.body != "never" and "%s" == author`, `"author":"%s"`},
		{"field in list", `action != "x" && author in ["%s", "nobody"]`, `"author":"%s"`},
		{"member chain", `data.chat.id == "%s"`, `"data":{"chat":{"id":"%s"}}`},
		{"optional chain", `data?.chat?.id == "%s"`, `"data":{"chat":{"id":"%s"}}`},
	}
	values := []string{"v0", "v1", "v2", "v3", "v4"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			b.WriteString("version: 1\nrules:\n")
			for _, v := range values {
				fmt.Fprintf(&b, "  - name: %s\n    on: group:update\n    if: '%s'\n    do:\n      - log: {message: x}\n", v, fmt.Sprintf(tt.cond, v))
			}
			b.WriteString("  - name: any\n    on: group:update\n    if: 'id != \"\"'\n    do:\n      - log: {message: x}\n")
			rs := loadRules(t, b.String())
			for _, tc := range []struct {
				event string
				fired []string
			}{
				{fmt.Sprintf(`{"id":"e","event":"group:update","action":"add",%s}`, fmt.Sprintf(tt.field, "v3")), []string{"v3", "any"}},
				{fmt.Sprintf(`{"id":"e","event":"group:update","action":"add",%s}`, fmt.Sprintf(tt.field, "v9")), []string{"any"}},
				{`{"id":"e","event":"group:update","action":"add","author":7,"data":{"chat":{"id":7}}}`, []string{"any"}},
				{`{"id":"e","event":"group:update","action":"add"}`, []string{"any"}},
			} {
				ev := mustEvent(t, tc.event)
				var fired []string
				for _, f := range rs.Evaluate(ev).Fired {
					fired = append(fired, f.Rule.Name)
				}
				if !slices.Equal(fired, tc.fired) {
					t.Errorf("%s: fired %q, want %q", tc.event, fired, tc.fired)
				}
				for _, x := range rs.Explain(ev) {
					want := engine.OutcomeOtherValue
					if slices.Contains(tc.fired, x.Rule.Name) {
						want = engine.OutcomeFired
					}
					if x.Outcome != want {
						t.Errorf("%s: rule %s: outcome %v (%s), want %v", tc.event, x.Rule.Name, x.Outcome, x.Reason, want)
					}
				}
			}
		})
	}
}

// TestValueIndexNeedsEnoughRules: with fewer rules testing a field than
// make the lookup pay, the rules are evaluated (and Explain says the
// condition was false).
func TestValueIndexNeedsEnoughRules(t *testing.T) {
	rs := loadRules(t, "version: 1\nrules:\n  - name: r\n    on: group:update\n    if: 'author == \"+1\"'\n    do:\n      - log: {message: x}\n")
	ev := mustEvent(t, `{"id":"a","event":"group:update","action":"add","author":"+2"}`)
	if got := rs.Explain(ev)[0].Outcome; got != engine.OutcomeFalse {
		t.Errorf("outcome %v, want %v", got, engine.OutcomeFalse)
	}
}

// TestIndexGivesSameResults evaluates random events against a rules file
// whose rules test actions and fields against constants in every way the
// indexes know, with stop: true here and there, and compares what fires
// with evaluating every rule that listens to the event, one by one.
func TestIndexGivesSameResults(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	actions := []string{"add", "remove", "promote", "demote"}
	authors := []string{"+1", "+2", "+3", "+4", "+5", "+6"}
	chats := []string{"g1", "g2", "g3"}
	conds := []func() string{
		func() string { return fmt.Sprintf(`author == %q`, authors[rng.IntN(len(authors))]) },
		func() string {
			return fmt.Sprintf(`author in [%q, %q]`, authors[rng.IntN(len(authors))], authors[rng.IntN(len(authors))])
		},
		func() string { return fmt.Sprintf(`data?.chat?.id == %q`, chats[rng.IntN(len(chats))]) },
		func() string { return fmt.Sprintf(`action == %q`, actions[rng.IntN(len(actions))]) },
		func() string {
			return fmt.Sprintf(`action in [%q, %q]`, actions[rng.IntN(len(actions))], actions[rng.IntN(len(actions))])
		},
		func() string { return `len(data?.participants ?? []) > 1` },
		func() string { return fmt.Sprintf(`author != %q`, authors[rng.IntN(len(authors))]) },
	}
	var b strings.Builder
	b.WriteString("version: 1\nrules:\n")
	for i := range 300 {
		var parts []string
		for range 1 + rng.IntN(3) {
			parts = append(parts, conds[rng.IntN(len(conds))]())
		}
		on := "group:update"
		if rng.IntN(5) == 0 {
			on = "group:*"
		}
		fmt.Fprintf(&b, "  - name: r%03d\n    on: %s\n    if: '%s'\n    stop: %v\n    do:\n      - log: {message: x}\n",
			i, on, strings.Join(parts, " && "), rng.IntN(25) == 0)
	}
	rs := loadRules(t, b.String())
	for n := range 500 {
		body := fmt.Sprintf(`{"id":"e%d","event":"group:update","action":%q`, n, actions[rng.IntN(len(actions))])
		if rng.IntN(6) > 0 {
			body += fmt.Sprintf(`,"author":%q`, authors[rng.IntN(len(authors))])
		}
		if rng.IntN(3) > 0 {
			body += fmt.Sprintf(`,"data":{"chat":{"id":%q},"participants":[1,2]}`, chats[rng.IntN(len(chats))])
		}
		ev := mustEvent(t, body+"}")
		if got, want := firedNames(rs, ev), firedOneByOne(t, rs, ev); !slices.Equal(got, want) {
			t.Fatalf("event %s: Evaluate fired %q, every rule one by one %q", body, got, want)
		}
	}
}

// firedNames returns the rules Evaluate fires for ev.
func firedNames(rs *engine.RuleSet, ev *event.Event) []string {
	var out []string
	for _, f := range rs.Evaluate(ev).Fired {
		out = append(out, f.Rule.Name)
	}
	return out
}

// firedOneByOne returns the rules that fire for ev when each rule that
// listens to it is evaluated on its own, in file order, without the
// indexes.
func firedOneByOne(t *testing.T, rs *engine.RuleSet, ev *event.Event) []string {
	t.Helper()
	var out []string
	for _, r := range rs.Rules {
		if !r.Listens(ev.Name) {
			continue
		}
		res, err := rs.EvaluateRule(ev, r.Name, false)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Fired) > 0 {
			out = append(out, r.Name)
			if r.Stop {
				break
			}
		}
	}
	return out
}

// TestValueIndexEdges: conditions the value index must leave alone, or
// read as the expression does, each next to four rules that make the
// index look up their field; what fires must be what evaluating each
// rule on its own fires, and Explain must not fail.
func TestValueIndexEdges(t *testing.T) {
	for _, tc := range []struct {
		name, cond, others, event string
	}{
		{"in a list holding \"\", field missing", `author in ["", "a"]`, `author == "%s"`, `{"id":"1","event":"group:update"}`},
		{"in a list holding \"\", field null", `author in ["", "a"]`, `author == "%s"`, `{"id":"1","event":"group:update","author":null}`},
		{"$env member", `$env.author == "a"`, `$env.author == "%s"`, `{"id":"1","event":"group:update","author":"a"}`},
		{"$env index", `$env["author"] == "a"`, `$env["author"] == "%s"`, `{"id":"1","event":"group:update","author":"a"}`},
		{"a key holding a dot", `data["chat.id"] == "x"`, `data.chat.id == "%s"`, `{"id":"1","event":"group:update","data":{"chat.id":"x","chat":{"id":"b"}}}`},
		{"in an empty list", `author in []`, `author == "%s"`, `{"id":"1","event":"group:update","author":"b"}`},
		{"number", `author == "7"`, `author == "%s"`, `{"id":"1","event":"group:update","author":7}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			b.WriteString("version: 1\nrules:\n")
			fmt.Fprintf(&b, "  - name: r0\n    on: group:update\n    if: '%s'\n    do:\n      - log: {message: x}\n", tc.cond)
			for i, v := range []string{"b", "c", "d", "e"} {
				fmt.Fprintf(&b, "  - name: r%d\n    on: group:update\n    if: '%s'\n    do:\n      - log: {message: x}\n", i+1, fmt.Sprintf(tc.others, v))
			}
			rs := loadRules(t, b.String())
			ev := mustEvent(t, tc.event)
			if got, want := firedNames(rs, ev), firedOneByOne(t, rs, ev); !slices.Equal(got, want) {
				t.Errorf("Evaluate fired %q, every rule one by one %q", got, want)
			}
			for _, x := range rs.Explain(ev) {
				if x.Outcome == engine.OutcomeFalse && x.Condition != nil && x.Condition.Value == true {
					t.Errorf("rule %s: explained as false, but its condition is true", x.Rule.Name)
				}
			}
		})
	}
}
