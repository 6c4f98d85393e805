package sqlite

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzReadSegment feeds the decoder of the earlier hookd's event log
// segments (read once, when a data folder is migrated) with any bytes: a
// segment the migration meets after a crash or on a damaged disk. It
// must never panic, must end inside the data, and must say why it stopped
// early (a cut or damage) unless the rest is the zeros written ahead.
func FuzzReadSegment(f *testing.F) {
	seg, err := os.ReadFile(filepath.Join("testdata", "v2-store", "events", "00000000000000000001.log"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seg)
	f.Add(seg[:len(seg)/2])
	f.Add(append(append([]byte{}, seg...), make([]byte, 64)...))
	f.Add([]byte{})
	f.Add(legacyMagic)
	f.Fuzz(func(t *testing.T, data []byte) {
		end, cut, damage := readSegment(data, func(legacyEvent) error { return nil })
		if end < 0 || end > len(data) {
			t.Fatalf("end %d outside the %d bytes", end, len(data))
		}
		if cut && damage == nil {
			t.Errorf("cut short without saying why")
		}
		if damage == nil && !cut && end < len(data) && !allZero(data[end:min(len(data), end+legacyHeader)]) {
			t.Errorf("stopped at %d of %d without a reason", end, len(data))
		}
	})
}
