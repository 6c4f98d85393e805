package engine

import (
	"fmt"
	"maps"
	"path"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/expr-lang/expr/ast"
	"gopkg.in/yaml.v3"

	"github.com/hookd/hookd/engine/eventschema"
	suggestpkg "github.com/hookd/hookd/internal/suggest"
)

// stateFields are the fields of the value named name that hookd gives
// the actions of rules that remember and of timer rules, nil for a name
// that is none of those values: the keys of the values stateeval.go
// builds, so that the two cannot disagree.
func stateFields(name string) []string {
	var v map[string]any
	switch name {
	case "window":
		v = windowValue(nil, &Window{})
	case "throttle":
		v = throttleValue(0)
	case "digest":
		v = digestValue(nil, RuleState{})
	case "schedule":
		v = scheduleValue(time.Time{}, &Schedule{})
	default:
		return nil
	}
	return slices.Sorted(maps.Keys(v))
}

// checkFields warns about event fields an expression reads that no event
// the rule listens to carries, per the schema of Wassenger's events (a
// typo such as data.chat.nmae, or participants on a message rule).
// Payloads may grow fields, so these are warnings, not errors. The
// values hookd sets itself are known for sure, so reading one that is
// not there is an error: a misspelt window.cout, a digest.count in a
// rule without digest, an event field in a timer rule. It also checks
// the strings that enumerated fields are compared with (see
// checkValues).
func (l *loader) checkFields(c *compiled, n *yaml.Node, off int, what string) {
	events := l.knownOn()
	if len(events) > 0 {
		defer l.checkValues(c, n, off, events)
	}
	timer := len(l.currentOn) == 1 && l.currentOn[0] == ScheduleEvent
	for _, ref := range c.Fields {
		// $env is the whole environment: $env.now is now (a bare now,
		// which expr takes for its function, reads it so too).
		path := ref.Path
		if path[0] == "$env" {
			path = path[1:]
		}
		name := path[0]
		switch {
		case name == "vars":
			continue
		case contains(l.stateVars, name):
			if known := stateFields(name); len(path) > 1 && known != nil && !contains(known, path[1]) {
				hint := ""
				if s := suggestpkg.Closest(path[1], known); s != "" {
					hint = " (did you mean " + name + "." + s + "?)"
				}
				l.errorAt(n, off+ref.Off, fmt.Sprintf("%s: %s has no field %s%s; it has %s", what, name, path[1], hint, strings.Join(known, ", ")))
			}
			continue
		case timer:
			l.errorAt(n, off+ref.Off, fmt.Sprintf("%s: a timer rule has no event, so %s would fail at every tick; its actions see schedule.time, schedule.cron, schedule.timezone, now and vars", what, strings.Join(ref.Path, ".")))
			continue
		case len(events) == 0:
			continue
		}
		fields, env := path, ""
		if len(path) < len(ref.Path) {
			env = "$env."
		}
		carried := false
		for _, ev := range events {
			if eventschema.Has(ev, fields) {
				carried = true
				break
			}
		}
		if carried {
			continue
		}
		if stateFields(name) != nil && len(path) > 1 {
			l.errorAt(n, off+ref.Off, fmt.Sprintf("%s: %s is set only in the actions of a rule with %s: (not in its if: or key); here %s is nil", what, strings.Join(ref.Path, "."), name, name))
			continue
		}
		hint := ""
		if s := eventschema.Suggest(events[0], fields); s != "" {
			hint = " (did you mean " + env + suggestedPath(events[0], fields, s) + "?)"
		} else if f := valueOf(c, events[0], ref.Path); f != "" {
			hint = fmt.Sprintf(" (did you mean the text %q, a value of %s? quote it)", name, f)
		}
		l.warnAt(n, off+ref.Off, "field "+strings.Join(ref.Path, ".")+" is not in "+strings.Join(events, ", ")+" events"+hint+"; it will be nil (use ?. and ?? if it is optional)")
	}
}

// valueOf returns the field of the expression c, in event, that has
// the name path as one of its enumerated values (action for remove in
// action == remove), or "": a bare word where a quoted text was meant.
func valueOf(c *compiled, event string, path []string) string {
	if len(path) != 1 {
		return ""
	}
	for _, other := range c.Fields {
		if contains(eventschema.Values(event, other.Path), path[0]) {
			return strings.Join(other.Path, ".")
		}
	}
	return ""
}

