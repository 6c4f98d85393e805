//go:build unix

package dirlock_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hookd/hookd/internal/dirlock"
)

func TestTake(t *testing.T) {
	dir := t.TempDir()
	first, err := dirlock.Take(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dirlock.Take(dir); !errors.Is(err, dirlock.ErrLocked) {
		t.Fatalf("second Take while the first holds the lock: %v, want ErrLocked", err)
	}
	if err := first.Release(); err != nil {
		t.Fatal(err)
	}
	again, err := dirlock.Take(dir)
	if err != nil {
		t.Fatalf("Take after Release: %v", err)
	}
	again.Release()
}

// The data folder holds personal data: Take creates it for its owner
// only (docs/operations.md, "The store"), whatever the umask leaves.
func TestTakeCreatesPrivateFolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "hookd")
	l, err := dirlock.Take(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o700 {
		t.Errorf("data folder created with mode %o, want 700", got)
	}
}

// A folder that cannot be created says what to do (the daemon names the
// folder).
func TestTakeUncreatableFolder(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := dirlock.Take(filepath.Join(file, "data"))
	if err == nil {
		t.Fatal("Take under a regular file succeeded")
	}
	if want := "writable by the user running hookd"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
}
