// Package loop runs background chores on a period.
package loop

import (
	"context"
	"time"
)

// Every runs f every period until ctx is done; with now it runs f once at
// once, first.
func Every(ctx context.Context, period time.Duration, now bool, f func()) {
	if now {
		f()
	}
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			f()
		}
	}
}
