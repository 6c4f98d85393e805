package eventlog

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
			var p syncPolicy
			for _, s := range tc.syncs {
				p.done(s.took, now.Add(-s.ago))
			}
			if got := p.hold(tc.procs, now); got != tc.want {
				t.Errorf("hold = %v, want %v (policy %+v)", got, tc.want, p)
			}
		})
	}
}

// TestSyncsHoldingTheProcessor writes and syncs on one processor, each
// sync a raw system call (the policy is set so whatever the disk's
// speed): the records are all there after reopening, and a sync of a
// closed file fails.
func TestSyncsHoldingTheProcessor(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	dir := t.TempDir()
	l := openLog(t, dir, Options{Sync: true})
	var recs []Record
	for i := range 20 {
		l.syncs = syncPolicy{last: time.Nanosecond}
		recs = append(recs, mkRec(i, t0.Add(time.Duration(i)*time.Second), 700))
		appendRecs(t, l, recs[i])
		if l.syncs.held != 1 || l.syncs.last == time.Nanosecond {
			t.Fatalf("append %d: %d syncs held the processor, last took %v; want 1, and its time recorded", i, l.syncs.held, l.syncs.last)
		}
	}
	closeLog(t, l)
	l = openLog(t, dir, Options{Sync: true})
	checkScan(t, l, recs)
	closeLog(t, l)

	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("x"); err != nil {
		t.Fatal(err)
	}
	if err := fsyncHolding(f); err != nil {
		t.Fatalf("sync of an open file: %v", err)
	}
	f.Close()
	if err := fsyncHolding(f); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("sync of a closed file: %v, want os.ErrClosed", err)
	}
}
