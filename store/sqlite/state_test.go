package sqlite

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/hookd/hookd/store"
)

// TestUpgradeFrom3 opens a file of schema version 3 (the state and mutes
// tables and the muted column missing) with MustExist, as a hookd
// command does: it is upgraded in place, keeping its events.
func TestUpgradeFrom3(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{})
	if _, err := s.Accept(context.Background(), []store.Record{{Event: store.Event{ID: "old", Name: "message:in:new", Body: []byte(`{}`)}}}); err != nil {
		t.Fatal(err)
	}
	downgrade(t, s, dir, `DROP TRIGGER jobs_attempts`, `DROP TABLE attempts`, `DROP TABLE state`, `DROP TABLE mutes`, `ALTER TABLE events DROP COLUMN muted`, `ALTER TABLE events DROP COLUMN body_encoding`, `PRAGMA user_version = 3`)

	s = open(t, dir, Options{MustExist: true})
	defer s.Close()
	ev := store.Event{ID: "new", Name: "message:in:new", Body: []byte(`{}`), Muted: []string{"r"}}
	if _, err := s.Accept(context.Background(), []store.Record{{Event: ev}}); err != nil {
		t.Fatalf("Accept after the upgrade: %v", err)
	}
	var ids, muted []string
	err := s.Events(context.Background(), store.EventQuery{OldestFirst: true}, func(e store.Event) error {
		ids = append(ids, e.ID)
		muted = append(muted, e.Muted...)
		return nil
	})
	if err != nil || !slices.Equal(ids, []string{"old", "new"}) || !slices.Equal(muted, []string{"r"}) {
		t.Fatalf("events after the upgrade: %v %v, %v", ids, muted, err)
	}
	if _, err := s.AddMute(context.Background(), store.Mute{Rule: "r", Until: time.Now().Add(time.Hour)}); err != nil {
		t.Fatalf("AddMute after the upgrade: %v", err)
	}
}

// TestUpgradeFrom5 opens a file of schema version 5 (an index of state by
// expiry) with MustExist, as a hookd command does: the index is dropped
// in place, and the state is kept.
func TestUpgradeFrom5(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{})
	at := time.Now()
	acceptSteps(t, s, "old", setStep("r#w", "k", at.Add(time.Hour)))
	downgrade(t, s, dir, `CREATE INDEX state_expires ON state (expires) WHERE expires > 0`, `ALTER TABLE events DROP COLUMN body_encoding`, `PRAGMA user_version = 5`)

	s = open(t, dir, Options{MustExist: true})
	defer s.Close()
	var version, indexes int
	if err := s.r.QueryRow(`PRAGMA user_version`).Scan(&version); err != nil || version != schemaVersion {
		t.Fatalf("user_version = %d, %v; want %d", version, err, schemaVersion)
	}
	if err := s.r.QueryRow(`SELECT count(*) FROM sqlite_schema WHERE name = 'state_expires'`).Scan(&indexes); err != nil || indexes != 0 {
		t.Fatalf("state_expires after the upgrade: %d, %v; want it dropped", indexes, err)
	}
	if st, ok, err := s.GetState(context.Background(), "r#w", "k", at); err != nil || !ok || string(st.Value) != "v" {
		t.Fatalf("state after the upgrade: %+v %v %v", st, ok, err)
	}
}

// TestPruneStateSlices: PruneState walks the state in slices of
// pruneScan rows and deletes every expired row, in any slice, of any
// scope, and no live one.
func TestPruneStateSlices(t *testing.T) {
	s := open(t, t.TempDir(), Options{Sync: "normal"})
	defer s.Close()
	now := time.Now()
	const rows = 2*pruneScan + 1234
	var steps []store.Step
	for i := range rows {
		exp := now.Add(time.Hour) // live
		if i%3 == 0 {
			exp = now.Add(-time.Minute) // expired
		}
		steps = append(steps, setStep(fmt.Sprintf("r%d#w", i%2), fmt.Sprintf("k%05d", i/2), exp))
	}
	for i := 0; i < rows; i += 1000 {
		acceptSteps(t, s, fmt.Sprintf("e%d", i), steps[i:min(i+1000, rows)]...)
	}
	n, _, err := s.PruneState(context.Background(), now, now)
	if want := (rows + 2) / 3; err != nil || n != want {
		t.Fatalf("PruneState = %d, %v; want %d", n, err, want)
	}
	var left, expired int
	if err := s.r.QueryRow(`SELECT count(*), count(*) FILTER (WHERE expires < ?) FROM state`, millis(now)).Scan(&left, &expired); err != nil {
		t.Fatal(err)
	}
	if left != rows-n || expired != 0 {
		t.Fatalf("after PruneState: %d rows, %d expired; want %d, 0", left, expired, rows-n)
	}
}

// setStep is a step that sets (scope, key) to "v" until expires.
func setStep(scope, key string, expires time.Time) store.Step {
	return store.Step{Rule: scope, Scope: scope, Key: key, At: expires.Add(-2 * time.Minute), MaxKeys: 1 << 20,
		Apply: func([]byte) ([]byte, bool, time.Time) { return []byte("v"), false, expires }}
}

// acceptSteps accepts an event with steps.
func acceptSteps(t *testing.T, s *Store, id string, steps ...store.Step) {
	t.Helper()
	rec := store.Record{Event: store.Event{ID: id, Name: "group:update", Body: []byte(`{}`)}, Steps: steps}
	if _, err := s.Accept(context.Background(), []store.Record{rec}); err != nil {
		t.Fatal(err)
	}
}

// TestCapPurgeOncePerPeriod: at its cap a scope looks for expired keys
// for a new key, and after a look that found none, looks again only
// purgeEvery of event time later (a flood of new keys costs one scan per
// period, not one per event).
func TestCapPurgeOncePerPeriod(t *testing.T) {
	s := open(t, t.TempDir(), Options{Sync: "normal"})
	defer s.Close()
	t0 := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	n := 0
	send := func(key string, at time.Time) store.StepOutcome {
		t.Helper()
		n++
		st := store.Step{Rule: "r", Scope: "r#w", Key: key, At: at, MaxKeys: 2,
			Apply: func([]byte) ([]byte, bool, time.Time) { return []byte("1"), false, at.Add(5 * time.Second) }}
		out, err := s.Accept(context.Background(), []store.Record{{Event: store.Event{ID: fmt.Sprint("e", n), Name: "group:update"}, Steps: []store.Step{st}}})
		if err != nil {
			t.Fatal(err)
		}
		return out[0].Steps[0]
	}
	send("a", t0)
	send("b", t0)
	steps := []struct {
		key    string
		at     time.Duration
		capped bool
	}{
		{"c", time.Second, true},       // a and b live: the look finds none
		{"d", 6 * time.Second, true},   // a and b expired, but no look within purgeEvery
		{"d", 12 * time.Second, false}, // looks again: a and b go, d is stored
	}
	for _, tt := range steps {
		if got := send(tt.key, t0.Add(tt.at)); got.Capped != tt.capped {
			t.Errorf("key %s at +%v: capped %v, want %v", tt.key, tt.at, got.Capped, tt.capped)
		}
	}
}
