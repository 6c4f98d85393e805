package store

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/hookd/hookd/engine/store/eventlog"
	"github.com/klauspost/compress/s2"
)

// legacyEvent is a row of the events table of a schema version 1 store.
type legacyEvent struct {
	id, name, action string
	body             []byte // as received
	stored           []byte // as kept in the row (encoded)
	at               int64  // received_at, Unix ms
	rules, errs      string // JSON lists as kept in the row
	wantRules        []string
	wantErrs         []string
}

// legacyEvents builds n events whose received_at values tie in threes, in
// the order the version 1 store returns them (received_at, then seq).
// Most bodies are S2-compressed, some kept raw, one is empty.
func legacyEvents(n int) []legacyEvent {
	base := t0.Add(-24 * time.Hour).UnixMilli()
	evs := make([]legacyEvent, n)
	for i := range evs {
		id := fmt.Sprintf("LEG-%05d", i)
		e := legacyEvent{
			id:     id,
			name:   "group:update",
			action: "add",
			body:   body(id, 200+i%700),
			at:     base + int64(i/3)*1000,
			rules:  `["r"]`, wantRules: []string{"r"},
			errs: `[]`,
		}
		switch i % 5 {
		case 1:
			e.name, e.action = "message:in:new", ""
			e.rules, e.wantRules = `[]`, nil
		case 2:
			e.rules, e.wantRules = `["r","s"]`, []string{"r", "s"}
			e.errs, e.wantErrs = `["rule \"s\": condition: unknown name"]`, []string{`rule "s": condition: unknown name`}
		}
		switch {
		case i == 7:
			e.body = []byte{}
			e.stored = compressBody(e.body)
		case i%11 == 3:
			e.stored = append([]byte{bodyRaw}, e.body...)
		default:
			e.stored = compressBody(e.body)
		}
		evs[i] = e
	}
	return evs
}

