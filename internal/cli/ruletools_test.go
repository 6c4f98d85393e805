package cli_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hookd/hookd/internal/cli"
	"github.com/hookd/hookd/internal/fstree"
)

var (
	root         = filepath.Join("..", "..")
	exampleRules = filepath.Join(root, "rules.example.yaml")
	exampleTests = filepath.Join(root, "testdata", "tests", "example_test.yaml")
	events       = filepath.Join(root, "testdata", "events")
)

// run runs hookd in process and returns its exit code and output.
func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := cli.Run(args, cli.Streams{Stdout: &stdout, Stderr: &stderr})
	return code, stdout.String(), stderr.String()
}

// breakRules writes a copy of rules.example.yaml with old replaced by
// new, beside a copy of testdata/events (its inline examples read
// events relative to it), and returns its path.
func breakRules(t *testing.T, old, new string) string {
	t.Helper()
	src, err := os.ReadFile(exampleRules)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(src, []byte(old)) {
		t.Skipf("rules.example.yaml no longer contains %q", old)
	}
	dir := t.TempDir()
	if err := fstree.Copy(events, filepath.Join(dir, "testdata", "events")); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(p, bytes.Replace(src, []byte(old), []byte(new), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestExampleRuleTests runs testdata/tests/example_test.yaml as a user
// would: it passes on rules.example.yaml, and a broken rule makes the
// cases that cover it fail with their file:line.
func TestExampleRuleTests(t *testing.T) {
	code, stdout, stderr := run(t, "test", exampleTests)
	if code != 0 || stderr != "" {
		t.Fatalf("hookd test exited %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if strings.Contains(stdout, "FAIL") || !strings.HasSuffix(stdout, " passed, 0 failed\n") {
		t.Errorf("output:\n%s", stdout)
	}

	broken := breakRules(t, `if: action == "add" && len(participants ?? []) > 0`, `if: action == "added" && len(participants ?? []) > 0`)
	code, stdout, _ = run(t, "test", "--rules", broken, exampleTests)
	if code != 1 {
		t.Fatalf("hookd test on a broken rule exited %d, want 1\n%s", code, stdout)
	}
	for _, want := range []string{
		"--- FAIL: welcomes people added to a group (" + exampleTests + ":",
		`: expected rule "welcome-new-members" to fire; fired: nothing; rule "welcome-new-members" skipped by the action index: the condition needs action "added", the event's action is "add"`,
		" passed, 2 failed\n",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output:\n%s\nwant it to contain:\n%s", stdout, want)
		}
	}
}

// TestExplainRecordedEvents explains why the recorded removal fires the
// removal alert and why an addition does not.
func TestExplainRecordedEvents(t *testing.T) {
	code, stdout, stderr := run(t, "explain", "--rules", exampleRules, filepath.Join(events, "group-update", "remove.json"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		"✓ removal-alert  (" + exampleRules + ":",
		`author not in vars.trusted_admins   → "+1234567891" not in [`,
		"✗ price-question  (",
		"    listens to message:in:new, event is group:update",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output:\n%s\nwant it to contain:\n%s", stdout, want)
		}
	}
	_, stdout, _ = run(t, "explain", "--rules", exampleRules, filepath.Join(events, "group-update", "add.json"))
	if !strings.Contains(stdout, "✗ removal-alert") || !strings.Contains(stdout, `action == "remove"                  → "add" == "remove" → false`) {
		t.Errorf("output:\n%s\nwant removal-alert not firing because the action is add", stdout)
	}
}

// TestImpactOverRecordedEvents changes a condition of the example rules
// and checks the impact over testdata/events.
func TestImpactOverRecordedEvents(t *testing.T) {
	changed := breakRules(t, `if: action in ["restrict", "announce"]`, `if: action == "restrict"`)
	code, stdout, stderr := run(t, "dry-run", "--rules", changed, "--baseline", exampleRules, events)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		"group:update (announce)  id ",
		"   - settings-locked stops firing\n",
		"rule settings-locked: -",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output:\n%s\nwant it to contain:\n%s", stdout, want)
		}
	}
	if strings.Contains(stdout, "(restrict)") {
		t.Errorf("restrict events are unchanged but listed:\n%s", stdout)
	}
	_, stdout, _ = run(t, "dry-run", "--rules", exampleRules, "--baseline", exampleRules, events)
	if !strings.HasPrefix(stdout, "no changes over ") {
		t.Errorf("same rules on both sides: %s", stdout)
	}
}

// TestSchemaCommand checks that `hookd schema` prints the committed
// docs/rules.schema.json.
func TestSchemaCommand(t *testing.T) {
	code, stdout, _ := run(t, "schema")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	want, err := os.ReadFile(filepath.Join(root, "docs", "rules.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	if stdout != string(want) {
		t.Error("hookd schema differs from docs/rules.schema.json; run go test ./internal/schema -update")
	}
	first, err := os.ReadFile(exampleRules)
	if err != nil {
		t.Fatal(err)
	}
	if line, _, _ := strings.Cut(string(first), "\n"); line != "# yaml-language-server: $schema=docs/rules.schema.json" {
		t.Errorf("rules.example.yaml starts with %q, want the yaml-language-server schema comment", line)
	}
}
