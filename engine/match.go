package engine

import (
	"path"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/expr-lang/expr/ast"
)

// maxCachedKeys bounds the memo of candidate lists, so that a sender
// inventing event names cannot grow memory without bound.
const maxCachedKeys = 4096

// index finds the rules that can match an event without looking at the
// others: by exact event name, then by the event's action for rules whose
// condition requires one, then by the value of a field that many of the
// remaining rules' conditions test against constants (valueIndex).
type index struct {
	rules []*Rule
	exact map[string][]int
	globs []int // rules with at least one glob pattern
	cache sync.Map
	size  atomic.Int64
}

func buildIndex(rules []*Rule) *index {
	ix := &index{rules: rules, exact: map[string][]int{}}
	for i, r := range rules {
		glob := false
		for _, on := range r.On {
			if isGlob(on) {
				glob = true
				continue
			}
			if l := ix.exact[on]; len(l) == 0 || l[len(l)-1] != i {
				ix.exact[on] = append(ix.exact[on], i)
			}
		}
		if glob {
			ix.globs = append(ix.globs, i)
		}
	}
	return ix
}

func isGlob(s string) bool {
	for _, c := range s {
		if c == '*' || c == '?' || c == '[' {
			return true
		}
	}
	return false
}

type cacheKey struct{ name, action string }

// candidates returns the rules that listen to the event name and whose
// condition does not rule out the action.
func (ix *index) candidates(name, action string) *bucket {
	key := cacheKey{name, action}
	if v, ok := ix.cache.Load(key); ok {
		return v.(*bucket)
	}
	var out []int
	add := func(i int) {
		if acts := ix.rules[i].actions; acts == nil || contains(acts, action) {
			out = append(out, i)
		}
	}
	for _, i := range ix.exact[name] {
		add(i)
	}
	for _, i := range ix.globs {
		if ruleListensGlob(ix.rules[i], name) && !contains(ix.exact[name], i) {
			add(i)
		}
	}
	sort.Ints(out)
	b := &bucket{all: out, value: ix.indexByValue(out)}
	if ix.size.Load() < maxCachedKeys {
		if _, loaded := ix.cache.LoadOrStore(key, b); !loaded {
			ix.size.Add(1)
		}
	}
	return b
}

// minValueIndexed is how many of an event's candidate rules must test the
// same field against constants for the index to look them up by the
// field's value: below it, evaluating them costs less than the lookup.
const minValueIndexed = 4

// bucket holds the candidate rules for one event name and action.
type bucket struct {
	all   []int // in file order
	value *valueIndex
}

// valueIndex looks rules up by the value of one field of the event, for
// rules whose condition has a top-level conjunct testing that field
// against constant strings (`author == "+1"`, `data.chat.id in [...]`):
// they are only evaluated for events whose field holds one of them.
type valueIndex struct {
	field   eventField
	byValue map[string][]int // rules testing the field, by value, in file order
	rest    []int            // the other rules, in file order
}

// indexByValue indexes cands by the field most of them test against
// constants, or returns nil when fewer than minValueIndexed test any one
// field.
func (ix *index) indexByValue(cands []int) *valueIndex {
	count := map[string]int{}
	best := ""
	for _, i := range cands {
		for _, c := range ix.rules[i].values {
			count[c.path]++
			if n := count[c.path]; n > count[best] || n == count[best] && c.path < best {
				best = c.path
			}
		}
	}
	if count[best] < minValueIndexed {
		return nil
	}
	vi := &valueIndex{byValue: map[string][]int{}}
	for _, i := range cands {
		c := ix.rules[i].constraint(best)
		if c == nil {
			vi.rest = append(vi.rest, i)
			continue
		}
		vi.field = c.eventField
		for _, v := range c.values {
			if l := vi.byValue[v]; len(l) == 0 || l[len(l)-1] != i {
				vi.byValue[v] = append(l, i)
			}
		}
	}
	return vi
}

