package cli_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hookd/hookd/internal/cli"
)

// groupChatDir holds the rules, events and goldens of the named group and
// chat actions.
var groupChatDir = filepath.Join("testdata", "show-requests", "group-chat")

// groupChatWant is, per action of group-chat/rules.yaml in the order the
// events and rules fire, the request line dry-run shows and parts the
// request must contain (the body, or its absence).
var groupChatWant = []struct {
	typ      string
	first    string
	contains []string
}{
	{"wassenger.group.add", "POST https://api.wassenger.test/v1/devices/61b37a069cba0c15d6c89757/groups/120363012345678901@g.us/participants",
		[]string{`"phone": "+1234567890"`, `"phone": "+1987654321"`, `"admin": false`}},
	{"wassenger.group.promote", "PATCH https://api.wassenger.test/v1/devices/61b37a069cba0c15d6c89757/groups/120363098765432101@g.us/participants",
		[]string{`"phone": "+1234567890"`, `"admin": true`}},
	{"wassenger.group.demote", "PATCH https://api.wassenger.test/v1/devices/61b37a069cba0c15d6c89757/groups/120363098765432101@g.us/participants",
		[]string{`"phone": "+12345678909"`, `"admin": false`}},
	{"wassenger.group.remove", "DELETE https://api.wassenger.test/v1/devices/61b37a069cba0c15d6c89757/groups/120363098765432101@g.us/participants",
		[]string{"\n\n[\n  \"+1234567890\",\n  \"+1987654321\"\n]"}},
	{"wassenger.group.add", "POST https://api.wassenger.test/v1/devices/61b37a069cba0c15d6c89757/groups/120363098765432101@g.us/participants",
		[]string{`"phone": "+12345678909"`, `"admin": true`}},
	{"wassenger.group.approve", "POST https://api.wassenger.test/v1/devices/61b37a069cba0c15d6c89757/groups/120363055555555555@g.us/members",
		[]string{"\"phones\": [\n    \"+5215587654321\"\n  ]"}},
	{"wassenger.chat.note", "POST https://api.wassenger.test/v1/chat/61b37a069cba0c15d6c89757/chats/120363055555555555@g.us/notes",
		[]string{`"message": "hookd approved +5215587654321"`}},
	{"wassenger.group.reject", "DELETE https://api.wassenger.test/v1/devices/61b37a069cba0c15d6c89757/groups/120363055555555555@g.us/members",
		[]string{`"all": true`}},
	{"wassenger.chat.label", "PATCH https://api.wassenger.test/v1/chat/64f1c2a9b3e4d5f6a7b8c9d0/chats/120363041234567890@g.us/labels?upsert=true",
		[]string{"\n\n[\n  \"price-question\",\n  \"group\"\n]"}},
	{"wassenger.chat.label", "PATCH https://api.wassenger.test/v1/chat/64f1c2a9b3e4d5f6a7b8c9d0/chats/120363041234567890@g.us/labels?remove=true",
		[]string{"\n\n[\n  \"new-customer\"\n]"}},
	{"wassenger.chat.assign", "PATCH https://api.wassenger.test/v1/chat/64f1c2a9b3e4d5f6a7b8c9d0/chats/120363041234567890@g.us/owner",
		[]string{`"agent": "5f71e36254800f533ab1c2d3"`}},
	{"wassenger.chat.unassign", "DELETE https://api.wassenger.test/v1/chat/64f1c2a9b3e4d5f6a7b8c9d0/chats/120363041234567890@g.us/owner", nil},
	{"wassenger.chat.resolve", "PATCH https://api.wassenger.test/v1/chat/64f1c2a9b3e4d5f6a7b8c9d0/chats/120363041234567890@g.us/status",
		[]string{`"status": "resolved"`}},
	{"wassenger.chat.note", "POST https://api.wassenger.test/v1/chat/64f1c2a9b3e4d5f6a7b8c9d0/chats/120363041234567890@g.us/notes",
		[]string{`"message": "Asked about order #1020: ¡Hola! ¿Precio del pedido #1020? 🙏"`, `"quote": "3EB08535F165F933B111"`}},
	{"wassenger.message.delete", "DELETE https://api.wassenger.test/v1/chat/64f1c2a9b3e4d5f6a7b8c9d0/messages/3EB08535F165F933B111?revoke=true", nil},
}

