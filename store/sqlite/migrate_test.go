package sqlite

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/store"
	"github.com/hookd/hookd/store/storetest"
)

// The folder testdata/v2-store was written by the hookd before this
// store (an event log in events/ and hookd.db at schema
// version 2), through its API: these are the events and jobs it holds.
var (
	fixtureBase = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	fixtureSeg  = filepath.Join("events", "00000000000000000001.log")
)

// fixtureEvents are the events of the fixture, oldest first (duplicates
// it was sent are not stored).
func fixtureEvents() []store.Event {
	ev := func(min int, key, name, action, id string, rules, errs []string) store.Event {
		return store.Event{ID: key, Name: name, Action: action, ReceivedAt: fixtureBase.Add(time.Duration(min) * time.Minute),
			Body:  []byte(`{"event":"` + name + `","data":{"id":"` + id + `","body":"hello ` + string(rune('0'+min)) + `"}}`),
			Rules: rules, Errors: errs}
	}
	return []store.Event{
		ev(1, "message:in:new|m1", "message:in:new", "", "m1", nil, nil),
		ev(2, "message:in:new|m2", "message:in:new", "", "m2", []string{"alert"}, nil),
		ev(3, "message:in:new|m3", "message:in:new", "", "m3", []string{"reply"}, []string{`rule "vip": condition: unknown field`}),
		ev(4, "group:update|g1|add", "group:update", "add", "m4", []string{"welcome", "audit"}, nil),
		ev(5, "message:out:ack|m5|read", "message:out:ack", "", "m5", nil, nil),
	}
}

// fixtureJobs are the jobs of the fixture, by id: done, retried
// (pending), dead, requeued (pending), pending.
func fixtureJobs() []store.Job {
	at := func(min int) time.Time { return fixtureBase.Add(time.Duration(min) * time.Minute) }
	j := func(id int64, key, rule string, idx int, typ string, created int) store.Job {
		return store.Job{ID: id, EventID: key, Rule: rule, Index: idx, Type: typ,
			Name: rule + "/" + typ + "[" + string(rune('0'+idx)) + "]", Params: []byte(`{"text":"from ` + rule + `"}`),
			Reference: "ref-" + rule + string(rune('0'+idx)), State: store.StatePending,
			NextAt: at(created), CreatedAt: at(created), UpdatedAt: at(created)}
	}
	done := j(1, "message:in:new|m2", "alert", 0, "slack", 0)
	done.State, done.Attempts, done.Response, done.UpdatedAt = store.StateDone, 1, `{"ok":true,"ts":"1700.1"}`, at(10)
	retried := j(2, "message:in:new|m2", "alert", 1, "email", 0)
	retried.Attempts, retried.NextAt, retried.LastReason, retried.LastError, retried.UpdatedAt = 2, at(20), "timeout", "smtp: dial tcp: i/o timeout", at(10)
	dead := j(3, "message:in:new|m3", "reply", 0, "wassenger.message", 3)
	dead.State, dead.Attempts, dead.LastReason, dead.LastError, dead.UpdatedAt = store.StateDead, 1, "invalid", "wassenger: 400 Bad Request: phone number is not valid", at(11)
	requeued := j(4, "group:update|g1|add", "welcome", 0, "wassenger.message", 3)
	requeued.Attempts, requeued.NextAt, requeued.LastReason, requeued.LastError, requeued.UpdatedAt = 0, at(13), "server", "wassenger: 503 Service Unavailable", at(13)
	pending := j(5, "group:update|g1|add", "audit", 0, "webhook", 3)
	return []store.Job{done, retried, dead, requeued, pending}
}

// logBuffer collects a store's log lines.
type logBuffer struct{ bytes.Buffer }

func (b *logBuffer) logger() *slog.Logger { return slog.New(slog.NewTextHandler(&b.Buffer, nil)) }

