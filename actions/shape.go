package actions

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
)

// JSON types a Shape allows.
const (
	TypeString  = "string"
	TypeNumber  = "number"
	TypeInteger = "integer"
	TypeBoolean = "boolean"
	TypeObject  = "object"
	TypeArray   = "array"
)

// Shape describes the JSON value a field takes, beyond its Kind: its
// types, allowed strings, and for objects and lists their keys and items.
// One description drives the check at load (of the parts fixed in the
// rules file), the check of rendered values before sending, the JSON
// Schema and the docs.
type Shape struct {
	// Types are the JSON types allowed; none allows any value. An integer
	// is also a number.
	Types []string
	// Enum, when set, lists the strings allowed.
	Enum []string
	// Keys are the known keys of an object. Other keys are allowed (the
	// API leaves its objects open) but reported as unknown, for a
	// warning with a suggestion.
	Keys []Key
	// Required lists the keys an object must have.
	Required []string
	// Items is the shape of a list's items; nil allows any item.
	Items *Shape
}

// Key is one known key of an object Shape.
type Key struct {
	Name  string
	Doc   string
	Shape *Shape
}

// Key returns the known key name of an object shape.
func (s *Shape) Key(name string) (Key, bool) {
	for _, k := range s.Keys {
		if k.Name == name {
			return k, true
		}
	}
	return Key{}, false
}

// KeyNames returns the names of the known keys, in order.
func (s *Shape) KeyNames() []string {
	out := make([]string, len(s.Keys))
	for i, k := range s.Keys {
		out[i] = k.Name
	}
	return out
}

// Allows reports whether a value of the JSON type typ fits the shape's
// types ("integer" values are numbers too).
func (s *Shape) Allows(typ string) bool {
	if s == nil || len(s.Types) == 0 {
		return true
	}
	for _, t := range s.Types {
		if t == typ || (t == TypeNumber && typ == TypeInteger) {
			return true
		}
	}
	return false
}

// Only reports whether the shape allows strings and nothing else.
func (s *Shape) Only(typ string) bool {
	return s != nil && len(s.Types) == 1 && s.Types[0] == typ
}

// Describe names the shape's types for messages: "a string or an object".
func (s *Shape) Describe() string {
	if s == nil || len(s.Types) == 0 {
		return "any value"
	}
	names := make([]string, len(s.Types))
	for i, t := range s.Types {
		names[i] = article(t)
	}
	return strings.Join(names, " or ")
}

func article(typ string) string {
	switch typ {
	case TypeInteger:
		return "a whole number"
	case TypeObject:
		return "an object (a mapping)"
	case TypeArray:
		return "a list"
	default:
		return "a " + typ
	}
}

// ShapeProblem is one part of a value that does not fit a Shape.
type ShapeProblem struct {
	// Path is where, from the checked value: "poll.options[1]".
	Path string
	Msg  string
	// Unknown marks a key the shape does not know (allowed, reported
	// for a warning).
	Unknown bool
	// Known are the known keys beside an unknown one, for suggestions.
	Known []string
}

func (p ShapeProblem) String() string { return p.Path + ": " + p.Msg }

// JSONType returns the JSON type of a decoded or rendered Go value:
// "string", "integer", "number", "boolean", "object", "array" or "null".
func JSONType(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return TypeString
	case bool:
		return TypeBoolean
	case json.Number:
		if _, err := x.Int64(); err == nil {
			return TypeInteger
		}
		return TypeNumber
	case float64:
		if x == float64(int64(x)) {
			return TypeInteger
		}
		return TypeNumber
	case float32:
		return JSONType(float64(x))
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return TypeInteger
	case reflect.Map:
		return TypeObject
	case reflect.Slice, reflect.Array:
		return TypeArray
	case reflect.String:
		return TypeString
	case reflect.Bool:
		return TypeBoolean
	}
	return fmt.Sprintf("%T", v)
}

// Check checks a decoded or rendered value against the shape and returns
// what does not fit; path names the value in the problems.
func (s *Shape) Check(v any, path string) []ShapeProblem {
	if s == nil {
		return nil
	}
	typ := JSONType(v)
	if !s.Allows(typ) {
		return []ShapeProblem{{Path: path, Msg: fmt.Sprintf("must be %s, got %s", s.Describe(), typ)}}
	}
	var out []ShapeProblem
	switch typ {
	case TypeString:
		if str := reflect.ValueOf(v).String(); s.Enum != nil && !slices.Contains(s.Enum, str) {
			out = append(out, ShapeProblem{Path: path, Msg: fmt.Sprintf("must be one of %s, got %q", strings.Join(s.Enum, ", "), str)})
		}
	case TypeObject:
		rv := reflect.ValueOf(v)
		if rv.Type().Key().Kind() != reflect.String {
			return []ShapeProblem{{Path: path, Msg: "must have string keys"}}
		}
		for _, r := range s.Required {
			if x := rv.MapIndex(reflect.ValueOf(r).Convert(rv.Type().Key())); !x.IsValid() {
				out = append(out, ShapeProblem{Path: path, Msg: fmt.Sprintf("needs the key %q", r)})
			}
		}
		keys := rv.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(a.String(), b.String()) })
		for _, k := range keys {
			name := k.String()
			p := path + "." + name
			key, known := s.Key(name)
			if !known {
				if len(s.Keys) > 0 {
					out = append(out, ShapeProblem{Path: p, Msg: "is not a known key", Unknown: true, Known: s.KeyNames()})
				}
				continue
			}
			out = append(out, key.Shape.Check(rv.MapIndex(k).Interface(), p)...)
		}
	case TypeArray:
		if s.Items == nil {
			break
		}
		rv := reflect.ValueOf(v)
		for i := range rv.Len() {
			out = append(out, s.Items.Check(rv.Index(i).Interface(), fmt.Sprintf("%s[%d]", path, i))...)
		}
	}
	return out
}
