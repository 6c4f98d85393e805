package engine_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hookd/hookd/internal/cli"
)

var update = flag.Bool("update", false, "rewrite the .golden files of testdata/rules/broken from the output of hookd check")

// unsetVar is the variable testdata/rules/broken/unset-env.yaml reads; the
// golden tests make sure it is not set.
const unsetVar = "HOOKD_TEST_UNSET_TOKEN"

// toRepoRoot makes the repository root the working directory for the
// test, so that the paths in `hookd check` output read as a user at the
// root sees them: testdata/rules/broken/x.yaml:4:7: ...
func toRepoRoot(t *testing.T) {
	t.Helper()
	t.Chdir("..")
	if _, err := os.Stat("go.mod"); err != nil {
		t.Fatalf("not at the repository root: %v", err)
	}
}

// unsetEnv removes a variable from the environment for the test.
func unsetEnv(t *testing.T, name string) {
	t.Helper()
	t.Setenv(name, "") // restores the old value after the test
	if err := os.Unsetenv(name); err != nil {
		t.Fatal(err)
	}
}

// runCLI runs hookd in process and returns its exit code and output.
func runCLI(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = cli.Run(args, cli.Streams{Stdout: &out, Stderr: &errOut})
	return code, out.String(), errOut.String()
}

// TestCheckGolden runs `hookd check` on every broken rules file and
// compares its stderr with the file's .golden; go test -run
// TestCheckGolden -update rewrites them.
func TestCheckGolden(t *testing.T) {
	toRepoRoot(t)
	unsetEnv(t, unsetVar)
	files, err := filepath.Glob("testdata/rules/broken/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 30 {
		t.Fatalf("found %d broken rules files, want at least 30", len(files))
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".yaml")
		t.Run(name, func(t *testing.T) {
			code, stdout, stderr := runCLI("check", file)
			if code != 1 {
				t.Errorf("hookd check %s: exit code %d, want 1", file, code)
			}
			if stdout != "" {
				t.Errorf("hookd check %s printed on stdout:\n%s", file, stdout)
			}
			golden := strings.TrimSuffix(file, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(stderr), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./engine -run TestCheckGolden -update to create it)", err)
			}
			if stderr != string(want) {
				t.Errorf("hookd check %s: stderr differs from %s (-update rewrites it)\n--- got\n%s--- want\n%s", file, golden, stderr, want)
			}
		})
	}
	// A golden without its rules file is a leftover of a rename.
	goldens, _ := filepath.Glob("testdata/rules/broken/*.golden")
	for _, g := range goldens {
		if _, err := os.Stat(strings.TrimSuffix(g, ".golden") + ".yaml"); err != nil {
			t.Errorf("%s has no rules file: remove it", g)
		}
	}
}

// TestCheckGood runs `hookd check` on every valid rules file and on
// rules.example.yaml: exit 0, nothing on stderr (no warnings either), and
// a summary naming every rule.
func TestCheckGood(t *testing.T) {
	toRepoRoot(t)
	files, err := filepath.Glob("testdata/rules/good/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 3 {
		t.Fatalf("found %d good rules files, want at least 3", len(files))
	}
	for _, file := range append(files, "rules.example.yaml") {
		t.Run(filepath.Base(file), func(t *testing.T) {
			code, stdout, stderr := runCLI("check", file)
			if code != 0 || stderr != "" {
				t.Fatalf("hookd check %s: exit code %d, stderr:\n%s", file, code, stderr)
			}
			if !strings.HasPrefix(stdout, file+": OK, ") || strings.Contains(stdout, "warning") {
				t.Errorf("hookd check %s: stdout does not start with %q or has warnings:\n%s", file, file+": OK, ", stdout)
			}
		})
	}
}
