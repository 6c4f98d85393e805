package engine

import (
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/hookd/hookd/engine/eventschema"
)

// checkValues warns about a comparison of an enumerated event field with
// a string that no event the rule listens to has there, such as
// `action == "remvoe"` on group:update: the test is always false (or,
// with !=, always true). Each warning sits at the string in the file.
// The expression is at offset off of the scalar node n.
func (l *loader) checkValues(c *compiled, n *yaml.Node, off int, events []string) {
	for _, t := range constTests(c) {
		if t.keys[0] == "vars" {
			continue
		}
		allowed, ok := enumValues(events, t.keys)
		if !ok {
			continue
		}
		for i, v := range t.values {
			if v == "" || slices.Contains(allowed, v) {
				continue // "" is how a rule tests that a field is missing
			}
			msg := t.path + " is never " + strconv.Quote(v) + " in " + strings.Join(events, ", ") + " events"
			if hint := suggest(v, allowed); hint != "" {
				msg += hint
			} else {
				msg += " (its values: " + quoteAll(allowed) + ")"
			}
			switch t.op {
			case "in":
				msg += "; this element of the list never matches"
			default:
				msg += "; this test is always " + strconv.FormatBool(t.op == "!=")
			}
			l.warnAt(n, off+literalAt(c.Source, t.offs[i], v), msg)
		}
	}
}

// enumValues returns every value the field at path has in events, and
// false when some event does not list them (the field is not enumerated
// there, or the event's shape is not published).
func enumValues(events []string, path []string) ([]string, bool) {
	var all []string
	for _, ev := range events {
		vs := eventschema.Values(ev, path)
		if vs == nil {
			return nil, false
		}
		for _, v := range vs {
			if !slices.Contains(all, v) {
				all = append(all, v)
			}
		}
	}
	return all, len(all) > 0
}

// literalAt returns the offset, in characters, of the string literal v
// at or after from in src: from itself unless from is the start of a
// list the optimizer made a constant, whose elements it no longer places.
func literalAt(src string, from int, v string) int {
	runes := []rune(src)
	if from < 0 || from > len(runes) {
		return from
	}
	rest := string(runes[from:])
	if strings.HasPrefix(rest, `"`) || strings.HasPrefix(rest, "'") {
		return from
	}
	best := -1
	for _, q := range []string{strconv.Quote(v), "'" + v + "'"} {
		if i := strings.Index(rest, q); i >= 0 && (best < 0 || i < best) {
			best = i
		}
	}
	if best < 0 {
		return from
	}
	return from + len([]rune(rest[:best]))
}

// quoteAll lists values quoted, comma-separated; a long list is cut.
func quoteAll(values []string) string {
	const most = 8
	var b strings.Builder
	for i, v := range values {
		if i == most {
			b.WriteString(", ... (" + strconv.Itoa(len(values)) + " in all)")
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Quote(v))
	}
	return b.String()
}
