package sqlite

import (
	"bytes"
	"context"
	"runtime"
	"testing"

	"github.com/hookd/hookd/store"
	"modernc.org/sqlite"
)

// TestSyncWithFdatasync checks that SyncWithFdatasync takes effect on
// Linux and that a store commits and reads back through it. The package's
// other tests run with SQLite's default, fsync, as a program that does
// not call SyncWithFdatasync gets; hookd's commands call it, so the CLI
// scripts and the kill -9 tests of the binary run with fdatasync.
func TestSyncWithFdatasync(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("fdatasync is checked on Linux")
	}
	t.Cleanup(func() { sqlite.Fdatasync(false) })
	if !SyncWithFdatasync() || !sqlite.FdatasyncEnabled() {
		t.Fatal("SyncWithFdatasync: SQLite does not sync with fdatasync on Linux")
	}
	ctx := context.Background()
	dir := t.TempDir()
	body := []byte(`{"event":"message:in:new","data":{"id":"A1","body":"hi"}}`)
	s := open(t, dir, Options{})
	if _, err := s.Accept(ctx, []store.Record{{Event: store.Event{ID: "A1", Name: "message:in:new", Body: body}}}); err != nil {
		t.Fatalf("Accept: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	s = open(t, dir, Options{})
	defer s.Close()
	var got [][]byte
	if err := s.Events(ctx, store.EventQuery{}, func(ev store.Event) error {
		got = append(got, ev.Body)
		return nil
	}); err != nil {
		t.Fatalf("Events: %v", err)
	}
	if len(got) != 1 || !bytes.Equal(got[0], body) {
		t.Fatalf("after reopening: bodies %q, want the one accepted", got)
	}
}
