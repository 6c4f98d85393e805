package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/klauspost/compress/s2"

	"github.com/hookd/hookd/store"
)

// v1Schema is the schema hookd wrote at version 1: events and jobs in
// the file, event bodies behind an encoding byte (0 as is, 1 S2).
const v1Schema = `
CREATE TABLE events (
	seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, name TEXT NOT NULL, action TEXT NOT NULL,
	body BLOB NOT NULL, received_at INTEGER NOT NULL, rules TEXT NOT NULL, errors TEXT NOT NULL
) STRICT;
CREATE INDEX events_received ON events (received_at, seq);
CREATE TABLE jobs (
	id INTEGER PRIMARY KEY, event_id TEXT NOT NULL REFERENCES events (id), rule TEXT NOT NULL,
	idx INTEGER NOT NULL, type TEXT NOT NULL, name TEXT NOT NULL, params TEXT NOT NULL,
	reference TEXT NOT NULL, state TEXT NOT NULL CHECK (state IN ('pending', 'done', 'dead')),
	attempts INTEGER NOT NULL, next_at INTEGER NOT NULL, last_error TEXT NOT NULL DEFAULT '',
	last_reason TEXT NOT NULL DEFAULT '', response TEXT NOT NULL DEFAULT '',
	requeued INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
	UNIQUE (event_id, rule, idx)
) STRICT;
CREATE INDEX jobs_pending  ON jobs (next_at, id)  WHERE state = 'pending';
CREATE INDEX jobs_dead     ON jobs (updated_at)   WHERE state = 'dead';
CREATE INDEX jobs_finished ON jobs (updated_at)   WHERE state <> 'pending';
CREATE INDEX jobs_requeued ON jobs (id)           WHERE requeued = 1;
PRAGMA application_id = 1752133483;
PRAGMA user_version = 1;
`

// execSQL runs statements on the file of dir, as an earlier hookd would
// have written it.
func execSQL(t *testing.T, dir string, stmts ...string) {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range stmts {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// insertV1Event inserts an event row as schema version 1 stored it.
func insertV1Event(t *testing.T, dir, key string, at int64, body []byte, compress bool) {
	t.Helper()
	stored := append([]byte{0}, body...)
	if compress {
		stored = append([]byte{1}, s2.Encode(nil, body)...)
	}
	db, err := sql.Open("sqlite", filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`INSERT INTO events (id, name, action, body, received_at, rules, errors)
		VALUES (?, 'message:in:new', '', ?, ?, '["r"]', '[]')`, key, stored, at); err != nil {
		t.Fatal(err)
	}
}

// TestMigrateEventsInFile migrates events kept in the file: all of them
// in a store of schema version 1, and those a crash left in the file of
// a version 2 store while moving them to the event log (some also in the
// log).
func TestMigrateEventsInFile(t *testing.T) {
	ctx := context.Background()
	body := []byte(`{"event":"message:in:new","data":{"body":"kept in the file"}}`)
	t.Run("version 1", func(t *testing.T) {
		dir := t.TempDir()
		execSQL(t, dir, v1Schema)
		// Bodies that compress, each different: the migration stores
		// them compressed through one reused buffer (same length, so it is
		// not grown between them).
		long := func(word string) []byte {
			return []byte(`{"event":"message:in:new","data":{"body":"` + strings.Repeat(word+" ", 200) + `"}}`)
		}
		bodies := map[string][]byte{"old-raw": body, "old-s2": long("alpha"), "old-big": long("omega")}
		insertV1Event(t, dir, "old-raw", 1000, bodies["old-raw"], false)
		insertV1Event(t, dir, "old-s2", 2000, bodies["old-s2"], true)
		insertV1Event(t, dir, "old-big", 2500, bodies["old-big"], false)
		execSQL(t, dir, `INSERT INTO jobs (id, event_id, rule, idx, type, name, params, reference, state, attempts, next_at, created_at, updated_at)
			VALUES (7, 'old-s2', 'r', 0, 'slack', 'r/slack[0]', '{}', 'ref', 'pending', 1, 3000, 2000, 2500)`)
		s := open(t, dir, Options{})
		defer s.Close()
		checkEvents(t, s, []string{"old-raw", "old-s2", "old-big"}, bodies)
		var compressed int
		if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM events WHERE body_encoding = ?`, bodyS2).Scan(&compressed); err != nil || compressed != 2 {
			t.Errorf("%d bodies stored compressed (%v), want the 2 long ones", compressed, err)
		}
		j, err := s.Job(ctx, 7)
		if err != nil || j.EventID != "old-s2" || j.State != store.StatePending || j.Attempts != 1 || j.UpdatedAt.UnixMilli() != 2500 {
			t.Errorf("job 7: %+v, %v; want it as the earlier hookd stored it", j, err)
		}
	})
	t.Run("version 2, crash while moving events", func(t *testing.T) {
		dir := t.TempDir()
		copyDir(t, filepath.Join("testdata", "v2-store"), dir)
		// Before the log's events: moved first, oldest first.
		insertV1Event(t, dir, "older", fixtureBase.UnixMilli()-1, body, true)
		insertV1Event(t, dir, "message:in:new|m1", fixtureBase.UnixMilli()-1, body, true)
		// The newest job pruned: its id is still never given again.
		execSQL(t, dir, `DELETE FROM jobs WHERE id = 5`)
		s := open(t, dir, Options{})
		defer s.Close()
		out, err := s.Accept(ctx, []store.Record{{Event: store.Event{ID: "new", Name: "message:in:new", Body: body},
			Jobs: []store.Job{{Rule: "r", Type: "slack"}}}})
		if err != nil || out[0].Jobs[0].ID != 6 {
			t.Errorf("Accept after the migration: %+v, %v; want job id 6 (5 was given before)", out, err)
		}
		var got []string
		if err := s.Events(ctx, store.EventQuery{OldestFirst: true}, func(e store.Event) error {
			got = append(got, e.ID)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		want := []string{"older", "message:in:new|m1", "message:in:new|m2", "message:in:new|m3", "group:update|g1|add", "message:out:ack|m5|read", "new"}
		if !slices.Equal(got, want) {
			t.Errorf("events %v, want %v (an event in both places once)", got, want)
		}
	})
}

// checkEvents checks the keys of the stored events, oldest first, and
// that each has its body of bodies.
func checkEvents(t *testing.T, s *Store, keys []string, bodies map[string][]byte) {
	t.Helper()
	var got []string
	if err := s.Events(context.Background(), store.EventQuery{OldestFirst: true}, func(e store.Event) error {
		got = append(got, e.ID)
		if string(e.Body) != string(bodies[e.ID]) || !slices.Equal(e.Rules, []string{"r"}) {
			t.Errorf("event %s: body %q, rules %v; want %q, [r]", e.ID, e.Body, e.Rules, bodies[e.ID])
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, keys) {
		t.Errorf("events %v, want %v", got, keys)
	}
}
