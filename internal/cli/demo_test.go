package cli_test

import (
	"regexp"
	"strconv"
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
