package engine

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/expr-lang/expr/file"

	"github.com/hookd/hookd/event"
	"github.com/hookd/hookd/store"
)

// Result is what a rule set does with one event.
type Result struct {
	Event *event.Event
	// Fired lists the rules that matched, in file order.
	Fired []Fired
	// Errors are the conditions and templates that failed on this event.
	Errors []RuleError
	// Steps are the stateful rules (throttle, window, digest) whose
	// condition was true: they fire only if applying the step to their
	// state says so (see StateStep, MemoryState). Nil when there are none.
	Steps []StateStep
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
	// Rule is the rule's name; "" for an error of the identity section.
	Rule string
	// Action is the failing action's name ("" for the condition).
	Action string
	// Part names what failed when it is neither the condition nor an
	// action: the state's key, or the window's weight.
	Part string
	Err  error
}

// Error formats the error with the rule and the action, on one line.
func (e RuleError) Error() string {
	if e.Rule == "" {
		return oneLineError(e.Err)
	}
	switch {
	case e.Action != "":
		return fmt.Sprintf("rule %q: action %s: %s", e.Rule, e.Action, oneLineError(e.Err))
	case e.Part != "":
		return fmt.Sprintf("rule %q: %s: %s", e.Rule, e.Part, oneLineError(e.Err))
	}
	return fmt.Sprintf("rule %q: condition: %s", e.Rule, oneLineError(e.Err))
}

// oneLineError is a run-time error on one line: expr's multi-line
// snippet of the expression is dropped, and the position expr records in
// its *file.Error is said in words instead. What wraps the expr error
// (a template's field path) is kept in front.
func oneLineError(err error) string {
	var fe *file.Error
	if !errors.As(err, &fe) {
		return firstLine(err.Error())
	}
	msg := plainMessage(firstLine(fe.Message))
	if outer := err.Error(); outer != fe.Error() {
		msg = strings.TrimSuffix(outer, fe.Error()) + msg
		msg = firstLine(msg)
	}
	switch {
	case fe.Snippet == "": // not bound to the source: no position
	case fe.Line <= 1:
		msg += fmt.Sprintf(" (at character %d of the expression)", fe.Column+1)
	default:
		msg += fmt.Sprintf(" (at line %d, character %d of the expression)", fe.Line, fe.Column+1)
	}
	return msg
}

// plainMessage rewords expr's run-time messages that say neither what
// happened nor what to do.
func plainMessage(msg string) string {
	switch msg {
	case "invalid operation: int(string)":
		// expr's word for data.chat.owner.agent.email where the agent
		// is its id: a field of a string is read as an index into it.
		return `a field is read from a value that is text in this event, not an object: test its type first, e.g. type(x) == "map"`
	}
	return msg
}

// firstLine is s up to its first newline.
func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

var runners = sync.Pool{New: func() any { return new(runner) }}

// Evaluate runs the rules that can match ev: each matching rule fires in
// file order until one with stop: true. It first sets ev.Key from the
// file's identity section, when that names ev's event. A condition or template that fails
// is reported in Result.Errors and skips that rule or action only.
// Evaluate is safe for concurrent use with different events; one event
// must not be evaluated by two goroutines at once.
func (rs *RuleSet) Evaluate(ev *event.Event) *Result { return rs.evaluate(ev, time.Time{}) }

func (rs *RuleSet) evaluate(ev *event.Event, arrival time.Time) *Result {
	res := &Result{Event: ev}
	cands := rs.index.candidates(ev.Name, ev.Action)
	_, keyed := rs.identity[ev.Name]
	if len(cands.all) == 0 && !keyed {
		return res
	}
	own := OwnSend(ev)
	rs.withRunner(ev, func(r *runner) {
		r.arrival = arrival
		rs.identifyInto(r, res)
		cands.each(r.env, func(i int) bool {
			rule := rs.Rules[i]
			if skipRule(rule, own) {
				return true
			}
			return !rs.evalRule(r, rule, res, false) || !rule.Stop
		})
	})
	return res
}

