package engine

import (
	"path"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/hookd/hookd/engine/eventschema"
)

// checkFields warns about event fields an expression reads that no event
// the rule listens to carries, per the schema of Wassenger's events (a
// typo such as data.chat.nmae, or participants on a message rule).
// Payloads may grow fields, so these are warnings, not errors. It also
// checks the strings that enumerated fields are compared with (see
// checkValues).
func (l *loader) checkFields(c *compiled, n *yaml.Node, off int) {
	events := l.knownOn()
	if len(events) == 0 {
		return
	}
	defer l.checkValues(c, n, off, events)
	for _, ref := range c.Fields {
		if ref.Path[0] == "vars" || contains(l.stateVars, ref.Path[0]) {
			continue
		}
		// $env is the whole event: $env.data is data.
		fields, env := ref.Path, ""
		if fields[0] == "$env" {
			fields, env = fields[1:], "$env."
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
		hint := ""
		if s := eventschema.Suggest(events[0], fields); s != "" {
			hint = " (did you mean " + env + suggestedPath(events[0], fields, s) + "?)"
		}
		l.warnAt(n, off+ref.Off, "field "+strings.Join(ref.Path, ".")+" is not in "+strings.Join(events, ", ")+" events"+hint+"; it will be nil (use ?. and ?? if it is optional)")
	}
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
