package daemon

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/cluster"
	"github.com/hookd/hookd/internal/natstest"
	"github.com/hookd/hookd/internal/standin"
	"github.com/hookd/hookd/internal/testbackend"
	"github.com/hookd/hookd/store"
	"github.com/hookd/hookd/store/sqlite"
)

// welcomeRules fire every kind of target for a group member added.
const welcomeRules = `rules:
  - name: welcome
    on: group:update
    if: action == "add"
    do:
      - wassenger.message:
          group: "{{ data.chat.id }}"
          message: "Welcome {{ join(participants, ', ') }}"
      - webhook:
          url: "@HOOK@/hook"
          body: {event: "{{ id }}"}
      - email:
          to: ["ops@example.com"]
          subject: "Added to {{ data.chat.name }}"
          body: "{{ author }} added {{ join(participants, ', ') }}"
`

// Ingress 1: a valid event is stored once and answered 200 while every
// target hangs.
func TestValidEventAnsweredWhileEveryTargetHangs(t *testing.T) {
	t.Parallel()
	testbackend.Each(t, func(t *testing.T, backend string) {
		h := start(t, options{backend: backend, rules: slowDelivery + welcomeRules})
		h.wa.HangAll()
		h.hook.HangAll()
		h.smtp.HangNext(10)

		if got := h.accept(t, js(t, groupEvent("EV-1", "add"))); got != (accepted{Accepted: 1}) {
			t.Fatalf("first event: %+v, want 1 accepted", got)
		}
		if st := h.stats(t); st.Events != 1 || st.Pending != 3 {
			t.Fatalf("after one event the store holds %+v, want 1 event and its 3 jobs", st)
		}
		// Wait until the targets hold the first event's actions...
		if err := h.wa.WaitFor(waitCtx(t), func(r []standin.Request) bool { return held(r) == 1 }); err != nil {
			t.Fatal(err)
		}
		if err := h.hook.WaitFor(waitCtx(t), func(r []standin.Request) bool { return held(r) == 1 }); err != nil {
			t.Fatal(err)
		}
		// ...then the next event is still answered at once.
		if got := h.accept(t, js(t, groupEvent("EV-2", "add"))); got != (accepted{Accepted: 1}) {
			t.Fatalf("second event: %+v, want 1 accepted", got)
		}
		if r := h.wa.Requests(); r[0].Status != 0 {
			t.Fatalf("the Wassenger stand-in answered the first action (%d) before the second event was acknowledged; the test proves nothing", r[0].Status)
		}
		if st := h.stats(t); st.Events != 2 {
			t.Errorf("store holds %d events, want 2", st.Events)
		}
		if evs := h.events(t); len(evs) != 2 || evs[0].ID != "EV-2" || evs[1].ID != "EV-1" {
			t.Errorf("/api/events = %+v, want EV-2 and EV-1", evs)
		}
	})
}

// Ingress 2: bodies that are not events get 400 with a short reason and
// nothing is stored.
func TestBadBodiesRefused(t *testing.T) {
	t.Parallel()
	testbackend.Each(t, func(t *testing.T, backend string) {
		h := start(t, options{backend: backend, rules: welcomeRules})
		for _, tc := range []struct {
			name, body, want string
		}{
			{"broken JSON", `{"id": "A", "event": "group:update",`, "invalid JSON"},
			{"not JSON", `hello`, "send one JSON object or an array of objects"},
			{"empty body", ``, "no JSON at all"},
			{"number", `42`, "send one JSON object or an array of objects"},
			{"string", `"group:update"`, "send one JSON object or an array of objects"},
			{"null", `null`, "send one JSON object or an array of objects"},
			{"empty array", `[]`, "empty array"},
			{"array of numbers", `[1, 2]`, "element 0"},
			{"object without event", `{"id": "A", "object": "message"}`, `"event"`},
			{"event not a string", `{"id": "A", "event": 5}`, `line 1, column 22: the "event" field holds 5`},
			{"batch with one bad element", `[{"id": "A", "event": "message:out:failed"}, {"id": "B"}]`, `line 1, column 46: element 1: missing "event" field`},
			{"trailing garbage", `{"id": "A", "event": "group:update"} {"id": "B"}`, "extra data"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				a := h.post(t, tc.body)
				if a.status != http.StatusBadRequest {
					t.Fatalf("status %d (%s), want 400", a.status, a.body)
				}
				var p problem
				if err := json.Unmarshal([]byte(a.body), &p); err != nil || p.Error == "" {
					t.Fatalf("answer %q is not {\"error\": reason}", a.body)
				}
				if !strings.Contains(p.Error, tc.want) {
					t.Errorf("reason %q, want it to say %q", p.Error, tc.want)
				}
				if len(p.Error) > 300 {
					t.Errorf("reason is %d bytes long; keep it short: %q", len(p.Error), p.Error)
				}
				if st := h.stats(t); st.Events != 0 || st.Pending != 0 {
					t.Errorf("store holds %+v after a refused body, want nothing", st)
				}
			})
		}
		if n := h.metric(t, "hookd_intake_rejected_total"); n != 12 {
			t.Errorf("hookd_intake_rejected_total = %v, want 12", n)
		}
	})
}

