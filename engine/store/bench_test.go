package store

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
)

// BenchmarkAccept measures Accept with many concurrent callers (like many
// webhook requests at once): one event with a 3.5 KB body and 2 jobs per
// call. It reports events/s.
func BenchmarkAccept(b *testing.B) {
	for _, sync := range []string{"full", "normal"} {
		b.Run("sync="+sync, func(b *testing.B) {
			s := open(b, b.TempDir(), Options{Sync: sync})
			body := body("x", 3500)
			var next atomic.Int64
			b.SetParallelism(16)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					id := fmt.Sprintf("EV-%d", next.Add(1))
					rec := record(id, 2)
					rec.Event.Body = body
					if _, err := s.Accept(context.Background(), []Record{rec}); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
			c := s.Counters()
			b.ReportMetric(float64(c.Operations)/float64(max(c.Commits, 1)), "events/commit")
		})
	}
}
