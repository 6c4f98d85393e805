package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/parser/operator"

	"github.com/hookd/hookd/event"
)

// Outcome says what a rule did with an event, and if it did not fire, why.
type Outcome int

// Outcomes of a rule for an event, in the order Explain checks them.
const (
	// OutcomeFired: the rule listens to the event and its condition was
	// true.
	OutcomeFired Outcome = iota
	// OutcomeOtherEvent: the rule's `on` does not match the event's name.
	OutcomeOtherEvent
	// OutcomeOtherAction: the action index skipped the rule, because its
	// condition requires another event action (`action == "x"`).
	OutcomeOtherAction
	// OutcomeOtherValue: the value index skipped the rule, because its
	// condition requires another value of a field (`author == "+1"`).
	OutcomeOtherValue
	// OutcomeStopped: an earlier rule with `stop: true` fired.
	OutcomeStopped
	// OutcomeFalse: the condition was false.
	OutcomeFalse
	// OutcomeError: the condition failed at run time.
	OutcomeError
	// OutcomeHeld: the condition was true, but the rule's throttle,
	// window or digest held it back (State says why).
	OutcomeHeld
	// OutcomeOwnSend: the event is the message:out:new of a message
	// hookd sent, and the rule has no self: true (see OwnSend).
	OutcomeOwnSend
	// OutcomeMuted: the rule fired, or its state took the event, but a
	// mute of the rule or of its key silenced it: the daemon records the
	// match as muted and runs nothing. Mutes are the daemon's (its
	// store's), so Explain never gives it; the daemon's dry-run does.
	OutcomeMuted
)

var outcomeNames = [...]string{"fired", "other-event", "other-action", "other-value", "stopped", "false", "error", "held", "own-send", "muted"}

// String names the outcome: fired, other-event, other-action,
// other-value, stopped, false, error, held, own-send or muted.
func (o Outcome) String() string {
	if int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return "outcome(" + strconv.Itoa(int(o)) + ")"
}

// MarshalText writes the outcome's name, for JSON output.
func (o Outcome) MarshalText() ([]byte, error) { return []byte(o.String()), nil }

// RuleExplanation says what one rule did with an event and why.
type RuleExplanation struct {
	Rule    *Rule
	Outcome Outcome
	// Reason is one line saying why the rule did not fire ("" when it
	// fired), e.g. "listens to message:in:new, event is group:update".
	Reason string
	// StoppedBy names the rule with stop: true that ended the chain
	// (OutcomeStopped only).
	StoppedBy string
	// Condition is the condition evaluated part by part; nil when the
	// rule has none or does not listen to the event. For rules skipped by
	// the action index or by stop it shows what the condition would have
	// been.
	Condition *Step
	// Actions are the rendered actions of a rule that fired.
	Actions []Rendered
	// Errors are the rule's condition and template errors on this event.
	Errors []RuleError
	// State is what the rule's throttle, window or digest did with the
	// event (nil for rules that do not remember, or did not match).
	State *StepInfo
}

// Step is one part of a condition with its value. A step for && and ||
// lists its operands in Operands, one for ! or not its operand; a
// comparison (==, <, in, matches, ...) has the values of both sides in
// Left and Right. A step that was not evaluated because && or || stopped
// early has Skipped set.
type Step struct {
	// Expr is the part's source, as expr prints it.
	Expr string `json:"expr"`
	// Value is what the part evaluated to (nil when it failed or was
	// skipped).
	Value any `json:"value"`
	// Error is the run-time error of the part ("" for none).
	Error string `json:"error,omitempty"`
	// Skipped says why the part was not evaluated, e.g. "&& stopped".
	Skipped string `json:"skipped,omitempty"`
	// Op is the operator of a comparison, && / || / ! step ("" for a
	// plain value).
	Op string `json:"op,omitempty"`
	// Left and Right are the sides of a comparison.
	Left  *Step `json:"left,omitempty"`
	Right *Step `json:"right,omitempty"`
	// Operands are the parts of &&, || and !.
	Operands []*Step `json:"operands,omitempty"`
}

