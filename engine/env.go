package engine

import (
	"regexp"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/hookd/hookd/actions"
	"github.com/hookd/hookd/actions/httpx"
)

var envRef = regexp.MustCompile(`\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}|\$\{[^}]*\}?`)

// unsetMark starts the text that stands for an unset variable when unset
// variables are allowed: "<unset NAME>".
const unsetMark = "<unset "

// expandEnv replaces ${NAME} and ${NAME:-default} in every scalar value
// of the document (not in keys); $${ stands for a literal ${. An unset
// variable without a default is an error, or, when unset variables are
// allowed (dry-run), is replaced by "<unset NAME>" and remembered.
func (l *loader) expandEnv(n *yaml.Node, isKey bool) {
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for _, c := range n.Content {
			l.expandEnv(c, false)
		}
	case yaml.MappingNode:
		for i, c := range n.Content {
			l.expandEnv(c, i%2 == 0)
		}
	case yaml.ScalarNode:
		if isKey || !strings.Contains(n.Value, "${") {
			return
		}
		n.Value = l.expandString(n, n.Value)
		if n.Style == 0 || n.Style == yaml.TaggedStyle {
			n.Tag = "" // let the expanded text resolve anew (a port, a boolean)
		}
	}
}

func (l *loader) expandString(n *yaml.Node, s string) string {
	var (
		b     strings.Builder
		spans []expansion
	)
	last := 0
	for _, m := range envRef.FindAllStringSubmatchIndex(s, -1) {
		b.WriteString(s[last:m[0]])
		last = m[1]
		ref := s[m[0]:m[1]]
		off := len([]rune(s[:m[0]]))
		at := utf8.RuneCountInString(b.String())
		switch {
		case ref == "$${":
			b.WriteString("${")
		case m[2] < 0:
			l.errorAt(n, off, "malformed variable reference "+ref+": write ${NAME} or ${NAME:-default}")
			b.WriteString(ref) // keep the text, so that one mistake makes one error
		default:
			name := s[m[2]:m[3]]
			if v, ok := l.lookupEnv(name); ok && v != "" {
				b.WriteString(v)
				l.noteEnv(n, name, v)
			} else if m[4] >= 0 {
				b.WriteString(s[m[6]:m[7]])
			} else if l.opts.AllowUnsetEnv {
				l.unset[name] = true
				b.WriteString(unsetMark + name + ">")
			} else {
				l.errorAt(n, off, "environment variable "+name+" is not set: export it before starting hookd, or give a default with ${"+name+":-value}")
				b.WriteString(ref) // keep the text, so that one mistake makes one error
			}
		}
		spans = append(spans, expansion{at: at, n: utf8.RuneCountInString(b.String()) - at, raw: utf8.RuneCountInString(ref)})
	}
	b.WriteString(s[last:])
	if len(spans) > 0 {
		l.expanded[n] = expandedValue{raw: s, spans: spans}
	}
	return b.String()
}

// expandedValue is a scalar's text before its ${ENV} references were
// expanded, and where each went, so that a problem found in the
// expanded text is shown where the file has it (and without telling how
// long a secret is).
type expandedValue struct {
	raw   string
	spans []expansion
}

// expansion is one reference in an expanded value: it starts at rune at
// and is n runes long there, and raw runes long in the file's text.
type expansion struct{ at, n, raw int }

// rawOffset maps a rune offset in the expanded value to the file's text:
// an offset inside an expansion goes to the start of its reference.
func (e expandedValue) rawOffset(off int) int {
	shift := 0
	for _, sp := range e.spans {
		switch {
		case off >= sp.at+sp.n:
			shift += sp.raw - sp.n
		case off >= sp.at:
			return sp.at + shift
		default:
			return off + shift
		}
	}
	return off + shift
}

// noteEnv remembers that the value v of the variable name went into n:
// a secret when its name says so (API_TOKEN, CRM_KEY, ...; see
// httpx.IsSecretName), and see webhookSecrets for the others.
func (l *loader) noteEnv(n *yaml.Node, name, v string) {
	l.envValues[n] = append(l.envValues[n], v)
	if httpx.IsSecretName(name) {
		l.secrets = append(l.secrets, v)
	}
}

