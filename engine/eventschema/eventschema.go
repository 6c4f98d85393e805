// Package eventschema describes the fields that Wassenger webhook events
// carry. With it, `hookd check` can warn when a rule reads a field that the
// events named in its `on` never have: a typo such as `data.chat.nmae`, or
// `participants` in a rule for `message:in:new`.
//
// It also knows the values of enumerated fields (a group:update's action,
// an ack, data.chat.status), so that check can warn about
// `action == "remvoe"`.
//
// The schema lives in wassenger.json, which is embedded in the binary. It is
// built from the models and webhook examples of Wassenger's API spec, its
// article on group webhooks and the fields its official bot reads; the
// comment at the top of the file says which source gives what. Paths are
// relative to the event's top-level object, which is also the environment
// that rule expressions see: []string{"data", "chat", "name"} stands for
// `data.chat.name`. Every event name Wassenger documents is known; those
// whose shape is not published are open, so every field of theirs is
// accepted, and so is every field of an event the schema does not know.
package eventschema

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/hookd/hookd/internal/suggest"
)

//go:embed wassenger.json
var wassengerJSON []byte

// std is the embedded schema. It is built once, at package initialisation,
// and never changes afterwards.
var std = mustParse(wassengerJSON)

// GroupActions returns the actions of group:update events that Wassenger
// documents, in the documented order: Values("group:update", action).
func GroupActions() []string { return std.values("group:update", []string{"action"}) }

// ListStep is the path step that walks from a list into its elements,
// whatever the index, as in `data.chat.labels[]`.
const ListStep = "[]"

// Known reports whether the schema describes the event name. Glob patterns
// such as "message:*" are not expanded: match them against Events.
func Known(event string) bool { return std.known(event) }

// Has reports whether events named `event` can carry the field path, e.g.
// []string{"data", "chat", "name"}. In a list, an index ("0", "-1") or
// ListStep walks into the element shape. Has returns true for an unknown
// event, for an event whose shape is not published (`chat:update`), for
// an empty path, and for any path that goes through a value the spec
// leaves open (`data.author`, `data.chat.owner.agent`) or an object whose
// keys it does not fix (`data.events`).
func Has(event string, path []string) bool { return std.has(event, path) }

// Suggest returns the known field name closest to the first unknown step of
// path, so that a caller can say "did you mean data.chat.name?". Names are
// compared without regard to case, allowing one edit (insertion, deletion,
// substitution or swap of two neighbours) for steps of up to three
// characters and two edits for longer ones; among equally close names it
// prefers the one nearest in length. Suggest returns "" when Has
// reports true, when nothing is that close, or when the first unknown step
// is not a key of an object (an index into a string, say).
func Suggest(event string, path []string) string { return std.suggest(event, path) }

// Values returns the values an enumerated field can have in events named
// `event`, in the schema's order, e.g. the 32 actions of group:update for
// []string{"action"}. It returns nil when the field is not enumerated,
// not known, or lies under an "any" value or an unknown event. The slice
// is the caller's.
func Values(event string, path []string) []string { return std.values(event, path) }

// Type names the type of the field at path in events named `event`:
// "string", "number", "bool", "list" or "object". It returns "" when the
// schema does not fix the type: an unknown event or field, an event
// whose shape is not published, or a value the spec leaves open (any).
// A field may also be null or missing in a given event.
func Type(event string, path []string) string { return std.typeOf(event, path) }

// Events returns the event names the schema describes, sorted. Use it to
// expand a rule's glob patterns into names before calling Has.
func Events() []string { return std.eventNames() }

// kind tells which of the three shapes a node has.
type kind uint8

const (
	kindScalar kind = iota // a string, number, bool, or any value
	kindObject             // an object with known keys, open or closed
	kindList               // a list whose elements share one shape
)

// scalar names the type of a scalar node.
type scalar string

const (
	scalarString scalar = "string"
	scalarNumber scalar = "number"
	scalarBool   scalar = "bool"
	scalarAny    scalar = "any" // any JSON value, including objects and lists
)

// node is one shape in the schema tree. Nodes are shared where types refer
// to each other, and they are never modified after parsing.
type node struct {
	kind   kind
	scalar scalar           // kindScalar only
	enum   []string         // kindScalar only: every value, when listed
	fields map[string]*node // kindObject only: the known keys
	other  *node            // kindObject only: shape of other keys; nil when closed
	elem   *node            // kindList only
}