// each calls f, in file order, for each candidate rule that env (the
// event's fields) does not rule out, until f returns false.
func (b *bucket) each(env map[string]any, f func(i int) bool) {
	if b.value == nil {
		for _, i := range b.all {
			if !f(i) {
				return
			}
		}
		return
	}
	var hits []int
	if v, ok := b.value.field.lookup(env); ok {
		hits = b.value.byValue[v]
	}
	rest := b.value.rest
	for len(rest) > 0 || len(hits) > 0 {
		var i int
		if len(hits) == 0 || len(rest) > 0 && rest[0] < hits[0] {
			i, rest = rest[0], rest[1:]
		} else {
			i, hits = hits[0], hits[1:]
		}
		if !f(i) {
			return
		}
	}
}

// skips reports whether the value index skips rule for env, and if so
// the constraint that rules it out.
func (b *bucket) skips(rule *Rule, env map[string]any) (*valueConstraint, bool) {
	if b.value == nil {
		return nil, false
	}
	c := rule.constraint(b.value.field.path)
	if c == nil {
		return nil, false
	}
	v, ok := c.lookup(env)
	return c, !ok || !contains(c.values, v)
}

func ruleListensGlob(r *Rule, name string) bool {
	for _, on := range r.On {
		if isGlob(on) {
			if ok, _ := path.Match(on, name); ok {
				return true
			}
		}
	}
	return false
}

// Listens reports whether the rule listens to events with this name.
func (r *Rule) Listens(name string) bool {
	for _, on := range r.On {
		if on == name {
			return true
		}
		if isGlob(on) {
			if ok, _ := path.Match(on, name); ok {
				return true
			}
		}
	}
	return false
}

// eventField names an event field: "author", "data.chat.id".
type eventField struct {
	path string   // dotted
	keys []string // path's parts
}

// lookup returns the field's value in env, when it is a string.
func (f eventField) lookup(env map[string]any) (string, bool) {
	v, _ := f.value(env)
	s, ok := v.(string)
	return s, ok
}

// value returns the field's value in env, whatever its type.
func (f eventField) value(env map[string]any) (any, bool) {
	var v any = env
	for _, k := range f.keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[k]; !ok {
			return nil, false
		}
	}
	return v, true
}

// valueConstraint is a top-level conjunct of a condition that tests an
// event field against constant strings.
type valueConstraint struct {
	eventField
	values []string // the strings the field must equal one of
}

// constraint returns the rule's constraint on the field at path, or nil.
func (r *Rule) constraint(path string) *valueConstraint {
	for i := range r.values {
		if r.values[i].path == path {
			return &r.values[i]
		}
	}
	return nil
}

// conditionIndexes returns what the indexes need of a condition: the
// event actions it can be true for (nil: any), from a top-level conjunct
// `action == "x"`, `"x" == action` or `action in ["x", "y"]`, and its
// other such tests of a field against constant strings that the value
// index can use (see constantTests).
func conditionIndexes(c *compiled) (actions []string, values []valueConstraint) {
	for _, t := range constantTests(c) {
		switch {
		case t.path == "action":
			actions = t.values
		case t.keys[0] == "vars", len(t.values) == 0, slices.Contains(t.values, ""):
			// vars are not the event's; in takes a missing or null
			// field for "" (the optimizer makes the list a set of
			// strings), which a lookup by value cannot.
		default:
			values = append(values, t)
		}
	}
	return actions, values
}

// constantTests returns the top-level conjuncts of c that test a field
// against constant strings: `field == "x"`, `"x" == field` or
// `field in ["x", "y"]`, where field is a name or a chain of names
// (`data.chat.id`, `data?.chat?.id`, `$env.author`). A field tested twice
// keeps the first test.
func constantTests(c *compiled) []valueConstraint {
	var out []valueConstraint
	for _, t := range constTests(c) {
		if !t.top || t.op == "!=" || slices.ContainsFunc(out, func(v valueConstraint) bool { return v.path == t.path }) {
			continue
		}
		out = append(out, t.valueConstraint)
	}
	return out
}

// constTest is one test of an event field against constant strings
// anywhere in an expression: `field == "x"`, `"x" == field`,
// `field != "x"`, `field in ["x", "y"]` (also inside `not in`), where
// field is a name or a chain of names read with constant keys.
type constTest struct {
	valueConstraint
	op string // "==", "!=" or "in"
	// offs are where each of values is written in the expression, in
	// characters; for a list the optimizer turned into a constant, the
	// list's start.
	offs []int
	// top is set for a top-level && conjunct: the condition can be true
	// only when the test is.
	top bool
}

