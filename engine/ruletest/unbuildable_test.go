package ruletest_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hookd/hookd/engine"
	"github.com/hookd/hookd/engine/ruletest"
)

// removeRules removes whoever writes from a group: a sender known only by
// a linked id (@lid) has no phone number, so the daemon could not build
// the removal's request and would dead-letter it.
const removeRules = `version: 1
connections:
  wassenger: { token: test-token }
  slack: { webhook_url: "${HOOKD_TEST_UNSET_SLACK_URL}" }
rules:
  - name: remove-sender
    on: message:in:new
    if: data.body == "remove"
    do:
      - log: { message: "removing {{ sender(data) }}" }
      - wassenger.group.remove:
          device: 61b37a069cba0c15d6c89757
          group: 120363041234567890@g.us
          participants: ["{{ sender(data) }}"]
  - name: tell-slack
    on: message:in:new
    if: data.body == "slack"
    do:
      - slack: { text: "{{ data.body }}" }
  - name: fragile
    on: message:in:new
    if: data.body == "fragile"
    do:
      - log: { message: "{{ data.missing.field }}" }
      - wassenger.message: { phone: "{{ senderPhone(data) }}", message: hi }
`

// Events of the cases below: a message of a sender known by a linked id,
// and of one known by a phone number.
const (
	lidEvent   = `{ id: m1, event: message:in:new, data: { from: 203456789012345@lid, body: BODY } }`
	phoneEvent = `{ id: m2, event: message:in:new, data: { from: 34600000001@c.us, fromNumber: "+34600000001", body: BODY } }`
)

func TestRunUnbuildable(t *testing.T) {
	rs, problems := engine.Load("rules.yaml", []byte(removeRules), engine.LoadOptions{AllowUnsetEnv: true})
	if rs == nil {
		t.Fatalf("load: %v", problems)
	}
	ev := func(tmpl, body string) string { return strings.ReplaceAll(tmpl, "BODY", body) }
	tests := []struct {
		name string
		cas  string // one case, indented under tests:
		want []string
	}{
		{"a linked id", `
    event: ` + ev(lidEvent, "remove") + `
    fires: remove-sender
`, []string{`2: rule "remove-sender" fired, but the request of its action remove-sender/wassenger.group.remove[1] cannot be built (the daemon would dead-letter it): wassenger.group.remove: participant "203456789012345@lid" is not a phone number`}},
		{"a phone number", `
    event: ` + ev(phoneEvent, "remove") + `
    fires: remove-sender
`, nil},
		{"not fired, not built", `
    event: ` + ev(lidEvent, "other") + `
    not_fires: remove-sender
`, nil},
		{"an unset variable is no failure", `
    event: ` + ev(lidEvent, "slack") + `
    fires: tell-slack
`, nil},
		{"errors counts templates only", `
    event: ` + ev(lidEvent, "fragile") + `
    errors: 1
`, []string{`2: rule "fragile" fired, but the request of its action fragile/wassenger.message[1] cannot be built (the daemon would dead-letter it): wassenger.message: no recipient`}},
		{"a step of a sequence, once for its repeats", `
    events:
      - event: ` + ev(phoneEvent, "remove") + `
        fires: remove-sender
      - event: ` + ev(lidEvent, "remove") + `
        at: "2026-03-02T10:00:00Z"
        repeat: 2
    fires: remove-sender
`, []string{`6: rule "remove-sender" fired at event 2 (2026-03-02T10:00:00Z), but the request of its action remove-sender/wassenger.group.remove[1] cannot be built`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := "x_test.yaml"
			src := "tests:\n  - name: " + tt.name + strings.TrimRight(tt.cas, "\n") + "\n"
			s, problems := ruletest.Decode(file, []byte(src))
			if s == nil {
				t.Fatalf("decode:\n%s\n%v", src, problems)
			}
			var got []string
			for _, f := range s.Cases[0].Run(rs) {
				if !f.Unbuildable {
					t.Errorf("failure %d: %s is not marked Unbuildable", f.Line, f.Msg)
				}
				got = append(got, fmt.Sprintf("%d: %s", f.Line, f.Msg))
			}
			if len(got) != len(tt.want) {
				t.Fatalf("failures:\n%s\nwant %d", strings.Join(got, "\n"), len(tt.want))
			}
			for i, w := range tt.want {
				if !strings.HasPrefix(got[i], w) {
					t.Errorf("failure %d:\n%s\nwant it to start with:\n%s", i, got[i], w)
				}
			}
		})
	}
}

// TestLoadUnbuildableExample: an inline example that fires an action
// whose request cannot be built is an error of hookd check (CheckFile),
// and a warning of the daemon and the other commands (Load, LoadFile),
// which load the file.
func TestLoadUnbuildableExample(t *testing.T) {
	src := removeRules + `    examples:
      - name: a linked id
        event: ` + strings.ReplaceAll(lidEvent, "BODY", "fragile") + `
        errors: 1
`
	file := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	opts := engine.LoadOptions{LookupEnv: func(string) (string, bool) { return "https://hooks.slack.com/services/T0/B0/x", true }}
	tests := []struct {
		name   string
		load   func() (*engine.RuleSet, engine.Problems)
		loaded bool
		sev    engine.Severity
	}{
		{"Load", func() (*engine.RuleSet, engine.Problems) { return ruletest.Load(file, []byte(src), opts) }, true, engine.Warning},
		{"LoadFile", func() (*engine.RuleSet, engine.Problems) { return ruletest.LoadFile(file, opts) }, true, engine.Warning},
		{"CheckFile", func() (*engine.RuleSet, engine.Problems) { return ruletest.CheckFile(file, opts) }, false, engine.Error},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs, all := tt.load()
			if (rs != nil) != tt.loaded {
				t.Fatalf("loaded: %v, want %v; problems: %v", rs != nil, tt.loaded, all)
			}
			var problems engine.Problems
			for _, p := range all {
				if strings.HasPrefix(p.Msg, "example ") {
					problems = append(problems, p)
				}
			}
			if len(problems) != 1 {
				t.Fatalf("problems: %v, want 1 of the example", all)
			}
			p := problems[0]
			want := `example "a linked id" failed: rule "fragile" fired, but the request of its action fragile/wassenger.message[1] cannot be built`
			if p.Severity != tt.sev || p.Line != 27 || !strings.HasPrefix(p.Msg, want) {
				t.Errorf("problem: %v (severity %v), want severity %v at line 27: %s...", p, p.Severity, tt.sev, want)
			}
		})
	}
}
