package engine

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/hookd/hookd/actions/secret"
	suggestpkg "github.com/hookd/hookd/internal/suggest"
	"github.com/hookd/hookd/internal/yamlx"
)

// entry is one key and value of a YAML mapping.
type entry = yamlx.Entry

// reader reads nodes, reporting problems at their positions.
func (l *loader) reader() yamlx.Reader { return yamlx.Reader{Errorf: l.errorf} }

// fields returns the entries of a mapping node by key (see
// yamlx.Reader.Fields); with no known keys, any key is allowed.
func (l *loader) fields(n *yaml.Node, what string, known ...string) map[string]entry {
	return l.reader().Fields(n, what, known...)
}

// mapValue returns the value of key in a mapping node, or nil.
func mapValue(n *yaml.Node, key string) *yaml.Node { return yamlx.Lookup(n, key).Value }

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

func isNull(n *yaml.Node) bool { return yamlx.IsNull(n) }

func describe(n *yaml.Node) string { return yamlx.Describe(n) }

func (l *loader) str(n *yaml.Node, what string) (string, bool) { return l.reader().Str(n, what) }

func (l *loader) strList(n *yaml.Node, what string) ([]string, bool) {
	return l.reader().StrList(n, what)
}

func (l *loader) boolean(n *yaml.Node, what string) (bool, bool) { return l.reader().Bool(n, what) }

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
		l.decodeValue(e.Value, rv.Field(index[key]), what+"."+key)
	}
}

func (l *loader) decodeValue(n *yaml.Node, fv reflect.Value, what string) {
	if n.Kind == yaml.ScalarNode && strings.Contains(n.Value, unsetMark) && fv.Type() != secretType && fv.Kind() != reflect.String {
		// An unset variable of a dry-run (see LoadOptions.AllowUnsetEnv)
		// where a number, duration or boolean goes: the default stands
		// in for it, as text does in a text field.
		return
	}
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
			m[key] = l.plainValue(e.Value, what+"."+key)
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

func contains[T comparable](list []T, s T) bool { return slices.Contains(list, s) }

func sorted(list []string) []string { return slices.Sorted(slices.Values(list)) }

// suggest returns ` (did you mean "x"?)` for the closest candidate, or "".
func suggest(s string, candidates []string) string { return suggestpkg.DidYouMean(s, candidates) }