// TestDryRunShowRequestsGroupChatGolden runs `hookd dry-run
// --show-requests` in text and JSON over testdata/show-requests/group-chat
// and compares the output with its goldens (rewrite them with -update).
func TestDryRunShowRequestsGroupChatGolden(t *testing.T) {
	t.Setenv("HOOKD_SR_WASSENGER_TOKEN", showRequestsSecrets["HOOKD_SR_WASSENGER_TOKEN"])
	rules := filepath.Join(groupChatDir, "rules.yaml")
	events := filepath.Join(groupChatDir, "events")
	for _, tt := range []struct {
		name   string
		args   []string
		golden string
	}{
		{"text", []string{"dry-run", "--show-requests", "--rules", rules, events}, "text.golden"},
		{"json", []string{"dry-run", "--format", "json", "--show-requests", "--rules", rules, events}, "json.golden"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := cli.Run(tt.args, cli.Streams{Stdout: &stdout, Stderr: &stderr}); code != 0 || stderr.Len() > 0 {
				t.Fatalf("hookd %s: exit %d\nstderr:\n%s", strings.Join(tt.args, " "), code, stderr.String())
			}
			got := stdout.String()
			if strings.Contains(got, "sentinel") {
				t.Errorf("the token shows in the output:\n%s", got)
			}
			compareGolden(t, filepath.Join(groupChatDir, tt.golden), got)
		})
	}
}

// TestDryRunShowRequestsGroupChatContent checks every request of the JSON
// output against groupChatWant, so that a golden rewritten with -update
// cannot silently accept a wrong method, path or body.
func TestDryRunShowRequestsGroupChatContent(t *testing.T) {
	t.Setenv("HOOKD_SR_WASSENGER_TOKEN", showRequestsSecrets["HOOKD_SR_WASSENGER_TOKEN"])
	var stdout, stderr bytes.Buffer
	args := []string{"dry-run", "--format", "json", "--show-requests",
		"--rules", filepath.Join(groupChatDir, "rules.yaml"), filepath.Join(groupChatDir, "events")}
	if code := cli.Run(args, cli.Streams{Stdout: &stdout, Stderr: &stderr}); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	type action struct {
		Type    string `json:"type"`
		Request string `json:"request"`
	}
	var got []action
	dec := json.NewDecoder(&stdout)
	for {
		var ev struct {
			Actions []action `json:"actions"`
			Errors  []string `json:"errors"`
		}
		err := dec.Decode(&ev)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("output is not JSON objects: %v", err)
		}
		if len(ev.Errors) > 0 {
			t.Errorf("errors: %v", ev.Errors)
		}
		got = append(got, ev.Actions...)
	}
	if len(got) != len(groupChatWant) {
		t.Fatalf("%d actions, want %d: %+v", len(got), len(groupChatWant), got)
	}
	for i, want := range groupChatWant {
		a := got[i]
		if a.Type != want.typ {
			t.Errorf("action %d is %s, want %s", i, a.Type, want.typ)
			continue
		}
		first, rest, _ := strings.Cut(a.Request, "\n")
		if first != want.first {
			t.Errorf("action %d %s: request starts with\n%s\nwant\n%s", i, a.Type, first, want.first)
		}
		if !strings.Contains(rest, "\nToken: <secret>\n") {
			t.Errorf("action %d %s: no masked Token header:\n%s", i, a.Type, a.Request)
		}
		if want.contains == nil && (strings.Contains(rest, "\n\n") || strings.Contains(rest, "Content-Type")) {
			t.Errorf("action %d %s: want no body:\n%s", i, a.Type, a.Request)
		}
		for _, c := range want.contains {
			if !strings.Contains(a.Request, c) {
				t.Errorf("action %d %s: request\n%s\nwant it to contain %q", i, a.Type, a.Request, c)
			}
		}
	}
}
