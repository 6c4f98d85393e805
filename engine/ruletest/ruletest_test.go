package ruletest_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/hookd/hookd/engine"
	"github.com/hookd/hookd/engine/ruletest"
)

const rulesYAML = `version: 1
vars:
  trusted: ["+1000"]
rules:
  - name: welcome
    on: group:update
    if: action == "add" && len(participants) > 0
    do:
      - log:
          message: "Welcome {{ join(participants, ', ') }} to {{ data.chat.name }}"
          fields: { group: "{{ data.chat.id }}" }
      - log:
          level: debug
          message: "added {{ len(participants) }}"
  - name: removal
    on: group:update
    if: action == "remove" && author not in vars.trusted
    do:
      - webhook:
          url: https://example.com/hook
          body: { who: "{{ participants }}", count: "{{ len(participants) }}" }
  - name: audit
    on: "group:*"
    do: [log: {message: "{{ event }} {{ action }}"}]
  - name: fragile
    on: message:in:new
    if: len(data.body) > 0
    do: [log: {message: "{{ data.body }}"}]
`

func loadTestRules(t *testing.T) *engine.RuleSet {
	t.Helper()
	rs, problems := engine.Load("rules.yaml", []byte(rulesYAML), engine.LoadOptions{})
	if rs == nil {
		t.Fatalf("load rules: %v", problems)
	}
	return rs
}

