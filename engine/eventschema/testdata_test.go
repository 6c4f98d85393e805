package eventschema

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// eventsDir holds hookd's recorded Wassenger events.
var eventsDir = filepath.Join("..", "..", "testdata", "events")

// recorded is one event read from the events folder.
type recorded struct {
	where string // file, with the line or array index
	file  string // path relative to eventsDir
	event map[string]any
}

// loadRecorded reads the recorded events under dir or fails the test.
func loadRecorded(t *testing.T, dir string) []recorded {
	t.Helper()
	events, err := readRecorded(dir)
	if err != nil {
		t.Fatalf("read recorded events: %v", err)
	}
	return events
}

// readRecorded reads every .json (an object or an array of objects) and
// .jsonl (one object a line) file under dir; other files are skipped.
// Numbers stay json.Number so that they are told apart from strings.
func readRecorded(dir string) ([]recorded, error) {
	var out []recorded
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		switch filepath.Ext(path) {
		case ".json":
			var v any
			if err := decode(data, &v); err != nil {
				return fmt.Errorf("%s: %w", rel, err)
			}
			switch v := v.(type) {
			case map[string]any:
				out = append(out, recorded{rel, rel, v})
			case []any:
				for i, e := range v {
					obj, ok := e.(map[string]any)
					if !ok {
						return fmt.Errorf("%s[%d]: an array event must be an object, got %T", rel, i, e)
					}
					out = append(out, recorded{fmt.Sprintf("%s[%d]", rel, i), rel, obj})
				}
			default:
				return fmt.Errorf("%s: want an object or an array of objects, got %T", rel, v)
			}
		case ".jsonl":
			sc := bufio.NewScanner(bytes.NewReader(data))
			sc.Buffer(make([]byte, 0, 64*1024), 4<<20)
			for n := 1; sc.Scan(); n++ {
				if len(bytes.TrimSpace(sc.Bytes())) == 0 {
					continue
				}
				var obj map[string]any
				if err := decode(sc.Bytes(), &obj); err != nil {
					return fmt.Errorf("%s:%d: %w", rel, n, err)
				}
				out = append(out, recorded{fmt.Sprintf("%s:%d", rel, n), rel, obj})
			}
			return sc.Err()
		}
		return nil
	})
	return out, err
}

func decode(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("trailing data after the JSON value")
	}
	return nil
}

// leaf is one field of a recorded event: its path and its value.
type leaf struct {
	path  []string
	value any
}

// flatten lists every field under v, objects and lists included, with list
// elements addressed by index.
func flatten(prefix []string, v any, out *[]leaf) {
	switch v := v.(type) {
	case map[string]any:
		for k, c := range v {
			p := append(slices.Clone(prefix), k)
			*out = append(*out, leaf{p, c})
			flatten(p, c, out)
		}
	case []any:
		for i, c := range v {
			p := append(slices.Clone(prefix), strconv.Itoa(i))
			*out = append(*out, leaf{p, c})
			flatten(p, c, out)
		}
	}
}

// accepts reports whether a value fits the shape of n. null fits anything.
func accepts(n *node, v any) bool {
	if v == nil {
		return true
	}
	switch n.kind {
	case kindObject:
		_, ok := v.(map[string]any)
		return ok
	case kindList:
		_, ok := v.([]any)
		return ok
	}
	switch n.scalar {
	case scalarAny:
		return true
	case scalarString:
		_, ok := v.(string)
		return ok
	case scalarNumber:
		_, ok := v.(json.Number)
		return ok
	case scalarBool:
		_, ok := v.(bool)
		return ok
	}
	return false
}