// webhookSecrets takes as secrets the ${ENV} values in the url and the
// secret headers (see httpx.IsSecretHeader) of a webhook action (body,
// the node of its fields): what a user keeps out of the rules file there
// is a credential, or an URL holding one (a token in its path, as chat
// webhooks have it). The values of other headers (an API version, an
// environment's name) are no secret, and masked everywhere they would
// mangle every date or word like them.
func (l *loader) webhookSecrets(body *yaml.Node) {
	for i := 0; i+1 < len(body.Content); i += 2 {
		switch v := body.Content[i+1]; body.Content[i].Value {
		case "url":
			for _, e := range l.envValues[v] {
				l.secrets = append(l.secrets, actions.URLSecrets(e)...)
			}
		case "headers":
			for j := 0; j+1 < len(v.Content); j += 2 {
				if httpx.IsSecretHeader(v.Content[j].Value) {
					l.secrets = append(l.secrets, l.envValues[v.Content[j+1]]...)
				}
			}
		}
	}
}

// Secrets lists the secret values of the rule set, longest first, for
// masking wherever a text may hold one: the connections' (see
// actions.Connections.Secrets) and the ${ENV} values of the rules that
// are secrets (a variable named as one, such as CRM_TOKEN, or a value in
// the url or a secret header of a webhook action).
func (rs *RuleSet) Secrets() []string { return rs.secrets }

// ReadsUnset reports whether a rendered action reads an unset ${ENV}
// variable (loaded with LoadOptions.AllowUnsetEnv), in its fields or in
// the connection it uses: what it would send is not what the daemon,
// which refuses to load unset variables, would send.
func (rs *RuleSet) ReadsUnset(a Rendered) bool {
	return len(rs.UnsetRead(a)) > 0
}

// UnsetRead returns the unset ${ENV} variables a rendered action reads
// (see ReadsUnset), in its fields or in the connection it uses, sorted.
func (rs *RuleSet) UnsetRead(a Rendered) []string {
	if len(rs.Unset) == 0 {
		return nil
	}
	names := map[string]bool{}
	if a.Action.Spec != nil {
		for _, n := range rs.unsetConnections[a.Action.Spec.Connection] {
			names[n] = true
		}
	}
	unsetNames(a.Params, names)
	out := make([]string, 0, len(names))
	for n := range names {
		out = append(out, n)
	}
	return sorted(out)
}

// unsetNames adds to names the variables whose unset text v holds.
func unsetNames(v any, names map[string]bool) {
	switch v := v.(type) {
	case string:
		textUnsetNames(v, names)
	case map[string]any:
		for _, x := range v {
			unsetNames(x, names)
		}
	case []any:
		for _, x := range v {
			unsetNames(x, names)
		}
	case []string:
		for _, x := range v {
			textUnsetNames(x, names)
		}
	}
}

// textUnsetNames adds to names the variables whose unset text
// (<unset NAME>) s holds.
func textUnsetNames(s string, names map[string]bool) {
	for {
		i := strings.Index(s, unsetMark)
		if i < 0 {
			return
		}
		s = s[i+len(unsetMark):]
		j := strings.IndexByte(s, '>')
		if j < 0 {
			return
		}
		names[s[:j]] = true
		s = s[j+1:]
	}
}

// unsetConnections returns the keys of the connections mapping n whose
// settings hold an unset variable's text, with the variables.
func unsetConnections(n *yaml.Node) map[string][]string {
	out := map[string][]string{}
	if n.Kind != yaml.MappingNode {
		return out
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		names := map[string]bool{}
		nodeUnsetNames(n.Content[i+1], names)
		for name := range names {
			out[n.Content[i].Value] = append(out[n.Content[i].Value], name)
		}
	}
	return out
}

// nodeUnsetNames adds to names the variables whose unset text n holds.
func nodeUnsetNames(n *yaml.Node, names map[string]bool) {
	switch n.Kind {
	case yaml.ScalarNode:
		textUnsetNames(n.Value, names)
		return
	case yaml.AliasNode:
		if n.Alias != nil {
			nodeUnsetNames(n.Alias, names)
		}
		return
	}
	for _, c := range n.Content {
		nodeUnsetNames(c, names)
	}
}