// constTests returns every test of a field against constant strings in
// c, leftmost first. The indexes use the top-level ones (constantTests);
// check compares all of them with the values the schema knows.
func constTests(c *compiled) []constTest {
	root := c.Prog.Node()
	top := map[ast.Node]bool{}
	var conjuncts func(n ast.Node)
	conjuncts = func(n ast.Node) {
		top[n] = true
		if x, ok := n.(*ast.BinaryNode); ok && (x.Operator == "&&" || x.Operator == "and") {
			conjuncts(x.Left)
			conjuncts(x.Right)
		}
	}
	conjuncts(root)

	var out []constTest
	add := func(x *ast.BinaryNode, field ast.Node, values []string, offs []int) {
		keys, exact, ok := memberPath(field)
		if !ok || !exact {
			return
		}
		if keys[0] == "$env" {
			keys = keys[1:] // $env.author is author
		}
		if len(keys) == 0 {
			return
		}
		for _, k := range keys {
			if strings.Contains(k, ".") {
				return // data["chat.id"] is not data.chat.id
			}
		}
		out = append(out, constTest{
			valueConstraint: valueConstraint{eventField{strings.Join(keys, "."), keys}, values},
			op:              x.Operator,
			offs:            offs,
			top:             top[x],
		})
	}
	ast.Find(root, func(n ast.Node) bool {
		x, ok := n.(*ast.BinaryNode)
		if !ok {
			return false
		}
		switch x.Operator {
		case "==", "!=":
			if s, ok := x.Right.(*ast.StringNode); ok {
				add(x, x.Left, []string{s.Value}, []int{s.Location().From})
			} else if s, ok := x.Left.(*ast.StringNode); ok {
				add(x, x.Right, []string{s.Value}, []int{s.Location().From})
			}
		case "in":
			if list, offs, ok := constStrings(x.Right); ok {
				add(x, x.Left, list, offs)
			}
		}
		return false
	})
	return out
}

// constStrings returns the strings of a constant list and where each is
// written (the list's start, for a list the optimizer made a constant).
func constStrings(n ast.Node) ([]string, []int, bool) {
	if x, ok := n.(*ast.ArrayNode); ok {
		out := make([]string, 0, len(x.Nodes))
		offs := make([]int, 0, len(x.Nodes))
		for _, e := range x.Nodes {
			s, ok := e.(*ast.StringNode)
			if !ok {
				return nil, nil, false
			}
			out = append(out, s.Value)
			offs = append(offs, s.Location().From)
		}
		return out, offs, true
	}
	out, ok := constantStrings(n)
	if !ok {
		return nil, nil, false
	}
	offs := make([]int, len(out))
	for i := range offs {
		offs[i] = n.Location().From
	}
	return out, offs, true
}

// constantStrings returns the strings of a list the optimizer turned
// into a constant set or slice.
func constantStrings(n ast.Node) ([]string, bool) {
	switch x := n.(type) {
	case *ast.ConstantNode:
		// The optimizer turns constant lists into a set or a slice.
		switch v := x.Value.(type) {
		case []any:
			out := make([]string, 0, len(v))
			for _, e := range v {
				s, ok := e.(string)
				if !ok {
					return nil, false
				}
				out = append(out, s)
			}
			return out, true
		case map[string]struct{}:
			out := make([]string, 0, len(v))
			for e := range v {
				out = append(out, e)
			}
			sort.Strings(out)
			return out, true
		case map[any]struct{}:
			out := make([]string, 0, len(v))
			for e := range v {
				s, ok := e.(string)
				if !ok {
					return nil, false
				}
				out = append(out, s)
			}
			sort.Strings(out)
			return out, true
		}
	}
	return nil, false
}

// Fields returns the names of the action's fields in the order the rules
// file writes them.
func (a *Action) Fields() []string { return a.params.keys }

// Literal returns the value of the action's field name when the rules
// file fixes it (no template), such as a webhook's url.
func (a *Action) Literal(name string) (any, bool) {
	for i, k := range a.params.keys {
		if k == name {
			l, ok := a.params.vals[i].(literal)
			return l.v, ok
		}
	}
	return nil, false
}