// schema maps event names to the shape of their top-level object.
type schema struct {
	events map[string]*node
}

// file is the layout of wassenger.json.
type file struct {
	Comment []string                   `json:"comment"`
	Types   map[string]json.RawMessage `json:"types"`
	Events  map[string]json.RawMessage `json:"events"`
}

func mustParse(data []byte) *schema {
	s, err := parse(data)
	if err != nil {
		panic(err)
	}
	return s
}

// parse reads a schema in the layout of wassenger.json and resolves every
// #name reference.
func parse(data []byte) (*schema, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f file
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("eventschema: decode schema: %w; keep the top-level keys comment, types and events", err)
	}
	if len(f.Events) == 0 {
		return nil, fmt.Errorf("eventschema: the schema names no events; add at least one under \"events\"")
	}
	p := &parser{types: f.Types, done: map[string]*node{}, busy: map[string]bool{}}
	s := &schema{events: make(map[string]*node, len(f.Events))}
	for name, raw := range f.Events {
		n, err := p.node(raw, "events."+name)
		if err != nil {
			return nil, err
		}
		if n.kind != kindObject {
			return nil, fmt.Errorf("eventschema: events.%s: the shape of an event must be an object of fields", name)
		}
		s.events[name] = n
	}
	return s, nil
}

// parser turns the raw JSON nodes of a schema file into a tree.
type parser struct {
	types map[string]json.RawMessage
	done  map[string]*node // resolved types
	busy  map[string]bool  // types being resolved, to catch cycles
}

func (p *parser) node(raw json.RawMessage, where string) (*node, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil, fmt.Errorf("eventschema: %s: empty shape", where)
	}
	switch raw[0] {
	case '"':
		var name string
		if err := json.Unmarshal(raw, &name); err != nil {
			return nil, fmt.Errorf("eventschema: %s: %w", where, err)
		}
		return p.named(name, where)
	case '[':
		var elems []json.RawMessage
		if err := json.Unmarshal(raw, &elems); err != nil {
			return nil, fmt.Errorf("eventschema: %s: %w", where, err)
		}
		if len(elems) != 1 {
			return nil, fmt.Errorf("eventschema: %s: a list shape holds exactly one element shape, found %d", where, len(elems))
		}
		elem, err := p.node(elems[0], where+ListStep)
		if err != nil {
			return nil, err
		}
		return &node{kind: kindList, elem: elem}, nil
	case '{':
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(raw, &fields); err != nil {
			return nil, fmt.Errorf("eventschema: %s: %w", where, err)
		}
		if _, ok := fields["$type"]; ok {
			return enumNode(fields, where)
		}
		n := &node{kind: kindObject, fields: make(map[string]*node, len(fields))}
		for key, child := range fields {
			if strings.HasPrefix(key, "$") {
				return nil, fmt.Errorf("eventschema: %s: key %q: keys starting with $ are reserved; an enumerated field is {\"$type\": \"string\", \"$enum\": [...]}", where, key)
			}
			c, err := p.node(child, where+"."+key)
			if err != nil {
				return nil, err
			}
			if key == "*" {
				n.other = c
				continue
			}
			n.fields[key] = c
		}
		return n, nil
	}
	return nil, fmt.Errorf("eventschema: %s: a shape is a type name, a #reference, a one-element list or an object, not %.20s", where, raw)
}

// enumNode reads {"$type": "string", "$enum": ["a", "b"]}: a string field
// whose values are all listed.
func enumNode(fields map[string]json.RawMessage, where string) (*node, error) {
	var e struct {
		Type string   `json:"$type"`
		Enum []string `json:"$enum"`
	}
	for key := range fields {
		if key != "$type" && key != "$enum" {
			return nil, fmt.Errorf("eventschema: %s: unknown key %q beside $type; an enumerated field has only $type and $enum", where, key)
		}
	}
	raw, _ := json.Marshal(fields)
	if err := json.Unmarshal(raw, &e); err != nil {
		return nil, fmt.Errorf("eventschema: %s: %w; an enumerated field is {\"$type\": \"string\", \"$enum\": [\"a\", \"b\"]}", where, err)
	}
	if e.Type != string(scalarString) {
		return nil, fmt.Errorf("eventschema: %s: $type %q: only string fields can be enumerated", where, e.Type)
	}
	if len(e.Enum) == 0 {
		return nil, fmt.Errorf("eventschema: %s: $enum lists no values; drop the enum or list every value", where)
	}
	for i, v := range e.Enum {
		if slices.Contains(e.Enum[:i], v) {
			return nil, fmt.Errorf("eventschema: %s: $enum lists %q twice", where, v)
		}
	}
	return &node{kind: kindScalar, scalar: scalarString, enum: e.Enum}, nil
}

