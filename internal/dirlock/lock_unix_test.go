//go:build unix

package dirlock_test

import (
	"errors"
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