// Ingress 3: a body over the limit gets 413, and the daemon stops reading
// it: the client can send only a small part of it.
func TestOversizedBodyCutOff(t *testing.T) {
	t.Parallel()
	testbackend.Each(t, func(t *testing.T, backend string) {
		const limit = 64 << 10
		h := start(t, options{backend: backend, rules: welcomeRules, maxBody: limit})

		t.Run("just over the limit", func(t *testing.T) {
			body := `{"id": "BIG", "event": "group:update", "pad": "` + strings.Repeat("x", limit) + `"}`
			a := h.post(t, body)
			if a.status != http.StatusRequestEntityTooLarge {
				t.Fatalf("status %d (%s), want 413", a.status, a.body)
			}
			// Wassenger retries it until it disables the webhook: the
			// reason, also in the log, says what the operator can do.
			if !strings.Contains(a.body, "over the limit of 65536 bytes") || !strings.Contains(a.body, "--max-body") {
				t.Errorf("answer %s: want the limit and the flag that raises it", a.body)
			}
		})
		for _, chunked := range []bool{false, true} {
			name := "with Content-Length"
			if chunked {
				name = "chunked, no Content-Length"
			}
			t.Run(name, func(t *testing.T) {
				const total = 256 << 20
				status, sent := sendHuge(t, h, total, chunked)
				if status != http.StatusRequestEntityTooLarge {
					t.Fatalf("status %d, want 413", status)
				}
				// The daemon read at most a little over the limit; the rest
				// is what loopback socket buffers took before it hung up.
				if sent >= total/8 {
					t.Errorf("the client could send %d of %d bytes: the daemon kept reading an oversized body", sent, total)
				}
			})
		}
		if st := h.stats(t); st.Events != 0 {
			t.Errorf("store holds %d events, want none", st.Events)
		}
	})
}

// sendHuge sends a POST of total bytes over a raw connection, writing
// until the daemon stops reading, and returns the answer's status and how
// many body bytes the connection took.
func sendHuge(t *testing.T, h *harness, total int64, chunked bool) (int, int64) {
	t.Helper()
	conn, err := net.Dial("tcp", h.d.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(waitLimit)); err != nil {
		t.Fatal(err)
	}
	head := "POST /webhooks/wassenger?key=" + h.key + " HTTP/1.1\r\nHost: hookd\r\nContent-Type: application/json\r\n"
	if chunked {
		head += "Transfer-Encoding: chunked\r\n\r\n"
	} else {
		head += fmt.Sprintf("Content-Length: %d\r\n\r\n", total)
	}
	if _, err := io.WriteString(conn, head); err != nil {
		t.Fatal(err)
	}
	var sent atomic.Int64
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		block := bytes.Repeat([]byte(" "), 32<<10)
		frame := block
		if chunked {
			frame = append(fmt.Appendf(nil, "%x\r\n", len(block)), block...)
			frame = append(frame, "\r\n"...)
		}
		for sent.Load() < total {
			if _, err := conn.Write(frame); err != nil {
				return
			}
			sent.Add(int64(len(block)))
		}
		if chunked {
			_, _ = io.WriteString(conn, "0\r\n\r\n")
		}
	}()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("read answer: %v", err)
	}
	resp.Body.Close()
	conn.Close() // ends the writer if the daemon left the connection open
	<-wrote
	return resp.StatusCode, sent.Load()
}

