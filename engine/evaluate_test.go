package engine_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/hookd/hookd/engine"
	"github.com/hookd/hookd/event"
)

// mustEvent decodes one event from JSON.
func mustEvent(t *testing.T, js string) *event.Event {
	t.Helper()
	evs, err := event.Parse([]byte(js))
	if err != nil || len(evs) != 1 {
		t.Fatalf("event %s: %v (%d events)", js, err, len(evs))
	}
	return evs[0]
}

// fired returns the names of the rules that fired, in order.
func fired(res *engine.Result) []string {
	names := []string{}
	for _, f := range res.Fired {
		names = append(names, f.Rule.Name)
	}
	return names
}

// groupEvent is a group:update event with the given action and extra
// top-level fields (JSON members, without braces).
func groupEvent(t *testing.T, action, extra string) *event.Event {
	t.Helper()
	js := `{"id":"g-` + action + `","event":"group:update","action":"` + action + `","author":"+34600000009","device":{"id":"d1","phone":"+34911234567"},"data":{"chat":{"id":"1203@g.us","name":"Ventas"}}`
	if extra != "" {
		js += "," + extra
	}
	return mustEvent(t, js+"}")
}

const matchingRules = `version: 1
rules:
  - name: exact-group
    on: group:update
    do: [log: {message: a}]
  - name: list
    on: [message:in:new, message:out:new]
    do: [log: {message: a}]
  - name: glob-message
    on: "message:*"
    do: [log: {message: a}]
  - name: glob-group
    on: "group:*"
    do: [log: {message: a}]
  - name: twice
    on: [group:update, "group:*", "*", group:update]
    do: [log: {message: a}]
  - name: stop-acks
    on: message:out:ack
    stop: true
  - name: own-edits
    on: group:update
    if: author == device?.phone
    stop: true
  - name: all
    on: "*"
    do: [log: {message: a}]
`

// TestMatching covers event names, lists and globs, file order, a rule
// that listens twice, and stop.
func TestMatching(t *testing.T) {
	rs := loadRules(t, matchingRules)
	tests := []struct {
		name  string
		event string
		want  string
	}{
		{"exact name, globs, once per rule, in file order", `{"event":"group:update","action":"add","author":"+1"}`,
			"exact-group glob-group twice all"},
		{"list", `{"event":"message:in:new"}`, "list glob-message twice all"},
		{"second name of the list", `{"event":"message:out:new"}`, "list glob-message twice all"},
		{"stop ends the chain", `{"event":"message:out:ack"}`, "glob-message twice stop-acks"},
		{"stop with a condition that holds", `{"event":"group:update","action":"subject","author":"+3491","device":{"phone":"+3491"}}`,
			"exact-group glob-group twice own-edits"},
		{"stop with a condition that does not hold", `{"event":"group:update","action":"subject","author":"+3492","device":{"phone":"+3491"}}`,
			"exact-group glob-group twice all"},
		{"only *", `{"event":"contact:update"}`, "twice all"},
		{"message:* needs the colon", `{"event":"message"}`, "twice all"},
		{"unknown event", `{"event":"custom:thing"}`, "twice all"},
	}
	// Twice over, so that the second pass reads the index's memo.
	for pass := range 2 {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				res := rs.Evaluate(mustEvent(t, tt.event))
				if got := strings.Join(fired(res), " "); got != tt.want {
					t.Errorf("pass %d: fired %q, want %q", pass, got, tt.want)
				}
				if len(res.Errors) != 0 {
					t.Errorf("errors: %v", res.Errors)
				}
			})
		}
	}
	if got := strings.Join(rs.Listening(), " "); got != "group:update message:in:new message:out:new message:* group:* * message:out:ack" {
		t.Errorf("Listening() = %s", got)
	}
	r, _ := rs.Rule("glob-message")
	if !r.Listens("message:out:failed") || r.Listens("group:update") {
		t.Errorf("Listens: glob-message")
	}
}

