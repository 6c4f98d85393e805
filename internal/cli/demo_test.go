package cli_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestDemoOnce runs the README's first command as `demo --once`: the
// daemon on the built-in example rules with local stand-ins. Every kind
// of target must receive something and no action may be dead-lettered.
func TestDemoOnce(t *testing.T) {
	code, stdout, stderr := run(t, "demo", "--once", "--listen", "127.0.0.1:0")
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for _, target := range []string{"Wassenger received", "Slack received", "SMTP received", "CRM webhook received"} {
		m := regexp.MustCompile(target + ` (\d+) `).FindStringSubmatch(stdout)
		if m == nil {
			t.Errorf("no %q line in:\n%s", target, stdout)
			continue
		}
		if n, _ := strconv.Atoi(m[1]); n == 0 {
			t.Errorf("%s nothing", target)
		}
	}
	// The rules that remember: the burst's third removal makes 5 members
	// and fires the window once; the throttle holds the fourth.
	if n := len(regexp.MustCompile(`\d+ members removed from Demo Burst Group`).FindAllString(stdout, -1)); n != 1 {
		t.Errorf("mass-removal fired %d times on the demo's burst, want once:\n%s", n, stdout)
	}
	if !regexp.MustCompile(`5 members removed from Demo Burst Group`).MatchString(stdout) {
		t.Errorf("mass-removal did not report 5 members removed:\n%s", stdout)
	}
	// The digest of yesterday's joins is due: sent once, counting all
	// three (the demo cuts the line after the first).
	if n := len(regexp.MustCompile(`Demo Burst Group: 3 joined since yesterday: \+3465550020[0-2]`).FindAllString(stdout, -1)); n != 1 {
		t.Errorf("daily-joins sent %d digests of the demo's three joins, want one:\n%s", n, stdout)
	}
	// The console's sign-in link carries a fresh admin key after #.
	if !regexp.MustCompile(`(?m)^console: http://127\.0\.0\.1:\d+/ui/login#key=[0-9a-f]{32} `).MatchString(stdout) {
		t.Errorf("no console sign-in link in:\n%s", stdout)
	}
	if regexp.MustCompile(`(?m)^Dead letters`).MatchString(stdout) {
		t.Errorf("the demo dead-lettered actions:\n%s", stdout)
	}
}

// rulesFile writes text to a rules file in a temporary folder and
// returns its path.
func rulesFile(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestDemoRefusesRealTargets: hookd demo runs a rules file of one's own
// only when its actions stay on this machine, where the demo's
// stand-ins are; a file written for real use is refused with the
// position of each field that leaves it and the variable to read.
func TestDemoRefusesRealTargets(t *testing.T) {
	rules := rulesFile(t, `version: 1
connections:
  wassenger:
    token: ${WASSENGER_TOKEN}
  slack:
    webhook_url: ${SLACK_WEBHOOK_URL}
rules:
  - name: removal-alert
    on: group:update
    if: action == "remove"
    do:
      - wassenger.message: { phone: "+34600000001", message: removed }
      - slack: { text: removed }
      - webhook:
          url: https://crm.example.com/hook
`)
	code, stdout, stderr := run(t, "demo", "--once", "--listen", "127.0.0.1:0", "--rules", rules)
	if code != 1 {
		t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for _, want := range []string{
		rules + ":3:3: connections.wassenger.base_url goes to api.wassenger.com: hookd demo sends only to its stand-ins on this machine; read it from ${WASSENGER_BASE_URL}",
		rules + ":15:16: removal-alert/webhook[2] url goes to crm.example.com",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr does not say %q:\n%s", want, stderr)
		}
	}
	// The Slack webhook reads the variable the demo sets: not refused.
	if strings.Contains(stderr, "slack") {
		t.Errorf("stderr refuses the Slack webhook, which goes to the demo's stand-in:\n%s", stderr)
	}
}

// TestDemoOwnRulesDigest: on a rules file of one's own, the demo's
// report waits for the digests that are due (the demo's joins of
// yesterday), which the daemon sends at its next look, not with the
// events' jobs; and it names counts of one in the singular.
func TestDemoOwnRulesDigest(t *testing.T) {
	rules := rulesFile(t, `version: 1
connections:
  wassenger:
    token: ${WASSENGER_TOKEN}
    base_url: ${WASSENGER_BASE_URL}
rules:
  - name: daily-new-members
    on: group:update
    if: action == "add" && data.chat.name == "Demo Burst Group"
    digest: { key: "{{ data.chat.id }}", schedule: "0 18 * * *", timezone: Europe/Madrid }
    do:
      - wassenger.message:
          group: "120363012345678901@g.us"
          message: "{{ data.chat.name }}: {{ digest.count }} joins"
`)
	code, stdout, stderr := run(t, "demo", "--once", "--listen", "127.0.0.1:0", "--rules", rules)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "Wassenger received 1 request:\n") || !strings.Contains(stdout, `"message":"Demo Burst Group: 3 joins"`) {
		t.Errorf("the report does not hold the one digest due:\n%s", stdout)
	}
	if !strings.Contains(stdout, "Slack received 0 messages:\n") {
		t.Errorf("no Slack line of 0 messages:\n%s", stdout)
	}
}
