package writehealth

import (
	"errors"
	"testing"
	"time"
)

// TestCheck: a failed write is reported at once and held for
// FailureHold unless a write succeeds after it; a success is trusted for
// ProbeEvery, after which only a probe can tell.
func TestCheck(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	full := errors.New("disk full")
	type write struct {
		at  time.Duration // after t0
		err error
	}
	for _, tt := range []struct {
		name      string
		writes    []write
		now       time.Duration
		wantErr   error
		wantProbe bool
	}{
		{"nothing written yet", nil, 0, nil, true},
		{"a fresh success", []write{{0, nil}}, ProbeEvery / 2, nil, false},
		{"an old success", []write{{0, nil}}, ProbeEvery, nil, true},
		{"a fresh failure", []write{{0, nil}, {time.Second, full}}, 2 * time.Second, full, false},
		{"a failure held until FailureHold", []write{{0, full}}, FailureHold - time.Millisecond, full, false},
		{"a failure past FailureHold asks for a probe", []write{{0, full}}, FailureHold, nil, true},
		{"a success after a failure", []write{{0, full}, {time.Second, nil}}, time.Second + ProbeEvery/2, nil, false},
		{"a failure in the same instant as a success", []write{{0, nil}, {0, full}}, time.Millisecond, full, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var h Tracker
			for _, w := range tt.writes {
				h.Record(t0.Add(w.at), w.err)
			}
			err, probe := h.Check(t0.Add(tt.now))
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) || probe != tt.wantProbe {
				t.Fatalf("Check = %v, probe %v; want %v, probe %v", err, probe, tt.wantErr, tt.wantProbe)
			}
		})
	}
}
