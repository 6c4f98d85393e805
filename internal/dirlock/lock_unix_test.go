//go:build unix

package dirlock_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
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
// folder): a file in the way is named, not taken for a permission
// problem; a parent that the user cannot write to is one.
func TestTakeUncreatableFolder(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	locked := filepath.Join(dir, "locked")
	if err := os.Mkdir(locked, 0o500); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, dir, want string
		is              error // the system's error, still wrapped
		notRoot         bool  // root writes to a read-only folder
	}{
		{"under a file", filepath.Join(file, "data"), "create: " + file + " is a file, not a folder: name a folder, or move the file away", syscall.ENOTDIR, false},
		{"a file", file, "create: " + file + " is a file, not a folder: name a folder, or move the file away", syscall.ENOTDIR, false},
		{"under a read-only folder", filepath.Join(locked, "data"), "writable by the user running hookd", syscall.EACCES, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.notRoot && os.Geteuid() == 0 {
				t.Skip("root writes to a read-only folder")
			}
			_, err := dirlock.Take(tt.dir)
			if err == nil {
				t.Fatal("Take succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
			if !errors.Is(err, tt.is) {
				t.Errorf("error %q does not wrap %v", err, tt.is)
			}
		})
	}
}