// Ingress 4: a wrong content type gets 415 and a wrong method 405.
func TestWrongContentTypeAndMethod(t *testing.T) {
	t.Parallel()
	testbackend.Each(t, func(t *testing.T, backend string) {
		h := start(t, options{backend: backend, rules: welcomeRules})
		body := js(t, groupEvent("CT-1", "remove"))
		for _, ct := range []string{"", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/jsonx", "json"} {
			t.Run("content type "+ct, func(t *testing.T) {
				a := h.post(t, body, func(r *http.Request) {
					if ct == "" {
						r.Header.Del("Content-Type")
					} else {
						r.Header.Set("Content-Type", ct)
					}
				})
				if a.status != http.StatusUnsupportedMediaType {
					t.Fatalf("status %d (%s), want 415", a.status, a.body)
				}
				if !strings.Contains(a.body, "application/json") {
					t.Errorf("answer %q does not say to send application/json", a.body)
				}
			})
		}
		for _, method := range []string{http.MethodGet, http.MethodPut, http.MethodDelete, http.MethodPatch} {
			t.Run("method "+method, func(t *testing.T) {
				req, err := http.NewRequest(method, h.base+"/webhooks/wassenger?key="+h.key, strings.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Content-Type", "application/json")
				a := do(t, req)
				if a.status != http.StatusMethodNotAllowed {
					t.Fatalf("status %d (%s), want 405", a.status, a.body)
				}
				if allow := a.header.Get("Allow"); !strings.Contains(allow, http.MethodPost) {
					t.Errorf("Allow = %q, want it to name POST", allow)
				}
			})
		}
		if st := h.stats(t); st.Events != 0 {
			t.Errorf("store holds %d events, want none", st.Events)
		}
		// The same body with the right type and method is accepted: the
		// refusals above were about the type and the method only.
		a := h.post(t, body, func(r *http.Request) { r.Header.Set("Content-Type", "application/json; charset=utf-8") })
		if a.status != http.StatusOK {
			t.Errorf("with application/json; charset=utf-8: %d %s, want 200", a.status, a.body)
		}
	})
}

// Ingress 5: a missing or wrong key gets 401 with the same body either
// way; the right key is accepted wherever Wassenger or a proxy puts it.
func TestWebhookKey(t *testing.T) {
	t.Parallel()
	testbackend.Each(t, func(t *testing.T, backend string) {
		h := start(t, options{backend: backend, rules: welcomeRules, key: "correct-horse-battery-staple"})
		url := h.base + "/webhooks/wassenger"
		var bodies []string
		for _, tc := range []struct {
			name  string
			query string
			edit  func(*http.Request)
		}{
			{name: "no key"},
			{name: "empty key", query: "?key="},
			{name: "wrong key", query: "?key=wrong"},
			{name: "key with a wrong last byte", query: "?key=correct-horse-battery-staplE"},
			{name: "prefix of the key", query: "?key=correct-horse"},
			{name: "key and more", query: "?key=correct-horse-battery-staple-and-more"},
			{name: "wrong header", edit: func(r *http.Request) { r.Header.Set("X-Hookd-Key", "wrong") }},
			{name: "wrong bearer", edit: func(r *http.Request) { r.Header.Set("Authorization", "Bearer wrong") }},
			{name: "right key as basic auth", edit: func(r *http.Request) { r.SetBasicAuth("hookd", "correct-horse-battery-staple") }},
		} {
			t.Run(tc.name, func(t *testing.T) {
				req, err := http.NewRequest(http.MethodPost, url+tc.query, strings.NewReader(js(t, groupEvent("KEY-1", "add"))))
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Content-Type", "application/json")
				if tc.edit != nil {
					tc.edit(req)
				}
				a := do(t, req)
				if a.status != http.StatusUnauthorized {
					t.Fatalf("status %d (%s), want 401", a.status, a.body)
				}
				bodies = append(bodies, a.body)
			})
		}
		for i, b := range bodies {
			if b != bodies[0] {
				t.Errorf("401 body %d = %q differs from the first %q: a caller could tell the cases apart", i, b, bodies[0])
			}
		}
		if st := h.stats(t); st.Events != 0 {
			t.Fatalf("store holds %d events after refused requests, want none", st.Events)
		}
		for i, edit := range []func(*http.Request){
			func(r *http.Request) { r.URL.RawQuery = "key=correct-horse-battery-staple" },
			func(r *http.Request) {
				r.URL.RawQuery = ""
				r.Header.Set("X-Hookd-Key", "correct-horse-battery-staple")
			},
			func(r *http.Request) {
				r.URL.RawQuery = ""
				r.Header.Set("Authorization", "Bearer correct-horse-battery-staple")
			},
		} {
			if a := h.post(t, js(t, groupEvent(fmt.Sprint("KEY-OK-", i), "add")), edit); a.status != http.StatusOK {
				t.Errorf("right key, way %d: %d %s, want 200", i, a.status, a.body)
			}
		}
	})
}

// TestOpenWarnsAtStart: without a webhook key (serve --open) the daemon
// takes events from anyone, and says so at start with a warning; with a
// key it does not warn.
func TestOpenWarnsAtStart(t *testing.T) {
	t.Parallel()
	const warning = `"level":"WARN","msg":"no webhook key (--open): anyone who can reach the listen address can post events`
	open := start(t, options{rules: welcomeRules, open: true})
	if a := open.post(t, js(t, groupEvent("OPEN-1", "add")), func(r *http.Request) { r.URL.RawQuery = "" }); a.status != http.StatusOK {
		t.Fatalf("open daemon, no key: %d %s, want 200", a.status, a.body)
	}
	if logs := open.logs.String(); !strings.Contains(logs, warning) {
		t.Errorf("open daemon logged no warning %s; logs:\n%s", warning, logs)
	}
	keyed := start(t, options{rules: welcomeRules})
	if logs := keyed.logs.String(); strings.Contains(logs, "no webhook key") {
		t.Errorf("daemon with a key warned of none; logs:\n%s", logs)
	}
}

// A short webhook key is warned about at start, without the key; a long
// one is not.
func TestShortWebhookKeyWarns(t *testing.T) {
	t.Parallel()
	const warning = `"msg":"HOOKD_WEBHOOK_KEY is short: `
	short := start(t, options{rules: welcomeRules, key: "wk1234"})
	if logs := short.logs.String(); !strings.Contains(logs, warning) || strings.Contains(logs, "wk1234") {
		t.Errorf("a daemon with a 6-character key: want the warning %s without the key; logs:\n%s", warning, logs)
	}
	long := start(t, options{rules: welcomeRules})
	if logs := long.logs.String(); strings.Contains(logs, warning) {
		t.Errorf("a daemon with a long key warned of a short one; logs:\n%s", logs)
	}
}

// Ingress 6: the server has its timeouts set, and a client that never
// finishes its headers is cut off.
func TestSlowClientsCutOff(t *testing.T) {
	t.Parallel()
	testbackend.Each(t, func(t *testing.T, backend string) {
		h := start(t, options{backend: backend, rules: welcomeRules})
		srv := h.d.server
		// Wassenger gives up after 30 s: a request held longer helps no one.
		for name, d := range map[string]time.Duration{
			"ReadHeaderTimeout": srv.ReadHeaderTimeout,
			"ReadTimeout":       srv.ReadTimeout,
			"WriteTimeout":      srv.WriteTimeout,
		} {
			if d <= 0 || d >= 30*time.Second {
				t.Errorf("%s = %v, want set and under Wassenger's 30 s", name, d)
			}
		}
		if srv.IdleTimeout <= 0 {
			t.Errorf("IdleTimeout = %v, want set", srv.IdleTimeout)
		}
		if srv.ReadHeaderTimeout > srv.ReadTimeout {
			t.Errorf("ReadHeaderTimeout %v > ReadTimeout %v", srv.ReadHeaderTimeout, srv.ReadTimeout)
		}

		conn, err := net.Dial("tcp", h.d.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		// Half a request: the headers never end.
		if _, err := io.WriteString(conn, "POST /webhooks/wassenger HTTP/1.1\r\nHost: hookd\r\nContent-Type: appl"); err != nil {
			t.Fatal(err)
		}
		if err := conn.SetReadDeadline(time.Now().Add(waitLimit)); err != nil {
			t.Fatal(err)
		}
		_, err = io.ReadAll(conn)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("the daemon kept a connection with unfinished headers open for %v", waitLimit)
		}
		// err is nil (EOF) or a reset: the daemon closed the connection.
	})
}

// Ingress 7: an event of a type no rule knows is stored and acknowledged
// and runs nothing.
func TestUnknownEventStoredAndIgnored(t *testing.T) {
	t.Parallel()
	testbackend.Each(t, func(t *testing.T, backend string) {
		h := start(t, options{backend: backend, rules: welcomeRules})
		for _, ev := range []map[string]any{
			{"id": "UNK-1", "event": "made:up:event", "data": map[string]any{"x": 1}},
			groupEvent("UNK-2", "frobnicate"), // a group action no rule asks for
		} {
			if got := h.accept(t, js(t, ev)); got != (accepted{Accepted: 1}) {
				t.Fatalf("%v: %+v, want 1 accepted", ev["id"], got)
			}
		}
		if st := h.stats(t); st.Events != 2 || st.Pending != 0 {
			t.Errorf("store holds %+v, want 2 events and no jobs", st)
		}
		if jobs := h.jobs(t); len(jobs) != 0 {
			t.Errorf("jobs stored for ignored events:%s", describe(jobs))
		}
		for _, e := range h.events(t) {
			if len(e.Rules) != 0 || len(e.Errors) != 0 {
				t.Errorf("/api/events: %s fired %v with errors %v, want nothing", e.ID, e.Rules, e.Errors)
			}
		}
		if n := h.metric(t, "hookd_events_total", "event", "other"); n != 1 {
			t.Errorf(`hookd_events_total{event="other"} = %v, want 1`, n)
		}
	})
}

// Durability 10 (in process): a store that cannot write makes the
// webhook answer 503, never a 2xx; once it can write again the same
// event is accepted and runs once. Each backend fails in its own ways.
func TestStoreWriteFailureAnswers503(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		backend, name string
		// breakIt makes the store's writes fail from outside the daemon,
		// as another process or the network would, and returns the
		// repair.
		breakIt func(t *testing.T, h *harness) func()
		// unwritable says the store as a whole cannot write (so /healthz
		// must say so), not one operation of a batch.
		unwritable bool
	}{
		{
			// Another process holds the write lock past the busy timeout.
			backend:    testbackend.SQLite,
			name:       "lock held by another process",
			unwritable: true,
			breakIt: func(t *testing.T, h *harness) func() {
				conn, err := sqliteConn(t, h).Conn(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				if _, err := conn.ExecContext(context.Background(), "BEGIN IMMEDIATE"); err != nil {
					t.Fatal(err)
				}
				return func() {
					if _, err := conn.ExecContext(context.Background(), "ROLLBACK"); err != nil {
						t.Error(err)
					}
					conn.Close()
				}
			},
		},
		{
			// Every insert of a job fails as on a full disk.
			backend: testbackend.SQLite,
			name:    "inserts refused",
			breakIt: func(t *testing.T, h *harness) func() {
				db := sqliteConn(t, h)
				if _, err := db.Exec(`CREATE TRIGGER test_refuse BEFORE INSERT ON jobs
					BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END`); err != nil {
					t.Fatal(err)
				}
				return func() {
					if _, err := db.Exec(`DROP TRIGGER test_refuse`); err != nil {
						t.Error(err)
					}
				}
			},
		},
		{
			// The NATS server holding the log stops: no quorum.
			backend:    testbackend.JetStream,
			name:       "NATS server down",
			unwritable: true,
			breakIt: func(t *testing.T, h *harness) func() {
				h.nats.Stop(0)
				return func() { h.nats.Restart(0) }
			},
		},
	} {
		t.Run(tc.backend+"/"+tc.name, func(t *testing.T) {
			t.Parallel()
			h := start(t, options{backend: tc.backend, rules: welcomeRules, storeTimeout: time.Second})
			body := js(t, groupEvent("DISK-1", "add"))

			repair := tc.breakIt(t, h)
			a := h.post(t, body)
			health := h.get(t, "/healthz", false)
			unwritable := h.metric(t, "hookd_store_writable")
			repair()
			// Health 24: while writes fail, /healthz says so.
			if !tc.unwritable {
				// One refused insert rolls back its own operation; the
				// store as a whole still writes (TestFullDiskHealth
				// covers a disk that does not).
			} else if health.status != http.StatusServiceUnavailable || !strings.Contains(health.body, "store cannot write") || !strings.Contains(health.body, `"reason"`) {
				t.Errorf("/healthz with a failing store: %d %s, want 503 with the reason", health.status, health.body)
			}
			if tc.unwritable && unwritable != 0 {
				t.Errorf("hookd_store_writable = %v with a failing store, want 0", unwritable)
			}
			if a.status != http.StatusServiceUnavailable {
				t.Fatalf("with a failing store: %d %s, want 503", a.status, a.body)
			}
			if a.header.Get("Retry-After") == "" {
				t.Errorf("503 without Retry-After")
			}
			if strings.Contains(a.body, "accepted") {
				t.Errorf("503 body %q claims something was accepted", a.body)
			}
			if st := h.stats(t); st.Events != 0 || st.Pending != 0 {
				t.Fatalf("store holds %+v after a failed write, want nothing", st)
			}
			if !strings.Contains(h.logs.String(), "store unavailable") {
				t.Errorf("the failure was not logged")
			}

			// The sender retries: now it is stored, as new, and runs once.
			if got := h.accept(t, body); got != (accepted{Accepted: 1}) {
				t.Fatalf("retry after repair: %+v, want 1 accepted", got)
			}
			eventually(t, "the actions of the retried event to finish", func() bool {
				return allInState(h.jobs(t), 3, store.StateDone)
			})
			if health := h.get(t, "/healthz", false); health.status != http.StatusOK {
				t.Errorf("/healthz after the repair: %d %s, want 200", health.status, health.body)
			}
			ref := refFor(t, groupEvent("DISK-1", "add"), "welcome", 0)
			if refs := h.wa.References(); refs[ref] != 1 || len(refs) != 1 {
				t.Errorf("Wassenger accepted %v, want one message with reference %s", refs, ref)
			}
		})
	}
}

// sqliteConn is a connection of its own to the SQLite store of h, as
// another process has: it waits for the daemon's writes like the daemon
// waits for it. It closes when the test ends.
func sqliteConn(t *testing.T, h *harness) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.ToSlash(filepath.Join(h.dataDir, sqlite.FileName))+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// Durability 10: a store that cannot be opened stops New with a clear
// error.
func TestNewRefusesUnusableStore(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		// setup breaks the store of cfg (its DataDir is set).
		setup func(t *testing.T, cfg *Config)
		want  string
	}{
		{
			name: "data folder is a file",
			setup: func(t *testing.T, cfg *Config) {
				if err := os.WriteFile(cfg.DataDir, []byte("not a folder"), 0o600); err != nil {
					t.Fatal(err)
				}
			},
			want: "data folder",
		},
		{
			name: "store file is not a database",
			setup: func(t *testing.T, cfg *Config) {
				if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
					t.Fatal(err)
				}
				junk := bytes.Repeat([]byte("this is not SQLite "), 512)
				if err := os.WriteFile(filepath.Join(cfg.DataDir, sqlite.FileName), junk, 0o600); err != nil {
					t.Fatal(err)
				}
			},
			want: "not a hookd store",
		},
		{
			// The jetstream backend with no NATS server at its URL.
			name: "no NATS server",
			setup: func(t *testing.T, cfg *Config) {
				url := fmt.Sprintf("nats://127.0.0.1:%d", natstest.FreePorts(t, 1)[0])
				cfg.OpenStore = func(ctx context.Context) (store.Store, error) {
					return cluster.Open(ctx, cluster.Config{NATS: url, Node: testNode, DataDir: cfg.DataDir, Replicas: 1, Logger: discardLogger()})
				}
			},
			want: "connect to nats://127.0.0.1:",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			rules := filepath.Join(dir, "rules.yaml")
			if err := os.WriteFile(rules, []byte("version: 1\nrules:\n  - name: l\n    on: group:update\n    do:\n      - log: {message: hi}\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg := Config{RulesPath: rules, DataDir: filepath.Join(dir, "data"), Listen: "127.0.0.1:0", Open: true, Logger: discardLogger()}
			tc.setup(t, &cfg)
			d, err := New(cfg)
			if err == nil {
				d.ln.Close()
				d.store.Close()
				t.Fatalf("New succeeded, want an error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want it to say %q", err, tc.want)
			}
		})
	}
}