// TestActionIndex checks that a condition with a top-level action test
// fires exactly when it holds: the index by action must never drop a rule
// whose condition could be true (|| and negations are not restricted).
func TestActionIndex(t *testing.T) {
	tests := []struct {
		cond  string
		fires map[string]bool // event action -> fires
	}{
		{`action == "add"`, map[string]bool{"add": true, "remove": false}},
		{`"add" == action`, map[string]bool{"add": true, "remove": false}},
		{`action in ["add", "remove"]`, map[string]bool{"add": true, "remove": true, "promote": false}},
		{`action in ["promote"]`, map[string]bool{"promote": true, "add": false}},
		{`action == "add" && len(participants) > 0`, map[string]bool{"add": true, "remove": false}},
		{`len(participants) > 0 && action == "remove"`, map[string]bool{"remove": true, "add": false}},
		{`author != "" and action == "add"`, map[string]bool{"add": true, "remove": false}},
		{`action == "add" || author == "+34600000009"`, map[string]bool{"add": true, "remove": true}},
		{`author == "+34600000009" || action == "add"`, map[string]bool{"add": true, "remove": true}},
		{`(action == "add" || action == "remove") && true`, map[string]bool{"add": true, "remove": true, "promote": false}},
		{`action not in ["add"]`, map[string]bool{"add": false, "remove": true}},
		{`!(action == "add")`, map[string]bool{"add": false, "remove": true}},
		{`not (action in ["add", "remove"])`, map[string]bool{"add": false, "promote": true}},
		{`action in vars.acts`, map[string]bool{"add": true, "remove": false}},
		{`action != "add"`, map[string]bool{"add": false, "remove": true}},
		{`action == "add" ? false : true`, map[string]bool{"add": false, "remove": true}},
		{`action == "add" && action == "remove"`, map[string]bool{"add": false, "remove": false}},
	}
	for _, tt := range tests {
		t.Run(tt.cond, func(t *testing.T) {
			rs := loadRules(t, "version: 1\nvars:\n  acts: [add]\nrules:\n  - name: r\n    on: group:update\n    if: '"+strings.ReplaceAll(tt.cond, "'", "''")+"'\n    do: [log: {message: x}]\n")
			for action, want := range tt.fires {
				res := rs.Evaluate(groupEvent(t, action, `"participants":["+1"]`))
				if got := len(res.Fired) == 1; got != want || len(res.Errors) > 0 {
					t.Errorf("action %q: fired %v, want %v (errors %v)", action, got, want, res.Errors)
				}
			}
		})
	}
}

// TestRuntimeErrors: a condition or template that fails on one event is
// reported for that rule (or action) and event only.
func TestRuntimeErrors(t *testing.T) {
	rs := loadRules(t, `version: 1
rules:
  - name: needs-participants
    on: group:update
    if: len(participants) > 0
    do: [log: {message: "{{ len(participants) }} added"}]
  - name: always
    on: group:update
    do: [log: {message: "always {{ action }}"}]
  - name: bad-template
    on: group:update
    do:
      - log: {message: "first {{ participants[0] + 1 }}"}
      - log: {message: "second {{ action }}"}
`)
	res := rs.Evaluate(groupEvent(t, "subject", ""))
	if got := strings.Join(fired(res), " "); got != "always bad-template" {
		t.Errorf("fired %q, want %q", got, "always bad-template")
	}
	if len(res.Errors) != 2 {
		t.Fatalf("want 2 errors, got %v", res.Errors)
	}
	if e := res.Errors[0]; e.Rule != "needs-participants" || e.Action != "" || !strings.HasPrefix(e.Error(), `rule "needs-participants": condition: `) {
		t.Errorf("condition error = %+v: %v", e, e)
	}
	if e := res.Errors[1]; e.Rule != "bad-template" || e.Action != "bad-template/log[0]" || !strings.HasPrefix(e.Error(), `rule "bad-template": action bad-template/log[0]: message: `) {
		t.Errorf("template error = %+v: %v", e, e)
	}
	if acts := res.Fired[1].Actions; len(acts) != 1 || acts[0].Action.Index != 1 || acts[0].Params["message"] != "second subject" {
		t.Errorf("bad-template actions = %+v", acts)
	}

	// The same rules on an event that has the fields: no errors.
	res = rs.Evaluate(groupEvent(t, "add", `"participants":[5]`))
	if got := strings.Join(fired(res), " "); got != "needs-participants always bad-template" || len(res.Errors) != 0 {
		t.Errorf("fired %q, errors %v", got, res.Errors)
	}
	if got := res.Fired[2].Actions[0].Params["message"]; got != "first 6" {
		t.Errorf("first = %q", got)
	}
}

