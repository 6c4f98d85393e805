package ruletest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/hookd/hookd/actions/httpx"
	"github.com/hookd/hookd/engine"
	"github.com/hookd/hookd/engine/requests"
	"github.com/hookd/hookd/event"
	"github.com/hookd/hookd/internal/suggest"
)

// Failure is one expectation of a case that did not hold, at the line
// and column of the test file that state it.
type Failure struct {
	File string
	Pos
	// Msg says what was expected and what happened; it may span lines.
	Msg string
	// Unbuildable marks the failure of an action that fired but whose
	// request cannot be built (see requests.Error): the daemon would
	// dead-letter it.
	Unbuildable bool
}

// String formats the failure as "file:line:col: message".
func (f Failure) String() string {
	return fmt.Sprintf("%s:%d:%d: %s", f.File, f.Line, f.Col, f.Msg)
}

// maxShown bounds the length of a value quoted in a failure.
const maxShown = 300

// Run feeds the case's event to rs and returns every expectation that
// did not hold (none when the case passes). An action that fires but
// whose request cannot be built fails the case too, at the line of the
// case (or of the step of its sequence): the daemon would dead-letter it
// (an action that reads an unset ${ENV} variable is left out, see
// requests.Builder.Build).
func (c *Case) Run(rs *engine.RuleSet) []Failure {
	r := newRun(c, rs)
	r.v = r.result()
	r.res = r.v.res
	if c.Sequence == nil {
		r.unbuildable(r.res.Errors, c.Pos, "")
	}
	for _, f := range r.res.Fired {
		r.fired = append(r.fired, f.Rule.Name)
	}
	for _, x := range c.Fires {
		if !r.exists(x.Rule, x.Pos) {
			continue
		}
		if !contains(r.fired, x.Rule) {
			r.failf(x.Pos, "expected rule %q to fire; fired: %s; %s", x.Rule, r.firedList(), r.why(r.v, x.Rule))
		}
	}
	for _, x := range c.NotFires {
		if !r.exists(x.Rule, x.Pos) {
			continue
		}
		if contains(r.fired, x.Rule) {
			r.failf(x.Pos, "expected rule %q not to fire, but it fired: %s", x.Rule, r.why(r.v, x.Rule))
		}
	}
	if c.Only {
		var want, reported []string
		for _, x := range c.Fires {
			want = append(want, x.Rule)
		}
		for _, x := range c.NotFires {
			reported = append(reported, x.Rule)
		}
		allowed := "no rule may fire"
		if len(want) > 0 {
			allowed = "only " + strings.Join(want, ", ") + " may fire"
		}
		for _, name := range r.fired {
			if !contains(want, name) && !contains(reported, name) {
				r.failf(c.OnlyAt, "rule %q fired too, but with only: true %s; %s", name, allowed, r.why(r.v, name))
			}
		}
	}
	for _, a := range c.Actions {
		r.action(a)
	}
	r.errors()
	return r.failures
}

// Firing is a rule that fired in what a case's own expectations check,
// with its rendered actions, and what sent it.
type Firing struct {
	engine.Fired
	// By names the digest or timer tick that sent it, e.g. `the digest of
	// "g1@g.us" due at 2026-03-04T09:00:00+01:00, sent before event 2,
	// with 1 event`; "" when the event fired it.
	By string
}

// Firings lists what the case's own expectations check: the rules its
// event fired, in file order, then, for a sequence, the digests and
// timer ticks sent since the event before the last and when the events
// ran out.
func (c *Case) Firings(rs *engine.RuleSet) []Firing {
	v := newRun(c, rs).result()
	out := make([]Firing, 0, len(v.own)+len(v.sent))
	for _, f := range v.own {
		out = append(out, Firing{Fired: f})
	}
	return append(out, v.sent...)
}

// result evaluates the case's event, or replays its sequence.
func (r *run) result() *view {
	if r.c.Sequence != nil {
		return r.replay()
	}
	res := r.rs.Evaluate(r.c.Event)
	if len(res.Steps) > 0 {
		// One event is the first of its key: a throttle lets it
		// through, a window of at_least 1 fires.
		engine.NewMemoryState().Apply(res)
	}
	return newView(r.reqs.Check(res))
}

// view is what one set of expectations checks (a case's own, or a step's
// of a sequence): the result of an event, what the state of the rules
// that remember did with it, and the digests and timer ticks that count
// with it.
type view struct {
	res *engine.Result
	// own are the rules the event itself fired; res.Fired has them and
	// the firings of sent.
	own []engine.Fired
	// sent are the digests and timer ticks counted with the event.
	sent []Firing
	// reasons say what the state of each rule that remembers did with
	// the event (only those whose condition held), in a sequence.
	reasons map[string]string
	xs      []engine.RuleExplanation
}

// newView is the view of an event's result, before digests and ticks
// are counted with it.
func newView(res *engine.Result) *view {
	return &view{res: res, own: append([]engine.Fired(nil), res.Fired...)}
}