// Comparison reports whether the step compares two values.
func (s *Step) Comparison() bool { return s.Left != nil && s.Right != nil }

// Explain evaluates ev against every rule, in file order, and says for
// each why it fired or did not: `on` does not match, the action or the
// value index skipped it, an earlier rule with stop: true ended the chain, or the
// condition was false or failed, with the value of each part of the
// condition. What fires is exactly what Evaluate fires.
func (rs *RuleSet) Explain(ev *event.Event) []RuleExplanation {
	return rs.ExplainIn(ev, NewMemoryState(), time.Time{})
}

// ExplainOwn is Explain for an event that the daemon recognised as the
// echo of a change it asked for (own says why; "" for none), as its
// intake marks the event: the API's dry-run, whose replay memory knows
// none of the daemon's changes.
func (rs *RuleSet) ExplainOwn(ev *event.Event, own string) []RuleExplanation {
	m := NewMemoryState()
	m.known = own
	return rs.ExplainIn(ev, m, time.Time{})
}

// ExplainIn is Explain with the state of m (which it updates, as
// MemoryState.Apply does), for an event that arrived at arrival: a rule
// with a throttle, window or digest says what its state did.
func (rs *RuleSet) ExplainIn(ev *event.Event, m *MemoryState, arrival time.Time) []RuleExplanation {
	res, outs := m.step(rs, ev, arrival)
	states := map[*Rule]*StepInfo{}
	for _, o := range outs {
		states[o.Rule] = &o.Info
	}
	own := OwnSend(ev)
	fired := map[*Rule]Fired{}
	for _, f := range res.Fired {
		fired[f.Rule] = f
	}
	errs := map[string][]RuleError{}
	for _, e := range res.Errors {
		errs[e.Rule] = append(errs[e.Rule], e)
	}
	env := make(map[string]any, len(ev.Fields)+1)
	for k, v := range ev.Fields {
		env[k] = v
	}
	env["vars"] = rs.Vars
	var ev8r *stepEvaluator
	out := make([]RuleExplanation, 0, len(rs.Rules))
	stoppedBy := ""
	cands := rs.index.candidates(ev.Name, ev.Action)
	for _, r := range rs.Rules {
		x := RuleExplanation{Rule: r, Errors: errs[r.Name], State: states[r]}
		if !r.Listens(ev.Name) {
			x.Outcome = OutcomeOtherEvent
			x.Reason = fmt.Sprintf("listens to %s, event is %s", strings.Join(r.On, ", "), ev.Name)
			out = append(out, x)
			continue
		}
		if r.cond != nil {
			if ev8r == nil {
				ev8r = &stepEvaluator{env: env, opts: exprOptions(rs.Vars)}
			}
			x.Condition = ev8r.condition(r)
		}
		f, didFire := fired[r]
		switch {
		case didFire:
			x.Outcome = OutcomeFired
			x.Actions = f.Actions
			if x.State != nil {
				x.Reason = x.State.Reason
			}
		case x.State != nil:
			x.Outcome = OutcomeHeld
			x.Reason = "the condition was true; " + x.State.Reason
		case own && !r.Self:
			x.Outcome = OutcomeOwnSend
			x.Reason = "skipped: the event is " + ownReason(ev) + "; add self: true to let such events fire the rule"
		case stoppedBy != "":
			x.Outcome = OutcomeStopped
			x.StoppedBy = stoppedBy
			x.Reason = fmt.Sprintf("skipped: rule %s (stop: true) fired before it", stoppedBy)
		case r.actions != nil && !contains(r.actions, ev.Action):
			x.Outcome = OutcomeOtherAction
			x.Reason = fmt.Sprintf("skipped by the action index: the condition needs action %s, the event's action is %s", quoteList(r.actions), strconv.Quote(ev.Action))
		case skippedByValue(cands, r, env, &x):
		case hasConditionError(x.Errors):
			x.Outcome = OutcomeError
			x.Reason = "condition failed: " + x.Condition.blame()
		default:
			x.Outcome = OutcomeFalse
			x.Reason = "condition was false"
			if x.Condition != nil {
				x.Reason += ": " + x.Condition.blame()
			}
		}
		if didFire && r.Stop && stoppedBy == "" {
			stoppedBy = r.Name
		}
		out = append(out, x)
	}
	return out
}