// TestRuntimeErrorPositions: a run-time error is one line, with expr's
// position in words, after the path of the template field that failed.
func TestRuntimeErrorPositions(t *testing.T) {
	rs := loadRules(t, `version: 1
connections:
  wassenger: {token: t}
rules:
  - name: one-line
    on: group:update
    if: action == "add" || len(participants) > 0
    do: [log: {message: m}]
  - name: two-lines
    on: group:update
    if: |
      action == "add" ||
        len(participants) > 0
    do: [log: {message: m}]
  - name: template
    on: group:update
    do:
      - wassenger.request: {method: POST, path: /x, body: {who: ["a", "{{ 1 + participants[0] }}"]}}
`)
	res := rs.Evaluate(groupEvent(t, "subject", ""))
	want := []string{
		`rule "one-line": condition: invalid argument for len (type <nil>) (at character 20 of the expression)`,
		`rule "two-lines": condition: invalid argument for len (type <nil>) (at line 2, character 3 of the expression)`,
		`rule "template": action template/wassenger.request[0]: body: who: [1]: cannot fetch 0 from <nil> (at character 17 of the expression)`,
	}
	var got []string
	for _, e := range res.Errors {
		got = append(got, e.Error())
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestEvaluateLeavesTheEventAlone: Evaluate reads the event's fields
// without writing to them, so other goroutines may read the same event
// meanwhile (run with -race), and an event field named vars neither hides
// the file's vars nor is changed by them.
func TestEvaluateLeavesTheEventAlone(t *testing.T) {
	rs := loadRules(t, `version: 1
vars:
  admins: ["+34600000009"]
rules:
  - name: by-admin
    on: group:update
    if: author in vars.admins
    do: [log: {message: "{{ vars.admins[0] }} {{ author }}"}]
`)
	ev := groupEvent(t, "add", `"vars":"theirs"`)
	want := maps.Clone(ev.Fields)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 200 {
			for k, v := range ev.Fields {
				_, _ = k, v
			}
		}
	}()
	for range 200 {
		res := rs.Evaluate(ev)
		if len(res.Errors) > 0 || len(res.Fired) != 1 {
			t.Fatalf("fired %v, errors %v", fired(res), res.Errors)
		}
		if got := res.Fired[0].Actions[0].Params["message"]; got != "+34600000009 +34600000009" {
			t.Fatalf("message = %q, want %q", got, "+34600000009 +34600000009")
		}
	}
	<-done
	if !reflect.DeepEqual(ev.Fields, want) {
		t.Errorf("Evaluate changed the event's fields:\n%v\nwant\n%v", ev.Fields, want)
	}
}

// TestEvaluateWithoutFields: an event made in code, without fields (a
// timer's tick), evaluates like one whose fields are all missing.
func TestEvaluateWithoutFields(t *testing.T) {
	rs := loadRules(t, `version: 1
vars:
  greeting: hello
rules:
  - name: any
    on: "*"
    if: author == nil
    do: [log: {message: "{{ vars.greeting }} [{{ author }}]"}]
`)
	res := rs.Evaluate(&event.Event{Name: "group:update"})
	if len(res.Errors) > 0 || len(res.Fired) != 1 {
		t.Fatalf("fired %v, errors %v", fired(res), res.Errors)
	}
	if got := res.Fired[0].Actions[0].Params["message"]; got != "hello []" {
		t.Errorf("message = %q, want %q", got, "hello []")
	}
}

const renderRules = `version: 1
vars:
  ops: ["ops@example.com", "groups@example.com"]
  answer: 42
connections:
  wassenger: {token: t}
  email: {host: smtp.example.com, from: bot@example.com}
rules:
  - name: render
    on: group:update
    do:
      - log:
          message: "{{ data.order }} {{ created }} {{ data.ratio }} {{ data.sci }} {{ data.order * 1.0 }} {{ data.order / 8 }} {{ vars.answer }}"
          fields:
            flags: "{{ value }}/{{ !value }}"
            empty: "[{{ data.nothing }}][{{ data.missing }}]"
            text: "¡Hola 👋 {{ data.chat.name }}! {{ data.emoji }}"
            list: "{{ participants }}"
            count: "{{ len(participants) }}"
      - log:
          message: |
            Line 1 by {{ author }}
              line 2: {{ join(participants, ", ") }}
            line 3 {{ len(participants) }}
      - wassenger.request:
          method: POST
          path: "/groups/{{ data.chat.id }}/members"
          body:
            phones: "{{ participants }}"
            count: "{{ len(participants) }}"
            created: "{{ created }}"
            ratio: "{{ data.ratio }}"
            flag: "{{ value }}"
            nothing: "{{ data.nothing }}"
            chat: "{{ data.chat }}"
            literal: 1020
            half: 0.5
            yes: true
            text: "n={{ data.order }}"
            nested: [{who: "{{ author }}"}, "{{ vars.ops }}"]
      - email:
          to: "{{ vars.ops }}"
          cc: ["audit@example.com", "{{ vars.ops }}", "{{ author }}"]
          bcc: "{{ split('a@example.com,b@example.com', ',') }}"
          subject: "{{ participants }}"
          body: "{{ len(participants) }}"
`

// TestRendering: numbers as written, booleans, nil as empty, non-ASCII,
// lists kept in Any fields and flattened in string lists, multi-line
// templates.
func TestRendering(t *testing.T) {
	rs := loadRules(t, renderRules)
	ev := mustEvent(t, `{"id":"e1","event":"group:update","action":"add","created":1721661487,"author":"+34600000009",
		"participants":["+1234567890","+1987654321"],"value":true,
		"data":{"order":1020,"ratio":0.5,"sci":1.5e3,"nothing":null,"emoji":"🚚 Tu pedido ha salido del almacén",
		"chat":{"id":"1203@g.us","name":"Ventas 🇪🇸 Madrid"}}}`)
	res := rs.Evaluate(ev)
	if len(res.Errors) != 0 || len(res.Fired) != 1 || len(res.Fired[0].Actions) != 4 {
		t.Fatalf("fired %v, errors %v", fired(res), res.Errors)
	}
	acts := res.Fired[0].Actions
	asJSON := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	tests := []struct {
		name string
		got  any
		want any
	}{
		{"numbers", acts[0].Params["message"], "1020 1721661487 0.5 1500 1020 127.5 42"},
		{"booleans", acts[0].Params["fields"].(map[string]any)["flags"], "true/false"},
		{"nil and missing", acts[0].Params["fields"].(map[string]any)["empty"], "[][]"},
		{"non-ASCII and emoji", acts[0].Params["fields"].(map[string]any)["text"], "¡Hola 👋 Ventas 🇪🇸 Madrid! 🚚 Tu pedido ha salido del almacén"},
		{"list in a string map", acts[0].Params["fields"].(map[string]any)["list"], `["+1234567890","+1987654321"]`},
		{"number in a string map", acts[0].Params["fields"].(map[string]any)["count"], "2"},
		{"multi-line", acts[1].Params["message"], "Line 1 by +34600000009\n  line 2: +1234567890, +1987654321\nline 3 2\n"},
		{"path", acts[2].Params["path"], "/groups/1203@g.us/members"},
		{"Any keeps types", asJSON(acts[2].Params["body"]),
			`{"chat":{"id":"1203@g.us","name":"Ventas 🇪🇸 Madrid"},"count":2,"created":1721661487,"flag":true,"half":0.5,"literal":1020,` +
				`"nested":[{"who":"+34600000009"},["ops@example.com","groups@example.com"]],"nothing":null,"phones":["+1234567890","+1987654321"],` +
				`"ratio":0.5,"text":"n=1020","yes":true}`},
		{"string list from a list var", asJSON(acts[3].Params["to"]), `["ops@example.com","groups@example.com"]`},
		{"string list items flatten", asJSON(acts[3].Params["cc"]), `["audit@example.com","ops@example.com","groups@example.com","+34600000009"]`},
		{"string list from a []string", asJSON(acts[3].Params["bcc"]), `["a@example.com","b@example.com"]`},
		{"list in a string field", acts[3].Params["subject"], `["+1234567890","+1987654321"]`},
		{"number in a string field", acts[3].Params["body"], "2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got  %#v\nwant %#v", tt.got, tt.want)
			}
		})
	}
}