// writeEvents writes the recorded events the test files below refer to.
func writeEvents(t *testing.T, dir string) {
	t.Helper()
	files := map[string]string{
		"events/add.json":    `{"id":"add-1","event":"group:update","action":"add","author":"+2000","participants":["+3000","+3001"],"data":{"chat":{"id":"g1@g.us","name":"Sales"}}}`,
		"events/remove.json": `{"id":"rm-1","event":"group:update","action":"remove","author":"+2000","participants":["+3000"],"data":{"chat":{"id":"g1@g.us","name":"Sales"}}}`,
		"events/batch.json":  `[{"event":"message:out:failed","entityId":"f1"},{"event":"message:out:failed","entityId":"f2"}]`,
		"events/lines.jsonl": "{\"id\":\"l1\",\"event\":\"message:in:new\",\"data\":{\"body\":\"x\"}}\n{\"id\":\"l2\",\"event\":\"message:in:new\",\"data\":{}}\n",
		"events/broken.json": `{"id": "b1", "event": }`,
	}
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestDecodeProblems(t *testing.T) {
	dir := t.TempDir()
	writeEvents(t, dir)
	tests := []struct {
		name string
		src  string
		want []string // substrings of the problems, as file:line:col: message
		n    int      // how many problems (0: one per want)
	}{
		{"not yaml", "tests: [", []string{"x_test.yaml:1:8: YAML syntax: did not find expected node content"}, 0},
		{"yaml indentation", "rules: r.yaml\ntests:\n  - name: a\n     event: x.json\n", []string{"x_test.yaml:4:6: YAML syntax: this line is indented deeper than the key above it"}, 0},
		{"empty", "", []string{"x_test.yaml:1:1: the test file is empty"}, 0},
		{"no tests", "rules: r.yaml\n", []string{"x_test.yaml:1:1: missing `tests:`"}, 0},
		{"tests not a list", "tests: {a: 1}\n", []string{"x_test.yaml:1:8: tests must be a list of cases"}, 0},
		{"unknown top key", "rule: r.yaml\ntests: []\n", []string{`x_test.yaml:1:1: test file: unknown key "rule" (did you mean "rules"?)`}, 0},
		{"unknown case key", `tests:
  - name: a
    event: events/add.json
    fire: [welcome]
`, []string{`x_test.yaml:4:5: test "a": unknown key "fire" (did you mean "fires"?)`}, 0},
		{"missing name and event", `tests:
  - fires: [welcome]
`, []string{"x_test.yaml:2:5: tests[0] has no name", "x_test.yaml:2:5: tests[0] has no `event:`"}, 0},
		{"duplicate names", `tests:
  - {name: a, event: events/add.json, fires: welcome}
  - {name: a, event: events/add.json, fires: welcome}
`, []string{`x_test.yaml:3:5: duplicate test name "a" (first at line 2)`}, 0},
		{"missing event file", `tests:
  - name: a
    event: events/nope.json
    fires: [welcome]
`, []string{`x_test.yaml:3:12: test "a": event: read events:`}, 0},
		{"broken event file", `tests:
  - name: a
    event: events/broken.json
    fires: [welcome]
`, []string{`x_test.yaml:3:12: test "a": event: `, "broken.json:1:23: invalid JSON"}, 1},
		{"several events without an index", `tests:
  - name: a
    event: events/batch.json
    fires: [welcome]
`, []string{"x_test.yaml:3:12: test \"a\": ", "holds 2 events: pick one with event_index: 0 to 1"}, 1},
		{"event index out of range", `tests:
  - name: a
    event: events/lines.jsonl
    event_index: 2
    fires: [welcome]
`, []string{"x_test.yaml:4:18: test \"a\": event_index 2 is out of range: events/lines.jsonl holds 2 events: write 0 to 1"}, 1},
		{"event index out of range of one event", `tests:
  - name: a
    event: events/add.json
    event_index: 1
    fires: [welcome]
`, []string{"x_test.yaml:4:18: test \"a\": event_index 1 is out of range: events/add.json holds 1 event: remove event_index, or write 0"}, 1},
		// One mistake, one problem: not also "holds 2 events".
		{"event index not a number", `tests:
  - name: a
    event: events/lines.jsonl
    event_index: first
    fires: [welcome]
`, []string{`x_test.yaml:4:18: test "a": event_index must be a whole number (0 or more), found the text "first"`}, 1},
		{"inline event without event field", `tests:
  - name: a
    event: {id: x, action: add}
    fires: [welcome]
`, []string{`x_test.yaml:3:12: test "a": event: missing "event" field`}, 0},
		{"event neither path nor mapping", `tests:
  - name: a
    event: [1, 2]
    fires: [welcome]
`, []string{`x_test.yaml:3:12: test "a": event must be a path`}, 0},
		{"rule in fires and not_fires", `tests:
  - name: a
    event: events/add.json
    fires: [welcome]
    not_fires: [audit, welcome]
`, []string{`x_test.yaml:5:16: test "a": rule "welcome" is in both fires and not_fires`}, 0},
		{"bad fires item", `tests:
  - name: a
    event: events/add.json
    fires: [welcome, {x: 1}]
`, []string{`x_test.yaml:4:22: test "a": fires must be a rule name or a list of rule names, found a mapping`}, 0},
		{"bad action expectation", `tests:
  - name: a
    event: events/add.json
    actions:
      - type: sms
        index: -1
`, []string{
			`x_test.yaml:5:9: test "a": actions[0] has no ` + "`rule:`",
			`x_test.yaml:5:15: test "a": actions[0]: unknown action type "sms"`,
			`x_test.yaml:6:16: test "a": actions[0]: index must be a whole number`,
		}, 0},
		{"contains must be strings", `tests:
  - name: a
    event: events/add.json
    actions:
      - rule: welcome
        contains: { message: {a: 1} }
`, []string{`x_test.yaml:6:30: test "a": actions[0]: contains.message must be a string or a list of strings`}, 0},
		{"boolean fires in a test file", `tests:
  - name: a
    event: events/add.json
    fires: true
`, []string{`x_test.yaml:4:12: test "a": fires: true is for the examples of a rule`}, 0},
		{"errors not a number", `tests:
  - name: a
    event: events/add.json
    errors: some
`, []string{`x_test.yaml:4:13: test "a": errors must be a whole number (0 or more), found the text "some"`}, 0},
		{"only not a boolean", `tests:
  - name: a
    event: events/add.json
    only: yes please
`, []string{`x_test.yaml:4:11: test "a": only must be true or false`}, 0},
		{"only quoted", `tests:
  - name: a
    event: events/add.json
    only: "true"
`, []string{`x_test.yaml:4:11: test "a": only must be true or false, found the text "true": remove the quotes`}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(dir, "x_test.yaml")
			suite, problems := ruletest.Decode(file, []byte(tt.src))
			if suite != nil {
				t.Fatalf("decoded a suite from a broken file; want problems %q", tt.want)
			}
			got := strings.ReplaceAll(problems.Error(), dir+string(filepath.Separator), "")
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("problems:\n%s\nwant one containing:\n%s", got, w)
				}
			}
			n := tt.n
			if n == 0 {
				n = len(tt.want)
			}
			if len(problems) != n {
				t.Errorf("got %d problems, want %d:\n%s", len(problems), n, got)
			}
		})
	}
}

