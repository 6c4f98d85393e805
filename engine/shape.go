package engine

import (
	"fmt"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/hookd/hookd/actions"
)

// checkShape checks the parts of an action field fixed in the rules file
// against the field's shape: types, enums and required keys are errors;
// keys the shape does not know are warnings with a suggestion (the API
// leaves its objects open). A string holding {{ }} is checked when it is
// rendered. It reports whether the field is usable.
func (l *loader) checkShape(n *yaml.Node, s *actions.Shape, what string) bool {
	if s == nil {
		return true
	}
	if n.Kind == yaml.AliasNode {
		return l.checkShape(n.Alias, s, what)
	}
	typ := yamlType(n)
	if typ == actions.TypeString && strings.Contains(n.Value, "{{") {
		return true // a template: checked once rendered
	}
	if !s.Allows(typ) {
		l.errorf(n, "%s must be %s, found %s", what, s.Describe(), describe(n))
		return false
	}
	ok := true
	switch typ {
	case actions.TypeString:
		if s.Enum != nil && !slices.Contains(s.Enum, n.Value) {
			l.errorf(n, "%s must be one of %s, found %q%s", what, strings.Join(s.Enum, ", "), n.Value, suggest(n.Value, s.Enum))
			ok = false
		}
	case actions.TypeObject:
		present := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			present[k.Value] = true
			key, known := s.Key(k.Value)
			if !known {
				if len(s.Keys) > 0 {
					l.warnf(k, "%s: %q is not a documented key%s; known keys: %s (it is sent as written)",
						what, k.Value, suggest(k.Value, s.KeyNames()), strings.Join(s.KeyNames(), ", "))
				}
				continue
			}
			ok = l.checkShape(v, key.Shape, what+"."+k.Value) && ok
		}
		for _, r := range s.Required {
			if !present[r] {
				k, _ := s.Key(r)
				l.errorf(n, "%s needs the key %q (%s)", what, r, k.Doc)
				ok = false
			}
		}
	case actions.TypeArray:
		for i, it := range n.Content {
			ok = l.checkShape(it, s.Items, fmt.Sprintf("%s[%d]", what, i)) && ok
		}
	}
	return ok
}

// yamlType is the JSON type of a YAML node's value.
func yamlType(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return actions.TypeObject
	case yaml.SequenceNode:
		return actions.TypeArray
	}
	switch n.ShortTag() {
	case "!!null":
		return "null"
	case "!!bool":
		return actions.TypeBoolean
	case "!!int":
		return actions.TypeInteger
	case "!!float":
		return actions.TypeNumber
	}
	return actions.TypeString
}
