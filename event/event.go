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
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/valyala/fastjson"
)

// SyntaxError is a body that is not an event or an array of events,
// with the 1-based line and column of the problem: invalid JSON, or JSON
// of another shape (an object without a text event field, an array
// element that is not an object).
type SyntaxError struct {
	Line, Col int
	// Msg says what is wrong, e.g. "invalid JSON: invalid character...".
	Msg string
	// Err is the problem of JSON of another shape (it wraps ErrNoEvent
	// when the event field is missing or not text); nil for invalid
	// JSON.
	Err error
}

// Error implements error.
func (e *SyntaxError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("line %d, column %d: %s", e.Line, e.Col, e.Msg)
	}
	what, detail, _ := strings.Cut(e.Msg, ": ")
	if detail == "" {
		return fmt.Sprintf("%s at line %d, column %d", e.Msg, e.Line, e.Col)
	}
	return fmt.Sprintf("%s at line %d, column %d: %s", what, e.Line, e.Col, detail)
}

// Event is one decoded webhook event.
type Event struct {
	// ID is the event's id field, else its entityId, else the SHA-256 of
	// its bytes. Several events can share it: Wassenger's id of a message
	// event is the message's id (see Key).
	ID string
	// Key is the event's identity: the event name, the entity and the
	// state that changes between successive events about the entity
	// (see identity.go). A redelivery of the same event has the same
	// Key; the store drops it as a duplicate.
	Key string
	// Name is the event field, e.g. "group:update".
	Name string
	// Action is the action field of group:update events ("" otherwise).
	Action string
	// Device is the id of the number the event came through: its
	// device.id, or its device when that is a bare id; "" when it has
	// neither (the items of message:out:failed carry theirs in data).
	Device string
	// Fields is the decoded top-level object. Integers are int64, other
	// numbers float64, objects map[string]any, arrays []any. A device
	// given as a bare id is the object {"id": ID}, as Wassenger's is.
	Fields map[string]any
	// Raw holds the bytes of this event exactly as received.
	Raw []byte
	// Source says where the event was read from, e.g. "events.jsonl:3"
	// ("" for events received over HTTP).
	Source string
	// Own says why the event is hookd's own doing when the event alone
	// does not tell: the engine sets it for the group:update of a
	// participant change that hookd asked Wassenger for (see
	// engine.OwnChanges); "" otherwise.
	Own string
}

// Unwrap returns Err.
func (e *SyntaxError) Unwrap() error { return e.Err }

// ErrNoEvent is wrapped by errors for an object without an event field,
// or whose event field is not text.
var ErrNoEvent = errors.New(`missing "event" field`)

// badEventField is the error of an event field that is not text.
type badEventField struct{ held string }

func (e badEventField) Error() string {
	if e.held == "" {
		return `the "event" field is empty: give the event's type, e.g. "event": "group:update"`
	}
	return `the "event" field holds ` + e.held + `, not the event's type as text, e.g. "event": "group:update"`
}

func (e badEventField) Unwrap() error { return ErrNoEvent }

// parsers reuses fastjson parsers, whose arenas make decoding cheap.
var parsers fastjson.ParserPool

// Parse decodes a request body or a .json file: one object or an array of
// objects. Every element must be an object with a string "event" field.
// It decodes with fastjson, which is faster than encoding/json into maps
// (see BENCHMARKS.md, "Figures behind the code"); errors are reported by
// encoding/json, which gives their line and column.
func Parse(body []byte) ([]*Event, error) { return ParseProjected(body, nil) }

// eventOf makes the event of the object v, whose decoded (maybe
// projected) fields are fields.
func eventOf(v *fastjson.Value, fields map[string]any, raw []byte) (*Event, error) {
	name, _ := fields["event"].(string)
	if name == "" {
		if v, ok := fields["event"]; ok && v != nil {
			return nil, badEventField{Format(v)}
		}
		return nil, fmt.Errorf("%w: every Wassenger event names its type, e.g. \"event\": \"group:update\"", ErrNoEvent)
	}
	ev := &Event{Name: name, Fields: fields, Raw: raw}
	ev.Action, _ = fields["action"].(string)
	ev.ID = idOf(fields, raw)
	ev.Device = deviceOf(v)
	if id, bare := fields["device"].(string); bare && id != "" {
		// Some material shows the device as its bare id: rules read
		// device.id and device.phone, and actions {{ device.id }}, so
		// they see the object that id stands for.
		fields["device"] = map[string]any{"id": id}
	}
	ev.Key = keyOf(v, name, ev.Device)
	return ev, nil
}

