package ruletest_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hookd/hookd/engine"
	"github.com/hookd/hookd/engine/ruletest"
)

var exampleTests = filepath.Join("..", "..", "testdata", "tests", "example_test.yaml")

// TestExampleFile runs the tests of rules.example.yaml: they pass, cover
// every rule both ways, and fail, naming the case, when a rule breaks.
func TestExampleFile(t *testing.T) {
	suite, problems := ruletest.DecodeFile(exampleTests)
	if suite == nil {
		t.Fatalf("decode: %v", problems)
	}
	src, err := os.ReadFile(suite.Rules)
	if err != nil {
		t.Fatal(err)
	}
	load := func(src string) *engine.RuleSet {
		t.Helper()
		rs, problems := engine.Load(suite.Rules, []byte(src), engine.LoadOptions{AllowUnsetEnv: true})
		if rs == nil {
			t.Fatalf("load: %v", problems)
		}
		return rs
	}
	rs := load(string(src))
	positive, negative := map[string]bool{}, map[string]bool{}
	for _, c := range suite.Cases {
		if f := c.Run(rs); len(f) > 0 {
			t.Errorf("case %q fails on rules.example.yaml: %v", c.Name, f)
		}
		for _, x := range c.Fires {
			positive[x.Rule] = true
		}
		for _, x := range c.NotFires {
			negative[x.Rule] = true
		}
	}
	for _, r := range rs.Rules {
		if !positive[r.Name] || !negative[r.Name] {
			t.Errorf("rule %s: a case where it fires: %v, one where it does not: %v; want both", r.Name, positive[r.Name], negative[r.Name])
		}
	}

	breaks := []struct {
		name, old, new string
		failing        []string // cases that must fail
	}{
		{"condition", `if: action == "add" && len(participants ?? []) > 0`, `if: action == "added" && len(participants ?? []) > 0`,
			[]string{"welcomes people added to a group", "welcomes one person added by a link (JSONL event)"}},
		{"template", `subject: "Members removed from {{ data.chat.name }}"`, `subject: "Removed from {{ data.chat.name }}"`,
			[]string{"alerts ops when an untrusted member removes people"}},
		// A member who leaves is reported as removed by themselves: the
		// removal rules without their guard alert on it.
		{"self-leave", `if: action == "remove" && author not in vars.trusted_admins && author not in (participants ?? [])`, `if: action == "remove" && author not in vars.trusted_admins`,
			[]string{"a member who leaves on their own fires nothing"}},
		{"self-leave counted", `if: action == "remove" && author not in (participants ?? [])`, `if: action == "remove"`,
			[]string{"five members who leave on their own in ten minutes do not alert"}},
		// Auditing every event: the only: true cases catch it, except the
		// one whose rule stops the chain.
		{"on", `on: "message:*"`, `on: "*"`,
			[]string{"no welcome when the event lists no participants", "a trusted admin removes people quietly",
				"a member who leaves on their own fires nothing", "tells ops about a promotion",
				"disappearing messages are not a locked setting", "contact updates fire nothing"}},
	}
	for _, b := range breaks {
		t.Run(b.name, func(t *testing.T) {
			if !strings.Contains(string(src), b.old) {
				t.Skipf("rules.example.yaml no longer contains %q", b.old)
			}
			broken := load(strings.Replace(string(src), b.old, b.new, 1))
			var failed []string
			for _, c := range suite.Cases {
				if f := c.Run(broken); len(f) > 0 {
					failed = append(failed, c.Name)
				}
			}
			if strings.Join(failed, "|") != strings.Join(b.failing, "|") {
				t.Errorf("failing cases %q, want %q", failed, b.failing)
			}
		})
	}
}