// knownOn returns the event names of the current rule's `on` that the
// schema describes, globs expanded. A rule that also listens to events
// the schema does not know is not checked.
func (l *loader) knownOn() []string {
	var out []string
	for _, on := range l.currentOn {
		if !isGlob(on) {
			if !eventschema.Known(on) {
				return nil
			}
			out = append(out, on)
			continue
		}
		for _, ev := range eventschema.Events() {
			if ok, _ := path.Match(on, ev); ok && !contains(out, ev) {
				out = append(out, ev)
			}
		}
		if on == "*" {
			return nil // any event, known or not
		}
	}
	return out
}

// suggestedPath puts the suggested name in place of the first step of
// path that events of the name do not carry.
func suggestedPath(event string, path []string, name string) string {
	for i := 1; i <= len(path); i++ {
		if !eventschema.Has(event, path[:i]) {
			out := append(append([]string(nil), path[:i-1]...), name)
			return strings.Join(out, ".")
		}
	}
	return name
}

// checkCondition looks at a condition that is one event field or var,
// such as `if: action`. expr types event fields as unknown, so its AsBool
// lets them through, while at run time a condition that gives anything
// but true or false never matches: the rule would never fire. A var's
// type comes from its value, so a var that is not boolean is an error.
// An event field's type comes from the schema of every event the rule
// listens to that carries the field (a field typed by none of them, or
// boolean or open in one, passes); like the schema's other findings it
// is a warning, since the schema may be wrong where the payload is not.
// It reports whether the condition passes; the condition is at the start
// of the scalar node n.
func (l *loader) checkCondition(c *compiled, n *yaml.Node, what string) bool {
	root := c.Prog.Node()
	if t := root.Type(); t != nil && t.Kind() != reflect.Interface {
		return true // known to expr, which checked it
	}
	path, exact, ok := memberPath(root)
	if !ok || !exact {
		return true
	}
	var types []string
	where := ""
	if path[0] == "vars" {
		v, t := varValue(l.vars, path[1:])
		if v == "true" || v == "false" {
			l.errorAt(n, rootIdent(root).Location().From, fmt.Sprintf("%s: the condition must be true or false, but %s is the text %q; remove the quotes around it in vars:", what, strings.Join(path, "."), v))
			return false
		}
		if t != "" {
			types = []string{t}
		}
	} else {
		fields := path
		if fields[0] == "$env" {
			fields = fields[1:]
		}
		var in []string
		for _, ev := range l.knownOn() {
			if !eventschema.Has(ev, fields) {
				continue // a field it does not carry: checkFields warns
			}
			t := eventschema.Type(ev, fields)
			if t == "" || t == "bool" {
				return true
			}
			in = append(in, ev)
			if !contains(types, t) {
				types = append(types, t)
			}
		}
		where = " in " + strings.Join(in, ", ") + " events"
	}
	if len(types) == 0 || types[0] == "bool" {
		return true
	}
	name := strings.Join(path, ".")
	example := map[string]string{
		"string": name + ` != ""`,
		"number": name + " > 0",
		"list":   "len(" + name + " ?? []) > 0",
		"object": name + " != nil",
	}[types[0]]
	if path[0] == "vars" {
		l.errorAt(n, rootIdent(root).Location().From, fmt.Sprintf("%s: the condition must be true or false, but %s is a%s %s; compare it, e.g. %s",
			what, name, article(types[0]), types[0], example))
		return false
	}
	l.warnAt(n, rootIdent(root).Location().From, fmt.Sprintf("%s is a%s %s%s, not true or false, so the condition never matches and the rule never fires; compare it, e.g. %s",
		name, article(types[0]), strings.Join(types, " or "), where, example))
	return true
}

// rootIdent returns the identifier a field reference starts from, such
// as data in data.chat?.name.
func rootIdent(n ast.Node) ast.Node {
	for {
		switch x := n.(type) {
		case *ast.MemberNode:
			n = x.Node
		case *ast.ChainNode:
			n = x.Node
		default:
			return n
		}
	}
}

// varValue returns the value at path in the vars and names its type as
// eventschema.Type does ("" for null or a path that is not there).
func varValue(vars map[string]any, path []string) (any, string) {
	var v any = vars
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, ""
		}
		v = m[k]
	}
	switch v.(type) {
	case bool:
		return v, "bool"
	case string:
		return v, "string"
	case int64, float64:
		return v, "number"
	case []any:
		return v, "list"
	case map[string]any:
		return v, "object"
	}
	return v, ""
}

// article is "n" before a word that starts with a vowel sound here
// ("an object"), "" otherwise ("a string").
func article(word string) string {
	if strings.HasPrefix(word, "o") {
		return "n"
	}
	return ""
}