// TestFormat: how template values turn into text.
func TestFormat(t *testing.T) {
	tests := []struct {
		v    any
		want string
	}{
		{int64(1721661487), "1721661487"},
		{1020, "1020"},
		{1020.0, "1020"},
		{0.5, "0.5"},
		{1e21, "1000000000000000000000"},
		{true, "true"},
		{false, "false"},
		{nil, ""},
		{"ñandú 🚚", "ñandú 🚚"},
		{[]any{"a", int64(1)}, `["a",1]`},
		{map[string]any{"b": 1, "a": "x"}, `{"a":"x","b":1}`},
	}
	for _, tt := range tests {
		if got := event.Format(tt.v); got != tt.want {
			t.Errorf("Format(%#v) = %q, want %q", tt.v, got, tt.want)
		}
	}
}

// TestParseEvents covers the shapes of a webhook body.
func TestParseEvents(t *testing.T) {
	sha := func(s string) string {
		sum := sha256.Sum256([]byte(s))
		return "sha256:" + hex.EncodeToString(sum[:])
	}
	tests := []struct {
		name    string
		body    string
		ids     string // the events' ids, space-separated
		names   string
		wantErr string
	}{
		{"object", `{"id":"3EB0","event":"group:update","action":"add"}`, "3EB0", "group:update", ""},
		{"object with spaces around", " \n\t{\"id\":\"A\",\"event\":\"message:in:new\"}\n", "A", "message:in:new", ""},
		{"batched array with entityId", `[{"event":"message:out:failed","entityId":"66a1"},{"event":"message:out:failed","entityId":"66a2"}]`,
			"66a1 66a2", "message:out:failed message:out:failed", ""},
		{"id wins over entityId", `{"id":"X","entityId":"Y","event":"e"}`, "X", "e", ""},
		{"numeric id", `{"id":12345678901,"event":"e"}`, "12345678901", "e", ""},
		{"no id: sha256 of the bytes", `{"event":"e","n":1}`, sha(`{"event":"e","n":1}`), "e", ""},
		{"array element without id: sha256 of the element", `[ {"event":"e"} ]`, sha(`{"event":"e"}`), "e", ""},
		{"bad JSON", "{\"event\":\"e\",\n  \"x\": tru}", "", "", "invalid JSON at line 2, column 11"},
		{"bad JSON in an array", "[\n{\"event\":\"e\"},\n{\"event\" \"e\"}\n]", "", "", "invalid JSON at line 3, column 10"},
		{"element without event", `[{"event":"e"},{"id":"2"}]`, "", "", `element 1: missing "event" field`},
		{"element not an object", `[{"event":"e"},"x"]`, "", "", "element 1: not a JSON object"},
		{"event not a string", `{"event":5}`, "", "", `the "event" field holds 5, not the event's type as text`},
		{"empty array", `[]`, "", "", "empty array"},
		{"empty body", ` `, "", "", "no JSON at all"},
		{"not an object", `"group:update"`, "", "", "send one JSON object or an array of objects"},
		{"trailing data", `{"event":"e"} {"event":"f"}`, "", "", "extra data after the JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, err := event.Parse([]byte(tt.body))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var ids, names []string
			for _, ev := range evs {
				ids = append(ids, ev.ID)
				names = append(names, ev.Name)
			}
			if strings.Join(ids, " ") != tt.ids || strings.Join(names, " ") != tt.names {
				t.Errorf("ids %v names %v, want %q %q", ids, names, tt.ids, tt.names)
			}
		})
	}
	_, err := event.Parse([]byte(`{"id":"1"}`))
	if !errors.Is(err, event.ErrNoEvent) {
		t.Errorf("missing event: %v does not wrap ErrNoEvent", err)
	}
	ev := mustEvent(t, `{"event":"group:update","action":"add","created":1721661487,"ratio":0.5,"data":{"n":[1,2.5]}}`)
	if ev.Fields["created"] != int64(1721661487) || ev.Fields["ratio"] != 0.5 || ev.Action != "add" {
		t.Errorf("fields: %#v", ev.Fields)
	}
	if n := ev.Fields["data"].(map[string]any)["n"].([]any); n[0] != int64(1) || n[1] != 2.5 {
		t.Errorf("nested numbers: %#v", n)
	}
}

