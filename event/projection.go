package event

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/valyala/fastjson"
)

// Projection is the set of fields to decode: the fields that rules read,
// and the top-level fields hookd itself reads (see Always). Decoding only
// them is what makes intake cheap for large payloads (a group:update
// carries about a hundred nested fields; rules read a few). A nil
// Projection decodes everything.
type Projection struct {
	// name is the field's key, kept so that decoding does not allocate
	// a key string per field.
	name string
	// children are the object's fields to decode; whole means the entire
	// subtree is needed.
	children map[string]*Projection
	whole    bool
	// few lists children when they are few: comparing a key with a few
	// names is cheaper than hashing it, and most keys are not read.
	few []*Projection
}

// maxFew is the most children looked up by comparing names.
const maxFew = 8

// child returns the child named k, if read.
func (p *Projection) child(k []byte) (*Projection, bool) {
	if p.few == nil {
		c, ok := p.children[string(k)]
		return c, ok
	}
	for _, c := range p.few {
		if len(c.name) == len(k) && c.name == string(k) {
			return c, true
		}
	}
	return nil, false
}

// index fills few, in every object of the projection.
func (p *Projection) index() {
	p.few = nil
	if len(p.children) <= maxFew {
		p.few = make([]*Projection, 0, len(p.children))
	}
	for _, c := range p.children {
		if p.few != nil {
			p.few = append(p.few, c)
		}
		c.index()
	}
}

// Always returns the top-level fields every projection decodes: the
// event's name, its group action and its id (see Event).
func Always() []string { return []string{"event", "action", "id", "entityId"} }

// NewProjection builds a projection from field paths such as
// ["data", "chat", "name"], plus the fields of Always. A path that ends at
// an object keeps the object whole; a step "[]" (a list element) keeps
// the list whole.
func NewProjection(paths [][]string) *Projection {
	root := &Projection{children: map[string]*Projection{}}
	for _, name := range Always() {
		root.add([]string{name})
	}
	for _, path := range paths {
		root.add(path)
	}
	root.index()
	return root
}

// add marks path as read.
func (root *Projection) add(path []string) {
	p := root
	for i, step := range path {
		if p.whole {
			return
		}
		if step == "[]" {
			p.whole, p.children = true, nil
			return
		}
		next, ok := p.children[step]
		if !ok {
			next = &Projection{name: step, children: map[string]*Projection{}}
			p.children[step] = next
		}
		p = next
		if i == len(path)-1 {
			p.whole, p.children = true, nil
		}
	}
}

// ParseProjected is Parse, decoding only the fields of p (all of them
// when p is nil).
func ParseProjected(body []byte, p *Projection) ([]*Event, error) {
	// A UTF-8 byte order mark, which some editors write first, is not
	// part of the JSON (RFC 8259 lets a parser skip it).
	body = bytes.TrimPrefix(body, []byte("\xef\xbb\xbf"))
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 {
		return nil, errors.New("empty: no JSON at all; send one JSON object or an array of objects")
	}
	if utf16(trimmed) {
		return nil, errors.New("the JSON is in UTF-16, not UTF-8: save or send it as UTF-8")
	}
	if c := trimmed[0]; c != '{' && c != '[' {
		return nil, fmt.Errorf("the JSON starts with %q, not { or [: send one JSON object or an array of objects", trimmed[:1])
	}
	parser := parsers.Get()
	defer parsers.Put(parser)
	v, err := parser.ParseBytes(trimmed)
	if err != nil {
		// The position is in the body as given, blank lines before the
		// JSON counted.
		return nil, JSONError(body)
	}
	one := func(v *fastjson.Value, raw []byte) (*Event, error) {
		return eventOf(v, project(v, p), raw)
	}
	if v.Type() == fastjson.TypeObject {
		ev, err := one(v, bytes.TrimRight(trimmed, " \t\r\n"))
		if err != nil {
			return nil, shapeError(body, eventAt(body, len(body)-len(trimmed)), err)
		}
		return []*Event{ev}, nil
	}
	items, _ := v.Array()
	if len(items) == 0 {
		return nil, errors.New("empty array: send at least one event")
	}
	evs := make([]*Event, 0, len(items))
	for i, item := range items {
		if item.Type() != fastjson.TypeObject {
			return nil, shapeError(body, elementAt(body, i), fmt.Errorf("element %d: not a JSON object: each event must be an object with an \"event\" field", i))
		}
		ev, err := one(item, item.MarshalTo(nil))
		if err != nil {
			return nil, shapeError(body, eventAt(body, elementAt(body, i)), fmt.Errorf("element %d: %w", i, err))
		}
		evs = append(evs, ev)
	}
	return evs, nil
}

// utf16 reports whether b starts as UTF-16 text does: with its byte
// order mark, or with a { or [ whose second byte is zero. Windows tools
// (PowerShell's > among them) write files so.
func utf16(b []byte) bool {
	return bytes.HasPrefix(b, []byte("\xff\xfe")) || bytes.HasPrefix(b, []byte("\xfe\xff")) ||
		len(b) > 1 && (b[0] == 0 || b[1] == 0)
}

// project decodes the top-level object v: the fields p names (all of
// them with a nil p).
func project(v *fastjson.Value, p *Projection) map[string]any {
	if p == nil {
		m, _ := convert(v).(map[string]any)
		return m
	}
	return projectObject(v, p)
}

// projectValue decodes v as far as p asks.
func projectValue(v *fastjson.Value, p *Projection) any {
	if p.whole || v.Type() != fastjson.TypeObject {
		return convert(v)
	}
	return projectObject(v, p)
}

// projectObject decodes the fields of the object v that p names.
func projectObject(v *fastjson.Value, p *Projection) map[string]any {
	o, _ := v.Object()
	m := make(map[string]any, min(len(p.children), o.Len()))
	o.Visit(func(k []byte, x *fastjson.Value) {
		if child, ok := p.child(k); ok {
			m[child.name] = projectValue(x, child)
		}
	})
	return m
}
