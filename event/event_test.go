package event_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/event"
)

func TestFormat(t *testing.T) {
	tests := []struct {
		in   any
		want string
	}{
		{nil, ""},
		{"¡Hola 🙏", "¡Hola 🙏"},
		{true, "true"},
		{int64(1020), "1020"},
		{int64(1721661487), "1721661487"},
		{1020.0, "1020"},
		{0.5, "0.5"},
		{1.5e21, "1500000000000000000000"},
		{[]any{"+1", int64(2)}, `["+1",2]`},
		{map[string]any{"a": "<b>&"}, `{"a":"<b>&"}`},
		{time.Date(2024, 7, 22, 15, 18, 7, 0, time.UTC), "2024-07-22T15:18:07Z"},
	}
	for _, tt := range tests {
		if got := event.Format(tt.in); got != tt.want {
			t.Errorf("Format(%#v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseKeepsIntegers(t *testing.T) {
	evs, err := event.Parse([]byte(`{"id":"x","event":"e","n":1020,"f":0.5,"big":12345678901234,"neg":-3}`))
	if err != nil {
		t.Fatal(err)
	}
	f := evs[0].Fields
	for k, want := range map[string]any{"n": int64(1020), "f": 0.5, "big": int64(12345678901234), "neg": int64(-3)} {
		if !reflect.DeepEqual(f[k], want) {
			t.Errorf("%s = %#v, want %#v", k, f[k], want)
		}
	}
}

// TestSyntaxErrorPosition: broken JSON is reported at the line and
// column of the problem in the body as given, blank lines and spaces
// before the JSON counted (a body pasted into the console's playground
// often starts with them).
func TestSyntaxErrorPosition(t *testing.T) {
	for _, tt := range []struct{ body, want string }{
		{`{"event": "x",}`, "invalid JSON at line 1, column 15: a comma before }"},
		{"{\n  \"event\": \"x\",\n  \"data\": {\"id\": 1,}\n}", "invalid JSON at line 3, column 20: a comma before }"},
		{"\n\n  {\"event\": \"x\",}", "invalid JSON at line 3, column 17: a comma before }"},
		{"\r\n{\"event\": \"x\"", "invalid JSON at line 2, column 13: the JSON ends before it is complete"},
	} {
		_, err := event.Parse([]byte(tt.body))
		var se *event.SyntaxError
		if !errors.As(err, &se) || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("Parse(%q) = %v, want a SyntaxError %q...", tt.body, err, tt.want)
		}
	}
}

// TestSyntaxErrorWords: the usual mistakes in hand-written or
// hand-edited JSON are named as the mistake and its fix, not as
// encoding/json's parser state ("invalid character '"' after object
// key:value pair"); a body that is not JSON text in UTF-8 says so.
func TestSyntaxErrorWords(t *testing.T) {
	for _, tt := range []struct{ name, body, want string }{
		{"missing comma", `{"event": "x" "id": "1"}`, `invalid JSON at line 1, column 15: expected a comma or } after the field's value, found '"': separate fields with commas`},
		{"trailing comma in an object", `{"event": "x",}`, "invalid JSON at line 1, column 15: a comma before } with no field after it: remove the trailing comma"},
		{"trailing comma in a list", `[{"event": "x"},]`, "invalid JSON at line 1, column 17: a comma before ] with no element after it: remove the trailing comma"},
		{"missing comma in a list", `[{"event": "x"} {"event": "y"}]`, "invalid JSON at line 1, column 17: expected a comma or ] after the list element, found '{': separate elements with commas"},
		{"missing colon", `{"event" "x"}`, `invalid JSON at line 1, column 10: expected a colon after the field name, found '"': write "name": value`},
		{"single quotes", `{'event': 'x'}`, "invalid JSON at line 1, column 2: text in single quotes: JSON puts names and text in double quotes"},
		{"unquoted name", `{event: "x"}`, `invalid JSON at line 1, column 2: expected a field name in double quotes, found 'e': write "name": value`},
		{"unquoted text", `{"event": group:update}`, "invalid JSON at line 1, column 11: expected a value, found 'g': put text in double quotes (only true, false and null go without)"},
		{"misspelt true", `{"event": "x", "a": tru}`, "invalid JSON at line 1, column 24: a word that is not true, false or null: put text in double quotes"},
		{"cut short", "{\"event\": \"x\",\n", "invalid JSON at line 2, column 1: the JSON ends before it is complete: a closing } or ], or a closing quote, is missing"},
		{"empty", " \n", "empty: no JSON at all; send one JSON object or an array of objects"},
		{"text", `"group:update"`, `the JSON starts with "\"", not { or [: send one JSON object or an array of objects`},
		{"UTF-16 with a byte order mark", "\xff\xfe{\x00}\x00", "the JSON is in UTF-16, not UTF-8: save or send it as UTF-8"},
		{"UTF-16 without one", "{\x00}\x00", "the JSON is in UTF-16, not UTF-8: save or send it as UTF-8"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := event.Parse([]byte(tt.body))
			if err == nil || err.Error() != tt.want {
				t.Errorf("Parse(%q) = %v\nwant %s", tt.body, err, tt.want)
			}
		})
	}
}

// TestShapeErrorPosition: an object without a text event field, or an
// array element that is not an object, is reported at its line and
// column in the body, as broken JSON is: a batch of 25 captured
// message:out:failed items, or a hand-edited capture, says where to
// look. The error still wraps ErrNoEvent where the event field is the
// problem.
func TestShapeErrorPosition(t *testing.T) {
	batch := "[\n  {\"event\": \"message:out:failed\", \"entityId\": \"a\"},\n  {\"entityId\": \"b\"}\n]"
	for _, tt := range []struct {
		body      string
		line, col int
		msg       string
		noEvent   bool
	}{
		{batch, 3, 3, `element 1: missing "event" field`, true},
		{"[{\"event\":\"e\"},\n 7]", 2, 2, "element 1: not a JSON object", false},
		{"{\n  \"id\": \"3EB0\",\n  \"event\": 5\n}", 3, 12, `the "event" field holds 5, not the event's type as text`, true},
		{"{\n  \"id\": \"3EB0\",\n  \"event\": \"\"\n}", 3, 12, `the "event" field is empty: give the event's type`, true},
		{"\n{\"id\": \"3EB0\"}", 2, 1, `missing "event" field`, true},
		{"[{\"event\":\"e\"}, {\"x\": {\"event\": 1}, \"event\": [\"a\"]}]", 1, 46, `element 1: the "event" field holds ["a"]`, true},
	} {
		_, err := event.Parse([]byte(tt.body))
		var se *event.SyntaxError
		if !errors.As(err, &se) || se.Line != tt.line || se.Col != tt.col || !strings.HasPrefix(se.Msg, tt.msg) {
			t.Errorf("Parse(%q) = %#v, want line %d, column %d: %s...", tt.body, err, tt.line, tt.col, tt.msg)
			continue
		}
		if want := fmt.Sprintf("line %d, column %d: %s", tt.line, tt.col, tt.msg); !strings.HasPrefix(err.Error(), want) {
			t.Errorf("Parse(%q): %q, want %q...", tt.body, err, want)
		}
		if errors.Is(err, event.ErrNoEvent) != tt.noEvent {
			t.Errorf("Parse(%q): errors.Is(ErrNoEvent) = %v", tt.body, !tt.noEvent)
		}
	}
	path := filepath.Join(t.TempDir(), "batch.json")
	if err := os.WriteFile(path, []byte(batch), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := event.ReadFile(path); err == nil || !strings.HasPrefix(err.Error(), path+`:3:3: element 1: missing "event" field`) {
		t.Errorf("ReadFile: %v, want %s:3:3: element 1: ...", err, path)
	}
}

// TestByteOrderMark: a capture saved by an editor that writes a UTF-8
// byte order mark first (Notepad, PowerShell's UTF8 encoding) is read
// as the event it holds, as RFC 8259 lets a parser do; a syntax error in
// it is still found where it is.
func TestByteOrderMark(t *testing.T) {
	const bom = "\xef\xbb\xbf"
	evs, err := event.Parse([]byte(bom + `{"id":"3EB0","event":"message:in:new"}`))
	if err != nil || len(evs) != 1 || evs[0].ID != "3EB0" || string(evs[0].Raw) != `{"id":"3EB0","event":"message:in:new"}` {
		t.Fatalf("Parse with a byte order mark: %v, %v", evs, err)
	}
	_, err = event.Parse([]byte(bom + `{"event": "x",}`))
	if err == nil || !strings.HasPrefix(err.Error(), "invalid JSON at line 1, column 15: a comma before }") {
		t.Errorf("broken JSON after a byte order mark: %v", err)
	}
}

func TestIDFallbacks(t *testing.T) {
	tests := []struct {
		body, want string
	}{
		{`{"id":"3EB0","event":"e"}`, "3EB0"},
		{`{"entityId":"5bf6","event":"message:out:failed"}`, "5bf6"},
		{`{"id":42,"event":"e"}`, "42"},
	}
	for _, tt := range tests {
		evs, err := event.Parse([]byte(tt.body))
		if err != nil {
			t.Fatal(err)
		}
		if evs[0].ID != tt.want {
			t.Errorf("%s: id %q, want %q", tt.body, evs[0].ID, tt.want)
		}
	}
	a, _ := event.Parse([]byte(`{"event":"e","x":1}`))
	b, _ := event.Parse([]byte(`{"event":"e","x":2}`))
	if a[0].ID == b[0].ID || len(a[0].ID) != len("sha256:")+64 {
		t.Errorf("hash ids %q and %q: want distinct sha256: ids", a[0].ID, b[0].ID)
	}
}

func TestProjection(t *testing.T) {
	p := event.NewProjection([][]string{{"data", "chat", "name"}, {"device"}, {"data", "labels", "[]"}})
	evs, err := event.ParseProjected([]byte(`{"id":"1","event":"e","author":"+1",
		"device":{"id":"d","phone":"+2"},
		"data":{"body":"not read","labels":["a"],"chat":{"name":"G","id":"c"}},
		"other":{"x":1}}`), p)
	if err != nil {
		t.Fatal(err)
	}
	// author is not read: only the fields of Always are decoded besides
	// the projection's.
	want := map[string]any{
		"id": "1", "event": "e",
		"device": map[string]any{"id": "d", "phone": "+2"},
		"data":   map[string]any{"labels": []any{"a"}, "chat": map[string]any{"name": "G"}},
	}
	if got := evs[0].Fields; !reflect.DeepEqual(got, want) {
		t.Errorf("projected\n%#v\nwant\n%#v", got, want)
	}
}

// TestKeysOfOneMessage reads the events Wassenger documents about one
// message (testdata/identity): each has a key of its own, and the key
// does not change when the same event is sent again with other spacing
// or key order.
func TestKeysOfOneMessage(t *testing.T) {
	evs, err := event.ReadPaths([]string{"../testdata/identity"})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 7 {
		t.Fatalf("read %d events, want 7", len(evs))
	}
	seen := map[string]string{}
	for _, ev := range evs {
		if first, dup := seen[ev.Key]; dup {
			t.Errorf("%s and %s share the key %q", first, ev.Source, ev.Key)
		}
		seen[ev.Key] = ev.Source
		again, err := event.Parse(reencode(t, ev.Raw))
		if err != nil {
			t.Fatal(err)
		}
		if again[0].Key != ev.Key {
			t.Errorf("%s: key %q, re-encoded %q", ev.Source, ev.Key, again[0].Key)
		}
	}
	if evs[0].ID != evs[1].ID {
		t.Errorf("the message:out:new and its first ack should share Wassenger's id: %q, %q", evs[0].ID, evs[1].ID)
	}
}

// TestKeysOfCapturedMessages reads the message:in:new events that
// receivers captured from Wassenger (testdata/events/message-in-live.json,
// one to one, and message-in-group-live.json, a member's image in a
// group): Wassenger's id is the top-level id, equal to data.id; the key is
// the event name, that id and the number the event came through; the same
// bytes re-encoded have the same key.
func TestKeysOfCapturedMessages(t *testing.T) {
	for file, want := range map[string]string{
		"message-in-live.json":       "message:in:new/3EB0A1C2D3E4F5061728394A5B6C7D8E/on:6650a1b2c3d4e5f60718293a",
		"message-in-group-live.json": "message:in:new/3EB0D4E5F60718293A4B5C/on:6650b2c3d4e5f60718293a4b",
	} {
		evs, err := event.ReadFile(filepath.Join("..", "testdata", "events", file))
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 1 {
			t.Fatalf("%s: read %d events, want 1", file, len(evs))
		}
		ev := evs[0]
		if ev.Name != "message:in:new" || ev.Key != want {
			t.Errorf("%s: %s with key %q, want message:in:new with key %q", file, ev.Name, ev.Key, want)
		}
		data, _ := ev.Fields["data"].(map[string]any)
		if ev.ID != data["id"] {
			t.Errorf("%s: id %q, data.id %v: want them equal", file, ev.ID, data["id"])
		}
		again, err := event.Parse(reencode(t, ev.Raw))
		if err != nil {
			t.Fatal(err)
		}
		if again[0].Key != ev.Key {
			t.Errorf("%s: key %q, re-encoded %q", file, ev.Key, again[0].Key)
		}
	}
}

// reencode returns raw decoded and encoded again: keys sorted, no spaces.
func reencode(t *testing.T, raw []byte) []byte {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestKeys(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"inbound message", `{"id":"M1","event":"message:in:new","data":{"id":"M1"}}`, "message:in:new/M1"},
		{"ack at the top", `{"id":"M1","event":"message:out:ack","ack":"read","data":{"ack":"delivered"}}`, "message:out:ack/M1/read"},
		{"ack in data only", `{"id":"M1","event":"message:out:ack","data":{"ack":"delivered"}}`, "message:out:ack/M1/delivered"},
		{"sent item", `[{"event":"message:out:sent","entityId":"E1","data":{"status":"processed"}}]`, "message:out:sent/E1"},
		{"failed item", `[{"event":"message:out:failed","entityId":"E1","data":{"status":"failed"}}]`, "message:out:failed/E1"},
		{"retry count", `[{"event":"message:out:retry","entityId":"E1","data":{"retry":{"count":2}}}]`, "message:out:retry/E1/2"},
		{"group add", `{"id":"G1","event":"group:update","action":"add","participants":["+2","+1"]}`, "group:update/G1/add/+1,+2"},
		{"group setting", `{"id":"G1","event":"group:update","action":"announce","value":true}`, "group:update/G1/announce//true"},
		{"group without participants", `{"id":"G1","event":"group:update","action":"subject"}`, "group:update/G1/subject"},
		{"numeric id", `{"id":42,"event":"message:in:new"}`, "message:in:new/42"},
		// Each number of an account in a group gets the group's events
		// with the same WhatsApp id: the number is part of the key.
		{"message through a number", `{"id":"M1","event":"message:in:new","device":{"id":"61b37a069cba0c15d6c89757","phone":"+44"}}`, "message:in:new/M1/on:61b37a069cba0c15d6c89757"},
		{"same message through another", `{"id":"M1","event":"message:in:new","device":{"id":"64f1c2a9b3e4d5f6a7b8c9d0"}}`, "message:in:new/M1/on:64f1c2a9b3e4d5f6a7b8c9d0"},
		{"device as a bare id", `{"id":"M1","event":"message:in:new","device":"61b37a069cba0c15d6c89757"}`, "message:in:new/M1/on:61b37a069cba0c15d6c89757"},
		{"ack through a number", `{"id":"M1","event":"message:out:ack","ack":"read","device":{"id":"D1"}}`, "message:out:ack/M1/read/on:D1"},
		{"group add through a number", `{"id":"G1","event":"group:update","action":"add","participants":["+1"],"device":{"id":"D1"}}`, "group:update/G1/add/+1/on:D1"},
		{"failed item keeps Wassenger's id", `[{"event":"message:out:failed","entityId":"E1","data":{"device":{"id":"D1"}}}]`, "message:out:failed/E1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, err := event.Parse([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if got := evs[0].Key; got != tt.want {
				t.Errorf("key %q, want %q", got, tt.want)
			}
		})
	}
}