func TestMigrate(t *testing.T) {
	tests := []struct {
		name string
		// damage changes the copied segment
		damage func(t *testing.T, seg []byte) []byte
		events int    // how many of fixtureEvents are migrated
		logs   string // in the log
	}{
		{name: "clean", events: 5},
		{name: "record cut short at the end", events: 5, logs: "cut short by a crash",
			damage: func(t *testing.T, seg []byte) []byte {
				// The first frame again, cut in the middle of its body.
				return append(seg, seg[8:8+40]...)
			}},
		{name: "damaged record", events: 2, logs: "damaged bytes in the event log",
			damage: func(t *testing.T, seg []byte) []byte {
				i := bytes.Index(seg, []byte("hello 3"))
				if i < 0 {
					t.Fatal("fixture: no third event")
				}
				seg[i] = 'j'
				return seg
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			copyDir(t, filepath.Join("testdata", "v2-store"), dir)
			if tt.damage != nil {
				path := filepath.Join(dir, fixtureSeg)
				seg, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				write(t, path, string(tt.damage(t, seg)))
			}
			var logs logBuffer
			s, err := Open(dir, Options{Logger: logs.logger()})
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer s.Close()
			if !strings.Contains(logs.String(), "migrating the store of an earlier hookd") || !strings.Contains(logs.String(), tt.logs) {
				t.Errorf("log:\n%s\nwant the migration and %q", logs.String(), tt.logs)
			}
			checkFixture(t, s, fixtureEvents()[:tt.events])

			if _, err := os.Stat(filepath.Join(dir, "events")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("events/ is still there after the migration: %v", err)
			}
			if _, err := os.Stat(filepath.Join(dir, "events.migrated", "00000000000000000001.log")); err != nil {
				t.Errorf("the event log was not moved aside to events.migrated: %v", err)
			}

			// The store works on: a duplicate is known, and new job ids
			// follow the old ones.
			out, err := s.Accept(ctx, []store.Record{
				{Event: store.Event{ID: "message:in:new|m2", Name: "message:in:new", Body: []byte(`{}`)}},
				{Event: store.Event{ID: "new", Name: "message:in:new", Body: []byte(`{}`)}, Jobs: []store.Job{{Rule: "r", Type: "webhook"}}},
			})
			if err != nil || !out[0].Duplicate || out[1].Duplicate || out[1].Jobs[0].ID <= 5 {
				t.Errorf("Accept after the migration: %+v, %v; want a duplicate, then a new job with an id above 5", out, err)
			}
			if _, err := s.TakeRequeued(ctx); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}

			// A second Open migrates nothing.
			logs.Reset()
			s = open(t, dir, Options{Logger: logs.logger()})
			defer s.Close()
			if strings.Contains(logs.String(), "migrat") {
				t.Errorf("second Open logged:\n%s\nwant no migration", logs.String())
			}
			if st, err := s.Stats(ctx); err != nil || st.Events != int64(tt.events)+1 {
				t.Errorf("Stats after reopen: %+v, %v; want %d events", st, err, tt.events+1)
			}
		})
	}
}

// checkFixture checks that s holds the fixture's events (want) and every
// job, unchanged.
func checkFixture(t *testing.T, s *Store, want []store.Event) {
	t.Helper()
	ctx := context.Background()
	var got []store.Event
	if err := s.Events(ctx, store.EventQuery{OldestFirst: true}, func(e store.Event) error {
		got = append(got, e)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Errorf("%d events migrated, want %d", len(got), len(want))
	}
	for i := range min(len(got), len(want)) {
		g, w := got[i], want[i]
		if g.ID != w.ID || g.Name != w.Name || g.Action != w.Action || string(g.Body) != string(w.Body) ||
			!g.ReceivedAt.Equal(w.ReceivedAt) || !slices.Equal(g.Rules, w.Rules) || !slices.Equal(g.Errors, w.Errors) {
			t.Errorf("event %d: %+v\nwant %+v", i, g, w)
		}
	}
	for _, w := range fixtureJobs() {
		g, err := s.Job(ctx, w.ID)
		if err != nil {
			t.Errorf("job %d: %v", w.ID, err)
			continue
		}
		if !storetest.SameJob(g, w) {
			t.Errorf("job %d: %+v\nwant %+v", w.ID, g, w)
		}
	}
	ids := func(jobs []store.Job, err error) []int64 {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		var out []int64
		for _, j := range jobs {
			out = append(out, j.ID)
		}
		return out
	}
	if got := ids(s.PendingPage(ctx, 10)); !slices.Equal(got, []int64{5, 4, 2}) {
		t.Errorf("pending jobs %v, want 5, 4, 2 (by due time)", got)
	}
	if got := ids(s.DeadLetters(ctx, 0)); !slices.Equal(got, []int64{3}) {
		t.Errorf("dead letters %v, want 3", got)
	}
	if got := ids(s.TakeRequeued(ctx)); !slices.Equal(got, []int64{4}) {
		t.Errorf("requeued jobs %v, want 4 (requeued by the earlier hookd, not yet taken)", got)
	}
	if st, err := s.Stats(ctx); err != nil || st != (store.Stats{Events: int64(len(want)), Pending: 3, Dead: 1}) {
		t.Errorf("Stats = %+v, %v", st, err)
	}
}

// TestMigrateCrashBeforeMove opens a migrated store whose event log
// folder is still in place, as a crash between the migration's commit and
// the move leaves it: Open moves it aside without reading it again.
func TestMigrateCrashBeforeMove(t *testing.T) {
	dir := t.TempDir()
	copyDir(t, filepath.Join("testdata", "v2-store"), dir)
	open(t, dir, Options{}).Close()
	copyDir(t, filepath.Join("testdata", "v2-store", "events"), filepath.Join(dir, "events"))
	var logs logBuffer
	s := open(t, dir, Options{Logger: logs.logger()})
	defer s.Close()
	if strings.Contains(logs.String(), "migrating") {
		t.Errorf("Open migrated again:\n%s", logs.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "events.migrated-2")); err != nil {
		t.Errorf("the folder left behind was not moved aside to events.migrated-2: %v", err)
	}
	checkFixture(t, s, fixtureEvents())
}