// gated is a webhook target that holds every request until released.
type gated struct {
	*standin.Server
	release chan struct{}
	once    sync.Once
}

func newGated(t *testing.T) *gated {
	g := &gated{release: make(chan struct{})}
	g.Server = standin.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-g.release:
			_, _ = io.WriteString(w, "ok")
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() {
		g.open()
		g.Close()
	})
	return g
}

// open lets every held and later request through.
func (g *gated) open() { g.once.Do(func() { close(g.release) }) }

// dedupRules send one Wassenger message and one webhook to @GATE@.
const dedupRules = `rules:
  - name: welcome
    on: group:update
    do:
      - wassenger.message:
          group: "{{ data.chat.id }}"
          message: "Welcome"
      - webhook:
          url: "@GATE@/gate"
          body: {event: "{{ id }}"}
`

// Duplicates 11: the same event again, also while the first is being
// handled, and 50 deliveries at once: one stored event, actions once.
func TestDuplicatesRunOnce(t *testing.T) {
	t.Parallel()
	testbackend.Each(t, func(t *testing.T, backend string) {
		for _, tc := range []struct {
			name string
			run  func(t *testing.T, h *harness, g *gated, body string) []accepted
		}{
			{
				name: "twice in a row",
				run: func(t *testing.T, h *harness, g *gated, body string) []accepted {
					g.open()
					return []accepted{h.accept(t, body), h.accept(t, body)}
				},
			},
			{
				name: "twice at once while the first is being handled",
				run: func(t *testing.T, h *harness, g *gated, body string) []accepted {
					first := h.accept(t, body)
					if err := g.WaitFor(waitCtx(t), func(r []standin.Request) bool { return held(r) == 1 }); err != nil {
						t.Fatal(err)
					}
					out := append([]accepted{first}, postConcurrently(t, h, body, 2)...)
					g.open()
					return out
				},
			},
			{
				name: "50 at once",
				run: func(t *testing.T, h *harness, g *gated, body string) []accepted {
					g.open()
					return postConcurrently(t, h, body, 50)
				},
			},
		} {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				g := newGated(t)
				h := start(t, options{backend: backend, rules: strings.ReplaceAll(dedupRules, "@GATE@", g.URL())})
				const id = "DUP-1"
				got := tc.run(t, h, g, js(t, groupEvent(id, "add")))

				var sum accepted
				for _, a := range got {
					sum.Accepted += a.Accepted
					sum.Duplicates += a.Duplicates
				}
				if sum != (accepted{Accepted: 1, Duplicates: len(got) - 1}) {
					t.Errorf("answers add up to %+v, want 1 accepted and %d duplicates", sum, len(got)-1)
				}
				if st := h.stats(t); st.Events != 1 {
					t.Errorf("store holds %d events, want 1", st.Events)
				}
				// Once the event's two jobs are done no action can run again:
				// jobs come only from Accept.
				eventually(t, "both actions to be done", func() bool { return allInState(h.jobs(t), 2, store.StateDone) })
				ref := refFor(t, groupEvent(id, "add"), "welcome", 0)
				if refs := h.wa.References(); refs[ref] != 1 || len(refs) != 1 {
					t.Errorf("Wassenger accepted %v, want one message with reference %s", refs, ref)
				}
				if n := g.Count(); n != 1 {
					t.Errorf("the webhook target got %d requests, want 1", n)
				}
				if n := h.metric(t, "hookd_events_duplicate_total"); n != float64(len(got)-1) {
					t.Errorf("hookd_events_duplicate_total = %v, want %d", n, len(got)-1)
				}
			})
		}
	})
}

