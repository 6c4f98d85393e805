package sqlite

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/fstree"
	"github.com/hookd/hookd/store"
	"github.com/hookd/hookd/store/internal/writehealth"
	"github.com/hookd/hookd/store/storetest"
)

// quiet is a logger that drops everything.
func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// open opens the store in dir, failing the test on error.
func open(t testing.TB, dir string, opts Options) *Store {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quiet()
	}
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	for _, mode := range []string{"full", "normal"} {
		t.Run(mode, func(t *testing.T) {
			storetest.Run(t, func(t *testing.T, dir string) store.Store {
				return open(t, dir, Options{Sync: mode})
			})
		})
	}
}

func TestOpenOptions(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(t *testing.T, dir string)
		opts    Options
		want    string // in the error; "" for success
		is      error
	}{
		{name: "create", opts: Options{}},
		{name: "must exist, no folder", opts: Options{MustExist: true},
			prepare: func(t *testing.T, dir string) { os.Remove(dir) }, want: "no hookd store in", is: ErrNoStore},
		{name: "must exist, empty folder", opts: Options{MustExist: true}, want: "no hookd store in", is: ErrNoStore},
		{name: "must exist, empty file", opts: Options{MustExist: true},
			prepare: func(t *testing.T, dir string) { write(t, filepath.Join(dir, FileName), "") }, want: "no hookd store in", is: ErrNoStore},
		{name: "must exist, a store", opts: Options{MustExist: true},
			prepare: func(t *testing.T, dir string) { open(t, dir, Options{}).Close() }},
		{name: "must exist, an earlier store", opts: Options{MustExist: true},
			prepare: func(t *testing.T, dir string) { copyDir(t, filepath.Join("testdata", "v2-store"), dir) },
			want:    "start hookd serve with this data folder once"},
		{name: "unknown sync", opts: Options{Sync: "sometimes"}, want: `sync "sometimes" is not known`},
		{name: "another program's file",
			prepare: func(t *testing.T, dir string) {
				write(t, filepath.Join(dir, FileName), "not sqlite, longer than a header would be: "+strings.Repeat("x", 200))
			},
			want: "not a database"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.prepare != nil {
				tt.prepare(t, dir)
			}
			tt.opts.Logger = quiet()
			s, err := Open(dir, tt.opts)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				s.Close()
				return
			}
			if err == nil {
				s.Close()
				t.Fatalf("Open succeeded, want an error with %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) || (tt.is != nil && !errors.Is(err, tt.is)) {
				t.Errorf("Open: %v, want an error with %q", err, tt.want)
			}
			if tt.is != nil && !strings.Contains(err.Error(), dir) {
				t.Errorf("Open: %v, want it to name the folder %s", err, dir)
			}
		})
	}
}

// write writes a file, failing the test on error.
func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// copyDir copies the folder src into dst.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	if err := fstree.Copy(src, dst); err != nil {
		t.Fatal(err)
	}
}

// TestAnotherProcess opens the store twice, as the daemon and a hookd
// command do: the command reads what the daemon committed, and its
// requeue reaches the daemon through TakeRequeued.
func TestAnotherProcess(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	daemon := open(t, dir, Options{})
	defer daemon.Close()
	out, err := daemon.Accept(ctx, []store.Record{{Event: store.Event{ID: "a", Name: "message:in:new", Body: []byte(`{}`)},
		Jobs: []store.Job{{Rule: "r", Type: "webhook", Name: "r/webhook[0]"}}}})
	if err != nil {
		t.Fatal(err)
	}
	id := out[0].Jobs[0].ID
	if err := daemon.Dead(ctx, id, 1, "invalid", "bad"); err != nil {
		t.Fatal(err)
	}
	cli := open(t, dir, Options{MustExist: true})
	n := 0
	if err := cli.Events(ctx, store.EventQuery{}, func(store.Event) error { n++; return nil }); err != nil || n != 1 {
		t.Fatalf("the command's Events: %d events, %v; want the daemon's one", n, err)
	}
	if _, err := cli.Requeue(ctx, []int64{id + 1}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the command's Requeue of an unknown id: %v, want ErrNotFound", err)
	}
	if k, err := cli.Requeue(ctx, []int64{id}); err != nil || k != 1 {
		t.Fatalf("the command's Requeue: %d, %v", k, err)
	}
	if err := cli.Close(); err != nil {
		t.Fatal(err)
	}
	jobs, err := daemon.TakeRequeued(ctx)
	if err != nil || len(jobs) != 1 || jobs[0].ID != id {
		t.Errorf("the daemon's TakeRequeued: %v, %v; want job %d", jobs, err, id)
	}
}

