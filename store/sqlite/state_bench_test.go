package sqlite

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/hookd/hookd/store"
)

// BenchmarkStateMillionKeys fills one rule's state with 1,000,000 keys
// (group chat ids, each holding a window's state as the engine encodes
// it), 1,000 keys per Accept, then reports the file's size per key, the
// Go heap in use (state lives in the file, not in memory: it stays flat)
// and the cost of one more step on a key once the table is that large.
// Run it with -benchtime 1x; HOOKD_STATE_KEYS changes the number of keys.
func BenchmarkStateMillionKeys(b *testing.B) {
	keys := 1_000_000
	if v := os.Getenv("HOOKD_STATE_KEYS"); v != "" {
		fmt.Sscan(v, &keys)
	}
	dir := b.TempDir()
	s := open(b, dir, Options{Sync: "normal", MaxBatch: 64})
	defer s.Close()
	ctx := context.Background()
	at := time.Now()
	value := []byte(fmt.Sprintf(`{"times":[%d]}`, at.UnixMilli()))
	step := func(key string) store.Step {
		return store.Step{Rule: "mass-removal", Scope: "mass-removal#1a2b3c4d", Key: key, At: at, MaxKeys: keys + 1,
			Apply: func([]byte) ([]byte, bool, time.Time) { return value, false, at.Add(10 * time.Minute) }}
	}
	const perCall = 1000
	start := time.Now()
	for n := 0; n < keys; n += perCall {
		rec := store.Record{Event: store.Event{ID: fmt.Sprintf("fill-%d", n), Name: "group:update", Body: []byte(`{}`)}}
		for k := n; k < min(n+perCall, keys); k++ {
			rec.Steps = append(rec.Steps, step(fmt.Sprintf("1203630%011d@g.us", k)))
		}
		if _, err := s.Accept(ctx, []store.Record{rec}); err != nil {
			b.Fatal(err)
		}
	}
	fill := time.Since(start)
	if _, err := s.w.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		b.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, FileName))
	if err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ResetTimer()
	for i := range b.N {
		rec := store.Record{Event: store.Event{ID: fmt.Sprintf("more-%d", i), Name: "group:update", Body: []byte(`{}`)},
			Steps: []store.Step{step(fmt.Sprintf("1203630%011d@g.us", (i*7919)%keys))}}
		if _, err := s.Accept(ctx, []store.Record{rec}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(fi.Size())/float64(keys), "file-bytes/key")
	b.ReportMetric(float64(fi.Size())/1e6, "file-MB")
	b.ReportMetric(float64(ms.HeapInuse)/1e6, "heap-MB")
	b.ReportMetric(float64(keys)/fill.Seconds(), "keys-filled/s")
}
