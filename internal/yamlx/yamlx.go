// Package yamlx reads gopkg.in/yaml.v3 nodes and reports what is wrong
// at the node's line and column: the helpers that hookd's rules loader and
// its test-file decoder share.
package yamlx

import (
	"fmt"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/hookd/hookd/internal/suggest"
)

// Entry is one key and value of a mapping.
type Entry struct {
	Key, Value *yaml.Node
}

// Reader reads nodes, reporting each problem through Errorf.
type Reader struct {
	Errorf func(n *yaml.Node, format string, args ...any)
}

// Fields returns the entries of a mapping node by key. It reports a node
// that is not a mapping (null counts as empty), duplicate keys, and, when
// known is not empty, keys not in known, with a suggestion. what names the
// mapping in messages, e.g. "rule".
func (r Reader) Fields(n *yaml.Node, what string, known ...string) map[string]Entry {
	out := map[string]Entry{}
	if n.Kind != yaml.MappingNode {
		if !IsNull(n) {
			r.Errorf(n, "%s must be a mapping of keys to values, found %s", what, Describe(n))
		}
		return out
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			r.Errorf(k, "%s: keys must be plain names", what)
			continue
		}
		if prev, dup := out[k.Value]; dup {
			r.Errorf(k, "%s: duplicate key %q (first at line %d); remove one", what, k.Value, prev.Key.Line)
			continue
		}
		if len(known) > 0 && !slices.Contains(known, k.Value) {
			r.Errorf(k, "%s: unknown key %q%s; known keys: %s", what, k.Value, suggest.DidYouMean(k.Value, known), strings.Join(slices.Sorted(slices.Values(known)), ", "))
			continue
		}
		out[k.Value] = Entry{k, v}
	}
	return out
}

// Str reads a scalar string; it reports anything else.
func (r Reader) Str(n *yaml.Node, what string) (string, bool) {
	if n.Kind != yaml.ScalarNode || IsNull(n) {
		r.Errorf(n, "%s must be a string, found %s", what, Describe(n))
		return "", false
	}
	return n.Value, true
}

// StrList reads a string or a list of strings.
func (r Reader) StrList(n *yaml.Node, what string) ([]string, bool) {
	if n.Kind == yaml.ScalarNode && !IsNull(n) {
		return []string{n.Value}, true
	}
	if n.Kind != yaml.SequenceNode {
		r.Errorf(n, "%s must be a string or a list of strings, found %s", what, Describe(n))
		return nil, false
	}
	out := make([]string, 0, len(n.Content))
	ok := true
	for _, item := range n.Content {
		if item.Kind != yaml.ScalarNode || IsNull(item) {
			r.Errorf(item, "%s: each item must be a string, found %s", what, Describe(item))
			ok = false
			continue
		}
		out = append(out, item.Value)
	}
	return out, ok
}

// Bool reads true or false: a YAML boolean. A quoted "true" or "false"
// is text in YAML (and in the JSON Schema of rules files), so it is
// reported with a hint to remove the quotes. A value that the rules
// loader expanded from an unquoted ${VAR} is typed anew and reads as a
// boolean when the variable holds true or false; a quoted "${VAR}" stays
// text, as for numbers.
func (r Reader) Bool(n *yaml.Node, what string) (bool, bool) {
	var b, spelt bool
	if n.Kind == yaml.ScalarNode {
		switch n.Value {
		case "true", "True", "TRUE":
			b, spelt = true, true
		case "false", "False", "FALSE":
			spelt = true
		}
	}
	switch {
	case spelt && n.ShortTag() == "!!bool":
		return b, true
	case spelt:
		r.Errorf(n, "%s must be true or false, found the text %q: remove the quotes (in YAML a quoted %s is text)", what, n.Value, n.Value)
	default:
		r.Errorf(n, "%s must be true or false, found %s", what, Describe(n))
	}
	return false, false
}

// Lookup returns the entry of key in a mapping node; its Key is nil when
// n is not a mapping or has no such key.
func Lookup(n *yaml.Node, key string) Entry {
	if n == nil || n.Kind != yaml.MappingNode {
		return Entry{}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return Entry{n.Content[i], n.Content[i+1]}
		}
	}
	return Entry{}
}

// IsNull reports whether n is an empty or null scalar.
func IsNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// Describe names what a node holds, for "found ..." in messages.
func Describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return "nothing (null)"
		case "!!bool":
			return "a boolean " + n.Value
		case "!!int", "!!float":
			return "a number " + n.Value
		default:
			return fmt.Sprintf("the text %q", n.Value)
		}
	}
	return "something else"
}
