package hookd_test

import (
	"strings"
	"testing"

	"github.com/hookd/hookd/engine"
	"github.com/hookd/hookd/engine/ruletest"
)

// TestDocsStateRules loads every rule of the YAML blocks of docs/rules.md
// from "Rules that remember" to the loop guard, running their inline
// examples: the examples of the state keys and timer rules must load
// without a problem, and do what their examples say.
func TestDocsStateRules(t *testing.T) {
	page := readDoc(t, "rules.md")
	start := strings.Index(page, "\n## Rules that remember\n")
	end := strings.Index(page, "\n## The action and value indexes\n")
	if start < 0 || end < start {
		t.Fatal("docs/rules.md: the sections from \"Rules that remember\" to \"The action and value indexes\" are missing")
	}
	blocks := 0
	for _, part := range strings.Split(page[start:end], "```yaml\n")[1:] {
		block, _, _ := strings.Cut(part, "```")
		blocks++
		src := "version: 1\nrules:\n" + block
		rs, problems := ruletest.Load("docs/rules.md", []byte(src), engine.LoadOptions{})
		if rs == nil || len(problems) > 0 {
			t.Errorf("docs/rules.md: a rule example does not load cleanly:\n%s\n%v", block, problems)
			continue
		}
		for _, r := range rs.Rules {
			if !r.Stateful() && !r.Timer() {
				t.Errorf("docs/rules.md: rule %s of \"Rules that remember\" neither remembers nor runs on a timer", r.Name)
			}
		}
	}
	if blocks < 3 {
		t.Errorf("docs/rules.md: %d rule examples in \"Rules that remember\", want the window, digest, throttle and timer ones", blocks)
	}
}