// named resolves a scalar type name or a #reference to an entry of types.
func (p *parser) named(name, where string) (*node, error) {
	switch s := scalar(name); s {
	case scalarString, scalarNumber, scalarBool, scalarAny:
		return &node{kind: kindScalar, scalar: s}, nil
	}
	ref, ok := strings.CutPrefix(name, "#")
	if !ok {
		return nil, fmt.Errorf("eventschema: %s: unknown type %q; use string, number, bool, any or #name of an entry in types", where, name)
	}
	if n, ok := p.done[ref]; ok {
		return n, nil
	}
	raw, ok := p.types[ref]
	if !ok {
		return nil, fmt.Errorf("eventschema: %s: %q refers to no entry of types; add types.%s or fix the name", where, name, ref)
	}
	if p.busy[ref] {
		return nil, fmt.Errorf("eventschema: %s: types.%s refers back to itself; a shape must be finite", where, ref)
	}
	p.busy[ref] = true
	n, err := p.node(raw, "types."+ref)
	delete(p.busy, ref)
	if err != nil {
		return nil, err
	}
	p.done[ref] = n
	return n, nil
}

func (s *schema) known(event string) bool {
	_, ok := s.events[event]
	return ok
}

func (s *schema) has(event string, path []string) bool {
	root, ok := s.events[event]
	if !ok {
		return true
	}
	i, _ := walk(root, path)
	return i == len(path)
}

func (s *schema) suggest(event string, path []string) string {
	root, ok := s.events[event]
	if !ok {
		return ""
	}
	i, at := walk(root, path)
	if i == len(path) || at.kind != kindObject {
		return ""
	}
	return closest(path[i], at.fields)
}

func (s *schema) values(event string, path []string) []string {
	root, ok := s.events[event]
	if !ok {
		return nil
	}
	i, at := walk(root, path)
	if i != len(path) || at.kind != kindScalar || at.enum == nil {
		return nil
	}
	return slices.Clone(at.enum)
}

func (s *schema) typeOf(event string, path []string) string {
	root, ok := s.events[event]
	if !ok {
		return ""
	}
	i, at := walk(root, path)
	switch {
	case i != len(path):
		return ""
	case at.kind == kindObject:
		return "object"
	case at.kind == kindList:
		return "list"
	case at.scalar == scalarAny:
		return ""
	}
	return string(at.scalar)
}

func (s *schema) eventNames() []string {
	names := make([]string, 0, len(s.events))
	for name := range s.events {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// walk follows path from n. It returns len(path) when every step is known
// (or lies under an open object or an "any" value); otherwise the index of
// the first unknown step and the node on which that step failed.
func walk(n *node, path []string) (int, *node) {
	for i, step := range path {
		switch n.kind {
		case kindObject:
			if c, ok := n.fields[step]; ok {
				n = c
				continue
			}
			if n.other == nil {
				return i, n
			}
			n = n.other
		case kindList:
			if step != ListStep && !isIndex(step) {
				return i, n
			}
			n = n.elem
		default:
			switch {
			case n.scalar == scalarAny:
				return len(path), n
			case n.scalar == scalarString && isIndex(step) && i == len(path)-1:
				// Indexing a string yields one character, and a character
				// has no fields.
				return len(path), n
			}
			return i, n
		}
	}
	return len(path), n
}

// isIndex reports whether step is a list index, negative ones included
// (expr-lang counts those from the end).
func isIndex(step string) bool {
	_, err := strconv.Atoi(step)
	return err == nil
}

// closest returns the key of fields nearest to step, or "" when none is
// close enough (see suggest.Closest).
func closest(step string, fields map[string]*node) string {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	return suggest.Closest(step, keys)
}
