//go:build linux

package sqlite

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hookd/hookd/internal/tmpfs"
	"github.com/hookd/hookd/store"
	"github.com/hookd/hookd/store/storetest"
)

// TestFullDisk runs the store on a small tmpfs until the disk is full:
// Accept fails saying so and stores nothing, Writable reports it, and
// both recover once space is freed. It skips where mounting is not
// permitted.
func TestFullDisk(t *testing.T) {
	dir := tmpfs.Mount(t, "2m")
	filler := filepath.Join(dir, "filler")
	if err := os.WriteFile(filler, make([]byte, 512<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s := open(t, dir, Options{})
	defer s.Close()
	body := []byte(`"` + storetest.Incompressible(16<<10) + `"`)
	var failed error
	stored := 0
	for i := 0; i < 1000 && failed == nil; i++ {
		_, failed = s.Accept(ctx, []store.Record{{Event: store.Event{ID: fmt.Sprint(i), Name: "message:in:new", Body: body}}})
		if failed == nil {
			stored++
		}
	}
	if failed == nil || !strings.Contains(failed.Error(), "disk is full") {
		t.Fatalf("after %d events, Accept: %v; want a disk-full error", stored, failed)
	}
	if err := s.Writable(ctx); err == nil || !strings.Contains(err.Error(), "disk is full") {
		t.Errorf("Writable on a full disk: %v, want the reason", err)
	}
	if st, err := s.Stats(ctx); err != nil || st.Events != int64(stored) {
		t.Errorf("Stats = %+v, %v; want the %d events accepted before the disk was full", st, err, stored)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Accept(ctx, []store.Record{{Event: store.Event{ID: "after", Name: "message:in:new", Body: body}}}); err != nil {
		t.Fatalf("Accept once space is freed: %v", err)
	}
	if err := s.Writable(ctx); err != nil {
		t.Errorf("Writable once space is freed: %v", err)
	}
}
