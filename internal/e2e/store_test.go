package e2e

import (
	"context"
	"database/sql"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	_ "modernc.org/sqlite" // the driver hookd's store uses

	"github.com/hookd/hookd/store/sqlite"
)

// docs/reliability.md item 10, first half: a store that cannot be opened stops
// hookd at start with an error that names the file and says what to do,
// and leaves the file as it was.
// SQLite only: each case breaks the data folder's SQLite file.
func TestStoreThatCannotBeOpenedStopsServe(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// prepare breaks the data folder data and returns the path the
		// error must name and the file that must stay untouched ("" for
		// none).
		prepare func(t *testing.T, data string) (named, keep string)
		// want is a part of the error message.
		want string
	}{
		{
			name: "data folder is a file",
			prepare: func(t *testing.T, data string) (string, string) {
				writeFile(t, data, "not a folder\n")
				return data, data
			},
			want: "is a file, not a folder",
		},
		{
			name: "hookd.db is not a database",
			prepare: func(t *testing.T, data string) (string, string) {
				db := filepath.Join(data, sqlite.FileName)
				writeFile(t, db, strings.Repeat("this is not an SQLite file\n", 40))
				return db, db
			},
			want: "not a database",
		},
		{
			name: "hookd.db belongs to another program",
			prepare: func(t *testing.T, data string) (string, string) {
				db := filepath.Join(data, sqlite.FileName)
				sqliteFile(t, db, "CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
				return db, db
			},
			want: "another program",
		},
		{
			name: "hookd.db written by a newer hookd",
			prepare: func(t *testing.T, data string) (string, string) {
				db := filepath.Join(data, sqlite.FileName)
				sqliteFile(t, db, "PRAGMA application_id = 1752133483", "PRAGMA user_version = 999")
				return db, "" // hookd's own format: WAL mode is expected
			},
			want: "newer hookd",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, "rules.yaml")
			named, keep := tt.prepare(t, w.data)
			var before []byte
			if keep != "" {
				before = readFile(t, keep)
			}
			p := run(t, w.dir, w.env(), "serve", "--rules", w.rules, "--data", w.data, "--listen", "127.0.0.1:0", "--log-format", "json")
			if code := p.Wait(patience); code != 1 {
				t.Fatalf("hookd serve exited with %d, want 1", code)
			}
			out := p.Logs.text()
			if !strings.Contains(out, "hookd serve: ") || !strings.Contains(out, named) || !strings.Contains(out, tt.want) {
				t.Errorf("error output does not say \"hookd serve: ...%s...%s...\":\n%s", named, tt.want, out)
			}
			if p.Logs.count("hookd listening") != 0 {
				t.Error("hookd listened although its store could not be opened")
			}
			if keep != "" && string(readFile(t, keep)) != string(before) {
				t.Errorf("hookd changed %s, which it refused to use", keep)
			}
		})
	}
}

// docs/reliability.md item 10, second half: when the store cannot be written
// while hookd runs (here another process holds SQLite's write lock longer
// than hookd's busy timeout), the webhook answers 503 with Retry-After so
// that Wassenger retries, stores nothing, and accepts the event normally
// once the store is writable again.
// SQLite only: the lock is the SQLite file's (the daemon's
// TestStoreWriteFailureAnswers503 stops the jetstream store's server).
func TestStoreThatCannotBeWrittenAnswers503(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "rules.yaml")
	p := w.start()
	mustAccept(t, p.Addr, "locked-before", false)
	p.waitIdle() // nothing of hookd's own is left to write

	ctx := context.Background()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(w.data, sqlite.FileName)+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN EXCLUSIVE"); err != nil {
		t.Fatalf("take the store's write lock: %v", err)
	}
	locked := true
	unlock := func() {
		if locked {
			locked = false
			if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
				t.Fatalf("release the store's write lock: %v", err)
			}
		}
	}
	defer unlock()

	const id = "locked-during"
	a := post(t, p.Addr, webhookKey, message(id))
	if a.Status != http.StatusServiceUnavailable {
		t.Fatalf("POST while the store is locked: %d %s, want 503", a.Status, a.Body)
	}
	if a.Header.Get("Retry-After") == "" {
		t.Error("the 503 has no Retry-After header")
	}
	if !strings.Contains(string(a.Body), "retry") {
		t.Errorf("the 503 body %s does not tell the sender to retry", a.Body)
	}
	// Reads still work under the write lock (WAL): the event is not there.
	if ids := p.eventIDs(); slices.Contains(ids, id) {
		t.Fatalf("event %s is listed although it was refused with 503", id)
	}
	if p.Logs.count("store unavailable; webhook answered 503 so the sender retries") == 0 {
		t.Error("no log line says the store was unavailable")
	}
	unlock()

	// Wassenger's retry: a new event for hookd, not a duplicate, since the
	// 503 stored nothing.
	mustAccept(t, p.Addr, id, false)
	p.waitIdle()
	want := map[string]int{ref("locked-before", "echo"): 1, ref(id, "echo"): 1}
	if got := w.ws.References(); !maps.Equal(got, want) {
		t.Errorf("stand-in accepted %s, want %s", describeCounts(got), describeCounts(want))
	}
	p.stop()
}

// sqliteFile creates an SQLite file at path (and its folder) and runs
// stmts in it.
func sqliteFile(t *testing.T, path string, stmts ...string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// writeFile writes content to path, making its folder.
func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// One hookd writes a data folder: a second `hookd serve` on it stops at
// start and says why, while `hookd events export` reads the events of the
// running one.
// SQLite only: the export reads the data folder (--data).
func TestSecondServeOnSameDataFolderRefused(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "rules.yaml")
	first := w.start()
	mustAccept(t, first.Addr, "shared-1", false)
	mustAccept(t, first.Addr, "shared-2", false)

	second := run(t, w.dir, w.env(), "serve", "--rules", w.rules, "--data", w.data, "--listen", "127.0.0.1:0", "--log-format", "json")
	if code := second.Wait(patience); code != 1 {
		t.Fatalf("second hookd serve exited with %d, want 1", code)
	}
	out := second.Logs.text()
	for _, want := range []string{w.data, "another hookd process is using this data folder", "--data"} {
		if !strings.Contains(out, want) {
			t.Errorf("second serve's error does not say %q:\n%s", want, out)
		}
	}

	export := run(t, w.dir, w.env(), "events", "export", "--data", w.data)
	if code := export.Wait(patience); code != 0 {
		t.Fatalf("hookd events export exited with %d while the daemon runs:\n%s", code, export.Logs.text())
	}
	got := export.Logs.text()
	for _, id := range []string{"shared-1", "shared-2"} {
		if !strings.Contains(got, `"`+id+`"`) {
			t.Errorf("export while the daemon runs misses event %s:\n%s", id, got)
		}
	}
	// The first daemon goes on.
	mustAccept(t, first.Addr, "shared-3", false)
	mustAccept(t, first.Addr, "shared-1", true)
}