func TestDecodeSuite(t *testing.T) {
	dir := t.TempDir()
	writeEvents(t, dir)
	src := `rules: ../rules.yaml
tests:
  - name: from a file
    event: events/add.json
    fires: [welcome]
    not_fires: audit-typo
    only: true
    errors: 0
    actions:
      - rule: welcome
        type: log
        index: 1
        params: { level: debug, count: 2, list: [a, 1] }
        contains: { message: [Welcome, Sales] }
  - name: inline
    event:
      event: message:in:new
      data: { body: hi }
    fires: fragile
  - name: from a batch
    event: events/batch.json
    event_index: 1
    not_fires: [welcome]
`
	file := filepath.Join(dir, "x_test.yaml")
	s, problems := ruletest.Decode(file, []byte(src))
	if s == nil {
		t.Fatalf("decode: %v", problems)
	}
	if want := filepath.Join(dir, "..", "rules.yaml"); s.Rules != want || s.RulesAt.Line != 1 {
		t.Errorf("rules %q at line %d, want %q at line 1", s.Rules, s.RulesAt.Line, want)
	}
	if len(s.Cases) != 3 {
		t.Fatalf("%d cases, want 3", len(s.Cases))
	}
	c := s.Cases[0]
	checks := []struct {
		what      string
		got, want any
	}{
		{"name", c.Name, "from a file"},
		{"position", c.Pos, "{3 5}"},
		{"file", c.File, file},
		{"event id", c.Event.ID, "add-1"},
		{"fires", fmt.Sprint(c.Fires), "[{welcome {5 13}}]"},
		{"not_fires", fmt.Sprint(c.NotFires), "[{audit-typo {6 16}}]"},
		{"only", fmt.Sprint(c.Only, c.OnlyAt), "true {7 11}"},
		{"errors", fmt.Sprint(*c.Errors), "{0 {8 13}}"},
		{"action", fmt.Sprintf("%s %s %d %v", c.Actions[0].Rule, c.Actions[0].Type, c.Actions[0].Index, c.Actions[0].Pos), "welcome log 1 {10 9}"},
		{"params", fmt.Sprint(c.Actions[0].Params), "[{level debug {13 19} [{13 26}]} {count 2 {13 33} [{13 40}]} {list [a 1] {13 43} [{13 49}]}]"},
		{"contains", fmt.Sprint(c.Actions[0].Contains), "[{message [Welcome Sales] {14 21} [{14 31} {14 40}]}]"},
		{"inline event", s.Cases[1].Event.Name, "message:in:new"},
		{"inline event source", s.Cases[1].Event.Source, file + ":17"},
		{"batch event", s.Cases[2].Event.ID, "f2"},
	}
	for _, ch := range checks {
		if fmt.Sprint(ch.got) != fmt.Sprint(ch.want) {
			t.Errorf("%s = %v, want %v", ch.what, ch.got, ch.want)
		}
	}
}

