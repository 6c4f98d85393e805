package engine

import (
	"fmt"
	"sync"

	"github.com/hookd/hookd/engine/event"
)

// Result is what a rule set does with one event.
type Result struct {
	Event *event.Event
	// Fired lists the rules that matched, in file order.
	Fired []Fired
	// Errors are the conditions and templates that failed on this event.
	Errors []RuleError
}

// Fired is a rule that matched and its rendered actions.
type Fired struct {
	Rule    *Rule
	Actions []Rendered
}

// Rendered is an action with every template rendered.
type Rendered struct {
	Action *Action
	// Params are the action's fields as written, templates rendered.
	Params map[string]any
}

// RuleError is a condition or template that failed at run time.
type RuleError struct {
	Rule string
	// Action is the failing action's name ("" for the condition).
	Action string
	Err    error
}

// Error formats the error with the rule and the action.
func (e RuleError) Error() string {
	if e.Action != "" {
		return fmt.Sprintf("rule %q: action %s: %v", e.Rule, e.Action, e.Err)
	}
	return fmt.Sprintf("rule %q: condition: %v", e.Rule, e.Err)
}

var runners = sync.Pool{New: func() any { return new(runner) }}

// Evaluate runs the rules that can match ev: each matching rule fires in
// file order until one with stop: true. A condition or template that fails
// is reported in Result.Errors and skips that rule or action only.
// Evaluate is safe for concurrent use with different events.
func (rs *RuleSet) Evaluate(ev *event.Event) *Result {
	res := &Result{Event: ev}
	cands := rs.index.candidates(ev.Name, ev.Action)
	if len(cands) == 0 {
		return res
	}
	r := runners.Get().(*runner)
	r.env = rs.env(ev)
	defer func() {
		r.env = nil
		runners.Put(r)
	}()
	for _, i := range cands {
		rule := rs.Rules[i]
		if rule.cond != nil {
			out, err := r.run(rule.cond)
			if err != nil {
				res.Errors = append(res.Errors, RuleError{Rule: rule.Name, Err: err})
				continue
			}
			if ok, _ := out.(bool); !ok {
				continue
			}
		}
		f := Fired{Rule: rule, Actions: make([]Rendered, 0, len(rule.Do))}
		for _, a := range rule.Do {
			params, err := a.params.render(r)
			if err != nil {
				res.Errors = append(res.Errors, RuleError{Rule: rule.Name, Action: a.Name, Err: err})
				continue
			}
			f.Actions = append(f.Actions, Rendered{Action: a, Params: params.(map[string]any)})
		}
		res.Fired = append(res.Fired, f)
		if rule.Stop {
			break
		}
	}
	return res
}

// env is the expression environment of an event: its top-level fields
// plus vars. A field of the event named "vars" is shadowed.
func (rs *RuleSet) env(ev *event.Event) map[string]any {
	env := make(map[string]any, len(ev.Fields)+1)
	for k, v := range ev.Fields {
		env[k] = v
	}
	env["vars"] = rs.Vars
	return env
}

// Listening returns the distinct event names and globs the rules listen
// to, in first-seen order.
func (rs *RuleSet) Listening() []string {
	var out []string
	seen := map[string]bool{}
	for _, r := range rs.Rules {
		for _, on := range r.On {
			if !seen[on] {
				seen[on] = true
				out = append(out, on)
			}
		}
	}
	return out
}

// Rule returns the named rule.
func (rs *RuleSet) Rule(name string) (*Rule, bool) {
	for _, r := range rs.Rules {
		if r.Name == name {
			return r, true
		}
	}
	return nil, false
}