// TestKeysByDigest covers the events whose state hookd cannot name from
// Wassenger's documentation (a reaction, an edit, a chat update, an event
// without id): two events that differ anywhere have different keys, and
// the same event has the same key.
func TestKeysByDigest(t *testing.T) {
	bodies := []string{
		`{"id":"M1","event":"message:reaction","data":{"reaction":"👍"}}`,
		`{"id":"M1","event":"message:reaction","data":{"reaction":"❤️"}}`,
		`{"id":"M1","event":"message:update","data":{"body":"edited once"}}`,
		`{"id":"M1","event":"message:update","data":{"body":"edited twice"}}`,
		`{"id":"C1","event":"chat:update","data":{"status":"resolved"}}`,
		`{"id":"C1","event":"chat:update","data":{"status":"active"}}`,
		`{"event":"number:session","data":{"status":"online"}}`,
		`{"event":"number:session","data":{"status":"offline"}}`,
		`{"id":"G1","event":"group:update","action":"remove","participants":["` + strings.Repeat("+3460000000", 10) + `"]}`,
		`{"id":"G1","event":"group:update","action":"remove","participants":["` + strings.Repeat("+3460000001", 10) + `"]}`,
	}
	seen := map[string]string{}
	for _, b := range bodies {
		evs, err := event.Parse([]byte(b))
		if err != nil {
			t.Fatal(err)
		}
		key := evs[0].Key
		if first, dup := seen[key]; dup {
			t.Errorf("%s and %s share the key %q", first, b, key)
		}
		seen[key] = b
		if len(key) > 100 {
			t.Errorf("%s: key %q is longer than 100 bytes", b, key)
		}
		again, _ := event.Parse(reencode(t, []byte(b)))
		if again[0].Key != key {
			t.Errorf("%s: key %q, re-encoded %q", b, key, again[0].Key)
		}
	}
}

