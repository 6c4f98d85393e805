package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hookd/hookd/store"
)

// TestBodyEncoding stores a recorded Wassenger event compressed and a
// body too small to gain as received, and reads both back as received.
func TestBodyEncoding(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "testdata", "events", "group-update", "remove.json"))
	if err != nil {
		t.Fatal(err)
	}
	s := open(t, t.TempDir(), Options{})
	defer s.Close()
	recs := []store.Record{
		{Event: store.Event{ID: "big", Name: "group:update", Body: raw}},
		{Event: store.Event{ID: "small", Name: "group:update", Body: []byte(`{}`)}},
	}
	if _, err := s.Accept(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		id       string
		body     []byte
		encoding int64
	}{{"big", raw, bodyS2}, {"small", []byte(`{}`), bodyAsReceived}} {
		var enc, size int64
		if err := s.r.QueryRow(`SELECT body_encoding, length(body) FROM events WHERE key = ?`, c.id).Scan(&enc, &size); err != nil {
			t.Fatal(err)
		}
		if enc != c.encoding {
			t.Errorf("%s: body_encoding %d, want %d", c.id, enc, c.encoding)
		}
		if enc == bodyS2 && size >= int64(len(c.body))*3/4 {
			t.Errorf("%s: %d bytes stored for a body of %d: not compressed", c.id, size, len(c.body))
		}
		ev, err := s.Event(context.Background(), c.id)
		if err != nil || !bytes.Equal(ev.Body, c.body) {
			t.Errorf("%s: read back %q, %v; want the body as received", c.id, ev.Body, err)
		}
	}
}

// TestUpgradeFrom6 opens a file of schema version 6, whose bodies are
// stored as received, with MustExist as a hookd command does: the old
// body reads as it was, and a new one is stored compressed.
func TestUpgradeFrom6(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "testdata", "events", "group-update", "add.json"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	downgrade(t, open(t, dir, Options{}), dir, `ALTER TABLE events DROP COLUMN body_encoding`, `PRAGMA user_version = 6`)
	db, err := sql.Open("sqlite", filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.Exec(`INSERT INTO events (key, name, action, body, received_at, rules, errors)
		VALUES ('old', 'group:update', 'add', ?, 1, '[]', '[]')`, raw)
	if cerr := db.Close(); err != nil || cerr != nil {
		t.Fatal(err, cerr)
	}

	s := open(t, dir, Options{MustExist: true})
	defer s.Close()
	if _, err := s.Accept(context.Background(), []store.Record{{Event: store.Event{ID: "new", Name: "group:update", Body: raw}}}); err != nil {
		t.Fatalf("Accept after the upgrade: %v", err)
	}
	for id, want := range map[string]int64{"old": bodyAsReceived, "new": bodyS2} {
		var enc int64
		if err := s.r.QueryRow(`SELECT body_encoding FROM events WHERE key = ?`, id).Scan(&enc); err != nil || enc != want {
			t.Errorf("%s: body_encoding %d, %v; want %d", id, enc, err, want)
		}
		ev, err := s.Event(context.Background(), id)
		if err != nil || !bytes.Equal(ev.Body, raw) {
			t.Errorf("%s: read back %d bytes, %v; want the %d bytes as received", id, len(ev.Body), err, len(raw))
		}
	}
}

// FuzzBody: any body is read back as it came after encodeBody, into a
// reused buffer of any size (grown when too small); and stored bytes that are not what
// encodeBody wrote (a damaged file) give an error, never a panic.
func FuzzBody(f *testing.F) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "testdata", "events", "group-update", "remove.json"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(raw, 0)
	f.Add([]byte(`{}`), 4096)
	f.Add([]byte{}, 1)
	f.Add(bytes.Repeat([]byte("x"), 10000), 16)
	f.Fuzz(func(t *testing.T, body []byte, bufCap int) {
		buf := make([]byte, 0, bufCap&0xffff)
		stored, enc := encodeBody(&buf, body)
		got, err := decodeBody(stored, int64(enc))
		if err != nil || !bytes.Equal(got, body) {
			t.Fatalf("encoding %d: read back %q, %v; want %q", enc, got, err, body)
		}
		if enc == bodyS2 && len(stored) >= len(body) {
			t.Errorf("stored compressed in %d bytes for a body of %d", len(stored), len(body))
		}
		_, _ = decodeBody(body, bodyS2) // damaged: an error or a body, no panic
	})
}

// TestBodyBuffersShared accepts events with different compressible bodies
// of one length from many callers at once, so that commits share the
// store's pool of compression buffers, and reads every body back as
// sent: a buffer must not be reused before the commit holding it is done.
func TestBodyBuffersShared(t *testing.T) {
	s := open(t, t.TempDir(), Options{})
	defer s.Close()
	body := func(id string) []byte {
		return []byte(`{"event":"message:in:new","id":"` + id + `","data":{"body":"` + strings.Repeat(id+" ", 100) + `"}}`)
	}
	const callers, each = 16, 40
	var wg sync.WaitGroup
	for c := range callers {
		wg.Go(func() {
			for i := range each {
				id := fmt.Sprintf("c%02d-e%03d", c, i)
				if _, err := s.Accept(context.Background(), []store.Record{{Event: store.Event{ID: id, Name: "message:in:new", Body: body(id)}}}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	n := 0
	if err := s.Events(context.Background(), store.EventQuery{}, func(e store.Event) error {
		n++
		if !bytes.Equal(e.Body, body(e.ID)) {
			t.Errorf("%s: read back %.60q..., want its own body", e.ID, e.Body)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n != callers*each {
		t.Errorf("%d events stored, want %d", n, callers*each)
	}
}
