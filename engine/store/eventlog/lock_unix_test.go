//go:build unix

package eventlog

import (
	"errors"
	"testing"
)

func TestLock(t *testing.T) {
	dir := t.TempDir()
	first := openLog(t, dir, Options{})
	appendRecs(t, first, mkRec(0, t0, 10))

	for range 2 {
		second, err := Open(dir, Options{})
		if !errors.Is(err, ErrLocked) {
			if second != nil {
				second.Close()
			}
			t.Fatalf("second Open while the first is open: %v, want ErrLocked", err)
		}
	}
	// A reader needs no lock.
	r := openLog(t, dir, Options{ReadOnly: true})
	checkScan(t, r, []Record{mkRec(0, t0, 10)})

	closeLog(t, first)
	second := openLog(t, dir, Options{})
	checkContains(t, second, "evt-000000", true)
	appendRecs(t, second, mkRec(1, t0, 10))
	checkScan(t, r, []Record{mkRec(0, t0, 10), mkRec(1, t0, 10)})
	if _, err := Open(dir, Options{}); !errors.Is(err, ErrLocked) {
		t.Errorf("third Open while the second is open: %v, want ErrLocked", err)
	}
}
