package cli_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/hookd/hookd/engine"
	"github.com/hookd/hookd/event"
	"github.com/hookd/hookd/internal/cli"
)

var updateShowRequests = flag.Bool("update", false, "rewrite testdata/show-requests/*.golden from the output of hookd dry-run --show-requests")

// showRequestsDir holds the rules, the event and the golden outputs.
var showRequestsDir = filepath.Join("testdata", "show-requests")

// showRequestsSecrets are the ${ENV} secrets of testdata/show-requests/
// rules.yaml, set to sentinels that must show nowhere in the output.
var showRequestsSecrets = map[string]string{
	"HOOKD_SR_WASSENGER_TOKEN":   "sentinel-wassenger-token-21b7",
	"HOOKD_SR_SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T000/B000/sentinelsecret",
	"HOOKD_SR_SLACK_TOKEN":       "xoxb-sentinel-slack-token-c04e",
	"HOOKD_SR_SMTP_PASSWORD":     "sentinel-smtp-password-8d3f",
	"HOOKD_SR_CRM_PASSWORD":      "sentinel-crm-password-6a90",
	"HOOKD_SR_CRM_KEY":           "sentinel-crm-key-f15c",
	"HOOKD_SR_CRM_TOKEN":         "sentinel-crm-token-3e72",
}

// showRequestsWant is, per action of the rules file in order, the first
// line of the request dry-run shows (method and URL, the SMTP server, or
// the log line) and lines the request must contain: the headers that
// carry secrets, masked. It ties whatever -update writes to the
// goldens to what each integration sends. @REF:rule@ stands for the
// reference of the rule's first action on the event.
var showRequestsWant = []struct {
	rule, typ string
	first     string
	contains  []string
}{
	{"welcome", "wassenger.message", "POST https://api.wassenger.test/v1/messages", []string{
		"\nToken: <secret>\n", "\nContent-Type: application/json\n", `"reference": "@REF:welcome@"`,
	}},
	{"welcome", "wassenger.request", "PATCH https://api.wassenger.test/v1/devices/61b37a069cba0c15d6c89757/groups/120363098765432101@g.us/participants?notify=false", []string{
		"\nToken: <secret>\n", "\nContent-Type: application/json\n", `"phone": "+1234567890"`,
	}},
	{"tell-ops", "slack", "POST https://hooks.slack.com/services/<secret>", []string{
		"\nContent-Type: application/json\n", `"text": "+12345678909 added 2 people to Marketing & Ventas 🇪🇸"`, `"blocks": [`,
	}},
	{"tell-ops", "slack", "POST https://slack.com/api/chat.postMessage", []string{
		"\nAuthorization: Bearer <secret>\n", "\nContent-Type: application/json; charset=utf-8\n", `"channel": "C0123456789"`,
	}},
	{"mail-ops", "email", "SMTP smtp.example.test:587 (tls: starttls, auth: plain as bot@example.test)", []string{
		"\nMAIL FROM:<bot@example.test>\nRCPT TO:<ops@example.test>\nRCPT TO:<groups@example.test>\nRCPT TO:<audit@example.test>\n",
		"\nSubject: Nuevos miembros en Marketing & Ventas 🇪🇸 ✅\n", "\nX-Hookd-Reference: @REF:mail-ops@\n",
	}},
	{"crm", "webhook", "POST https://hookd:<secret>@crm.example.test/hooks/whatsapp?source=hookd&api_key=<secret>", []string{
		"\nAuthorization: Bearer <secret>\n", "\nX-Group: 120363098765432101@g.us\n", `"count": 2,`,
	}},
	{"audit", "log", `level=WARN msg="+12345678909 added 2 to Marketing & Ventas 🇪🇸" action=audit/log[0] reference=@REF:audit@ fields.group=120363098765432101@g.us`, nil},
}

// TestDryRunShowRequestsGolden runs `hookd dry-run --show-requests` in
// text and JSON over testdata/show-requests and compares the output with
// the golden files (rewrite them with -update, then read the diff).
func TestDryRunShowRequestsGolden(t *testing.T) {
	for k, v := range showRequestsSecrets {
		t.Setenv(k, v)
	}
	rules := filepath.Join(showRequestsDir, "rules.yaml")
	event := filepath.Join(showRequestsDir, "event.json")
	tests := []struct {
		name   string
		args   []string
		golden string
	}{
		{"text", []string{"dry-run", "--show-requests", "--rules", rules, event}, "text.golden"},
		{"json", []string{"dry-run", "--format", "json", "--show-requests", "--rules", rules, event}, "json.golden"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := cli.Run(tt.args, cli.Streams{Stdout: &stdout, Stderr: &stderr})
			if code != 0 || stderr.Len() > 0 {
				t.Fatalf("hookd %s: exit %d\nstderr:\n%s", strings.Join(tt.args, " "), code, stderr.String())
			}
			got := stdout.String()
			for name, v := range showRequestsSecrets {
				if secret := v[strings.LastIndex(v, "/")+1:]; strings.Contains(got, secret) {
					t.Errorf("the value of %s shows in the output:\n%s", name, got)
				}
			}
			if strings.Contains(got, "sentinel") {
				t.Errorf("a secret shows in the output:\n%s", got)
			}
			compareGolden(t, filepath.Join(showRequestsDir, tt.golden), got)
		})
	}
}