// buildV1Store writes, through a plain connection, a store of schema
// version 1 holding evs (inserted in a shuffled order, so that seq does
// not follow received_at) and jobs.
func buildV1Store(t *testing.T, dir string, evs []legacyEvent, jobs []Job, requeued map[int64]bool) {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	for _, q := range []string{
		migrations[0],
		fmt.Sprintf("PRAGMA application_id = %d", applicationID),
		"PRAGMA user_version = 1",
		"PRAGMA foreign_keys = ON",
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%.40s: %v", q, err)
		}
	}
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	// Rows that tie on received_at are inserted in their order, so that
	// seq breaks the tie as the test expects; the groups are shuffled.
	groups := make([][]legacyEvent, 0, len(evs)/3+1)
	for i := 0; i < len(evs); i += 3 {
		groups = append(groups, evs[i:min(i+3, len(evs))])
	}
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(groups), func(i, j int) { groups[i], groups[j] = groups[j], groups[i] })
	for _, g := range groups {
		for _, e := range g {
			if _, err := tx.Exec(`INSERT INTO events (id, name, action, body, received_at, rules, errors)
				VALUES (?, ?, ?, ?, ?, ?, ?)`, e.id, e.name, e.action, e.stored, e.at, e.rules, e.errs); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, j := range jobs {
		req := 0
		if requeued[j.ID] {
			req = 1
		}
		if _, err := tx.Exec(`INSERT INTO jobs (id, event_id, rule, idx, type, name, params, reference, state,
			attempts, next_at, last_error, last_reason, response, requeued, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			j.ID, j.EventID, j.Rule, j.Index, j.Type, j.Name, string(j.Params), j.Reference, j.State,
			j.Attempts, millis(j.NextAt), j.LastError, j.LastReason, j.Response, req,
			millis(j.CreatedAt), millis(j.UpdatedAt)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

// legacyJobs are a pending, a dead and a done job of evs's events.
func legacyJobs(evs []legacyEvent) (pendingJob, deadJob, doneJob Job) {
	ms := func(d time.Duration) time.Time { return fromMillis(t0.Add(d).UnixMilli()) }
	pendingJob = Job{
		ID: 41, EventID: evs[3].id, Rule: "r", Index: 0, Type: "slack", Name: "r/slack[0]",
		Params: []byte(`{"text":"hola"}`), Reference: "hookd:" + evs[3].id + ":r:0", State: StatePending,
		Attempts: 3, NextAt: ms(time.Minute), LastError: "503 from target", LastReason: "http_5xx",
		CreatedAt: ms(-time.Hour), UpdatedAt: ms(-time.Minute),
	}
	deadJob = Job{
		ID: 42, EventID: evs[600].id, Rule: "s", Index: 2, Type: "webhook", Name: "s/webhook[2]",
		Params: []byte(`{"url":"https://example.test"}`), Reference: "hookd:" + evs[600].id + ":s:2", State: StateDead,
		Attempts: 12, NextAt: ms(-2 * time.Hour), LastError: "404 not found", LastReason: "http_4xx",
		CreatedAt: ms(-3 * time.Hour), UpdatedAt: ms(-2 * time.Hour),
	}
	doneJob = Job{
		ID: 43, EventID: evs[1200].id, Rule: "r", Index: 0, Type: "slack", Name: "r/slack[0]",
		Params: []byte(`{}`), Reference: "hookd:" + evs[1200].id + ":r:0", State: StateDone,
		Attempts: 1, NextAt: ms(-time.Hour), Response: "ok",
		CreatedAt: ms(-time.Hour), UpdatedAt: ms(-time.Hour),
	}
	return pendingJob, deadJob, doneJob
}

// TestLegacyEventsMoveToLog opens stores of schema version 1 whose events
// are in the SQLite file, some of them also in the event log already (a
// move cut short by a crash), and checks that every event ends up in the
// log exactly once, in the order received, and the jobs are kept.
func TestLegacyEventsMoveToLog(t *testing.T) {
	const n = 2*legacyChunk + 203 // three chunks
	for _, tc := range []struct {
		name string
		// inLog is how many of the oldest events the log holds already.
		inLog int
	}{
		{"fresh move", 0},
		{"crash after the first chunk was appended", legacyChunk},
		{"crash inside the first chunk", legacyChunk / 2},
		{"crash after the second chunk was appended", 2*legacyChunk + 1},
		{"crash after every chunk was appended", n},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			evs := legacyEvents(n)
			pendingJob, deadJob, doneJob := legacyJobs(evs)
			// The pending job was requeued from a dead letter and not yet
			// taken by the daemon: the flag moves with it.
			buildV1Store(t, dir, evs, []Job{pendingJob, deadJob, doneJob}, map[int64]bool{pendingJob.ID: true})
			if tc.inLog > 0 {
				l, err := eventlog.Open(filepath.Join(dir, EventsFolder), eventlog.Options{Logger: slog.New(slog.DiscardHandler)})
				if err != nil {
					t.Fatal(err)
				}
				frames := make([]eventlog.Frame, 0, tc.inLog)
				for _, e := range evs[:tc.inLog] {
					frames = append(frames, eventlog.Encode(&eventlog.Record{
						ID: e.id, Name: e.name, Action: e.action, ReceivedAt: fromMillis(e.at),
						Rules: e.wantRules, Errors: e.wantErrs, Body: e.body,
					}))
				}
				if err := l.Append(frames); err != nil {
					t.Fatal(err)
				}
				if err := l.Close(); err != nil {
					t.Fatal(err)
				}
			}

			s := open(t, dir, Options{Now: (&clock{t: t0}).Now})
			if v, err := schemaVersion(ctx, s.r); err != nil || v != len(migrations) {
				t.Errorf("schema version = %d, %v; want %d", v, err, len(migrations))
			}
			checkLegacyEvents(t, s, evs)
			var left int
			if err := s.r.QueryRow(`SELECT count(*) FROM events`).Scan(&left); err != nil || left != 0 {
				t.Errorf("SQLite events table holds %d rows (%v) after the move, want 0", left, err)
			}
			var fks int
			if err := s.r.QueryRow(`SELECT count(*) FROM pragma_foreign_key_list('jobs')`).Scan(&fks); err != nil || fks != 0 {
				t.Errorf("jobs has %d foreign keys (%v), want none", fks, err)
			}

			if st := stats(t, s); st != (Stats{Events: n, Pending: 1, Dead: 1}) {
				t.Errorf("Stats = %+v, want %d events, 1 pending, 1 dead", st, n)
			}
			if got := pending(t, s); !reflect.DeepEqual(got, []Job{pendingJob}) {
				t.Errorf("PendingPage =\n%+v\nwant\n%+v", got, []Job{pendingJob})
			}
			dead, err := s.DeadLetters(ctx, 0)
			if err != nil || !reflect.DeepEqual(dead, []Job{deadJob}) {
				t.Errorf("DeadLetters = %+v, %v\nwant %+v", dead, err, []Job{deadJob})
			}

			if got, err := s.TakeRequeued(ctx); err != nil || !reflect.DeepEqual(got, []Job{pendingJob}) {
				t.Errorf("TakeRequeued = %+v, %v; want the requeued pending job", got, err)
			}

			// A migrated id is a duplicate; its jobs are not stored again.
			rec := record(evs[3].id, 1)
			if out := accept(t, s, rec); !out[0].Duplicate || out[0].Jobs != nil {
				t.Errorf("Accept of migrated %s = %+v, want a duplicate", evs[3].id, out)
			}
			// New jobs need no row in the events table (no foreign key).
			fresh := accept(t, s, record("NEW-1", 2))
			if fresh[0].Duplicate || len(fresh[0].Jobs) != 2 || fresh[0].Jobs[0].ID <= doneJob.ID {
				t.Errorf("Accept of a new event = %+v, want stored with 2 new jobs", fresh)
			}
			if st := stats(t, s); st != (Stats{Events: n + 1, Pending: 3, Dead: 1}) {
				t.Errorf("Stats after a new Accept = %+v", st)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}

			// Nothing moves twice.
			s = open(t, dir, Options{})
			got := allEvents(t, s)
			if len(got) != n+1 || got[n].ID != "NEW-1" {
				t.Errorf("after reopen: %d events (last %q), want %d ending with NEW-1", len(got), got[len(got)-1].ID, n+1)
			}
			checkLegacyEvents(t, s, evs)

			// The moved events are pruned like any other (they are a day
			// older than NEW-1, so in older segments), and so are the
			// finished jobs.
			events, jobs, err := s.Prune(ctx, t0)
			if err != nil || events != n || jobs != 2 {
				t.Errorf("Prune(t0) = %d events, %d jobs, %v; want %d events and the done and dead jobs", events, jobs, err, n)
			}
			if got := eventIDs(allEvents(t, s)); !slices.Equal(got, []string{"NEW-1"}) {
				t.Errorf("events after Prune = %d (%q...), want only NEW-1", len(got), got[:min(3, len(got))])
			}
		})
	}
}

// checkLegacyEvents checks that the store's oldest events are evs, each
// once, in order, field for field.
func checkLegacyEvents(t *testing.T, s *Store, evs []legacyEvent) {
	t.Helper()
	got := allEvents(t, s)
	if len(got) < len(evs) {
		t.Fatalf("%d events after the move, want at least %d", len(got), len(evs))
	}
	seen := make(map[string]int)
	for _, e := range got {
		seen[e.ID]++
	}
	for id, c := range seen {
		if c != 1 {
			t.Errorf("event %s stored %d times", id, c)
		}
	}
	bad := 0
	for i, want := range evs {
		e := got[i]
		ok := e.ID == want.id && e.Name == want.name && e.Action == want.action &&
			bytes.Equal(e.Body, want.body) && e.ReceivedAt.Equal(fromMillis(want.at)) &&
			slices.Equal(e.Rules, want.wantRules) && slices.Equal(e.Errors, want.wantErrs) &&
			(want.wantRules != nil) == (e.Rules != nil) && (want.wantErrs != nil) == (e.Errors != nil)
		if !ok {
			if bad++; bad <= 5 {
				t.Errorf("event %d = {%s %s %q %v rules %q errors %q, %d body bytes}\nwant {%s %s %q %v rules %q errors %q, %d body bytes}",
					i, e.ID, e.Name, e.Action, e.ReceivedAt, e.Rules, e.Errors, len(e.Body),
					want.id, want.name, want.action, fromMillis(want.at), want.wantRules, want.wantErrs, len(want.body))
			}
		}
	}
	if bad > 5 {
		t.Errorf("... %d events differ in all", bad)
	}
}

// compressBody encodes a body as a version-1 store kept it.
func compressBody(b []byte) []byte {
	buf := make([]byte, 1+s2.MaxEncodedLen(len(b)))
	buf[0] = bodyS2
	enc := s2.Encode(buf[1:], b)
	return buf[:1+len(enc)]
}
