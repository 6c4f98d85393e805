package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hookd/hookd/store"
	"modernc.org/sqlite"
)

// BenchmarkStateMillionKeys fills one rule's state with 1,000,000 keys
// (group chat ids, each holding a window's state as the engine encodes
// it), 1,000 keys per Accept, then reports the file's size per key, the
// Go heap in use (state lives in the file, not in memory: it stays flat)
// the cost of one more step on a key once the table is that large, and
// what PruneState takes to walk the table (nothing expired).
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
	if _, err := s.wc.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		b.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, FileName))
	if err != nil {
		b.Fatal(err)
	}
	// PruneState walks every row (none has expired): what it costs hourly.
	pruneStart := time.Now()
	if _, _, err := s.PruneState(ctx, at, at); err != nil {
		b.Fatal(err)
	}
	prune := time.Since(pruneStart)
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
	b.ReportMetric(prune.Seconds(), "prune-walk-s")
	b.ReportMetric(float64(prune.Milliseconds())/float64((keys+pruneScan-1)/pruneScan), "prune-ms/slice")
}

// BenchmarkAcceptSteps measures Accept with 16 callers as the daemon's
// intake calls it (one 3.5 KB event per call, no jobs) with 0, 1, 3 and
// 10 steps per event over 10,000 keys taken in turn (as the daemon's
// BenchmarkIntakeState does): windows in turn with throttles,
// shaped as the engine encodes them (a window appends the event's time
// and moves its expiry; a throttle that already fired holds the event
// back and changes nothing). A warm-up round gives every key its states
// first. Besides events/s it reports how many events shared a commit and,
// from SQLite's counters of the write connection, the pages each commit
// wrote to the WAL and the pages each event read from the file (not
// found in the connection's cache), and the processor time per event.
func BenchmarkAcceptSteps(b *testing.B) {
	body := []byte(`{"event":"group:update","data":{"body":"` + strings.Repeat("x", 3500) + `"}}`)
	const keys = 10_000
	for _, steps := range []int{0, 1, 3, 10} {
		b.Run(fmt.Sprintf("steps=%d", steps), func(b *testing.B) {
			s := open(b, b.TempDir(), Options{Sync: "full"})
			defer s.Close()
			at := time.Now()
			var next atomic.Int64
			accept := func(prefix string) error {
				n := next.Add(1)
				key := fmt.Sprintf("+3460%07d", n%keys)
				rec := store.Record{Event: store.Event{ID: prefix + strconv.FormatInt(n, 10), Name: "group:update", Body: body}}
				t := at.Add(time.Duration(n) * time.Millisecond)
				for i := range steps {
					rec.Steps = append(rec.Steps, benchStep(i, key, t))
				}
				_, err := s.Accept(context.Background(), []store.Record{rec})
				return err
			}
			var wg sync.WaitGroup
			for range 16 {
				wg.Go(func() {
					for next.Load() < keys {
						if err := accept("warm-"); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			before := s.Counters()
			miss0, write0 := cacheStatus(b, s.wc)
			cpu0 := cpuTime(b)
			b.SetParallelism(8) // 16 callers on 2 processors
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := accept("ev-"); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			cpu := cpuTime(b) - cpu0
			miss, write := cacheStatus(b, s.wc)
			c := s.Counters()
			commits := float64(max(c.Commits-before.Commits, 1))
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(c.Operations-before.Operations)/commits, "events/commit")
			b.ReportMetric(float64(write-write0)/commits, "pages-written/commit")
			b.ReportMetric(float64(miss-miss0)/float64(b.N), "pages-read/event")
			b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/event")
		})
	}
}

// benchStep is the i-th step of an event on key at t: a window (even
// i: ten minutes, its times appended) or a throttle that fired already.
func benchStep(i int, key string, t time.Time) store.Step {
	st := store.Step{Rule: fmt.Sprintf("r%04d", i), Scope: fmt.Sprintf("r%04d#%08x", i, i*2654435761), Key: key, At: t}
	now := t.UnixMilli()
	if i%2 == 0 {
		st.Apply = func(old []byte) ([]byte, bool, time.Time) {
			v := strings.TrimSuffix(strings.TrimPrefix(string(old), `{"times":[`), `]}`)
			if v != "" {
				v += ","
			}
			return []byte(`{"times":[` + v + strconv.FormatInt(now, 10) + `]}`), false, t.Add(10 * time.Minute)
		}
		return st
	}
	st.Apply = func(old []byte) ([]byte, bool, time.Time) {
		if old != nil {
			return old, false, t.Add(time.Hour).Truncate(time.Hour)
		}
		n := t.Add(time.Hour).Truncate(time.Hour)
		return []byte(`{"next":` + strconv.FormatInt(n.UnixMilli(), 10) + `}`), true, n
	}
	return st
}

// cpuTime is the processor time the process used so far (user and
// system): on a machine shared with other work it says more than the
// events per second.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cacheStatus reads the write connection's page cache counters since
// Open: misses (pages read from the file or the WAL) and pages written.
func cacheStatus(b *testing.B, c *sql.Conn) (miss, write int) {
	b.Helper()
	err := c.Raw(func(dc any) error {
		st := dc.(sqlite.DBStatus)
		var err error
		for _, v := range []struct {
			op  sqlite.DBStatusOp
			out *int
		}{{sqlite.DBStatusCacheMiss, &miss}, {sqlite.DBStatusCacheWrite, &write}} {
			if *v.out, _, err = st.Status(v.op, false); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return miss, write
}