// clock is a test clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// TestHealth makes writes fail with a full database (SQLite's
// max_page_count: the error a full disk gives) and checks that Writable
// says so while events fail, that a failed Accept stores nothing, and
// that Writable recovers: at once with a successful write, or by its
// probe once writes stopped failing.
func TestHealth(t *testing.T) {
	ctx := context.Background()
	c := &clock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	s := open(t, t.TempDir(), Options{Now: c.Now})
	defer s.Close()
	if err := s.Writable(ctx); err != nil {
		t.Fatalf("Writable on a new store: %v", err)
	}
	big := []byte(`"` + storetest.Incompressible(64<<10) + `"`)
	rec := func(id string) []store.Record {
		return []store.Record{{Event: store.Event{ID: id, Name: "message:in:new", Body: big}}}
	}
	full := func(limit string) {
		t.Helper()
		// The writer's connection: the test uses it between batches.
		if _, err := s.wc.ExecContext(ctx, "PRAGMA max_page_count = "+limit); err != nil {
			t.Fatal(err)
		}
	}
	var pages int64
	if err := s.wc.QueryRowContext(ctx, "PRAGMA page_count").Scan(&pages); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name     string
		do       func()
		accept   string // an event to accept; "" for none
		acceptOK bool
		healthy  bool
		reason   string
	}{
		{name: "disk full", do: func() { full(strconv.FormatInt(pages, 10)) }, accept: "a", reason: "disk is full"},
		{name: "still failing", do: func() { c.add(time.Second) }, reason: "disk is full"},
		{name: "room again, within the hold", do: func() { full("1073741823") }, reason: "disk is full"},
		{name: "an event is stored", accept: "a", acceptOK: true, healthy: true},
		{name: "full again", do: func() { full(strconv.FormatInt(pages+1, 10)) }, accept: "b", reason: "disk is full"},
		{name: "room again, no traffic", do: func() { full("1073741823"); c.add(writehealth.FailureHold) }, healthy: true},
	}
	for _, st := range steps {
		if st.do != nil {
			st.do()
		}
		if st.accept != "" {
			out, err := s.Accept(ctx, rec(st.accept))
			if st.acceptOK != (err == nil) {
				t.Fatalf("%s: Accept: %v", st.name, err)
			}
			if err != nil && !strings.Contains(err.Error(), "disk is full") {
				t.Errorf("%s: Accept: %v, want it to say the disk is full", st.name, err)
			}
			if err == nil && out[0].Duplicate {
				t.Errorf("%s: Accept says duplicate: the failed Accept stored something", st.name)
			}
		}
		err := s.Writable(ctx)
		if st.healthy != (err == nil) || (err != nil && !strings.Contains(err.Error(), st.reason)) {
			t.Errorf("%s: Writable = %v, want healthy %v (%s)", st.name, err, st.healthy, st.reason)
		}
	}
	if st, err := s.Stats(ctx); err != nil || st.Events != 1 {
		t.Errorf("Stats = %+v, %v; want the one event accepted while there was room", st, err)
	}
}

// TestLazyJobUpdates checks that lazy job updates are committed in the
// order queued: PendingPage, queued after them, no longer returns the
// jobs, and a refused update is only logged.
func TestLazyJobUpdates(t *testing.T) {
	ctx := context.Background()
	s := open(t, t.TempDir(), Options{LazyJobUpdates: true})
	defer s.Close()
	var jobs []store.Job
	for i := range 3 {
		jobs = append(jobs, store.Job{Rule: "r", Index: i, Type: "webhook"})
	}
	out, err := s.Accept(ctx, []store.Record{{Event: store.Event{ID: "a", Name: "message:in:new", Body: []byte(`{}`)}, Jobs: jobs}})
	if err != nil {
		t.Fatal(err)
	}
	j := out[0].Jobs
	if err := s.Done(ctx, j[0].ID, 1, "ok"); err != nil {
		t.Fatal(err)
	}
	if err := s.Dead(ctx, j[1].ID, 1, "invalid", "bad"); err != nil {
		t.Fatal(err)
	}
	if err := s.Done(ctx, j[1].ID, 1, "again"); err != nil {
		t.Errorf("a lazy update returned %v; want nil (its error is logged)", err)
	}
	page, err := s.PendingPage(ctx, 10)
	if err != nil || len(page) != 1 || page[0].ID != j[2].ID {
		t.Errorf("PendingPage after lazy updates: %v, %v; want only job %d", page, err, j[2].ID)
	}
	if got, err := s.Job(ctx, j[1].ID); err != nil || got.State != store.StateDead {
		t.Errorf("job %d: %+v, %v; want dead (the later Done was refused)", j[1].ID, got, err)
	}
}

// TestCanceled checks that a caller whose context has ended learns
// whether its records were stored: context.Canceled when the writer had
// not taken them (then nothing is stored), else the commit's result.
func TestCanceled(t *testing.T) {
	s := open(t, t.TempDir(), Options{})
	defer s.Close()
	for i := range 20 {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		rec := []store.Record{{Event: store.Event{ID: strconv.Itoa(i), Name: "message:in:new", Body: []byte(`{}`)}}}
		_, err := s.Accept(ctx, rec)
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Fatalf("Accept with a canceled context: %v, want context.Canceled or success", err)
		}
		out, err2 := s.Accept(context.Background(), rec)
		if err2 != nil {
			t.Fatal(err2)
		}
		if stored := out[0].Duplicate; stored != (err == nil) {
			t.Errorf("Accept with a canceled context returned %v, but the event stored: %v", err, stored)
		}
	}
}