func TestRun(t *testing.T) {
	rs := loadTestRules(t)
	dir := t.TempDir()
	writeEvents(t, dir)
	tests := []struct {
		name string
		cas  string // one case, indented under tests:
		want []string
	}{
		{"passes", `
    event: events/add.json
    fires: [welcome, audit]
    not_fires: [removal]
    only: true
    errors: 0
    actions:
      - rule: welcome
        index: 0
        params: { fields: { group: g1@g.us } }
        contains: { message: ["+3000, +3001", "to Sales"] }
      - rule: welcome
        type: log
        params: { level: debug, message: added 2 }
`, nil},
		{"expected to fire, condition false", `
    event: events/remove.json
    fires: [welcome]
`, []string{`4:13: expected rule "welcome" to fire; fired: removal, audit; rule "welcome" skipped by the action index: the condition needs action "add", the event's action is "remove"`}},
		{"expected to fire, other event", `
    event: events/lines.jsonl
    event_index: 0
    fires: [welcome]
`, []string{`5:13: expected rule "welcome" to fire; fired: fragile; rule "welcome" listens to group:update, event is message:in:new`}},
		{"expected not to fire", `
    event: events/remove.json
    not_fires: [removal]
`, []string{`4:17: expected rule "removal" not to fire, but it fired: its condition action == "remove" && author not in vars.trusted was true`}},
		{"unknown rule names fail", `
    event: events/add.json
    not_fires: [welcom]
    fires: [audit]
`, []string{`4:17: no rule named "welcom" in rules.yaml (did you mean "welcome"?)`}},
		{"only", `
    event: events/add.json
    fires: [welcome]
    only: true
`, []string{`5:11: rule "audit" fired too, but with only: true only welcome may fire; rule "audit" has no condition`}},
		{"only with nothing expected", `
    event: events/add.json
    only: true
`, []string{`4:11: rule "welcome" fired too, but with only: true no rule may fire`, `4:11: rule "audit" fired too`}},
		{"param differs", `
    event: events/add.json
    actions:
      - rule: welcome
        index: 0
        params: { message: "Welcome +3000 to Sales", fields: { group: g2@g.us } }
`, []string{
			`7:28: welcome/log[0]: message is "Welcome +3000, +3001 to Sales", want "Welcome +3000 to Sales"`,
			`7:62: welcome/log[0]: fields is {"group":"g1@g.us"}, want {"group":"g2@g.us"}`,
		}},
		{"typed values compare by JSON", `
    event: events/remove.json
    actions:
      - rule: removal
        params: { body: { who: ["+3000"], count: 1 } }
`, nil},
		{"typed value differs", `
    event: events/remove.json
    actions:
      - rule: removal
        params: { body: { who: "+3000", count: 1 } }
`, []string{`removal/webhook[0]: body is {"count":1,"who":["+3000"]}, want {"count":1,"who":"+3000"}`}},
		{"contains fails", `
    event: events/add.json
    actions:
      - rule: welcome
        index: 0
        contains:
          message: [Welcome, Bienvenidos]
`, []string{`8:30: welcome/log[0]: message does not contain "Bienvenidos": it is "Welcome +3000, +3001 to Sales"`}},
		{"field not set", `
    event: events/add.json
    actions:
      - rule: welcome
        index: 0
        params: { level: info }
`, []string{`7:19: welcome/log[0]: field "level" is not set; set fields: message, fields`}},
		{"field misspelt", `
    event: events/add.json
    actions:
      - rule: welcome
        index: 0
        contains: { mesage: Welcome }
`, []string{`7:21: welcome/log[0]: field "mesage" is not set (did you mean "message"?); set fields: message, fields`}},
		{"several candidate actions, none matches", `
    event: events/add.json
    actions:
      - rule: welcome
        type: log
        contains: { message: Adios }
`, []string{`5:9: none of the 2 actions log of rule "welcome" matches:`, `welcome/log[0]: message does not contain "Adios"`, `welcome/log[1]: message does not contain "Adios"`}},
		{"several candidate actions, one matches", `
    event: events/add.json
    actions:
      - rule: welcome
        type: log
        contains: { message: added }
`, nil},
		{"no such action", `
    event: events/add.json
    actions:
      - rule: welcome
        type: slack
        params: { text: x }
`, []string{`5:9: rule "welcome" has no action slack; its actions: log[0], log[1]`}},
		{"action of a rule that did not fire", `
    event: events/remove.json
    actions:
      - rule: welcome
        index: 1
        params: { level: debug }
`, []string{`5:9: expected rule "welcome" to fire, to check its action [1]; fired: removal, audit`}},
		{"runtime errors fail unless expected", `
    event: events/lines.jsonl
    event_index: 1
    not_fires: [fragile]
`, []string{"2:5: 1 run-time error(s):\n    rule \"fragile\": condition:", "state `errors: 1` if the case expects them"}},
		{"expected runtime errors", `
    event: events/lines.jsonl
    event_index: 1
    errors: 1
`, nil},
		{"wrong runtime error count", `
    event: events/add.json
    errors: 2
`, []string{`4:13: expected 2 run-time error(s), got 0`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(dir, "x_test.yaml")
			src := "tests:\n  - name: " + tt.name + strings.TrimRight(tt.cas, "\n") + "\n"
			s, problems := ruletest.Decode(file, []byte(src))
			if s == nil {
				t.Fatalf("decode:\n%s\n%v", src, problems)
			}
			failures := s.Cases[0].Run(rs)
			var lines []string
			for _, f := range failures {
				if f.File != file {
					t.Errorf("failure in file %q, want %q", f.File, file)
				}
				lines = append(lines, fmt.Sprintf("%d:%d: %s", f.Line, f.Col, f.Msg))
			}
			got := strings.Join(lines, "\n")
			if tt.want == nil && len(failures) > 0 {
				t.Fatalf("case failed:\n%s", got)
			}
			if tt.want != nil && len(failures) == 0 {
				t.Fatalf("case passed, want failures %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("failures:\n%s\nwant one containing:\n%s", got, w)
				}
			}
		})
	}
}

