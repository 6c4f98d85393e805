package engine

import (
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/expr-lang/expr/vm"
	"gopkg.in/yaml.v3"

	"github.com/hookd/hookd/actions"
	"github.com/hookd/hookd/event"
)

// tmpl is a compiled action field: rendering it against an event's
// environment gives the field's value.
type tmpl interface {
	render(r *runner) (any, error)
}

// literal is a value without templates.
type literal struct{ v any }

func (t literal) render(*runner) (any, error) { return t.v, nil }

// text is a string with {{ expr }} parts; it always renders to a string.
type text struct {
	parts []textPart
}

type textPart struct {
	lit  string
	expr *compiled // nil for a literal part
}

func (t *text) render(r *runner) (any, error) {
	var b strings.Builder
	for _, p := range t.parts {
		if p.expr == nil {
			b.WriteString(p.lit)
			continue
		}
		v, err := r.run(p.expr)
		if err != nil {
			return nil, err
		}
		b.WriteString(event.Format(v))
	}
	return b.String(), nil
}

// whole is a string that is exactly one {{ expr }}: in fields of any
// type it keeps the expression's value (a list stays a list).
type whole struct{ expr *compiled }

func (t whole) render(r *runner) (any, error) { return r.run(t.expr) }

// asString renders a template and formats the result as a string.
type asString struct{ t tmpl }

func (t asString) render(r *runner) (any, error) {
	v, err := t.t.render(r)
	if err != nil {
		return nil, err
	}
	return event.Format(v), nil
}

// stringList renders items; an item whose value is a list (of any element
// type: vars give []any, split() gives []string) is flattened, so
// `to: "{{ vars.ops_emails }}"` gives a list of addresses.
type stringList struct{ items []tmpl }

func (t stringList) render(r *runner) (any, error) {
	out := make([]any, 0, len(t.items))
	for _, it := range t.items {
		v, err := it.render(r)
		if err != nil {
			return nil, err
		}
		if list := reflect.ValueOf(v); list.Kind() == reflect.Slice && list.Type().Elem().Kind() != reflect.Uint8 {
			for i := range list.Len() {
				out = append(out, event.Format(list.Index(i).Interface()))
			}
			continue
		}
		out = append(out, event.Format(v))
	}
	return out, nil
}

// mapping renders each value of a map.
type mapping struct {
	keys []string
	vals []tmpl
}

func (t mapping) render(r *runner) (any, error) {
	out := make(map[string]any, len(t.keys))
	for i, k := range t.keys {
		v, err := t.vals[i].render(r)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		out[k] = v
	}
	return out, nil
}

// list renders each item of a list.
type list struct{ items []tmpl }

func (t list) render(r *runner) (any, error) {
	out := make([]any, len(t.items))
	for i, it := range t.items {
		v, err := it.render(r)
		if err != nil {
			return nil, fmt.Errorf("[%d]: %w", i, err)
		}
		out[i] = v
	}
	return out, nil
}

// runner evaluates compiled expressions against one event, reusing a VM.
type runner struct {
	vm  vm.VM
	env map[string]any
	// arrival is when the event arrived (zero: unknown), for EventTime.
	arrival time.Time
}

func (r *runner) run(c *compiled) (any, error) {
	return r.vm.Run(c.Prog, r.env)
}

// compileTemplate compiles the {{ }} parts of a scalar string. It returns
// nil after reporting a problem.
func (l *loader) compileTemplate(n *yaml.Node, s string, what string) tmpl {
	if !strings.Contains(s, "{{") {
		if i := strings.Index(s, "}}"); i >= 0 {
			l.errorAt(n, len([]rune(s[:i])), what+": }} without an opening {{")
			return nil
		}
		return literal{s}
	}
	var parts []textPart
	rest, base := s, 0
	ok := true
	for {
		i := strings.Index(rest, "{{")
		if i < 0 {
			if j := strings.Index(rest, "}}"); j >= 0 {
				l.errorAt(n, base+len([]rune(rest[:j])), what+": }} without an opening {{")
				return nil
			}
			if rest != "" {
				parts = append(parts, textPart{lit: rest})
			}
			break
		}
		if i > 0 {
			parts = append(parts, textPart{lit: rest[:i]})
		}
		open := base + len([]rune(rest[:i]))
		body := rest[i+2:]
		j := strings.Index(body, "}}")
		if j < 0 {
			l.errorAt(n, open, what+": {{ is never closed; end the expression with }}")
			return nil
		}
		src := body[:j]
		lead := len([]rune(src)) - len([]rune(strings.TrimLeft(src, " \t\n")))
		if strings.TrimSpace(src) == "" {
			l.errorAt(n, open, what+": empty {{ }}: put an expression inside, e.g. {{ data.chat.name }}")
			ok = false
		} else if c := l.compileExpr(strings.TrimSpace(src), n, open+2+lead, false, what); c != nil {
			parts = append(parts, textPart{expr: c})
		} else {
			ok = false
		}
		consumed := i + 2 + j + 2
		base += len([]rune(rest[:consumed]))
		rest = rest[consumed:]
	}
	if !ok {
		return nil
	}
	if len(parts) == 1 && parts[0].expr != nil {
		return whole{parts[0].expr}
	}
	return &text{parts: parts}
}

