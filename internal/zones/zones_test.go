package zones_test

import (
	"slices"
	"testing"
	"time"
	_ "time/tzdata" // so that every name loads on any machine, whatever its zoneinfo

	"github.com/hookd/hookd/internal/zones"
)

// TestNames: the list is sorted, without duplicates, and every name in
// it is a zone Go can load.
func TestNames(t *testing.T) {
	names := zones.Names()
	if len(names) < 400 {
		t.Fatalf("%d zone names, want the whole IANA list (about 600); regenerate names.txt with go generate ./internal/zones", len(names))
	}
	if !slices.IsSorted(names) || len(slices.Compact(slices.Clone(names))) != len(names) {
		t.Errorf("names.txt is not sorted or has duplicates; regenerate it with go generate ./internal/zones")
	}
	for _, want := range []string{"Europe/Madrid", "America/New_York", "UTC"} {
		if !slices.Contains(names, want) {
			t.Errorf("%s is not in the list", want)
		}
	}
	for _, n := range names {
		if _, err := time.LoadLocation(n); err != nil {
			t.Errorf("zone %q does not load: %v", n, err)
		}
	}
}
