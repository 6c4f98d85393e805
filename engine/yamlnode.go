package engine

import (
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/hookd/hookd/actions/secret"
	suggestpkg "github.com/hookd/hookd/internal/suggest"
)

// entry is one key and value of a YAML mapping.
type entry struct {
	key   *yaml.Node
	value *yaml.Node
}

// fields returns the entries of a mapping node by key, reporting a node
// that is not a mapping, duplicate keys and keys not in known (with a
// suggestion). what names the mapping in messages, e.g. "rule".
func (l *loader) fields(n *yaml.Node, what string, known ...string) map[string]entry {
	out := map[string]entry{}
	if n.Kind != yaml.MappingNode {
		if isNull(n) {
			return out
		}
		l.errorf(n, "%s must be a mapping of keys to values, found %s", what, describe(n))
		return out
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			l.errorf(k, "%s: keys must be plain names", what)
			continue
		}
		if prev, dup := out[k.Value]; dup {
			l.errorf(k, "%s: duplicate key %q (first at line %d); remove one", what, k.Value, prev.key.Line)
			continue
		}
		if known != nil && !contains(known, k.Value) {
			l.errorf(k, "%s: unknown key %q%s; known keys: %s", what, k.Value, suggest(k.Value, known), strings.Join(sorted(known), ", "))
			continue
		}
		out[k.Value] = entry{k, v}
	}
	return out
}

// mapValue returns the value of key in a mapping node, or nil.
func mapValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// pathValue follows keys down nested mappings from n and returns the
// deepest node found, for pointing a problem at the value it is about.
func pathValue(n *yaml.Node, keys ...string) *yaml.Node {
	for _, key := range keys {
		v := mapValue(n, key)
		if v == nil {
			break
		}
		n = v
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// describe names what a node holds, for "found ..." in messages.
func describe(n *yaml.Node) string {
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

// str reads a scalar string; it reports anything else.
func (l *loader) str(n *yaml.Node, what string) (string, bool) {
	if n.Kind != yaml.ScalarNode || isNull(n) {
		l.errorf(n, "%s must be a string, found %s", what, describe(n))
		return "", false
	}
	return n.Value, true
}

// strList reads a string or a list of strings.
func (l *loader) strList(n *yaml.Node, what string) ([]string, bool) {
	if n.Kind == yaml.ScalarNode && !isNull(n) {
		return []string{n.Value}, true
	}
	if n.Kind != yaml.SequenceNode {
		l.errorf(n, "%s must be a string or a list of strings, found %s", what, describe(n))
		return nil, false
	}
	out := make([]string, 0, len(n.Content))
	ok := true
	for _, item := range n.Content {
		if item.Kind != yaml.ScalarNode || isNull(item) {
			l.errorf(item, "%s: each item must be a string, found %s", what, describe(item))
			ok = false
			continue
		}
		out = append(out, item.Value)
	}
	return out, ok
}

// boolean reads a scalar true/false.
func (l *loader) boolean(n *yaml.Node, what string) (bool, bool) {
	if n.Kind == yaml.ScalarNode {
		switch n.Value {
		case "true", "True", "TRUE":
			return true, true
		case "false", "False", "FALSE":
			return false, true
		}
	}
	l.errorf(n, "%s must be true or false, found %s", what, describe(n))
	return false, false
}

var (
	durationType = reflect.TypeOf(time.Duration(0))
	secretType   = reflect.TypeOf(secret.String{})
)

// decodeStruct fills the struct that ptr points to from a mapping node,
// by yaml tags, reporting unknown keys and wrong types with positions.
// Supported field types: string, secret.String, bool, int, float64,
// time.Duration, and pointers to structs of those.
func (l *loader) decodeStruct(n *yaml.Node, ptr any, what string) {
	rv := reflect.ValueOf(ptr).Elem()
	rt := rv.Type()
	var known []string
	index := map[string]int{}
	for i := 0; i < rt.NumField(); i++ {
		tag := strings.Split(rt.Field(i).Tag.Get("yaml"), ",")[0]
		if tag == "" || tag == "-" {
			continue
		}
		known = append(known, tag)
		index[tag] = i
	}
	for key, e := range l.fields(n, what, known...) {
		l.decodeValue(e.value, rv.Field(index[key]), what+"."+key)
	}
}

func (l *loader) decodeValue(n *yaml.Node, fv reflect.Value, what string) {
	switch {
	case fv.Type() == secretType:
		if s, ok := l.str(n, what); ok {
			fv.Set(reflect.ValueOf(secret.New(s)))
		}
	case fv.Type() == durationType:
		if s, ok := l.str(n, what); ok {
			d, err := time.ParseDuration(s)
			if err != nil || d < 0 {
				l.errorf(n, "%s must be a duration such as 500ms, 15s or 10m, found %q", what, s)
				return
			}
			fv.SetInt(int64(d))
		}
	case fv.Kind() == reflect.String:
		if s, ok := l.str(n, what); ok {
			fv.SetString(s)
		}
	case fv.Kind() == reflect.Bool:
		if b, ok := l.boolean(n, what); ok {
			fv.SetBool(b)
		}
	case fv.Kind() == reflect.Int:
		i, err := strconv.Atoi(n.Value)
		if n.Kind != yaml.ScalarNode || err != nil {
			l.errorf(n, "%s must be a whole number, found %s", what, describe(n))
			return
		}
		fv.SetInt(int64(i))
	case fv.Kind() == reflect.Float64:
		f, err := strconv.ParseFloat(n.Value, 64)
		if n.Kind != yaml.ScalarNode || err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			l.errorf(n, "%s must be a number, found %s", what, describe(n))
			return
		}
		fv.SetFloat(f)
	case fv.Kind() == reflect.Pointer && fv.Type().Elem().Kind() == reflect.Struct:
		p := reflect.New(fv.Type().Elem())
		l.decodeStruct(n, p.Interface(), what)
		fv.Set(p)
	case fv.Kind() == reflect.Struct:
		l.decodeStruct(n, fv.Addr().Interface(), what)
	default:
		panic(fmt.Sprintf("engine: decodeValue: unsupported field type %s", fv.Type()))
	}
}

// plainValue converts a YAML node to plain Go values: map[string]any,
// []any, string, int64, float64, bool, nil.
func (l *loader) plainValue(n *yaml.Node, what string) any {
	switch n.Kind {
	case yaml.MappingNode:
		m := map[string]any{}
		for key, e := range l.fields(n, what) {
			m[key] = l.plainValue(e.value, what+"."+key)
		}
		return m
	case yaml.SequenceNode:
		list := make([]any, len(n.Content))
		for i, item := range n.Content {
			list[i] = l.plainValue(item, fmt.Sprintf("%s[%d]", what, i))
		}
		return list
	case yaml.AliasNode:
		return l.plainValue(n.Alias, what)
	case yaml.ScalarNode:
		return scalarValue(n)
	}
	return nil
}

func scalarValue(n *yaml.Node) any {
	switch n.ShortTag() {
	case "!!null":
		return nil
	case "!!bool":
		var b bool
		if n.Decode(&b) == nil {
			return b
		}
	case "!!int":
		var i int64
		if n.Decode(&i) == nil {
			return i
		}
	case "!!float":
		var f float64
		if n.Decode(&f) == nil {
			return f
		}
	}
	return n.Value
}

func contains[T comparable](list []T, s T) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func sorted(list []string) []string {
	out := append([]string(nil), list...)
	sort.Strings(out)
	return out
}

// suggest returns ` (did you mean "x"?)` for the closest candidate, or "".
func suggest(s string, candidates []string) string { return suggestpkg.DidYouMean(s, candidates) }