// TestDeviceAsBareID: some material shows an event's device as a bare
// id instead of the device object. Rules read device.id, device.phone
// and use {{ device.id }} in actions, as the rules reference documents;
// on a bare id those failed ("invalid operation: int(string)"). The
// decoded event has the device object with that id, decoded whole or
// projected; its bytes stay as received, and an item's data.device is
// left alone.
func TestDeviceAsBareID(t *testing.T) {
	body := `{"id":"M1","event":"message:in:new","device":"61b37a069cba0c15d6c89757","data":{"device":"x"}}`
	want := map[string]any{"id": "61b37a069cba0c15d6c89757"}
	for _, p := range []*event.Projection{nil, event.NewProjection([][]string{{"device", "phone"}, {"data", "device"}})} {
		evs, err := event.ParseProjected([]byte(body), p)
		if err != nil {
			t.Fatal(err)
		}
		ev := evs[0]
		if got := ev.Fields["device"]; !reflect.DeepEqual(got, want) {
			t.Errorf("projection %v: device %#v, want %#v", p != nil, got, want)
		}
		if got := ev.Fields["data"].(map[string]any)["device"]; got != "x" {
			t.Errorf("projection %v: data.device %#v, want it as received", p != nil, got)
		}
		if string(ev.Raw) != body || ev.Device != "61b37a069cba0c15d6c89757" {
			t.Errorf("projection %v: raw %s, device %q: want the bytes as received and the id", p != nil, ev.Raw, ev.Device)
		}
	}
	// An empty or non-text device stays as it is.
	for _, b := range []string{`{"event":"e","device":""}`, `{"event":"e","device":null}`, `{"event":"e","device":7}`} {
		evs, err := event.Parse([]byte(b))
		if err != nil {
			t.Fatal(err)
		}
		if _, isMap := evs[0].Fields["device"].(map[string]any); isMap {
			t.Errorf("%s: device became %#v", b, evs[0].Fields["device"])
		}
	}
}