// TestRecordedEventsMatchSchema keeps the schema and the recorded events in
// step: every field of every recorded event of a known name must be in the
// schema, with a value of the schema's type.
func TestRecordedEventsMatchSchema(t *testing.T) {
	events := loadRecorded(t, eventsDir)
	checked := map[string]int{}
	for _, r := range events {
		name, _ := r.event["event"].(string)
		if !Known(name) {
			continue
		}
		checked[name]++
		root := std.events[name]
		var leaves []leaf
		flatten(nil, r.event, &leaves)
		for _, l := range leaves {
			dotted := strings.Join(l.path, ".")
			if !Has(name, l.path) {
				hint := ""
				if s := Suggest(name, l.path); s != "" {
					hint = fmt.Sprintf(" (the schema has %q)", s)
				}
				t.Errorf("%s: field %s is not in the schema of %s%s; add it to wassenger.json or fix the event", r.where, dotted, name, hint)
				continue
			}
			if _, n := walk(root, l.path); !accepts(n, l.value) {
				t.Errorf("%s: field %s = %v (%T) does not fit the schema's shape for %s", r.where, dotted, l.value, l.value, name)
			} else if s, ok := l.value.(string); ok && n.enum != nil && !slices.Contains(n.enum, s) {
				t.Errorf("%s: field %s = %q is not one of the schema's values for %s %q; add it to the $enum in wassenger.json or fix the event", r.where, dotted, s, name, n.enum)
			}
		}
	}
	for _, name := range []string{"group:update", "message:in:new", "message:out:new", "message:out:ack", "message:out:sent", "message:out:failed"} {
		if checked[name] == 0 {
			t.Errorf("no recorded %s event was checked against the schema; want at least one in %s", name, eventsDir)
		}
	}
}

// dataField returns ev.data[key], or nil.
func dataField(ev map[string]any, key string) any {
	data, _ := ev["data"].(map[string]any)
	return data[key]
}

// identity names one event among the events about the same entity, as
// Wassenger sends them: the event name, the id (entityId for array items)
// and the state that changes from one event to the next about it (the
// ack of message:out:ack, the action, participants and value of
// group:update). Several events share an id: one message:out:ack per ack
// state, message:out:sent and message:out:failed for one message.
func identity(ev map[string]any) (string, bool) {
	id, _ := ev["id"].(string)
	if id == "" {
		id, _ = ev["entityId"].(string)
	}
	if id == "" {
		return "", false
	}
	name, _ := ev["event"].(string)
	state := []any{name, id}
	switch name {
	case "message:out:ack":
		state = append(state, ev["ack"])
	case "group:update":
		state = append(state, ev["action"], ev["participants"], ev["value"])
	}
	key, _ := json.Marshal(state)
	return string(key), true
}

