// Package event decodes Wassenger webhook events: one JSON object, a JSON
// array of objects (the batched message:out:failed shape), JSONL, or files
// and folders of them. Integers stay integers, so templates render 1020 and
// not 1.02e+03.
package event

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// Event is one decoded webhook event.
type Event struct {
	// ID is the event's id field, else its entityId, else the SHA-256 of
	// its bytes.
	ID string
	// Name is the event field, e.g. "group:update".
	Name string
	// Action is the action field of group:update events ("" otherwise).
	Action string
	// Fields is the decoded top-level object. Integers are int64, other
	// numbers float64, objects map[string]any, arrays []any.
	Fields map[string]any
	// Raw holds the bytes of this event exactly as received.
	Raw []byte
	// Source says where the event was read from, e.g. "events.jsonl:3"
	// ("" for events received over HTTP).
	Source string
}

// ErrNoEvent is wrapped by errors for an object without an event field.
var ErrNoEvent = errors.New(`missing "event" field`)

// Parse decodes a request body or a .json file: one object or an array of
// objects. Every element must be an object with a string "event" field.
func Parse(body []byte) ([]*Event, error) {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 {
		return nil, errors.New("empty body: send one JSON object or an array of objects")
	}
	switch trimmed[0] {
	case '{':
		ev, err := parseOne(trimmed)
		if err != nil {
			return nil, err
		}
		return []*Event{ev}, nil
	case '[':
		var items []json.RawMessage
		if err := json.Unmarshal(trimmed, &items); err != nil {
			return nil, syntaxError(trimmed, err)
		}
		if len(items) == 0 {
			return nil, errors.New("empty array: send at least one event")
		}
		evs := make([]*Event, 0, len(items))
		for i, item := range items {
			ev, err := parseOne(item)
			if err != nil {
				return nil, fmt.Errorf("element %d: %w", i, err)
			}
			evs = append(evs, ev)
		}
		return evs, nil
	default:
		return nil, fmt.Errorf("body starts with %q: send one JSON object or an array of objects", trimmed[:1])
	}
}

func parseOne(raw []byte) (*Event, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return nil, errors.New("not a JSON object: each event must be an object with an \"event\" field")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var fields map[string]any
	if err := dec.Decode(&fields); err != nil {
		return nil, syntaxError(raw, err)
	}
	if dec.More() {
		return nil, errors.New("extra data after the JSON object")
	}
	normalize(fields)
	name, _ := fields["event"].(string)
	if name == "" {
		return nil, fmt.Errorf("%w: every Wassenger event names its type, e.g. \"event\": \"group:update\"", ErrNoEvent)
	}
	ev := &Event{Name: name, Fields: fields, Raw: raw}
	ev.Action, _ = fields["action"].(string)
	ev.ID = idOf(fields, raw)
	return ev, nil
}

func idOf(fields map[string]any, raw []byte) string {
	for _, key := range []string{"id", "entityId"} {
		switch v := fields[key].(type) {
		case string:
			if v != "" {
				return v
			}
		case int64:
			return strconv.FormatInt(v, 10)
		}
	}
	sum := sha256.Sum256(raw)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// normalize turns json.Number into int64 where the number is an integer
// that fits, float64 otherwise, in place.
func normalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = normalize(e)
		}
	case []any:
		for i, e := range x {
			x[i] = normalize(e)
		}
	case json.Number:
		if n, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return n
		}
		f, _ := strconv.ParseFloat(string(x), 64)
		return f
	}
	return v
}

// syntaxError adds the line and column to a JSON syntax error.
func syntaxError(data []byte, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line, col := position(data, int(se.Offset))
		return fmt.Errorf("invalid JSON at line %d, column %d: %v", line, col, se)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		line, col := position(data, int(te.Offset))
		return fmt.Errorf("invalid JSON at line %d, column %d: expected %s, found %s", line, col, te.Type, te.Value)
	}
	return fmt.Errorf("invalid JSON: %w", err)
}

// position converts a byte offset to a 1-based line and column.
func position(data []byte, offset int) (line, col int) {
	if offset > len(data) {
		offset = len(data)
	}
	line = 1 + bytes.Count(data[:offset], []byte("\n"))
	start := bytes.LastIndexByte(data[:offset], '\n') + 1
	col = len([]rune(string(data[start:offset])))
	if col == 0 {
		col = 1
	}
	return line, col
}