func TestDecodeExamples(t *testing.T) {
	rs := loadTestRules(t)
	dir := t.TempDir()
	writeEvents(t, dir)
	src := `examples:
  - event: events/add.json
    actions:
      - params: { fields: { group: g1@g.us } }
        index: 0
  - name: not for removals
    event: events/remove.json
    fires: false
  - event: events/remove.json
    fires: true
  - name: True is true, as in YAML
    event: events/add.json
    fires: True
`
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "rules.yaml")
	cases, problems := ruletest.DecodeExamples(file, "welcome", doc.Content[0].Content[1])
	if problems != nil {
		t.Fatalf("decode: %v", problems)
	}
	if len(cases) != 4 {
		t.Fatalf("%d examples, want 4", len(cases))
	}
	if cases[0].Name != "welcome example 1" || cases[1].Name != "not for removals" {
		t.Errorf("names %q, %q", cases[0].Name, cases[1].Name)
	}
	for i, want := range []int{0, 0, 1, 0} {
		failures := cases[i].Run(rs)
		if len(failures) != want {
			t.Errorf("example %d: %d failures, want %d: %v", i+1, len(failures), want, failures)
		}
	}
	if f := cases[2].Run(rs); len(f) == 1 && (f[0].Pos != (ruletest.Pos{Line: 10, Col: 12}) || !strings.Contains(f[0].Msg, `expected rule "welcome" to fire`)) {
		t.Errorf("failure %v, want 10:12 (the true of fires) and the rule named", f[0])
	}

	bad := `examples:
  - name: x
  - event: events/add.json
    fires: maybe
`
	if err := yaml.Unmarshal([]byte(bad), &doc); err != nil {
		t.Fatal(err)
	}
	_, problems = ruletest.DecodeExamples(file, "welcome", doc.Content[0].Content[1])
	got := strings.ReplaceAll(problems.Error(), dir+string(filepath.Separator), "")
	if !strings.Contains(got, "rules.yaml:2:5: rule \"welcome\": example \"x\" has no `event:`") {
		t.Errorf("problems:\n%s\nwant the example without an event at 2:5", got)
	}
	if len(problems) != 1 {
		t.Errorf("%d problems, want 1 (fires: maybe is a rule name, checked when run):\n%s", len(problems), got)
	}
}
