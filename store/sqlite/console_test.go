package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/hookd/hookd/store"
	"github.com/hookd/hookd/store/storetest"
)

// TestUpgradeFrom4 opens a file of schema version 4 (no attempts table)
// with MustExist, as a hookd command does: it is upgraded in place, and
// attempts are recorded from then on.
func TestUpgradeFrom4(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{})
	out, err := s.Accept(context.Background(), []store.Record{{Event: store.Event{ID: "old", Name: "message:in:new", Body: []byte(`{}`)},
		Jobs: []store.Job{{Rule: "r", Type: "log", Name: "r/log[0]", Reference: "ref"}}}})
	if err != nil {
		t.Fatal(err)
	}
	downgrade(t, s, dir, `DROP TRIGGER jobs_attempts`, `DROP TABLE attempts`, `ALTER TABLE events DROP COLUMN body_encoding`, `PRAGMA user_version = 4`)
	s = open(t, dir, Options{MustExist: true})
	defer s.Close()
	id := out[0].Jobs[0].ID
	if err := s.Dead(context.Background(), id, 1, "http_4xx", "400 Bad Request"); err != nil {
		t.Fatal(err)
	}
	att, err := s.Attempts(context.Background(), []int64{id})
	if err != nil || len(att[id]) != 1 || att[id][0].Outcome != store.AttemptDead {
		t.Fatalf("attempts after the upgrade: %v, %v", att, err)
	}
}

// downgrade closes s and runs qs on its file, turning it into the file
// an earlier schema version wrote.
func downgrade(t *testing.T, s *Store, dir string, qs ...string) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range qs {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// BenchmarkEventsPage reads the newest page of 50 events, and a page
// deep in the list (by its cursor), from a store of 10,000 events: what
// GET /api/events does for the console.
func BenchmarkEventsPage(b *testing.B) {
	s := open(b, b.TempDir(), Options{Sync: "normal"})
	defer s.Close()
	ctx := context.Background()
	storetest.FillMessages(b, s, 10_000, "B", "welcome", time.Now().Add(-time.Hour))
	// The cursor of page 100 (events 5,000 to 5,049).
	var deep string
	q := store.EventPageQuery{Limit: 50}
	for range 100 {
		_, next, err := s.EventPage(ctx, q)
		if err != nil {
			b.Fatal(err)
		}
		q.Cursor, deep = next, next
	}
	for _, bc := range []struct {
		name string
		q    store.EventPageQuery
	}{
		{"first", store.EventPageQuery{Limit: 50}},
		{"page100", store.EventPageQuery{Limit: 50, Cursor: deep}},
		{"rule", store.EventPageQuery{Limit: 50, Rule: "welcome", JobState: store.StatePending}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				evs, _, err := s.EventPage(ctx, bc.q)
				if err != nil || len(evs) != 50 {
					b.Fatalf("%d events, %v", len(evs), err)
				}
			}
		})
	}
}