// run is the state of one case's run.
type run struct {
	c  *Case
	rs *engine.RuleSet
	// reqs builds the requests of the actions that fire.
	reqs requests.Builder
	// reported holds the actions whose request cannot be built already
	// reported, with their line: a step repeated reports each one once.
	reported map[reported]bool
	// v is what the case's own expectations check; res and fired are
	// its result and the names of the rules that fired in it.
	v        *view
	res      *engine.Result
	fired    []string
	failures []Failure
}

// reported is an action (by name) whose request cannot be built,
// reported at a position.
type reported struct {
	at     Pos
	action string
}

func newRun(c *Case, rs *engine.RuleSet) *run {
	return &run{c: c, rs: rs, reqs: requests.ForRules(rs), reported: map[reported]bool{}}
}

func (r *run) failf(at Pos, format string, args ...any) {
	r.failures = append(r.failures, Failure{File: r.c.File, Pos: at, Msg: fmt.Sprintf(format, args...)})
}

// exists reports whether the rule set has the rule, failing otherwise: a
// misspelled name in not_fires would pass for ever.
func (r *run) exists(name string, at Pos) bool {
	if _, ok := r.rs.Rule(name); ok {
		return true
	}
	r.failf(at, "no rule named %q in %s%s", name, r.rs.File, r.rs.SuggestRule(name))
	return false
}

func (r *run) firedList() string { return orNothing(r.fired) }

func orNothing(names []string) string {
	if len(names) == 0 {
		return "nothing"
	}
	return strings.Join(names, ", ")
}

// why explains in one line why the rule fired or not in what v checks:
// the digests or ticks of the rule sent with the event, else what the
// rule did with the event itself.
func (r *run) why(v *view, name string) string {
	var by []string
	for _, f := range v.sent {
		if f.Rule.Name == name {
			by = append(by, f.By)
		}
	}
	if len(by) > 0 {
		return strings.Join(by, "; ")
	}
	if why, ok := v.reasons[name]; ok {
		return why
	}
	if v.xs == nil {
		v.xs = r.rs.Explain(v.res.Event)
	}
	for _, x := range v.xs {
		if x.Rule.Name != name {
			continue
		}
		if x.Outcome == engine.OutcomeFired {
			if x.Rule.If == "" {
				return fmt.Sprintf("rule %q has no condition", name)
			}
			return fmt.Sprintf("its condition %s was true", oneLine(x.Rule.If))
		}
		if rest, ok := strings.CutPrefix(x.Why(), "condition "); ok {
			return fmt.Sprintf("condition of %q %s", name, rest)
		}
		return fmt.Sprintf("rule %q %s", name, x.Why())
	}
	return ""
}

// action checks one action expectation against the rendered actions of
// the rule.
func (r *run) action(a ActionExpect) {
	rule, ok := r.rs.Rule(a.Rule)
	if !ok {
		r.exists(a.Rule, a.Pos)
		return
	}
	var all, selected []string
	for _, act := range rule.Do {
		all = append(all, fmt.Sprintf("%s[%d]", act.Type, act.Index))
		if (a.Type == "" || act.Type == a.Type) && (a.Index < 0 || act.Index == a.Index) {
			selected = append(selected, act.Name)
		}
	}
	if len(selected) == 0 {
		r.failf(a.Pos, "rule %q has no action %s; its actions: %s", a.Rule, selector(a), orNothing(all))
		return
	}
	if !contains(r.fired, a.Rule) {
		for _, x := range r.c.Fires {
			if x.Rule == a.Rule {
				return // already reported: expected rule "x" to fire
			}
		}
		r.failf(a.Pos, "expected rule %q to fire, to check its action %s; fired: %s; %s", a.Rule, selector(a), r.firedList(), r.why(r.v, a.Rule))
		return
	}
	var rendered []engine.Rendered
	for _, f := range r.res.Fired {
		if f.Rule.Name != a.Rule {
			continue
		}
		for _, ra := range f.Actions {
			if contains(selected, ra.Action.Name) {
				rendered = append(rendered, ra)
			}
		}
	}
	if len(rendered) == 0 {
		var errs []string
		for _, e := range r.res.Errors {
			if e.Rule == a.Rule && contains(selected, e.Action) {
				errs = append(errs, e.Error())
			}
		}
		r.failf(a.Pos, "rule %q fired but its action %s failed to render: %s", a.Rule, selector(a), strings.Join(errs, "; "))
		return
	}
	var tried [][]Failure
	for _, ra := range rendered {
		fails := r.compare(ra, a)
		if len(fails) == 0 {
			return
		}
		tried = append(tried, fails)
	}
	if len(tried) == 1 {
		r.failures = append(r.failures, tried[0]...)
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "none of the %d actions %s of rule %q matches:", len(tried), selector(a), a.Rule)
	for _, fails := range tried {
		for _, f := range fails {
			b.WriteString("\n    " + f.Msg)
		}
	}
	r.failf(a.Pos, "%s", b.String())
}

