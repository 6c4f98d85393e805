package engine

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/hookd/hookd/engine/eventschema"
	"github.com/hookd/hookd/event"
)

// identity loads the file's `identity:` section: a mapping of event names
// to key templates, such as
//
//	identity:
//	  chat:update: "{{ data.id }}/{{ data.status }}/{{ data.owner?.agent ?? '' }}"
//
// An event of that name then has the key "chat:update/" followed by the
// rendered template and, when the event names the number it came through,
// "/on:" and that number's id (see event.OnDevice), instead of the
// default of event.Event.Key.
func (l *loader) identity(n *yaml.Node) {
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		l.errorf(n, "identity must be a mapping of event names to key templates, found %s; e.g. identity: { chat:update: \"{{ data.id }}/{{ data.status }}\" }", describe(n))
		return
	}
	saved := l.currentOn
	defer func() { l.currentOn = saved }()
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := n.Content[i], n.Content[i+1]
		name := kn.Value
		what := "identity." + name
		if strings.TrimSpace(name) == "" || strings.ContainsAny(name, "*?[") {
			l.errorf(kn, "identity: %q is not an event name: name one event exactly, e.g. chat:update", name)
			continue
		}
		if _, dup := l.rs.Identity[name]; dup {
			l.errorf(kn, "identity: %s is given twice", name)
			continue
		}
		if !eventschema.Known(name) {
			l.warnf(kn, "identity: %q is not a Wassenger event name%s; the key applies only to events named exactly so", name, suggest(name, eventschema.Events()))
		}
		src, ok := l.str(vn, what)
		if !ok {
			continue
		}
		if !strings.Contains(src, "{{") {
			l.errorf(vn, "%s: the key must read the event, e.g. \"{{ data.id }}/{{ data.status }}\": a constant would make every %s after the first a duplicate", what, name)
			continue
		}
		l.currentOn = []string{name}
		t := l.compileTemplate(vn, src, what)
		if t == nil {
			continue
		}
		if l.rs.Identity == nil {
			l.rs.Identity = map[string]string{}
			l.rs.identity = map[string]tmpl{}
		}
		l.rs.Identity[name] = src
		l.rs.identity[name] = asString{t}
	}
}

// identify sets ev.Key from the rules file's identity template for ev's
// name, if it has one. When the template fails or renders nothing, the
// default key stays and the error is returned: an event is never dropped
// for a key that could not be made.
func (rs *RuleSet) identify(r *runner, ev *event.Event) error {
	t, ok := rs.identity[ev.Name]
	if !ok {
		return nil
	}
	v, err := t.render(r)
	if err != nil {
		return fmt.Errorf("identity.%s: %w; the default key %q was used", ev.Name, err, ev.Key)
	}
	s, _ := v.(string)
	if s == "" {
		return fmt.Errorf("identity.%s: the key is empty for this event; the default key %q was used", ev.Name, ev.Key)
	}
	// The number's part, as in the default keys: a chat id or a contact's
	// WhatsApp id is the same on every number of the account, so a key
	// without it would take the second number's event for a redelivery
	// of the first's.
	ev.Key = ev.Name + "/" + s + event.OnDevice(ev.Device)
	return nil
}

// identifyInto is identify, reporting a failure in res.
func (rs *RuleSet) identifyInto(r *runner, res *Result) {
	if err := rs.identify(r, res.Event); err != nil {
		res.Errors = append(res.Errors, RuleError{Err: err})
	}
}