// convert turns a parsed value into plain Go values: integers that fit
// become int64, other numbers float64.
func convert(v *fastjson.Value) any {
	switch v.Type() {
	case fastjson.TypeObject:
		o, _ := v.Object()
		m := make(map[string]any, o.Len())
		o.Visit(func(k []byte, x *fastjson.Value) { m[string(k)] = convert(x) })
		return m
	case fastjson.TypeArray:
		a, _ := v.Array()
		l := make([]any, len(a))
		for i, x := range a {
			l[i] = convert(x)
		}
		return l
	case fastjson.TypeString:
		s, _ := v.StringBytes()
		return string(s)
	case fastjson.TypeNumber:
		if n, err := v.Int64(); err == nil {
			return n
		}
		f, _ := v.Float64()
		return f
	case fastjson.TypeTrue:
		return true
	case fastjson.TypeFalse:
		return false
	}
	return nil
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

// JSONError explains why data is not valid JSON: a *SyntaxError with the
// line and column that encoding/json finds and the mistake in plain
// words. Callers that decode other JSON than events (the admin API's
// request bodies) report broken JSON with it as events do.
func JSONError(data []byte) error {
	var v any
	err := json.Unmarshal(data, &v)
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		line, col := position(data, int(se.Offset))
		if strings.Contains(se.Error(), "after top-level value") {
			return &SyntaxError{Line: line, Col: col, Msg: "extra data after the JSON object (send one object, or an array of objects)"}
		}
		return &SyntaxError{Line: line, Col: col, Msg: "invalid JSON: " + syntaxProblem(data, se)}
	case err != nil:
		return fmt.Errorf("invalid JSON: %w", err)
	}
	return errors.New("invalid JSON")
}

// syntaxProblem says in plain words what se, a syntax error in data,
// is and how to fix it: encoding/json's messages name the parser's
// state ("after object key:value pair"), not the mistake (a missing
// comma). Its *json.SyntaxError carries only that message and the
// offset just past the offending character.
func syntaxProblem(data []byte, se *json.SyntaxError) string {
	msg := se.Error()
	if msg == "unexpected end of JSON input" {
		return "the JSON ends before it is complete: a closing } or ], or a closing quote, is missing"
	}
	off := int(se.Offset) - 1
	if off < 0 || off >= len(data) {
		return msg
	}
	r, _ := utf8.DecodeRune(data[off:])
	found := "found " + strconv.QuoteRune(r)
	switch {
	case r == '\'' && (strings.HasSuffix(msg, "looking for beginning of value") || strings.HasSuffix(msg, "looking for beginning of object key string")):
		return "text in single quotes: JSON puts names and text in double quotes"
	case strings.HasSuffix(msg, "after object key:value pair"):
		return "expected a comma or } after the field's value, " + found + ": separate fields with commas"
	case strings.HasSuffix(msg, "after array element"):
		return "expected a comma or ] after the list element, " + found + ": separate elements with commas"
	case strings.HasSuffix(msg, "after object key"):
		return "expected a colon after the field name, " + found + `: write "name": value`
	case strings.HasSuffix(msg, "looking for beginning of object key string"):
		if r == '}' {
			return "a comma before } with no field after it: remove the trailing comma"
		}
		return "expected a field name in double quotes, " + found + `: write "name": value`
	case strings.HasSuffix(msg, "looking for beginning of value"):
		switch {
		case r == ']':
			return "a comma before ] with no element after it: remove the trailing comma"
		case unicode.IsLetter(r):
			return "expected a value, " + found + ": put text in double quotes (only true, false and null go without)"
		}
		return "expected a value (text in double quotes, a number, true, false, null, an object or a list), " + found
	case strings.HasSuffix(msg, "in string literal"):
		return "a control character (a raw line break or tab) inside text in quotes: write it as \\n or \\t"
	case strings.HasSuffix(msg, "in string escape code"), strings.HasSuffix(msg, "in \\u hexadecimal character escape"):
		return "an unknown escape in text, " + found + " after a backslash: write a backslash as \\\\"
	case strings.Contains(msg, "in literal"):
		return "a word that is not true, false or null: put text in double quotes"
	case strings.Contains(msg, "numeric literal"):
		return "a malformed number, " + found + ": write numbers as 12, -3 or 1.5e3, or put text in double quotes"
	}
	return msg
}

// shapeError is err, about the JSON value at offset off of body, with
// that value's line and column.
func shapeError(body []byte, off int, err error) error {
	line, col := position(body, off+1) // the column of the byte at off
	return &SyntaxError{Line: line, Col: col, Msg: err.Error(), Err: err}
}

// elementAt is the offset in body, a JSON array, of its element i.
func elementAt(body []byte, i int) int {
	dec := json.NewDecoder(bytes.NewReader(body))
	if _, err := dec.Token(); err != nil {
		return 0
	}
	for ; i > 0; i-- {
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			return 0
		}
	}
	return skipPast(body, int(dec.InputOffset()), ", \t\r\n")
}

// eventAt is the offset in body of the value of the event field of the
// object at offset start, or start when it has none.
func eventAt(body []byte, start int) int {
	dec := json.NewDecoder(bytes.NewReader(body[start:]))
	if _, err := dec.Token(); err != nil {
		return start
	}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return start
		}
		if key == "event" {
			return skipPast(body, start+int(dec.InputOffset()), ": \t\r\n")
		}
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			return start
		}
	}
	return start
}

// skipPast is the offset of the first byte of body from off on that is
// not in chars.
func skipPast(body []byte, off int, chars string) int {
	for off < len(body) && strings.IndexByte(chars, body[off]) >= 0 {
		off++
	}
	return off
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
