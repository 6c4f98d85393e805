package delivery_test

import (
	"testing"
	"time"

	"github.com/hookd/hookd/delivery"
	"github.com/hookd/hookd/engine"
)

// Delivery 12: the backoff grows exponentially from min, never passes
// max, and is jittered.
func TestBackoffCappedAndJittered(t *testing.T) {
	b := engine.Backoff{Min: 50 * time.Millisecond, Max: 200 * time.Millisecond}
	for attempt, step := range map[int]time.Duration{
		1: 50 * time.Millisecond, 2: 100 * time.Millisecond, 3: 200 * time.Millisecond,
		4: 200 * time.Millisecond, 10: 200 * time.Millisecond, 1000: 200 * time.Millisecond,
	} {
		seen := map[time.Duration]bool{}
		for range 200 {
			d := delivery.Backoff(attempt, b)
			if d < step/2 || d > step {
				t.Fatalf("backoff(%d) = %v, want within [%v, %v]", attempt, d, step/2, step)
			}
			seen[d] = true
		}
		if len(seen) < 2 {
			t.Errorf("backoff(%d) gave the same wait 200 times: no jitter", attempt)
		}
	}
	// The defaults: the cap holds for any attempt count, without overflow.
	def := engine.DefaultDelivery().Backoff
	for _, attempt := range []int{1, 12, 64, 1 << 20} {
		if d := delivery.Backoff(attempt, def); d <= 0 || d > def.Max {
			t.Errorf("default backoff(%d) = %v, want within (0, %v]", attempt, d, def.Max)
		}
	}
}
