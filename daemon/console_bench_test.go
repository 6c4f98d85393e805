package daemon

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/actions/secret"
	"github.com/hookd/hookd/store/storetest"
)

// bareDaemon is a daemon that is not run (nothing is delivered), with
// one rule and adminKey ("" for none), for the tests of its handler.
func bareDaemon(tb testing.TB, adminKey string) *Daemon {
	tb.Helper()
	dir := tb.TempDir()
	rules := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(rules, []byte(`version: 1
rules:
  - name: forward
    on: message:in:new
    do:
      - webhook:
          url: "http://127.0.0.1:9/hook"
          body: {id: "{{ id }}"}
`), 0o644); err != nil {
		tb.Fatal(err)
	}
	d, err := New(Config{RulesPath: rules, DataDir: filepath.Join(dir, "data"), Listen: "127.0.0.1:0",
		WebhookKey: secret.New("webhook-key-for-a-bare-daemon"), AdminKey: secret.New(adminKey), Logger: discardLogger(), Sync: "normal"})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { d.ln.Close(); d.closeStore() })
	return d
}

// Without an admin credential the console is off: no page, no file,
// and a 404 that says how to turn it on.
func TestConsoleOff(t *testing.T) {
	t.Parallel()
	h := bareDaemon(t, "").server.Handler
	for _, p := range []string{"/ui", "/ui/", "/ui/login", "/ui/events", "/ui/rules", "/ui/static/console.js", "/api/nothing"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, p, nil))
		if rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), adminOff) {
			t.Errorf("GET %s without an admin key: %d %s, want 404 saying %q", p, rec.Code, rec.Body, adminOff)
		}
	}
}

// BenchmarkConsoleEventsPage renders the console's events page (GET
// /ui/events: the session check and a page of 50 events through the
// admin API, then the HTML) with 10,000 events in the store: the newest
// page, a page deep in the list by its cursor, and a filtered one.
func BenchmarkConsoleEventsPage(b *testing.B) {
	const adminKey = "admin-key-for-the-benchmark"
	d := bareDaemon(b, adminKey)
	storetest.FillMessages(b, d.store, 10_000, "B", "forward", time.Now().Add(-time.Hour))
	h := d.server.Handler
	login := httptest.NewRequest(http.MethodPost, "/ui/signin", strings.NewReader("key="+adminKey))
	login.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, login)
	cookies := rec.Result().Cookies()
	if rec.Code != http.StatusSeeOther || len(cookies) == 0 {
		b.Fatalf("sign in: %d %s", rec.Code, rec.Body)
	}
	get := func(b *testing.B, path string) string {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.AddCookie(cookies[0])
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || strings.Count(rec.Body.String(), "<tr data-key=") != 50 {
			b.Fatalf("GET %s: %d, %d rows", path, rec.Code, strings.Count(rec.Body.String(), "<tr data-key="))
		}
		return rec.Body.String()
	}
	// The link to page 100 (events 5,000 to 5,049).
	deep := "/ui/events"
	for range 99 {
		page := get(b, deep)
		i := strings.Index(page, `id="older" href="`)
		if i < 0 {
			b.Fatal("no link to older events")
		}
		deep = strings.ReplaceAll(strings.SplitN(page[i+len(`id="older" href="`):], `"`, 2)[0], "&amp;", "&")
	}
	for _, bc := range []struct{ name, path string }{
		{"first", "/ui/events"},
		{"page100", deep},
		{"filtered", "/ui/events?event=message:in:*&rule=forward&state=pending&since=2h"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				get(b, bc.path)
			}
		})
	}
}