// TestRecordedEventsFolder checks the layout the rest of hookd's tests rely
// on: an event field everywhere, one identity per event, one group:update
// file per action, the spec's examples under spec/.
func TestRecordedEventsFolder(t *testing.T) {
	events := loadRecorded(t, eventsDir)
	seen := map[string]string{}
	byFile := map[string][]map[string]any{}
	for _, r := range events {
		byFile[r.file] = append(byFile[r.file], r.event)
		name, ok := r.event["event"].(string)
		if !ok || name == "" {
			t.Errorf("%s: no event field; every recorded event needs one", r.where)
		}
		key, ok := identity(r.event)
		if !ok {
			t.Errorf("%s: no id or entityId", r.where)
			continue
		}
		if prev, dup := seen[key]; dup {
			t.Errorf("%s: the same event as %s (%s); give each recorded event its own id or state", r.where, prev, key)
		}
		seen[key] = r.where
	}

	for _, action := range GroupActions() {
		file := "group-update/" + action + ".json"
		evs := byFile[file]
		if len(evs) != 1 {
			t.Errorf("%s: want one group:update event, found %d", file, len(evs))
			continue
		}
		if got := evs[0]["action"]; got != action {
			t.Errorf("%s: action = %v, want %q", file, got, action)
		}
	}
	for _, c := range []struct {
		file  string
		value bool
	}{{"group-update/restrict.json", true}, {"group-update/restrict-off.json", false}} {
		if evs := byFile[c.file]; len(evs) != 1 || evs[0]["value"] != c.value || evs[0]["action"] != "restrict" {
			t.Errorf("%s: want one restrict event with value %v", c.file, c.value)
		}
	}
	groupFiles := 0
	for file := range byFile {
		if strings.HasPrefix(file, "group-update/") {
			groupFiles++
		}
	}
	if want := len(GroupActions()) + 1; groupFiles != want {
		t.Errorf("group-update holds %d event files, want %d (one per action plus restrict-off.json)", groupFiles, want)
	}

	if batch := byFile["message-out-failed-batch.json"]; len(batch) != 3 {
		t.Errorf("message-out-failed-batch.json: want an array of 3 events, found %d", len(batch))
	}
	if ack := byFile["message-out-ack.json"]; len(ack) != 1 || ack[0]["ack"] != "read" {
		t.Errorf("message-out-ack.json: want one event with a top-level ack of \"read\"")
	}
	if more := byFile["more.jsonl"]; len(more) != 5 {
		t.Errorf("more.jsonl: want 5 events, found %d", len(more))
	}

	// The spec's examples, one file each, and the ack example once per
	// ack state.
	spec := map[string]string{
		"spec/message-in-new.json":        "message:in:new",
		"spec/message-out-new.json":       "message:out:new",
		"spec/message-out-new-media.json": "message:out:new",
		"spec/message-out-sent.json":      "message:out:sent",
		"spec/message-out-failed.json":    "message:out:failed",
	}
	for _, ack := range []string{"server", "delivered", "read", "played"} {
		file := "spec/message-out-ack-" + ack + ".json"
		spec[file] = "message:out:ack"
		if evs := byFile[file]; len(evs) != 1 || evs[0]["ack"] != ack || dataField(evs[0], "ack") != ack {
			t.Errorf("%s: want one message:out:ack event with ack and data.ack %q", file, ack)
		}
	}
	for file, name := range spec {
		if evs := byFile[file]; len(evs) != 1 || evs[0]["event"] != name {
			t.Errorf("%s: want one %s event from the spec's examples", file, name)
		}
	}
	if sent, failed := byFile["spec/message-out-sent.json"], byFile["spec/message-out-failed.json"]; len(sent) == 1 && len(failed) == 1 && sent[0]["entityId"] != failed[0]["entityId"] {
		t.Errorf("spec/message-out-sent.json and spec/message-out-failed.json: want the same entityId (one message), got %v and %v", sent[0]["entityId"], failed[0]["entityId"])
	}
}

// TestReadRecorded makes sure the folder checks above read what they should
// and notice a broken file rather than skip it.
func TestReadRecorded(t *testing.T) {
	tests := []struct {
		name, file, content string
	}{
		{"bad json", "a.json", `{"event": `},
		{"scalar", "a.json", `"message:in:new"`},
		{"array of scalars", "a.json", `[1, 2]`},
		{"bad jsonl line", "a.jsonl", "{\"event\": \"x\"}\n{oops}\n"},
		{"two values", "a.json", `{"event": "x"} {"event": "y"}`},
	}
	dir := t.TempDir()
	ok := "{\"event\": \"x\", \"n\": 1}\n\n{\"event\": \"y\"}\n"
	if err := os.WriteFile(filepath.Join(dir, "ok.jsonl"), []byte(ok), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "README.md"), []byte("# not an event\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := readRecorded(dir)
	if err != nil || len(got) != 2 || got[0].where != "ok.jsonl:1" || got[1].where != "ok.jsonl:3" {
		t.Fatalf("readRecorded(good folder) = %+v, %v; want the two events of ok.jsonl at lines 1 and 3", got, err)
	}
	if _, isNumber := got[0].event["n"].(json.Number); !isNumber {
		t.Errorf("numbers decode as %T, want json.Number", got[0].event["n"])
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, tt.file), []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := readRecorded(dir); err == nil {
				t.Errorf("readRecorded accepted %s = %q, want an error", tt.file, tt.content)
			}
		})
	}
}