// postConcurrently posts body n times at once and returns the answers.
func postConcurrently(t *testing.T, h *harness, body string, n int) []accepted {
	t.Helper()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		out   []accepted
		errs  []error
		ready = make(chan struct{})
	)
	client := &http.Client{Timeout: waitLimit}
	for range n {
		wg.Go(func() {
			<-ready
			a, err := postWith(client, h, body)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			out = append(out, a)
		})
	}
	close(ready)
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d of %d posts failed, first: %v", len(errs), n, errs[0])
	}
	return out
}

// postWith posts body and decodes a 200 answer; it does not touch t, so
// that goroutines may call it.
func postWith(client *http.Client, h *harness, body string) (accepted, error) {
	resp, err := client.Post(h.base+"/webhooks/wassenger?key="+h.key, "application/json", strings.NewReader(body))
	if err != nil {
		return accepted{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return accepted{}, err
	}
	if resp.StatusCode != http.StatusOK {
		return accepted{}, fmt.Errorf("status %d: %s", resp.StatusCode, b)
	}
	var a accepted
	err = json.Unmarshal(b, &a)
	return a, err
}

// Secrets 22: action targets come from the rules file: event data that
// looks like URLs or templates reaches the configured target as text.
func TestTargetsNeverComeFromEventData(t *testing.T) {
	t.Parallel()
	testbackend.Each(t, func(t *testing.T, backend string) {
		evil := standin.NewRecorder()
		t.Cleanup(evil.Close)
		h := start(t, options{backend: backend, rules: `rules:
  - name: forward
    on: message:in:new
    do:
      - webhook:
          url: "@HOOK@/hook"
          headers: {X-Text: "{{ data.body }}"}
          body: {text: "{{ data.body }}", link: "{{ data.url }}"}
      - wassenger.request:
          method: POST
          path: "{{ data.path }}"
          body: {text: "{{ data.body }}"}
`})
		evilURL := evil.URL() + "/steal"
		for i, path := range []string{"//" + hostOf(t, evil.URL()) + "/steal", evilURL, "/../../steal", "/%2e%2e/steal"} {
			ev := messageEvent(fmt.Sprintf("INJ-%d", i), "{{ url }} "+evilURL)
			data := ev["data"].(map[string]any)
			data["url"] = evilURL
			data["path"] = path
			ev["url"] = evilURL
			ev["webhook"] = map[string]any{"url": evilURL}
			h.accept(t, js(t, ev))
		}
		eventually(t, "every action to finish", func() bool {
			jobs := h.jobs(t)
			return len(jobs) == 8 && !anyPending(jobs)
		})
		if n := evil.Count(); n != 0 {
			t.Fatalf("the URL taken from event data got %d requests", n)
		}
		reqs := h.hook.Requests()
		if len(reqs) != 4 {
			t.Fatalf("the configured webhook got %d requests, want 4", len(reqs))
		}
		for _, r := range reqs {
			if r.Path != "/hook" {
				t.Errorf("webhook went to %s, want /hook", r.Path)
			}
			var body map[string]string
			if err := json.Unmarshal(r.Body, &body); err != nil {
				t.Fatalf("webhook body %q: %v", r.Body, err)
			}
			if want := "{{ url }} " + evilURL; body["text"] != want || r.Header.Get("X-Text") != want {
				t.Errorf("event text arrived as %q / %q, want it verbatim %q", body["text"], r.Header.Get("X-Text"), want)
			}
		}
		// Every wassenger.request path above tries to leave base_url: each is
		// refused without being sent.
		for _, j := range h.jobs(t) {
			if j.Type == "wassenger.request" && (j.State != store.StateDead || j.LastReason != "invalid" || j.Attempts != 1) {
				t.Errorf("wassenger.request with a path from event data: %s, attempts %d, reason %q, want dead as invalid after 1", j.State, j.Attempts, j.LastReason)
			}
		}
		if n := h.wa.Count(); n != 0 {
			t.Errorf("the Wassenger stand-in got %d requests, want none", n)
		}

		// A rules file that takes a webhook's URL from the event is refused
		// on reload; the running rules stay.
		h.writeRules(h.expand(readTestdata(t, "reload/broken-template-url.yaml")))
		eventually(t, "the reload to be refused", func() bool {
			return strings.Contains(h.rulesStatus(t).LastError, "templates are not allowed here")
		})
		if st := h.rulesStatus(t); len(st.Names) != 1 || st.Names[0] != "forward" {
			t.Errorf("running rules %v, want the old ones", st.Names)
		}
	})
}

func anyPending(jobs []store.Job) bool {
	for _, j := range jobs {
		if j.State == store.StatePending {
			return true
		}
	}
	return false
}

// isJSON takes the common Content-Type without parsing, and gives the
// same answers as parsing it would.
func TestIsJSON(t *testing.T) {
	for _, tc := range []struct {
		ct   string
		want bool
	}{
		{"application/json", true},
		{"Application/JSON", true},
		{"application/json; charset=utf-8", true},
		{"application/json ;charset=utf-8", true},
		{"application/vnd.wassenger+json", true},
		{"application/problem+json; charset=utf-8", true},
		{"", false},
		{"text/plain", false},
		{"application/jsonx", false},
		{"json", false},
		{"application/json-seq", false},
		{"multipart/form-data; boundary=x", false},
	} {
		if got := isJSON(tc.ct); got != tc.want {
			t.Errorf("isJSON(%q) = %v, want %v", tc.ct, got, tc.want)
		}
	}
}