// withRunner runs f with a pooled runner whose environment is ev's
// top-level fields: the event's own map, neither copied nor changed
// (programs read vars as a constant, see bindVars).
func (rs *RuleSet) withRunner(ev *event.Event, f func(r *runner)) {
	r := runners.Get().(*runner)
	r.env = ev.Fields
	defer func() {
		r.env = nil
		runners.Put(r)
	}()
	f(r)
}

// EvaluateRule runs one rule on ev, whatever its `on` says; with force
// the condition is skipped too. It is how `hookd fire` tries a rule's
// actions for real: a throttle, window or digest is ignored, and the
// actions render as if ev were the first event of its key. A digest's
// actions render as the digest of ev alone would when flushed (see
// Flush): digest.count 1, digest.events [ev], digest.first and
// digest.last ev's time.
func (rs *RuleSet) EvaluateRule(ev *event.Event, name string, force bool) (*Result, error) {
	rule, ok := rs.Rule(name)
	if !ok {
		return nil, fmt.Errorf("no rule named %q%s", name, rs.SuggestRule(name))
	}
	res := &Result{Event: ev}
	rs.withRunner(ev, func(r *runner) {
		rs.identifyInto(r, res)
		rs.evalRule(r, rule, res, force)
	})
	for _, st := range res.Steps {
		state, _, _ := st.Apply(nil)
		var acts []Rendered
		var errs []RuleError
		if st.Rule.Digest != nil {
			f := rs.Flush(st.Rule, st.Key, state)
			acts, errs = f.Actions, f.Errors
		} else {
			acts, errs = st.Render(state)
		}
		res.AddFired(Fired{Rule: st.Rule, Actions: acts})
		res.Errors = append(res.Errors, errs...)
	}
	res.Steps = nil
	return res, nil
}

// evalRule evaluates one rule's condition (unless force) and renders its
// actions into res. It reports whether the rule fired.
func (rs *RuleSet) evalRule(r *runner, rule *Rule, res *Result, force bool) bool {
	if rule.cond != nil && !force {
		out, err := r.run(rule.cond)
		if err != nil {
			res.Errors = append(res.Errors, RuleError{Rule: rule.Name, Err: err})
			return false
		}
		if ok, _ := out.(bool); !ok {
			return false
		}
	}
	if rule.Throttle != nil || rule.Window != nil || rule.Digest != nil {
		rs.addStep(r, rule, res)
		return false
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
	return true
}

// Reference is the idempotency key of an action on an event: the same for
// every attempt and every redelivery of the event, so a target can
// recognise a retried send, and different for the next event about the
// same message, since it derives from the event's identity key (see
// event.Event.Key). It reads hookd:<entity>.<key digest>:<rule>:<index>:
// the entity (Wassenger's id) to find the event by, and 8 hex digits of
// the key's SHA-256 to tell apart the events of one message (its acks,
// its sent and failed). The jobs of a digest or a timer rule's tick have
// an EventID of their own (store.DigestEventID, store.TickEventID) in
// place of an event's key: their entity is "digest" or "tick". References
// longer than 64 characters are hashed whole.
func Reference(eventKey, rule string, index int) string {
	entity := store.Source(eventKey) // digest or tick
	if entity == "event" {
		entity = eventKey
		if _, rest, ok := strings.Cut(eventKey, "/"); ok {
			entity, _, _ = strings.Cut(rest, "/")
		}
	}
	sum := sha256.Sum256([]byte(eventKey))
	ref := fmt.Sprintf("hookd:%s.%x:%s:%d", entity, sum[:4], rule, index)
	if len(ref) <= 64 {
		return ref
	}
	sum = sha256.Sum256([]byte(ref))
	return fmt.Sprintf("hookd:%x", sum[:16])
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