// TestReadPaths covers files and folders: .json objects and arrays,
// .jsonl, name order, skipped files, and errors that say where.
func TestReadPaths(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("events/b.json", `{"id":"b","event":"group:update"}`)
	write("events/a.jsonl", "{\"id\":\"a1\",\"event\":\"message:in:new\"}\n\n{\"id\":\"a2\",\"event\":\"message:out:new\"}\n")
	write("events/c/batch.json", `[{"event":"message:out:failed","entityId":"c1"},{"event":"message:out:failed","entityId":"c2"}]`)
	write("events/a0.json", `{"id":"a0","event":"chat:update"}`)
	write("events/README.md", "not an event")
	write("events/Z.JSON", `{"id":"Z","event":"contact:update"}`)

	evs, err := event.ReadPaths([]string{filepath.Join(dir, "events")})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ev := range evs {
		rel, _ := filepath.Rel(dir, strings.Split(strings.Split(ev.Source, "[")[0], ".jsonl:")[0])
		got = append(got, ev.ID+"@"+filepath.ToSlash(rel))
	}
	want := "Z@events/Z.JSON a1@events/a a2@events/a a0@events/a0.json b@events/b.json c1@events/c/batch.json c2@events/c/batch.json"
	if strings.Join(got, " ") != want {
		t.Errorf("events in order:\n got %s\nwant %s", strings.Join(got, " "), want)
	}
	sources := map[string]string{}
	for _, ev := range evs {
		sources[ev.ID] = ev.Source
	}
	if sources["a2"] != filepath.Join(dir, "events", "a.jsonl")+":3" || sources["c2"] != filepath.Join(dir, "events", "c", "batch.json")+"[1]" ||
		sources["b"] != filepath.Join(dir, "events", "b.json") {
		t.Errorf("sources: %v", sources)
	}

	badLine := write("bad.jsonl", "{\"event\":\"e\"}\n{\"event\":\"e\",}\n")
	notEvent := write("notes.txt", "x")
	missing := filepath.Join(dir, "missing.json")
	errs := []struct {
		path string
		want string
	}{
		{badLine, badLine + ":2:14: invalid JSON: "},
		{notEvent, notEvent + ": not an event file"},
		{missing, "read events: "},
	}
	for _, e := range errs {
		_, err := event.ReadPaths([]string{e.path})
		if err == nil || !strings.Contains(err.Error(), e.want) {
			t.Errorf("ReadPaths(%s): error %v, want %q", filepath.Base(e.path), err, e.want)
		}
	}
}

