package sqlite

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hookd/hookd/store"
)

// BenchmarkAccept measures Accept with many concurrent callers (like many
// webhook requests at once), as the earlier store's benchmark of the same
// name did: one event with a 3.5 KB body and 2 jobs per call. It reports
// events/s and how many calls shared a commit.
func BenchmarkAccept(b *testing.B) {
	body := []byte(`{"event":"message:in:new","data":{"body":"` + strings.Repeat("x", 3500) + `"}}`)
	for _, sync := range []string{"full", "normal"} {
		b.Run("sync="+sync, func(b *testing.B) {
			s := open(b, b.TempDir(), Options{Sync: sync})
			defer s.Close()
			var next atomic.Int64
			b.SetParallelism(16)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					id := fmt.Sprintf("EV-%d", next.Add(1))
					rec := store.Record{Event: store.Event{ID: id, Name: "message:in:new", Body: body, Rules: []string{"alert"}}}
					for i := range 2 {
						rec.Jobs = append(rec.Jobs, store.Job{Rule: "alert", Index: i, Type: "webhook",
							Name: fmt.Sprintf("alert/webhook[%d]", i), Params: []byte(`{"url":"http://example.test/hook"}`),
							Reference: fmt.Sprintf("%s-alert-%d", id, i)})
					}
					if _, err := s.Accept(context.Background(), []store.Record{rec}); err != nil {
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
