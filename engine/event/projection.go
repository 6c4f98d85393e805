package event

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/valyala/fastjson"
)

// Projection is the set of nested fields to decode: the fields that rules
// read. Decoding only them is what makes intake cheap for large payloads
// (a group:update carries about a hundred nested fields; rules read a few).
// Top-level fields that are not objects are always decoded; a nil
// Projection decodes everything.
type Projection struct {
	// children are the object's fields to decode; whole means the entire
	// subtree is needed.
	children map[string]*Projection
	whole    bool
}

// NewProjection builds a projection from field paths such as
// ["data", "chat", "name"]. A path that ends at an object keeps the
// object whole; a step "[]" (a list element) keeps the list whole.
func NewProjection(paths [][]string) *Projection {
	root := &Projection{children: map[string]*Projection{}}
	for _, path := range paths {
		p := root
		for i, step := range path {
			if p.whole {
				break
			}
			if step == "[]" {
				p.whole, p.children = true, nil
				break
			}
			next, ok := p.children[step]
			if !ok {
				next = &Projection{children: map[string]*Projection{}}
				p.children[step] = next
			}
			p = next
			if i == len(path)-1 {
				p.whole, p.children = true, nil
			}
		}
	}
	return root
}

// ParseProjected is Parse, decoding only the fields of p (all of them
// when p is nil).
func ParseProjected(body []byte, p *Projection) ([]*Event, error) {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 {
		return nil, errors.New("empty body: send one JSON object or an array of objects")
	}
	if c := trimmed[0]; c != '{' && c != '[' {
		return nil, fmt.Errorf("body starts with %q: send one JSON object or an array of objects", trimmed[:1])
	}
	parser := parsers.Get()
	defer parsers.Put(parser)
	v, err := parser.ParseBytes(trimmed)
	if err != nil {
		return nil, syntaxError(trimmed)
	}
	one := func(v *fastjson.Value, raw []byte) (*Event, error) {
		return eventOf(project(v, p), raw)
	}
	if v.Type() == fastjson.TypeObject {
		ev, err := one(v, bytes.TrimRight(trimmed, " \t\r\n"))
		if err != nil {
			return nil, err
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
			return nil, fmt.Errorf("element %d: not a JSON object: each event must be an object with an \"event\" field", i)
		}
		ev, err := one(item, item.MarshalTo(nil))
		if err != nil {
			return nil, fmt.Errorf("element %d: %w", i, err)
		}
		evs = append(evs, ev)
	}
	return evs, nil
}

// project decodes the top-level object v: every field that is not an
// object, and of the objects the fields p names (all with a nil p).
func project(v *fastjson.Value, p *Projection) map[string]any {
	if p == nil {
		m, _ := convert(v).(map[string]any)
		return m
	}
	o, _ := v.Object()
	m := make(map[string]any, o.Len())
	o.Visit(func(k []byte, x *fastjson.Value) {
		if x.Type() != fastjson.TypeObject {
			m[string(k)] = convert(x)
			return
		}
		if child, ok := p.children[string(k)]; ok {
			m[string(k)] = projectValue(x, child)
		}
	})
	return m
}

func projectValue(v *fastjson.Value, p *Projection) any {
	if p.whole || v.Type() != fastjson.TypeObject {
		return convert(v)
	}
	o, _ := v.Object()
	m := make(map[string]any, len(p.children))
	o.Visit(func(k []byte, x *fastjson.Value) {
		if child, ok := p.children[string(k)]; ok {
			m[string(k)] = projectValue(x, child)
		}
	})
	return m
}