// compileField compiles one action field by its kind.
func (l *loader) compileField(n *yaml.Node, f actions.Field, what string) tmpl {
	switch f.Kind {
	case actions.Literal:
		s, ok := l.str(n, what)
		if !ok {
			return nil
		}
		if i := strings.Index(s, "{{"); i >= 0 {
			l.errorAt(n, len([]rune(s[:i])), what+": templates are not allowed here: the target must be fixed in the rules file, not taken from event data (${ENV} is fine)")
			return nil
		}
		return l.checkEnum(n, f, what, literal{s})
	case actions.String:
		if n.Kind != yaml.ScalarNode || isNull(n) {
			l.errorf(n, "%s must be a string, found %s", what, describe(n))
			return nil
		}
		t := l.compileTemplate(n, n.Value, what)
		if t == nil {
			return nil
		}
		if _, isLit := t.(literal); isLit {
			return l.checkEnum(n, f, what, t)
		}
		if _, isWhole := t.(whole); isWhole {
			return asString{t}
		}
		return t
	case actions.StringList:
		items := []*yaml.Node{n}
		if n.Kind == yaml.SequenceNode {
			items = n.Content
		}
		var out stringList
		for i, it := range items {
			w := what
			if n.Kind == yaml.SequenceNode {
				w = fmt.Sprintf("%s[%d]", what, i)
			}
			if it.Kind != yaml.ScalarNode || isNull(it) {
				l.errorf(it, "%s must be a string or a list of strings, found %s", w, describe(it))
				return nil
			}
			t := l.compileTemplate(it, it.Value, w)
			if t == nil {
				return nil
			}
			out.items = append(out.items, t)
		}
		return out
	case actions.StringMap:
		if n.Kind != yaml.MappingNode {
			l.errorf(n, "%s must be a mapping of names to strings, found %s", what, describe(n))
			return nil
		}
		var out mapping
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			w := what + "." + k.Value
			if !l.plainKey(k, what) {
				return nil
			}
			if v.Kind != yaml.ScalarNode {
				l.errorf(v, "%s must be a string, found %s", w, describe(v))
				return nil
			}
			t := l.compileTemplate(v, v.Value, w)
			if t == nil {
				return nil
			}
			if _, isWhole := t.(whole); isWhole {
				t = asString{t}
			}
			out.keys = append(out.keys, k.Value)
			out.vals = append(out.vals, t)
		}
		return out
	default:
		return l.compileAny(n, what)
	}
}

// plainKey reports whether the key k of a mapping in an action is free
// of {{ }}, and is a load error where it is not: keys are sent as
// written, so a template in one would never be rendered.
func (l *loader) plainKey(k *yaml.Node, what string) bool {
	i := strings.Index(k.Value, "{{")
	if i < 0 {
		return true
	}
	l.errorAt(k, len([]rune(k.Value[:i])), fmt.Sprintf("%s: the key %q is sent as written: keys are not templates; put what varies in a value", what, k.Value))
	return false
}

// compileAny compiles any YAML value; strings in it are templates.
func (l *loader) compileAny(n *yaml.Node, what string) tmpl {
	switch n.Kind {
	case yaml.MappingNode:
		var out mapping
		ok := true
		l.fields(n, what) // reports duplicate keys
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if !l.plainKey(k, what) {
				ok = false
				continue
			}
			t := l.compileAny(v, what+"."+k.Value)
			if t == nil {
				ok = false
				continue
			}
			out.keys = append(out.keys, k.Value)
			out.vals = append(out.vals, t)
		}
		if !ok {
			return nil
		}
		return out
	case yaml.SequenceNode:
		var out list
		for i, it := range n.Content {
			t := l.compileAny(it, fmt.Sprintf("%s[%d]", what, i))
			if t == nil {
				return nil
			}
			out.items = append(out.items, t)
		}
		return out
	case yaml.AliasNode:
		return l.compileAny(n.Alias, what)
	default:
		if n.ShortTag() != "!!str" {
			return literal{scalarValue(n)}
		}
		return l.compileTemplate(n, n.Value, what)
	}
}

func (l *loader) checkEnum(n *yaml.Node, f actions.Field, what string, t tmpl) tmpl {
	lit, ok := t.(literal)
	if !ok || f.Enum == nil {
		return t
	}
	s, _ := lit.v.(string)
	if !contains(f.Enum, s) {
		l.errorf(n, "%s must be one of %s, found %q%s", what, strings.Join(f.Enum, ", "), s, suggest(s, f.Enum))
		return nil
	}
	return t
}