// SuggestRule returns ` (did you mean "x"?)` when a rule's name is close
// to name, or "". Test files use it for misspelled rule names.
func (rs *RuleSet) SuggestRule(name string) string {
	names := make([]string, len(rs.Rules))
	for i, r := range rs.Rules {
		names[i] = r.Name
	}
	return suggest(name, names)
}

func hasConditionError(errs []RuleError) bool {
	for _, e := range errs {
		if e.Action == "" {
			return true
		}
	}
	return false
}

// skippedByValue reports whether the value index skipped rule r of
// cands, and if so says why in x.
func skippedByValue(cands *bucket, r *Rule, env map[string]any, x *RuleExplanation) bool {
	c, skipped := cands.skips(r, env)
	if !skipped {
		return false
	}
	is := "the event has no " + c.path
	if v, ok := c.value(env); ok {
		b, err := json.Marshal(v)
		if err != nil {
			b = []byte(fmt.Sprint(v))
		}
		is = "the event's is " + string(b)
	}
	x.Outcome = OutcomeOtherValue
	x.Reason = fmt.Sprintf("skipped by the value index: the condition needs %s to be %s; %s", c.path, quoteList(c.values), is)
	return true
}

func quoteList(list []string) string {
	if len(list) == 0 {
		return "one of an empty list"
	}
	q := make([]string, len(list))
	for i, s := range list {
		q[i] = strconv.Quote(s)
	}
	if len(q) == 1 {
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

// stepEvaluator evaluates the parts of conditions against one event.
type stepEvaluator struct {
	env  map[string]any
	opts []expr.Option
}

// condition explains a rule's condition: the whole condition's value is
// the engine's own, the parts are compiled and run one by one.
func (e *stepEvaluator) condition(r *Rule) *Step {
	tree, err := parser.Parse(r.If)
	if err != nil { // cannot happen for a loaded rule; show the whole
		s := &Step{Expr: r.If}
		e.runCompiled(s, r.cond)
		return s
	}
	s := e.step(tree.Node)
	if src := strings.TrimSpace(r.If); !strings.Contains(src, "\n") {
		s.Expr = src // as the user wrote it
	}
	whole := &Step{}
	e.runCompiled(whole, r.cond)
	s.Value, s.Error = whole.Value, whole.Error
	return s
}

func (e *stepEvaluator) runCompiled(s *Step, c *compiled) {
	v, err := expr.Run(c.Prog, e.env)
	if err != nil {
		s.Error = shortError(err)
		return
	}
	s.Value = v
}

// step evaluates n and, for &&, ||, ! and comparisons, its parts.
func (e *stepEvaluator) step(n ast.Node) *Step {
	s := &Step{Expr: display(n)}
	switch x := n.(type) {
	case *ast.BinaryNode:
		switch x.Operator {
		case "&&", "and", "||", "or":
			s.Op = x.Operator
			e.eval(s, n)
			left := e.step(x.Left)
			s.Operands = append(s.Operands, left)
			lv, isBool := left.Value.(bool)
			and := x.Operator == "&&" || x.Operator == "and"
			switch {
			case left.Error != "":
				s.Operands = append(s.Operands, skipped(x.Right, "an error stopped "+x.Operator))
			case isBool && and && !lv:
				s.Operands = append(s.Operands, skipped(x.Right, x.Operator+" stopped"))
			case isBool && !and && lv:
				s.Operands = append(s.Operands, skipped(x.Right, x.Operator+" already true"))
			default:
				s.Operands = append(s.Operands, e.step(x.Right))
			}
			return s
		}
		if isComparison(x.Operator) {
			s.Op = x.Operator
			e.eval(s, n)
			s.Left, s.Right = e.leaf(x.Left), e.leaf(x.Right)
			return s
		}
	case *ast.UnaryNode:
		if x.Operator == "!" || x.Operator == "not" {
			if b, ok := x.Node.(*ast.BinaryNode); ok && x.Operator == "not" && operator.AllowedNegateSuffix(b.Operator) {
				// `a not in b` parses as not (a in b)
				s.Op = "not " + b.Operator
				e.eval(s, n)
				s.Left, s.Right = e.leaf(b.Left), e.leaf(b.Right)
				return s
			}
			s.Op = x.Operator
			e.eval(s, n)
			s.Operands = []*Step{e.step(x.Node)}
			return s
		}
	}
	e.eval(s, n)
	return s
}

func skipped(n ast.Node, why string) *Step {
	return &Step{Expr: display(n), Skipped: why}
}

// leaf evaluates a comparison's side without looking inside it.
func (e *stepEvaluator) leaf(n ast.Node) *Step {
	s := &Step{Expr: display(n)}
	e.eval(s, n)
	return s
}

// eval compiles the node's source with the engine's options and runs it
// against the event.
func (e *stepEvaluator) eval(s *Step, n ast.Node) {
	prog, err := expr.Compile(n.String(), e.opts...)
	if err != nil {
		s.Error = shortError(err)
		return
	}
	v, err := expr.Run(prog, e.env)
	if err != nil {
		s.Error = shortError(err)
		return
	}
	s.Value = v
}

func isComparison(op string) bool {
	switch op {
	case "==", "!=", "<", ">", "<=", ">=", "in", "matches", "contains", "startsWith", "endsWith":
		return true
	}
	return false
}

// shortError is expr's message without its source snippet.
func shortError(err error) string {
	var fe *file.Error
	if errors.As(err, &fe) {
		return plainMessage(fe.Message)
	}
	msg := err.Error()
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	return strings.TrimSpace(msg)
}

// display prints a node as a person writes it: like expr's String, but
// `not (a in b)` as `a not in b`.
func display(n ast.Node) string {
	switch x := n.(type) {
	case *ast.UnaryNode:
		if b, ok := x.Node.(*ast.BinaryNode); ok && x.Operator == "not" && operator.AllowedNegateSuffix(b.Operator) {
			return operand(b.Left) + " not " + b.Operator + " " + operand(b.Right)
		}
		if x.Operator == "!" || x.Operator == "not" {
			inner := display(x.Node)
			if _, binary := x.Node.(*ast.BinaryNode); binary || isNegatedSuffix(x.Node) {
				inner = "(" + inner + ")"
			}
			if x.Operator == "not" {
				return "not " + inner
			}
			return "!" + inner
		}
	case *ast.BinaryNode:
		if operator.IsBoolean(x.Operator) {
			return boolOperand(x.Left, x.Operator) + " " + x.Operator + " " + boolOperand(x.Right, x.Operator)
		}
	}
	return n.String()
}

func isNegatedSuffix(n ast.Node) bool {
	u, ok := n.(*ast.UnaryNode)
	if !ok || u.Operator != "not" {
		return false
	}
	b, ok := u.Node.(*ast.BinaryNode)
	return ok && operator.AllowedNegateSuffix(b.Operator)
}

// boolOperand prints an operand of && or ||, in parentheses when it
// binds less tightly than the operator.
func boolOperand(n ast.Node, op string) string {
	s := display(n)
	if b, ok := n.(*ast.BinaryNode); ok && operator.Binary[b.Operator].Precedence < operator.Binary[op].Precedence {
		return "(" + s + ")"
	}
	if _, ok := n.(*ast.ConditionalNode); ok {
		return "(" + s + ")"
	}
	return s
}

// operand prints a side of `a not in b`, in parentheses when it is an
// operator expression.
func operand(n ast.Node) string {
	switch n.(type) {
	case *ast.BinaryNode, *ast.ConditionalNode, *ast.UnaryNode:
		return "(" + n.String() + ")"
	}
	return n.String()
}

// blame says in one line why a false or failing condition is so: the
// parts that made it false, with their values.
func (s *Step) blame() string {
	if s.Error != "" {
		if inner := s.failingPart(); inner != nil && inner != s {
			return inner.Expr + ": " + inner.Error
		}
		return s.Error
	}
	switch s.Op {
	case "&&", "and":
		for _, o := range s.Operands {
			if b, ok := o.Value.(bool); ok && !b && o.Skipped == "" {
				return o.blame()
			}
		}
	case "||", "or":
		parts := make([]string, 0, len(s.Operands))
		for _, o := range s.Operands {
			parts = append(parts, o.blame())
		}
		return strings.Join(parts, "; and ")
	case "!", "not":
		if len(s.Operands) == 1 {
			return fmt.Sprintf("%s is %s", s.Operands[0].Expr, FormatValue(s.Operands[0].Value))
		}
	}
	if s.Comparison() {
		return fmt.Sprintf("%s is %s", s.Expr, s.Compared())
	}
	return fmt.Sprintf("%s is %s", s.Expr, FormatValue(s.Value))
}

// failingPart returns the innermost evaluated part that failed.
func (s *Step) failingPart() *Step {
	for _, o := range append(append([]*Step{}, s.Operands...), s.Left, s.Right) {
		if o != nil && o.Error != "" {
			return o.failingPart()
		}
	}
	if s.Error != "" {
		return s
	}
	return nil
}

// Compared prints a comparison with the values of its sides, e.g.
// `"add" == "remove"`.
func (s *Step) Compared() string {
	side := func(x *Step) string {
		if x.Error != "" {
			return "error(" + x.Error + ")"
		}
		return FormatValue(x.Value)
	}
	return side(s.Left) + " " + s.Op + " " + side(s.Right)
}

// Why says in one line why the rule fired or did not, with the values
// that decided it, for test failures and log lines.
func (x RuleExplanation) Why() string {
	if x.Outcome == OutcomeFired {
		if x.Condition == nil {
			return "it has no condition"
		}
		return "its condition was true"
	}
	return x.Reason
}

// maxValueLen bounds the printed size of a value in explanations.
const maxValueLen = 80

// FormatValue prints a value as an expression literal: strings quoted,
// nil as nil, lists as ["a", "b"], maps as {"k": v}, cut to a readable
// length.
func FormatValue(v any) string {
	s := exprLiteral(v)
	if r := []rune(s); len(r) > maxValueLen {
		s = string(r[:maxValueLen-1]) + "…"
	}
	return s
}

func exprLiteral(v any) string {
	switch x := v.(type) {
	case nil:
		return "nil"
	case string:
		return strconv.Quote(x)
	case []any:
		items := make([]string, len(x))
		for i, e := range x {
			items[i] = exprLiteral(e)
		}
		return "[" + strings.Join(items, ", ") + "]"
	case []string:
		items := make([]string, len(x))
		for i, e := range x {
			items[i] = strconv.Quote(e)
		}
		return "[" + strings.Join(items, ", ") + "]"
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		items := make([]string, len(keys))
		for i, k := range keys {
			items[i] = strconv.Quote(k) + ": " + exprLiteral(x[k])
		}
		return "{" + strings.Join(items, ", ") + "}"
	case bool, int, int64, float64:
		return event.Format(x)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return event.Format(v)
	}
	return string(b)
}