func selector(a ActionExpect) string {
	switch {
	case a.Type != "" && a.Index >= 0:
		return fmt.Sprintf("%s[%d]", a.Type, a.Index)
	case a.Type != "":
		return a.Type
	case a.Index >= 0:
		return fmt.Sprintf("[%d]", a.Index)
	}
	return "(any)"
}

// unset says that field is not among the set fields of an action, with
// the one meant when it is misspelt.
func unset(field string, set []string) string {
	return fmt.Sprintf("field %q is not set%s; set fields: %s", field, suggest.DidYouMean(field, set), strings.Join(set, ", "))
}

// compare checks the params and contains of a against one rendered
// action. A failure shows the rendered value as dry-run does, secrets
// masked.
func (r *run) compare(ra engine.Rendered, a ActionExpect) []Failure {
	var out []Failure
	name := ra.Action.Name
	shown := httpx.MaskParams(ra.Action.Type, ra.Params, ra.Action.Secrets()...)
	fail := func(at Pos, format string, args ...any) {
		out = append(out, Failure{File: r.c.File, Pos: at, Msg: name + ": " + fmt.Sprintf(format, args...)})
	}
	for _, p := range a.Params {
		got, set := ra.Params[p.Field]
		if !set {
			fail(p.Pos, "%s", unset(p.Field, ra.Action.Fields()))
			continue
		}
		if !sameValue(got, p.Want) {
			fail(p.wantAt(0), "%s is %s, want %s", p.Field, show(shown[p.Field]), show(p.Want))
		}
	}
	for _, p := range a.Contains {
		got, set := ra.Params[p.Field]
		if !set {
			fail(p.Pos, "%s", unset(p.Field, ra.Action.Fields()))
			continue
		}
		text := event.Format(got)
		for i, sub := range p.Want.([]string) {
			if !strings.Contains(text, sub) {
				fail(p.wantAt(i), "%s does not contain %s: it is %s", p.Field, strconv.Quote(sub), show(shown[p.Field]))
			}
		}
	}
	return out
}

// wantAt is where the i-th wanted value of the expectation is written,
// else where its field is named.
func (f FieldExpect) wantAt(i int) Pos {
	if i < len(f.WantAt) {
		return f.WantAt[i]
	}
	return f.Pos
}

// unbuildable fails, at at, each action of errs whose request cannot
// be built; when says when it fired in a sequence ("at event 2 (T)"), ""
// for a single event.
func (r *run) unbuildable(errs []engine.RuleError, at Pos, when string) {
	if when != "" {
		when = " " + when
	}
	for _, e := range errs {
		var ue *requests.Error
		if !errors.As(e.Err, &ue) {
			continue
		}
		seen := reported{at, e.Action}
		if r.reported[seen] {
			continue
		}
		r.reported[seen] = true
		r.failures = append(r.failures, Failure{File: r.c.File, Pos: at, Unbuildable: true,
			Msg: fmt.Sprintf("rule %q fired%s, but the request of its action %s cannot be built (the daemon would dead-letter it): %v", e.Rule, when, e.Action, ue.Err)})
	}
}

// errors checks the run-time errors of conditions and templates (not
// the actions whose request cannot be built, see unbuildable): their
// count when the case states one, else that there are none.
func (r *run) errors() {
	var msgs []string
	for _, e := range r.res.Errors {
		if !requests.Unbuildable(e) {
			msgs = append(msgs, e.Error())
		}
	}
	got := len(msgs)
	switch {
	case r.c.Errors != nil && got != r.c.Errors.N:
		r.failf(r.c.Errors.Pos, "expected %d run-time error(s), got %d%s", r.c.Errors.N, got, listed(msgs))
	case r.c.Errors == nil && got > 0:
		r.failf(r.c.Pos, "%d run-time error(s)%s; fix the rule, or state `errors: %d` if the case expects them", got, listed(msgs), got)
	}
}

func listed(msgs []string) string {
	if len(msgs) == 0 {
		return ""
	}
	return ":\n    " + strings.Join(msgs, "\n    ")
}

// sameValue compares a rendered value with an expected one by their JSON
// forms, so that 2 (YAML int) equals 2 (event int64) and lists of any
// element type compare item by item.
func sameValue(got, want any) bool {
	g, err1 := normalize(got)
	w, err2 := normalize(want)
	if err1 != nil || err2 != nil {
		return reflect.DeepEqual(got, want)
	}
	return reflect.DeepEqual(g, w)
}

func normalize(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var out any
	err = dec.Decode(&out)
	return out, err
}

// show prints a value as JSON (strings quoted, newlines as \n), cut to a
// readable length.
func show(v any) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	s := event.Format(v)
	if err := enc.Encode(v); err == nil {
		s = strings.TrimSuffix(buf.String(), "\n")
	}
	if r := []rune(s); len(r) > maxShown {
		s = string(r[:maxShown-1]) + "…"
	}
	return s
}

// oneLine folds a multi-line condition onto one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
