package sqlite

import (
	"context"
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
	downgrade(t, s, dir, `DROP TRIGGER jobs_attempts`, `DROP TABLE attempts`, `DROP TABLE state`, `DROP TABLE mutes`, `ALTER TABLE events DROP COLUMN muted`, `PRAGMA user_version = 3`)

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
