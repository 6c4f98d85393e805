package engine

import (
	"path"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/expr-lang/expr/ast"
)

// maxCachedKeys bounds the memo of candidate lists, so that a sender
// inventing event names cannot grow memory without bound.
const maxCachedKeys = 4096

// index finds the rules that can match an event without looking at the
// others: by exact event name, then by the event's action for rules whose
// condition requires one.
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

// candidates returns, in file order, the rules that listen to the event
// name and whose condition does not rule out the action.
func (ix *index) candidates(name, action string) []int {
	key := cacheKey{name, action}
	if v, ok := ix.cache.Load(key); ok {
		return v.([]int)
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
	if ix.size.Load() < maxCachedKeys {
		if _, loaded := ix.cache.LoadOrStore(key, out); !loaded {
			ix.size.Add(1)
		}
	}
	return out
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

// actionConstraint returns the event actions a condition can be true for,
// when it has a top-level conjunct `action == "x"`, `"x" == action` or
// `action in ["x", "y"]`; nil when it has none.
func actionConstraint(c *compiled) []string {
	var found []string
	var walk func(n ast.Node) bool
	walk = func(n ast.Node) bool {
		switch x := n.(type) {
		case *ast.BinaryNode:
			switch x.Operator {
			case "&&", "and":
				return walk(x.Left) || walk(x.Right)
			case "==":
				if isActionIdent(x.Left) {
					if s, ok := x.Right.(*ast.StringNode); ok {
						found = []string{s.Value}
						return true
					}
				}
				if isActionIdent(x.Right) {
					if s, ok := x.Left.(*ast.StringNode); ok {
						found = []string{s.Value}
						return true
					}
				}
			case "in":
				if isActionIdent(x.Left) {
					if list, ok := constStrings(x.Right); ok {
						found = list
						return true
					}
				}
			}
		}
		return false
	}
	if walk(c.Prog.Node()) {
		return found
	}
	return nil
}

func isActionIdent(n ast.Node) bool {
	id, ok := n.(*ast.IdentifierNode)
	return ok && id.Value == "action"
}

func constStrings(n ast.Node) ([]string, bool) {
	switch x := n.(type) {
	case *ast.ArrayNode:
		out := make([]string, 0, len(x.Nodes))
		for _, e := range x.Nodes {
			s, ok := e.(*ast.StringNode)
			if !ok {
				return nil, false
			}
			out = append(out, s.Value)
		}
		return out, true
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
