package fsync

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

func TestSyncPolicy(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	quick, slow := time.Millisecond, holdBelow
	type sync struct {
		took time.Duration
		ago  time.Duration // how long before now it ended
	}
	for _, tc := range []struct {
		name  string
		procs int
		syncs []sync // oldest first
		want  bool
	}{
		{"before the first sync", 1, nil, false},
		{"after a quick sync", 1, []sync{{quick, 0}}, true},
		{"on two processors", 2, []sync{{quick, 0}}, false},
		{"after a slow sync", 1, []sync{{slow, 0}}, false},
		{"quick again within the pause", 1, []sync{{slow, slowPause - time.Second}, {quick, 0}}, false},
		{"quick again after the pause", 1, []sync{{slow, slowPause}, {quick, 0}}, true},
		{"slow after the pause", 1, []sync{{slow, slowPause}, {slow, 0}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var p policy
			for _, s := range tc.syncs {
				p.done(s.took, now.Add(-s.ago))
			}
			if got := p.hold(tc.procs, now); got != tc.want {
				t.Errorf("hold = %v, want %v (policy %+v)", got, tc.want, p)
			}
		})
	}
}

// TestSyncsHoldingTheProcessor syncs on one processor, each sync a raw
// system call (the policy is set so whatever the disk's speed): each one
// is counted and timed, the file holds what was written, and a sync of a
// closed file fails.
func TestSyncsHoldingTheProcessor(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	path := filepath.Join(t.TempDir(), "f")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	var s Syncer
	for i := range 20 {
		s.policy = policy{last: time.Nanosecond}
		if _, err := f.Write([]byte{byte('a' + i)}); err != nil {
			t.Fatal(err)
		}
		if err := s.Sync(f); err != nil {
			t.Fatalf("sync %d: %v", i, err)
		}
		if s.held != 1 || s.last == time.Nanosecond {
			t.Fatalf("sync %d: %d syncs held the processor, last took %v; want 1, and its time recorded", i, s.held, s.last)
		}
	}
	f.Close()
	if got, err := os.ReadFile(path); err != nil || string(got) != "abcdefghijklmnopqrst" {
		t.Fatalf("file holds %q (%v), want what was written", got, err)
	}
	s.policy = policy{last: time.Nanosecond}
	if err := s.Sync(f); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("sync of a closed file: %v, want os.ErrClosed", err)
	}
}