// compareGolden compares got with the golden file path, after writing
// got to it under -update.
func compareGolden(t *testing.T, path, got string) {
	t.Helper()
	if *updateShowRequests {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v; run go test ./internal/cli -run %s -update to create it", err, t.Name())
	}
	if got != string(want) {
		t.Errorf("output differs from %s (rewrite it with -update and read the diff):\n%s", path, firstDifference(got, string(want)))
	}
}

// firstDifference describes the first line where got and want differ.
func firstDifference(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	line := func(lines []string, i int) string {
		if i >= len(lines) {
			return "(end of output)"
		}
		return strconv.Quote(lines[i])
	}
	for i := range max(len(g), len(w)) {
		if i >= len(g) || i >= len(w) || g[i] != w[i] {
			return fmt.Sprintf("line %d:\n got: %s\nwant: %s", i+1, line(g, i), line(w, i))
		}
	}
	return "(same lines)"
}

// TestDryRunShowRequestsContent checks the requests of the JSON output
// against showRequestsWant, so that a golden rewritten with -update
// cannot silently accept a wrong request.
func TestDryRunShowRequestsContent(t *testing.T) {
	for k, v := range showRequestsSecrets {
		t.Setenv(k, v)
	}
	var stdout, stderr bytes.Buffer
	args := []string{"dry-run", "--format", "json", "--show-requests",
		"--rules", filepath.Join(showRequestsDir, "rules.yaml"), filepath.Join(showRequestsDir, "event.json")}
	if code := cli.Run(args, cli.Streams{Stdout: &stdout, Stderr: &stderr}); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var out struct {
		Rules   []string `json:"rules"`
		Actions []struct {
			Rule    string         `json:"rule"`
			Type    string         `json:"type"`
			Params  map[string]any `json:"params"`
			Request string         `json:"request"`
		} `json:"actions"`
		Errors []string `json:"errors"`
	}
	dec := json.NewDecoder(&stdout)
	if err := dec.Decode(&out); err != nil {
		t.Fatalf("output is not a JSON object: %v", err)
	}
	if dec.More() {
		t.Errorf("more than one JSON object for one event")
	}
	if len(out.Errors) > 0 {
		t.Errorf("errors: %v", out.Errors)
	}
	if len(out.Actions) != len(showRequestsWant) {
		t.Fatalf("%d actions, want %d: %+v", len(out.Actions), len(showRequestsWant), out.Actions)
	}
	refs := refReplacer(t, filepath.Join("testdata", "show-requests", "event.json"), "welcome", "mail-ops", "audit")
	for i, want := range showRequestsWant {
		a := out.Actions[i]
		want.first = refs.Replace(want.first)
		if a.Rule != want.rule || a.Type != want.typ {
			t.Errorf("action %d is %s/%s, want %s/%s", i, a.Rule, a.Type, want.rule, want.typ)
			continue
		}
		first, _, _ := strings.Cut(a.Request, "\n")
		if first != want.first {
			t.Errorf("%s/%s: request starts with\n%s\nwant\n%s", a.Rule, a.Type, first, want.first)
		}
		for _, c := range want.contains {
			if c = refs.Replace(c); !strings.Contains(a.Request, c) {
				t.Errorf("%s/%s: request\n%s\nwant it to contain %q", a.Rule, a.Type, a.Request, c)
			}
		}
	}
}

// refReplacer replaces @REF:rule@ with the reference of each rule's first
// action on the event in file.
func refReplacer(t *testing.T, file string, rules ...string) *strings.Replacer {
	t.Helper()
	evs, err := event.ReadFile(file)
	if err != nil || len(evs) != 1 {
		t.Fatalf("%s: %v", file, err)
	}
	var pairs []string
	for _, r := range rules {
		pairs = append(pairs, "@REF:"+r+"@", engine.Reference(evs[0].Key, r, 0))
	}
	return strings.NewReplacer(pairs...)
}
