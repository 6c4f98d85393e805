package engine_test

import (
	"strings"
	"testing"

	"github.com/hookd/hookd/engine"
)

// TestReloadReusesCompiledExpressions checks that a reload reuses the
// previous rule set's programs when vars are unchanged, recompiles when
// they change (so vars.X is checked again), and gives the same results.
func TestReloadReusesCompiledExpressions(t *testing.T) {
	const base = `version: 1
vars:
  vips: ["+1"]
rules:
  - name: r
    on: group:update
    if: author in vars.vips && action == "add"
    do:
      - log: {message: "{{ author }} added {{ len(participants ?? []) }}"}
`
	first, problems := engine.Load("rules.yaml", []byte(base), engine.LoadOptions{})
	if first == nil {
		t.Fatal(problems)
	}
	ev := mustEvent(t, `{"id":"e","event":"group:update","action":"add","author":"+1","participants":["+2"]}`)
	edited := strings.Replace(base, "added", "has added", 1)
	second, problems := engine.Load("rules.yaml", []byte(edited), engine.LoadOptions{Previous: first})
	if second == nil {
		t.Fatal(problems)
	}
	if got := second.Evaluate(ev).Fired[0].Actions[0].Params["message"]; got != "+1 has added 1" {
		t.Errorf("message %q after the reload", got)
	}
	if !engine.SharesProgram(first, second, `author in vars.vips && action == "add"`) {
		t.Error("the unchanged condition was compiled again")
	}
	// Other vars: every expression is compiled and checked anew.
	renamed := strings.Replace(base, "vips:", "admins:", 1)
	third, problems := engine.Load("rules.yaml", []byte(renamed), engine.LoadOptions{Previous: first})
	if third != nil || !strings.Contains(problems.Error(), "unknown variable vars.vips") {
		t.Errorf("reload with vips renamed: %v, want the unknown variable reported", problems)
	}
}
