package cli_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/hookd/hookd/store/sqlite"
)

// newStore creates an empty store, as a hookd serve that received nothing
// leaves it, and returns its folder.
func newStore(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	st, err := sqlite.Open(dir, sqlite.Options{Sync: "normal"})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestDLQRetryUnknownID: retrying an id that is not a dead letter fails
// and names the id, where it used to print "queued 0 dead letters".
func TestDLQRetryUnknownID(t *testing.T) {
	dir := newStore(t)
	code, stdout, stderr := run(t, "dlq", "retry", "--data", dir, "999")
	if code != 1 {
		t.Errorf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	want := "hookd dlq retry: no job with id 999 in " + dir + "; nothing was queued (hookd dlq list --data " + dir + " shows the ids)\n"
	if stderr != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", stderr, want)
	}
	if stdout != "" {
		t.Errorf("stdout: %q, want nothing", stdout)
	}

	// The same store is a store: list and export work on it.
	code, stdout, stderr = run(t, "dlq", "list", "--data", dir)
	if code != 0 || stdout != "no dead letters\n" {
		t.Errorf("dlq list: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	code, stdout, stderr = run(t, "events", "export", "--data", dir)
	if code != 0 || stdout != "" || !strings.Contains(stderr, "exported 0 events") {
		t.Errorf("events export: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}
