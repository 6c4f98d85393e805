package hookd_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/hookd/hookd/engine"
	"github.com/hookd/hookd/engine/ruletest"
	"github.com/hookd/hookd/event"
)

// TestDocsStateRules loads every rule of the YAML blocks of docs/rules.md
// from "Rules that remember" up to the loop guard, running their inline
// examples: the examples of the state keys and timer rules must load
// without a problem, and do what their examples say.
func TestDocsStateRules(t *testing.T) {
	blocks := 0
	for _, part := range strings.Split(rulesSection(t, "Rules that remember", "hookd's own sends: the loop guard"), "```yaml\n")[1:] {
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

// rulesSection returns docs/rules.md from the heading from up to the
// heading to (both "## " headings).
func rulesSection(t *testing.T, from, to string) string {
	t.Helper()
	page := readDoc(t, "rules.md")
	start := strings.Index(page, "\n## "+from+"\n")
	end := strings.Index(page, "\n## "+to+"\n")
	if start < 0 || end < start {
		t.Fatalf("docs/rules.md: the sections from %q to %q are missing", from, to)
	}
	return page[start:end]
}

// TestDocsLoopGuard replays the loop guard's example of docs/rules.md:
// the group:update of kick-links' removal does not fire removal-alert;
// another admin's removal does, and a member who leaves (a removal by
// that member) does not.
func TestDocsLoopGuard(t *testing.T) {
	_, part, ok := strings.Cut(rulesSection(t, "hookd's own sends: the loop guard", "The action and value indexes"), "```yaml\n")
	if !ok {
		t.Fatal("docs/rules.md: the loop guard has no rule example")
	}
	block, _, _ := strings.Cut(part, "```")
	src := "version: 1\nconnections:\n  wassenger: { token: t }\n  slack: { webhook_url: \"https://hooks.slack.com/services/T0/B0/X\" }\nrules:\n" + block
	rs, problems := ruletest.Load("docs/rules.md", []byte(src), engine.LoadOptions{})
	if rs == nil || len(problems) > 0 {
		t.Fatalf("docs/rules.md: the loop guard's example does not load cleanly:\n%s\n%v", block, problems)
	}
	const device = `"device": {"id": "61b37a069cba0c15d6c89757", "phone": "+34600000001"}`
	const chat = `"chat": {"id": "120363012345678901@g.us", "name": "Ops"}`
	events, err := event.Parse([]byte(`[
		{"event": "message:in:new", "id": "link", "created": 1772445600, ` + device + `,
		 "data": {"id": "link", "body": "http://spam.example", "fromNumber": "+34611000009", ` + chat + `}},
		{"event": "group:update", "action": "remove", "id": "echo", "created": 1772445603, "author": "+34600000001",
		 "participants": ["+34611000009"], ` + device + `, "data": {"id": "echo", ` + chat + `}},
		{"event": "group:update", "action": "remove", "id": "admin", "created": 1772445660, "author": "+34600000002",
		 "participants": ["+34611000009"], ` + device + `, "data": {"id": "admin", ` + chat + `}},
		{"event": "group:update", "action": "remove", "id": "leave", "created": 1772445720, "author": "+34611000010",
		 "participants": ["+34611000010"], ` + device + `, "data": {"id": "leave", ` + chat + `}}]`))
	if err != nil {
		t.Fatal(err)
	}
	var fired []string
	rs.Replay(events, engine.NewMemoryState(), func(it engine.ReplayItem) {
		if it.Result == nil {
			return
		}
		for _, f := range it.Result.Fired {
			fired = append(fired, f.Rule.Name+"/"+it.Result.Event.ID)
		}
	})
	want := []string{"kick-links/link", "removal-alert/admin"}
	if !slices.Equal(fired, want) {
		t.Fatalf("fired %v, want %v", fired, want)
	}
}