// TestGoodFiles runs the valid rules files of testdata/rules/good on
// events that exercise their features.
func TestGoodFiles(t *testing.T) {
	load := func(name string) *engine.RuleSet {
		rs, problems := loadFile(t, filepath.Join("..", "testdata", "rules", "good", name), engine.LoadOptions{LookupEnv: envFrom(nil)})
		if rs == nil || len(problems) > 0 {
			t.Fatalf("%s: %v", name, problems)
		}
		return rs
	}
	matching, conditions := load("matching.yaml"), load("conditions.yaml")
	const dev = `"device":{"id":"d1","phone":"+34911234567"}`
	tests := []struct {
		name  string
		rs    *engine.RuleSet
		event string
		want  string
	}{
		{"own edit stops", matching, `{"event":"group:update","action":"subject","author":"+34911234567",` + dev + `}`, "ignore-own-edits"},
		{"someone else's edit", matching, `{"event":"group:update","action":"subject","author":"+1",` + dev + `,"data":{"chat":{"name":"G"}}}`,
			"group-changes everything"},
		{"members fire once", matching, `{"event":"group:update","action":"remove","author":"+1","participants":["+2"]}`, "members everything"},
		{"members without participants", matching, `{"event":"group:update","action":"add","author":"+1"}`, "members everything"},
		{"batched failure", matching, `[{"event":"message:out:failed","entityId":"x"}]`, "outbound-problems every-message everything"},
		{"ack", matching, `{"event":"message:out:ack","id":"y"}`, "outbound-problems every-message everything"},
		{"contact", matching, `{"event":"contact:update"}`, "everything"},

		{"VIP removed", conditions, `{"event":"group:update","action":"remove","author":"+1","participants":["+2","+34600000002"],"data":{"chat":{"name":"G"}}}`, "vip-removed"},
		{"VIP removed by a VIP", conditions, `{"event":"group:update","action":"remove","author":"+34600000001","participants":["+34600000002"]}`, ""},
		{"no VIP removed", conditions, `{"event":"group:update","action":"remove","author":"+1","participants":["+2"]}`, ""},
		{"no participants", conditions, `{"event":"group:update","action":"remove","author":"+1"}`, ""},
		{"price in a group", conditions, `{"event":"message:in:new","data":{"from":"34600000001@c.us","body":"¿Cuánto cuesta?","chat":{"id":"1203@g.us"}}}`, "price-question"},
		{"price in a private chat", conditions, `{"event":"message:in:new","data":{"body":"price?","chat":{"id":"3460@c.us"},"meta":{"isFirstMessage":false}}}`, ""},
		{"first private message", conditions, `{"event":"message:in:new","data":{"fromNumber":"+34 600","body":"hello there","chat":{"id":"3460@c.us"},"meta":{"isFirstMessage":true}}}`, "private-first-message"},
		{"request in a small group", conditions, `{"event":"group:update","action":"membership_approval_request","created":1721661487,"participants":["+34600000001"],"data":{"chat":{"group":{"totalParticipants":12}}}}`, "small-group-request"},
		{"request in a big group", conditions, `{"event":"group:update","action":"membership_approval_request","data":{"chat":{"group":{"totalParticipants":300}}}}`, ""},
		{"request without group data", conditions, `{"event":"group:update","action":"membership_approval_request","created":1,"data":{"chat":{}}}`, "small-group-request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, err := event.Parse([]byte(tt.event))
			if err != nil {
				t.Fatal(err)
			}
			res := tt.rs.Evaluate(evs[0])
			if got := strings.Join(fired(res), " "); got != tt.want || len(res.Errors) != 0 {
				t.Errorf("fired %q, want %q; errors %v", got, tt.want, res.Errors)
			}
		})
	}

	res := conditions.Evaluate(mustEvent(t, `{"event":"group:update","action":"membership_approval_request","created":1721661487,"participants":["+34600000001","34600000002@c.us"],"data":{"chat":{}}}`))
	if got := res.Fired[0].Actions[0].Params["message"]; got != "request from @34600000001 @34600000002 at 2024-07-22T15:18:07Z" {
		t.Errorf("helpers render %q", got)
	}
	res = conditions.Evaluate(mustEvent(t, `{"event":"message:in:new","data":{"fromNumber":"+34 600 000 001","body":"hola, ¿qué tal? ¿Abrís el domingo?","chat":{"id":"3460@c.us"},"meta":{"isFirstMessage":true}}}`))
	if got := res.Fired[0].Actions[0].Params["message"]; got != "first message from +34600000001: hola, ¿qué tal? ¿Ab…" {
		t.Errorf("helpers render %q", got)
	}
}
