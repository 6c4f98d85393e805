package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/hookd/hookd/actions/secret"
	"github.com/hookd/hookd/internal/testbackend"
	"github.com/hookd/hookd/store"
	"github.com/hookd/hookd/store/storetest"
)

// admin sends an admin API request with the admin key.
func (h *harness) admin(t *testing.T, method, path, body string) answer {
	t.Helper()
	return h.request(t, method, path, body, func(r *http.Request) { r.Header.Set(AdminKeyHeader, h.adminKey) })
}

// request sends a request to the daemon, edited by edit.
func (h *harness) request(t *testing.T, method, path, body string, edit func(*http.Request)) answer {
	t.Helper()
	req, err := http.NewRequest(method, h.base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if edit != nil {
		edit(req)
	}
	return do(t, req)
}

// decode decodes a 200 answer into v.
func decode(t *testing.T, a answer, v any) {
	t.Helper()
	if a.status != http.StatusOK {
		t.Fatalf("answer %d %s, want 200", a.status, a.body)
	}
	if err := json.Unmarshal([]byte(a.body), v); err != nil {
		t.Fatalf("answer %q: %v", a.body, err)
	}
}

// adminRoutes are every admin route, with a body where one is needed.
var adminRoutes = []struct{ method, path, body string }{
	{"GET", "/api/rules", ""},
	{"GET", "/api/events", ""},
	{"GET", "/api/events/message:in:new/X", ""},
	{"GET", "/api/jobs", ""},
	{"GET", "/api/jobs/1", ""},
	{"DELETE", "/api/jobs/1", ""},
	{"POST", "/api/jobs/1/retry", ""},
	{"POST", "/api/jobs/1/cancel", ""},
	{"POST", "/api/jobs/retry", `{"ids":[1]}`},
	{"POST", "/api/jobs/cancel", `{"ids":[1]}`},
	{"POST", "/api/jobs/delete", `{"ids":[1]}`},
	{"POST", "/api/dry-run", `{"event":"message:in:new","data":{"id":"X","body":"hi"}}`},
	{"GET", "/api/mutes", ""},
	{"POST", "/api/mutes", `{"rule":"forward","for":"1h","reason":"test"}`},
	{"DELETE", "/api/mutes/1", ""},
	{"GET", "/ui/session", ""},
	{"POST", "/ui/logout", ""},
}

// Every admin route is refused without the admin credential, and the
// webhook key (in any of the places intake takes it) does not open it;
// the admin key does. /healthz and /metrics stay open.
func TestAdminAccess(t *testing.T) {
	t.Parallel()
	testbackend.Each(t, func(t *testing.T, backend string) {
		h := start(t, options{backend: backend, rules: consoleRules})
		h.accept(t, js(t, messageEvent("ADM-1", "hello")))
		for _, rt := range adminRoutes {
			for _, tc := range []struct {
				about string
				edit  func(*http.Request)
				want  int
			}{
				{"no credential", nil, http.StatusUnauthorized},
				{"webhook key in the query", func(r *http.Request) { r.URL.RawQuery = "key=" + h.key }, http.StatusUnauthorized},
				{"webhook key in X-Hookd-Key", func(r *http.Request) { r.Header.Set("X-Hookd-Key", h.key) }, http.StatusUnauthorized},
				{"webhook key as bearer", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+h.key) }, http.StatusUnauthorized},
				{"webhook key as admin key", func(r *http.Request) { r.Header.Set(AdminKeyHeader, h.key) }, http.StatusUnauthorized},
				{"admin key in the query", func(r *http.Request) { r.URL.RawQuery = "key=" + h.adminKey }, http.StatusUnauthorized},
				{"forged session", func(r *http.Request) { r.AddCookie(&http.Cookie{Name: SessionCookie, Value: "made-up"}) }, http.StatusUnauthorized},
			} {
				if a := h.request(t, rt.method, rt.path, rt.body, tc.edit); a.status != tc.want {
					t.Errorf("%s %s with %s: %d %s, want %d", rt.method, rt.path, tc.about, a.status, a.body, tc.want)
				}
			}
			a := h.admin(t, rt.method, rt.path, rt.body)
			if a.status == http.StatusUnauthorized || a.status == http.StatusForbidden || strings.Contains(a.body, adminOff) || strings.Contains(a.body, "no such path") {
				t.Errorf("%s %s with the admin key: %d %s, want the route to answer", rt.method, rt.path, a.status, a.body)
			}
		}
		for _, path := range []string{"/healthz", "/metrics"} {
			if a := h.get(t, path, false); a.status != http.StatusOK {
				t.Errorf("GET %s without a key: %d, want 200", path, a.status)
			}
		}
	})
}

// With no admin credential the admin API and the console are off: 404,
// saying how to turn them on, whatever key is sent.
func TestAdminOff(t *testing.T) {
	t.Parallel()
	testbackend.Each(t, func(t *testing.T, backend string) {
		h := start(t, options{backend: backend, rules: consoleRules})
		h.stopForReconfig(t, func(c *Config) { c.AdminKey = secret.New("") })
		for _, rt := range append(adminRoutes, struct{ method, path, body string }{"POST", "/ui/login", `{"key":"x"}`}) {
			a := h.request(t, rt.method, rt.path, rt.body, func(r *http.Request) { r.Header.Set("X-Hookd-Key", h.key) })
			if a.status != http.StatusNotFound || !strings.Contains(a.body, "HOOKD_ADMIN_KEY") {
				t.Errorf("%s %s with the admin API off: %d %s, want 404 naming HOOKD_ADMIN_KEY", rt.method, rt.path, a.status, a.body)
			}
		}
		if a := h.post(t, js(t, messageEvent("OFF-1", "hi"))); a.status != http.StatusOK {
			t.Errorf("webhook with the admin API off: %d %s", a.status, a.body)
		}
	})
}

// stopForReconfig stops the daemon, changes its config and starts it
// again on the same store.
func (h *harness) stopForReconfig(t *testing.T, change func(*Config)) {
	t.Helper()
	must(t, h.stop())
	change(&h.cfg)
	h.restart(t)
}

// login signs in with key and returns the answer.
func (h *harness) login(t *testing.T, key string, edit func(*http.Request)) answer {
	t.Helper()
	return h.request(t, "POST", "/ui/login", js(t, map[string]string{"key": key}), edit)
}

// A sign-in sets an HttpOnly, SameSite=Strict session cookie (Secure
// behind an HTTPS proxy); the session opens GET routes, and a change
// needs its CSRF token and a same-origin request; sign-out ends it.
func TestConsoleSession(t *testing.T) {
	t.Parallel()
	testbackend.Each(t, func(t *testing.T, backend string) {
		h := start(t, options{backend: backend, rules: consoleRules})
		if a := h.login(t, "wrong-key", nil); a.status != http.StatusUnauthorized || len(a.header.Values("Set-Cookie")) > 0 {
			t.Errorf("login with a wrong key: %d %v", a.status, a.header)
		}
		if a := h.login(t, h.key, nil); a.status != http.StatusUnauthorized {
			t.Errorf("login with the webhook key: %d, want 401", a.status)
		}
		for _, edit := range []func(*http.Request){
			func(r *http.Request) { r.Header.Set("Origin", "https://evil.example") },
			func(r *http.Request) { r.Header.Set("Sec-Fetch-Site", "cross-site") },
		} {
			if a := h.login(t, h.adminKey, edit); a.status != http.StatusForbidden {
				t.Errorf("cross-site login: %d %s, want 403", a.status, a.body)
			}
		}
		a := h.login(t, h.adminKey, func(r *http.Request) {
			r.Header.Set("Origin", h.base)
			r.Header.Set("Sec-Fetch-Site", "same-origin")
		})
		var sess sessionJSON
		decode(t, a, &sess)
		resp := &http.Response{Header: a.header}
		cookies := resp.Cookies()
		if len(cookies) != 1 {
			t.Fatalf("login set %d cookies, want 1: %v", len(cookies), a.header)
		}
		c := cookies[0]
		if c.Name != SessionCookie || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Secure || len(c.Value) < 40 || c.MaxAge <= 0 {
			t.Errorf("session cookie %+v: want hookd_session, HttpOnly, SameSite=Strict, Path=/, not Secure over plain HTTP, a long random value", c)
		}
		if sess.CSRFToken == "" || sess.CSRFToken == c.Value || !sess.ExpiresAt.After(time.Now()) {
			t.Errorf("login answer %+v: want a CSRF token of its own and an expiry", sess)
		}
		if strings.Contains(a.body, c.Value) {
			t.Error("the login answer repeats the session id")
		}
		if a := h.login(t, h.adminKey, func(r *http.Request) { r.Header.Set("X-Forwarded-Proto", "https") }); !strings.Contains(a.header.Get("Set-Cookie"), "Secure") {
			t.Errorf("login behind an HTTPS proxy: cookie %q, want Secure", a.header.Get("Set-Cookie"))
		}

		withSession := func(extra func(*http.Request)) func(*http.Request) {
			return func(r *http.Request) {
				r.AddCookie(c)
				if extra != nil {
					extra(r)
				}
			}
		}
		if a := h.request(t, "GET", "/api/events", "", withSession(nil)); a.status != http.StatusOK {
			t.Errorf("GET /api/events with the session: %d %s", a.status, a.body)
		}
		var again sessionJSON
		decode(t, h.request(t, "GET", "/ui/session", "", withSession(nil)), &again)
		if again.CSRFToken != sess.CSRFToken {
			t.Errorf("GET /ui/session token %q, want the login's", again.CSRFToken)
		}
		mute := `{"rule":"forward","for":"1h","reason":"test"}`
		for _, tc := range []struct {
			about string
			edit  func(*http.Request)
		}{
			{"no CSRF token", nil},
			{"a wrong CSRF token", func(r *http.Request) { r.Header.Set(CSRFHeader, "wrong") }},
			{"another site's Origin", func(r *http.Request) {
				r.Header.Set(CSRFHeader, sess.CSRFToken)
				r.Header.Set("Origin", "https://evil.example")
			}},
			{"Sec-Fetch-Site cross-site", func(r *http.Request) {
				r.Header.Set(CSRFHeader, sess.CSRFToken)
				r.Header.Set("Sec-Fetch-Site", "cross-site")
			}},
			{"Sec-Fetch-Site same-site", func(r *http.Request) {
				r.Header.Set(CSRFHeader, sess.CSRFToken)
				r.Header.Set("Sec-Fetch-Site", "same-site")
			}},
		} {
			if a := h.request(t, "POST", "/api/mutes", mute, withSession(tc.edit)); a.status != http.StatusForbidden {
				t.Errorf("POST /api/mutes with the session and %s: %d %s, want 403", tc.about, a.status, a.body)
			}
		}
		if ms := h.store(t).mutes(t); len(ms) != 0 {
			t.Fatalf("refused requests made mutes: %+v", ms)
		}
		ok := withSession(func(r *http.Request) {
			r.Header.Set(CSRFHeader, sess.CSRFToken)
			r.Header.Set("Origin", h.base)
			r.Header.Set("Sec-Fetch-Site", "same-origin")
		})
		if a := h.request(t, "POST", "/api/mutes", mute, ok); a.status != http.StatusCreated {
			t.Errorf("POST /api/mutes with the session, its token, same origin: %d %s", a.status, a.body)
		}
		form := "csrf_token=" + url.QueryEscape(sess.CSRFToken)
		if a := h.request(t, "POST", "/ui/logout", form, withSession(func(r *http.Request) {
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		})); a.status != http.StatusOK || !strings.Contains(a.header.Get("Set-Cookie"), "Max-Age=0") {
			t.Errorf("logout with the form token: %d %s %v", a.status, a.body, a.header)
		}
		if a := h.request(t, "GET", "/api/events", "", withSession(nil)); a.status != http.StatusUnauthorized {
			t.Errorf("GET /api/events after logout: %d, want 401", a.status)
		}
	})
}

// storeView reads the daemon's store through its API.
type storeView struct{ h *harness }

// store returns a view of the daemon's store.
func (h *harness) store(t *testing.T) storeView { return storeView{h} }

// mutes lists the active mutes.
func (v storeView) mutes(t *testing.T) []MuteJSON {
	t.Helper()
	var out struct {
		Mutes []MuteJSON `json:"mutes"`
	}
	decode(t, v.h.admin(t, "GET", "/api/mutes", ""), &out)
	return out.Mutes
}

// consoleRules forward message events to the recorder.
const consoleRules = `rules:
  - name: forward
    on: message:in:new
    do:
      - webhook:
          url: "@HOOK@/hook"
          body: {id: "{{ id }}", text: "{{ data.body }}"}
`

// eventDetail reads GET /api/events/{key}.
func (h *harness) eventDetail(t *testing.T, key string) EventJSON {
	t.Helper()
	var ev EventJSON
	decode(t, h.admin(t, "GET", "/api/events/"+url.PathEscape(key), ""), &ev)
	return ev
}

// A dead letter shows its failed attempt (time, status, redacted error)
// in the event; retried through the API it is delivered by the stand-in,
// and the event then shows both attempts. HTML in the payload comes back
// JSON-escaped.
func TestConsoleRetryDeadLetter(t *testing.T) {
	t.Parallel()
	testbackend.Each(t, func(t *testing.T, backend string) {
		h := start(t, options{backend: backend, rules: consoleRules})
		h.hook.FailNext(1, http.StatusBadRequest, nil, "no such channel")
		h.accept(t, js(t, messageEvent("CON-1", "<script>alert(1)</script>")))
		var key string
		eventually(t, "the job to be a dead letter", func() bool {
			evs := h.events(t)
			if len(evs) != 1 {
				return false
			}
			key = evs[0].Key
			ev := h.eventDetail(t, key)
			return len(ev.Jobs) == 1 && ev.Jobs[0].State == store.StateDead
		})
		a := h.admin(t, "GET", "/api/events/"+url.PathEscape(key), "")
		if strings.Contains(a.body, "<script>") || !strings.Contains(a.body, `\u003cscript\u003e`) || !strings.HasPrefix(a.header.Get("Content-Type"), "application/json") || a.header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("event answer: HTML not JSON-escaped, or not JSON: %v %s", a.header, a.body)
		}
		ev := h.eventDetail(t, key)
		j := ev.Jobs[0]
		if ev.ID != "CON-1" || !strings.Contains(string(ev.Body), "alert(1)") || len(ev.Rules) != 1 || ev.Rules[0] != "forward" {
			t.Errorf("event %+v: want CON-1 with its payload and rule forward", ev)
		}
		if len(j.History) != 1 || j.History[0].Status != http.StatusBadRequest || j.History[0].Outcome != store.AttemptDead || j.History[0].At.IsZero() || !strings.Contains(j.History[0].Error, "400") {
			t.Fatalf("job %+v: want one dead attempt with status 400 and its error", j)
		}
		var dead struct {
			Jobs []JobJSON `json:"jobs"`
		}
		decode(t, h.admin(t, "GET", "/api/jobs?state=dead", ""), &dead)
		if len(dead.Jobs) != 1 || dead.Jobs[0].ID != j.ID {
			t.Fatalf("GET /api/jobs?state=dead: %+v, want job %d", dead.Jobs, j.ID)
		}
		if a := h.admin(t, "POST", fmt.Sprintf("/api/jobs/%d/cancel", j.ID), ""); a.status != http.StatusConflict {
			t.Errorf("cancel of a dead letter: %d %s, want 409", a.status, a.body)
		}
		before := h.hook.Count()
		if a := h.admin(t, "POST", fmt.Sprintf("/api/jobs/%d/retry", j.ID), ""); a.status != http.StatusOK {
			t.Fatalf("retry: %d %s", a.status, a.body)
		}
		eventually(t, "the retried job to be delivered", func() bool {
			ev := h.eventDetail(t, key)
			return h.hook.Count() > before && ev.Jobs[0].State == store.StateDone
		})
		got := h.eventDetail(t, key).Jobs[0]
		if len(got.History) != 2 || got.History[1].Outcome != store.AttemptDone || got.History[1].Status != http.StatusOK {
			t.Errorf("history after the retry: %+v, want the dead attempt then a done one with 200", got.History)
		}
		if r := h.hook.Requests(); !strings.Contains(string(r[len(r)-1].Body), "CON-1") {
			t.Errorf("the stand-in got %s, want the event's webhook", r[len(r)-1].Body)
		}
		if a := h.admin(t, "DELETE", fmt.Sprintf("/api/jobs/%d", j.ID), ""); a.status != http.StatusOK {
			t.Errorf("delete of a done job: %d %s", a.status, a.body)
		}
		if a := h.admin(t, "GET", fmt.Sprintf("/api/jobs/%d", j.ID), ""); a.status != http.StatusNotFound {
			t.Errorf("GET a deleted job: %d, want 404", a.status)
		}
	})
}

// slowRetryRules retry after an hour, so that a failed job stays
// retrying for the whole test.
const slowRetryRules = `delivery:
  attempts: 5
  backoff: {min: 1h, max: 2h}
  timeout: 500ms
` + consoleRules

// A retrying job can be cancelled (it becomes a dead letter, reason
// cancelled, and is not sent), a pending one can't be deleted, and bulk
// operations take ids or a state.
func TestConsoleCancelDelete(t *testing.T) {
	t.Parallel()
	testbackend.Each(t, func(t *testing.T, backend string) {
		h := start(t, options{backend: backend, rules: slowRetryRules})
		h.hook.FailAll(http.StatusServiceUnavailable, nil, "down")
		for i := range 3 {
			h.accept(t, js(t, messageEvent("CAN-"+strconv.Itoa(i), "hi")))
		}
		var retrying struct {
			Jobs []JobJSON `json:"jobs"`
		}
		eventually(t, "three retrying jobs", func() bool {
			decode(t, h.admin(t, "GET", "/api/jobs?state=retrying", ""), &retrying)
			return len(retrying.Jobs) == 3
		})
		one := retrying.Jobs[0]
		if one.NextAt == nil || one.NextAt.Before(time.Now().Add(30*time.Minute)) || one.Reason != "http_5xx" {
			t.Errorf("retrying job %+v: want its next attempt in about an hour and reason http_5xx", one)
		}
		if a := h.admin(t, "DELETE", fmt.Sprintf("/api/jobs/%d", one.ID), ""); a.status != http.StatusConflict {
			t.Errorf("delete of a pending job: %d %s, want 409", a.status, a.body)
		}
		if a := h.admin(t, "POST", fmt.Sprintf("/api/jobs/%d/cancel", one.ID), ""); a.status != http.StatusOK {
			t.Fatalf("cancel: %d %s", a.status, a.body)
		}
		var j JobJSON
		decode(t, h.admin(t, "GET", fmt.Sprintf("/api/jobs/%d", one.ID), ""), &j)
		if j.State != store.StateDead || j.Reason != store.ReasonCancelled {
			t.Errorf("cancelled job %+v: want dead, reason cancelled", j)
		}
		if a := h.admin(t, "POST", "/api/jobs/cancel", `{"state":"pending"}`); a.status != http.StatusOK || !strings.Contains(a.body, `"jobs":2`) {
			t.Errorf("bulk cancel of every pending job: %d %s, want 2", a.status, a.body)
		}
		if a := h.admin(t, "POST", "/api/jobs/delete", `{"ids":[]}`); a.status != http.StatusBadRequest {
			t.Errorf("bulk delete of nothing: %d %s, want 400", a.status, a.body)
		}
		if a := h.admin(t, "POST", "/api/jobs/delete", `{"state":"dead"}`); a.status != http.StatusOK || !strings.Contains(a.body, `"jobs":3`) {
			t.Errorf("bulk delete of the dead letters: %d %s, want 3", a.status, a.body)
		}
		if st := h.stats(t); st.Pending != 0 || st.Dead != 0 {
			t.Errorf("store after cancel and delete: %+v", st)
		}
		if a := h.admin(t, "POST", "/api/jobs/explode", `{"ids":[1]}`); a.status != http.StatusNotFound {
			t.Errorf("unknown bulk operation: %d", a.status)
		}
	})
}

// Pages of events walk all of them once, newest first, with filters; the
// rules answer counts each rule's activity; the dry-run explains and
// renders without sending.
func TestConsolePagesRulesDryRun(t *testing.T) {
	t.Parallel()
	testbackend.Each(t, func(t *testing.T, backend string) {
		h := start(t, options{backend: backend, rules: consoleRules})
		const n = 120
		for i := range n {
			h.accept(t, js(t, messageEvent(fmt.Sprintf("PG-%03d", i), "hi")))
		}
		h.accept(t, js(t, groupEvent("PG-GROUP", "add")))
		seen := map[string]bool{}
		cursor, pages := "", 0
		for {
			var page struct {
				Events []EventJSON `json:"events"`
				Next   string      `json:"next_cursor"`
			}
			decode(t, h.admin(t, "GET", "/api/events?event=message:*&limit=50&cursor="+url.QueryEscape(cursor), ""), &page)
			pages++
			for _, e := range page.Events {
				if seen[e.ID] || e.Event != "message:in:new" {
					t.Fatalf("page %d: %s again, or not a message event", pages, e.ID)
				}
				seen[e.ID] = true
			}
			if page.Next == "" {
				break
			}
			cursor = page.Next
		}
		if len(seen) != n || pages != 3 {
			t.Errorf("walked %d events in %d pages, want %d in 3", len(seen), pages, n)
		}
		if a := h.admin(t, "GET", "/api/events?cursor=bogus", ""); a.status != http.StatusBadRequest {
			t.Errorf("a bogus cursor: %d %s, want 400", a.status, a.body)
		}
		if a := h.admin(t, "GET", "/api/events?state=sleeping", ""); a.status != http.StatusBadRequest {
			t.Errorf("an unknown state: %d, want 400", a.status)
		}
		for _, path := range []string{"/api/events?limt=5", "/api/jobs?stat=dead", "/api/mutes?al=true"} {
			if a := h.admin(t, "GET", path, ""); a.status != http.StatusBadRequest || !strings.Contains(a.body, "unknown query parameter") {
				t.Errorf("GET %s: %d %s, want 400 naming the parameter", path, a.status, a.body)
			}
		}
		var rules RulesJSON
		decode(t, h.admin(t, "GET", "/api/rules", ""), &rules)
		if len(rules.Activity) != 1 || rules.Activity[0].Rule != "forward" || rules.Activity[0].LastHour.Fired != n || rules.Activity[0].LastDay.Fired != n || rules.Version == "" {
			t.Errorf("/api/rules activity %+v, want forward fired %d times", rules.Activity, n)
		}
		before := h.hook.Count()
		var dry struct {
			ID    string `json:"id"`
			Rules []struct {
				Rule      string           `json:"rule"`
				Outcome   string           `json:"outcome"`
				Condition *json.RawMessage `json:"condition"`
				Actions   []RenderedJSON   `json:"actions"`
			} `json:"rules"`
		}
		decode(t, h.admin(t, "POST", "/api/dry-run", js(t, messageEvent("DRY-1", "try me"))), &dry)
		if dry.ID != "DRY-1" || len(dry.Rules) != 1 {
			t.Fatalf("dry-run %+v, want DRY-1 explained by the one rule", dry)
		}
		r := dry.Rules[0]
		if r.Outcome != "fired" || len(r.Actions) != 1 || r.Actions[0].Type != "webhook" || !strings.Contains(r.Actions[0].Request, "try me") {
			t.Errorf("dry-run of forward: %+v, want it fired with the webhook rendered", r)
		}
		if h.hook.Count() != before {
			t.Error("the dry-run sent a request")
		}
		if st := h.stats(t); st.Events != n+1 {
			t.Errorf("the dry-run stored its event: %d events, want %d", st.Events, n+1)
		}
		if a := h.admin(t, "POST", "/api/dry-run", `{"nope":`); a.status != http.StatusBadRequest {
			t.Errorf("dry-run of broken JSON: %d, want 400", a.status)
		}
	})
}

// Pages of 1,000 walk 10,000 stored events once each, and a page of 50
// answers quickly (BenchmarkEventsPage in store/sqlite measures it).
func TestConsoleTenThousandEvents(t *testing.T) {
	t.Parallel()
	testbackend.Each(t, func(t *testing.T, backend string) {
		h := start(t, options{backend: backend, rules: consoleRules})
		const n = 10_000
		storetest.FillMessages(t, h.d.store, n, "TEN", "", time.Now().Add(-time.Hour))
		seen := map[string]bool{}
		cursor := ""
		for pages := 1; ; pages++ {
			var page struct {
				Events []EventJSON `json:"events"`
				Next   string      `json:"next_cursor"`
			}
			decode(t, h.admin(t, "GET", "/api/events?limit=1000&cursor="+url.QueryEscape(cursor), ""), &page)
			for i, e := range page.Events {
				if want := fmt.Sprintf("message:in:new/TEN-%05d", n-1-len(seen)); e.Key != want || seen[e.Key] {
					t.Fatalf("page %d, event %d: %s, want %s (newest first, each once)", pages, i, e.Key, want)
				}
				seen[e.Key] = true
			}
			if page.Next == "" {
				if pages != 10 {
					t.Errorf("%d pages of 1,000, want 10", pages)
				}
				break
			}
			cursor = page.Next
		}
		if len(seen) != n {
			t.Errorf("walked %d events, want %d", len(seen), n)
		}
		start := time.Now()
		var page struct {
			Events []EventJSON `json:"events"`
		}
		decode(t, h.admin(t, "GET", "/api/events?limit=50", ""), &page)
		if took := time.Since(start); len(page.Events) != 50 || took > 2*time.Second {
			t.Errorf("a page of 50: %d events in %v", len(page.Events), took)
		}
	})
}

// The admin key may be given as a bcrypt hash: the key opens, another
// does not, and a file that holds no hash is refused with what to do.
func TestAdminKeyHash(t *testing.T) {
	t.Parallel()
	hash, err := bcrypt.GenerateFromPassword([]byte("a-long-admin-key-for-hashing"), bcrypt.MinCost)
	must(t, err)
	path := filepath.Join(t.TempDir(), "admin.hash")
	must(t, os.WriteFile(path, append(hash, '\n'), 0o600))
	read, err := ReadAdminKeyFile(path)
	must(t, err)
	a, err := newAdminAuth(secret.New(""), read, time.Hour, time.Now)
	must(t, err)
	for range 2 { // the second time from the cache
		if !a.checkKey("a-long-admin-key-for-hashing") {
			t.Error("the key of the hash was refused")
		}
	}
	for _, k := range []string{"", "a-long-admin-key-for-hashinG", "wrong"} {
		if a.checkKey(k) {
			t.Errorf("key %q opened", k)
		}
	}
	must(t, os.WriteFile(path, []byte("plain-text-key\n"), 0o600))
	if _, err := ReadAdminKeyFile(path); err == nil || !strings.Contains(err.Error(), "htpasswd") {
		t.Errorf("a file without a hash: %v, want an error saying how to make one", err)
	}
	if _, err := newAdminAuth(secret.New("short"), "", time.Hour, time.Now); err == nil {
		t.Error("a 5-character admin key was taken")
	}
	if _, err := newAdminAuth(secret.New("a-long-admin-key-for-hashing"), read, time.Hour, time.Now); err == nil {
		t.Error("both a key and a hash were taken")
	}
	for _, tc := range []struct {
		key, hash, webhook string
		same               bool
	}{
		{"a-long-admin-key-for-hashing", "", "a-long-admin-key-for-hashing", true},
		{"a-long-admin-key-for-hashing", "", "another-long-webhook-key", false},
		{"", read, "a-long-admin-key-for-hashing", true},
		{"", read, "another-long-webhook-key", false},
		{"a-long-admin-key-for-hashing", "", "", false},
	} {
		if got := adminKeyIs(secret.New(tc.key), tc.hash, secret.New(tc.webhook)); got != tc.same {
			t.Errorf("adminKeyIs(key %q, hash %t, webhook key %q) = %v, want %v", tc.key, tc.hash != "", tc.webhook, got, tc.same)
		}
	}
}

// consoleSession signs in as a browser does and returns an edit that
// sends the session's cookie with a same-origin browser's headers, and
// the session's CSRF token for a form.
func (h *harness) consoleSession(t *testing.T) (func(*http.Request), string) {
	t.Helper()
	a := h.login(t, h.adminKey, nil)
	var sess sessionJSON
	decode(t, a, &sess)
	cookies := (&http.Response{Header: a.header}).Cookies()
	if len(cookies) != 1 {
		t.Fatalf("login set %d cookies, want 1: %v", len(cookies), a.header)
	}
	return func(r *http.Request) {
		r.AddCookie(cookies[0])
		r.Header.Set("Origin", h.base)
		r.Header.Set("Sec-Fetch-Site", "same-origin")
	}, sess.CSRFToken
}

// consolePage requests a console page as the signed-in browser, with
// form as its body when not nil, and returns the answer with the page's
// text unescaped.
func (h *harness) consolePage(t *testing.T, session func(*http.Request), method, path string, form url.Values) answer {
	t.Helper()
	a := h.request(t, method, path, form.Encode(), func(r *http.Request) {
		session(r)
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	})
	a.body = html.UnescapeString(a.body)
	return a
}

// The playground shows what POST /api/dry-run says of a body that is not
// an event, word for word: for broken JSON, the line and column of the
// problem; for a batch, how many events it holds.
func TestConsolePlaygroundShowsTheAPIsError(t *testing.T) {
	t.Parallel()
	h := start(t, options{rules: consoleRules})
	session, csrf := h.consoleSession(t)
	for _, tc := range []struct{ body, want string }{
		{`{"event":"message:in:new","data":{"id":"X","body":"hi"}`, "invalid JSON at line 1, column "},
		{"{\n  \"event\": \"message:in:new\",\n  \"data\": {\"id\": \"X\",}\n}", "invalid JSON at line 3, column "},
		{`{"data":{"id":"X"}}`, `missing "event" field`},
		// A message:out:failed delivery batches its items: the answer is
		// about one event, so the body names the batch, not "one event".
		{`[{"event":"message:out:failed","entityId":"A"},{"event":"message:out:failed","entityId":"B"}]`, "the body is a batch of 2 events (a JSON array): post one of its elements"},
	} {
		var api problem
		if a := h.admin(t, "POST", "/api/dry-run", tc.body); a.status != http.StatusBadRequest || json.Unmarshal([]byte(a.body), &api) != nil || !strings.Contains(api.Error, tc.want) {
			t.Fatalf("POST /api/dry-run %q: %d %s, want 400 with %q", tc.body, a.status, a.body, tc.want)
		}
		page := h.consolePage(t, session, "POST", "/ui/playground", url.Values{"csrf_token": {csrf}, "body": {tc.body}})
		if page.status != http.StatusOK || !strings.Contains(page.body, api.Error) {
			t.Errorf("the playground with %q: %d, want the API's error %q on the page:\n%s", tc.body, page.status, api.Error, page.body)
		}
		if !strings.Contains(page.body, tc.body) {
			t.Errorf("the playground with %q lost the pasted body", tc.body)
		}
	}
}

// sentRules are a digest with two actions and a timer rule, each due
// at the next minute.
const sentRules = `rules:
  - name: minute-joins
    on: group:update
    if: action == "add"
    digest: { key: "{{ data.chat.id }}", every: 1m }
    do:
      - webhook: { url: "@HOOK@/hook", body: { joins: "{{ digest.count }}" } }
      - webhook: { url: "@HOOK@/hook", body: { again: "{{ digest.count }}" } }
  - name: minute-report
    on: schedule
    schedule: { cron: "* * * * *" }
    do:
      - webhook: { url: "@HOOK@/hook", body: { at: "{{ schedule.time }}" } }
`

// A digest sent and a timer rule's tick are firings of their rules:
// /api/rules and the console's rules page count each once (however many
// actions it queued), beside the events the digest held. Their jobs say
// they come from a digest or a tick, and link to no event.
func TestRulesActivityCountsDigestsAndTicks(t *testing.T) {
	t.Parallel()
	// The store times jobs by the real clock: the daemon's stays near it.
	t0 := time.Now()
	c := newClock(t0)
	h := start(t, options{rules: sentRules, clock: c})
	eventually(t, "the timer's start recorded", func() bool {
		_, ok, err := h.d.store.GetState(context.Background(), h.d.snap.Load().rules.Rules[1].TimerScope(), "", c.Now())
		return err == nil && ok
	})
	h.accept(t, js(t, inChat("j1", "add", "g1@g.us", t0)))
	h.accept(t, js(t, inChat("j2", "add", "g1@g.us", t0)))
	c.set(t0.Truncate(time.Minute).Add(time.Minute + time.Second))
	h.waitHooks(t, 3) // the digest's two actions and the tick's one

	var rules RulesJSON
	decode(t, h.admin(t, "GET", "/api/rules", ""), &rules)
	want := map[string]string{"minute-joins": "fired 1/1 held 2", "minute-report": "fired 1/1 held 0"}
	for _, a := range rules.Activity {
		if got := fmt.Sprintf("fired %d/%d held %d", a.LastHour.Fired, a.LastDay.Fired, a.Held); got != want[a.Rule] {
			t.Errorf("/api/rules activity of %s: %s, want %s", a.Rule, got, want[a.Rule])
		}
	}
	session, _ := h.consoleSession(t)
	page := h.consolePage(t, session, "GET", "/ui/rules", nil)
	for _, rule := range []string{"minute-joins", "minute-report"} {
		row := `<tr data-rule="` + rule + `">` + "\n<td>" + rule + "</td>\n<td>1 / 0 / 0 / 0</td>\n<td>1 / 0 / 0 / 0</td>"
		if page.status != http.StatusOK || !strings.Contains(page.body, row) {
			t.Errorf("the rules page does not show %s fired once in the hour and the day:\n%s", rule, page.body)
		}
	}

	// Their jobs come from no event: the API says from what, and the
	// jobs page links them to no event page.
	var jobs struct {
		Jobs []JobJSON `json:"jobs"`
	}
	decode(t, h.admin(t, "GET", "/api/jobs", ""), &jobs)
	sources := map[string]int{}
	for _, j := range jobs.Jobs {
		sources[j.Source]++
	}
	if sources["digest"] != 2 || sources["tick"] != 1 || len(sources) != 2 {
		t.Errorf("the jobs' sources: %v, want 2 digest and 1 tick", sources)
	}
	page = h.consolePage(t, session, "GET", "/ui/jobs?state=all", nil)
	if strings.Contains(page.body, `href="/ui/events/`) || strings.Count(page.body, "(digest)") != 2 || strings.Count(page.body, "(tick)") != 1 {
		t.Errorf("the jobs page links a digest's or a tick's job to an event, or does not say what it came from:\n%s", page.body)
	}
}

// linkRules queue a job for every message and every group change.
const linkRules = consoleRules + `  - name: settings
    on: group:update
    do:
      - webhook:
          url: "@HOOK@/hook"
          body: {id: "{{ id }}"}
`

// hrefs are the targets of the links of a page (as consolePage
// unescapes it) that match pattern, a regular expression.
func hrefs(page, pattern string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`href="(`+pattern+`)"`).FindAllStringSubmatch(page, -1) {
		out = append(out, m[1])
	}
	return out
}

// The console's links lead where they say, as a browser follows them:
// "Older events" to the next 50 events (and on, with the filter); each
// event's link, on the events and the jobs pages, to that event, also a
// group settings change whose key holds an empty part (restrict//true);
// an event's "open in the playground" to the playground with it.
func TestConsoleLinksOpenTheirPages(t *testing.T) {
	t.Parallel()
	h := start(t, options{rules: linkRules})
	raw, err := os.ReadFile(filepath.Join("..", "testdata", "events", "group-update", "restrict.json"))
	if err != nil {
		t.Fatal(err)
	}
	h.accept(t, string(raw))
	const n = 60
	for i := range n {
		h.accept(t, js(t, messageEvent(fmt.Sprintf("LINK-%02d", i), "hi")))
	}
	session, _ := h.consoleSession(t)

	// Paging: the newest 50 messages, then the 10 older ones.
	seen := map[string]bool{}
	next := "/ui/events?event=message:*"
	for pages := 1; next != ""; pages++ {
		page := h.consolePage(t, session, "GET", next, nil)
		if page.status != http.StatusOK || pages > 2 {
			t.Fatalf("page %d (%s): %d, want 2 pages:\n%s", pages, next, page.status, page.body)
		}
		for _, m := range regexp.MustCompile(`data-key="message:in:new/(LINK-\d+)/`).FindAllStringSubmatch(page.body, -1) {
			if seen[m[1]] {
				t.Fatalf("page %d (%s) lists %s again", pages, next, m[1])
			}
			seen[m[1]] = true
		}
		next = ""
		if older := hrefs(page.body, `/ui/events\?[^"]*cursor[^"]*`); len(older) == 1 {
			next = older[0]
		}
	}
	if len(seen) != n {
		t.Errorf("the pages list %d of the %d messages", len(seen), n)
	}

	// Each event's link opens it, from the events and the jobs pages.
	settings := "group:update/3EB0FBD5A307156FB3/restrict//true/on:61b37a069cba0c15d6c7"
	h.eventDetail(t, settings)
	for _, list := range []string{"/ui/events?event=group:*", "/ui/jobs?state=all"} {
		links := hrefs(h.consolePage(t, session, "GET", list, nil).body, `/ui/events/[^"]+`)
		if len(links) == 0 {
			t.Fatalf("%s links to no event", list)
		}
		for _, l := range links {
			page := h.consolePage(t, session, "GET", l, nil)
			if page.status != http.StatusOK || !strings.Contains(page.body, "<h1>group:update (restrict)</h1>") && !strings.Contains(page.body, "<h1>message:in:new</h1>") {
				t.Errorf("%s: the link %s answers %d, not the event:\n%.600s", list, l, page.status, page.body)
			}
		}
		if !slices.ContainsFunc(links, func(l string) bool { return strings.Contains(l, "restrict") }) {
			t.Errorf("%s has no link to %s: %v", list, settings, links)
		}
	}

	// The event page's link to the playground loads the event there.
	links := hrefs(h.consolePage(t, session, "GET", "/ui/events/"+url.PathEscape(settings), nil).body, `/ui/playground\?[^"]+`)
	if len(links) != 1 {
		t.Fatalf("the event page has %d links to the playground, want 1", len(links))
	}
	page := h.consolePage(t, session, "GET", links[0], nil)
	if page.status != http.StatusOK || strings.Contains(page.body, `id="error"`) || !strings.Contains(page.body, `"id": "3EB0FBD5A307156FB3"`) {
		t.Errorf("the playground link %s does not load the event:\n%s", links[0], page.body)
	}
}

// Ending a mute that has ended already (in another tab, by its end
// time, with hookd mute end) goes back to the rules page and says so;
// it is no dead end.
func TestConsoleEndMuteTwice(t *testing.T) {
	t.Parallel()
	h := start(t, options{rules: consoleRules})
	var m MuteJSON
	if a := h.admin(t, "POST", "/api/mutes", `{"rule":"forward","for":"1h","reason":"test"}`); a.status != http.StatusCreated || json.Unmarshal([]byte(a.body), &m) != nil {
		t.Fatalf("POST /api/mutes: %d %s", a.status, a.body)
	}
	session, csrf := h.consoleSession(t)
	end := fmt.Sprintf("/ui/mutes/%d/end", m.ID)
	for i, want := range []string{`<p id="msg" role="status"><ins>mute 1 ended`, `<p id="error" role="alert"><mark>store: no such mute`} {
		a := h.consolePage(t, session, "POST", end, url.Values{"csrf_token": {csrf}})
		if a.status != http.StatusOK || !strings.Contains(a.body, "<h1>Rules</h1>") || !strings.Contains(a.body, want) {
			t.Errorf("end the mute, time %d: %d, want the rules page with %q:\n%s", i+1, a.status, want, a.body)
		}
	}
}

// A console address that is no page answers a page, not the API's
// JSON: the sign-in form's address (reloaded after a wrong key) goes to
// the sign-in page, any other says there is no such page.
func TestConsoleUnknownPages(t *testing.T) {
	t.Parallel()
	h := start(t, options{rules: consoleRules})
	session, _ := h.consoleSession(t)
	if a := h.request(t, "GET", "/ui/signin", "", nil); a.status != http.StatusOK || !strings.Contains(a.body, `<form method="post" action="/ui/signin" id="login">`) {
		t.Errorf("GET /ui/signin: %d, want the sign-in page:\n%s", a.status, a.body)
	}
	a := h.consolePage(t, session, "GET", "/ui/event", nil)
	if a.status != http.StatusNotFound || !strings.HasPrefix(a.header.Get("Content-Type"), "text/html") || !strings.Contains(a.body, "no console page /ui/event") {
		t.Errorf("GET /ui/event: %d %s %s, want 404 and a page that says so", a.status, a.header.Get("Content-Type"), a.body)
	}
	var s sessionJSON
	decode(t, h.request(t, "GET", "/ui/session", "", session), &s)
	if s.CSRFToken == "" {
		t.Error("GET /ui/session: no CSRF token")
	}
}

// A wrong path or method of the admin API says what to use, not that
// Wassenger sends POST.
func TestAdminWrongPathOrMethod(t *testing.T) {
	t.Parallel()
	h := start(t, options{rules: consoleRules})
	for _, tc := range []struct{ method, path, want string }{
		{"POST", "/api/events", "method POST not allowed on /api/events: use GET"},
		{"PUT", "/api/rules", "method PUT not allowed on /api/rules: use GET"},
		{"GET", "/api/event", "no admin API path /api/event"},
		{"GET", "/webhooks/wassenger", "Wassenger sends POST"},
		{"GET", "/nothing", "webhooks go to POST /webhooks/wassenger"},
	} {
		var p problem
		a := h.admin(t, tc.method, tc.path, "")
		if a.status/100 != 4 || json.Unmarshal([]byte(a.body), &p) != nil || !strings.Contains(p.Error, tc.want) {
			t.Errorf("%s %s: %d %s, want a 4xx saying %q", tc.method, tc.path, a.status, a.body, tc.want)
		}
	}
}

// A secret typed into a mute's reason is masked in the mutes' answers,
// on the rules page and in the log, as in every other admin answer.
func TestMuteAnswersMaskSecrets(t *testing.T) {
	t.Parallel()
	h := start(t, options{rules: consoleRules})
	reason := "token " + h.waToken + " and key " + h.key + " in a chat"
	seen := []answer{h.admin(t, "POST", "/api/mutes", js(t, MuteRequest{Rule: "forward", For: "1h", Reason: reason}))}
	seen = append(seen, h.admin(t, "GET", "/api/mutes?all=true", ""))
	session, csrf := h.consoleSession(t)
	seen = append(seen, h.consolePage(t, session, "GET", "/ui/rules", nil))
	seen = append(seen, h.admin(t, "DELETE", "/api/mutes/1", ""))
	seen = append(seen, h.consolePage(t, session, "POST", "/ui/mutes", url.Values{"csrf_token": {csrf}, "rule": {"forward"}, "for": {"1h"}, "reason": {reason}}))
	for i, a := range seen {
		if a.status/100 != 2 || !strings.Contains(a.body, "token "+secret.Mask+" and key "+secret.Mask) {
			t.Errorf("answer %d: %d, want the reason with its secrets masked:\n%s", i, a.status, a.body)
		}
	}
	if logs := h.logs.String(); strings.Contains(logs, h.waToken) || strings.Contains(logs, h.key) {
		t.Errorf("a log line shows the reason's secrets:\n%s", logs)
	}
}

// A session ends 12 hours after sign-in: its pages go to the sign-in
// page (and back after), its forms change nothing, and the API answers
// 401 saying to sign in again.
func TestConsoleSessionExpires(t *testing.T) {
	t.Parallel()
	t0 := time.Now()
	c := newClock(t0)
	h := start(t, options{rules: consoleRules, clock: c})
	session, csrf := h.consoleSession(t)
	if a := h.consolePage(t, session, "GET", "/ui/jobs?state=all", nil); a.status != http.StatusOK || !strings.Contains(a.body, `id="bulk"`) {
		t.Fatalf("the jobs page before the session ends: %d", a.status)
	}
	c.set(t0.Add(DefaultSessionTTL + time.Second))
	if a := h.consolePage(t, session, "GET", "/ui/jobs?state=all", nil); a.status != http.StatusOK || !strings.Contains(a.body, `<input type="hidden" name="next" value="/ui/jobs?state=all">`) {
		t.Errorf("the jobs page after the session ended: %d, want the sign-in page back to it:\n%s", a.status, a.body)
	}
	if a := h.consolePage(t, session, "POST", "/ui/mutes", url.Values{"csrf_token": {csrf}, "rule": {"forward"}, "for": {"1h"}, "reason": {"late"}}); !strings.Contains(a.body, `id="login"`) || len(h.store(t).mutes(t)) != 0 {
		t.Errorf("a mute after the session ended: %d, want the sign-in page and no mute:\n%s", a.status, a.body)
	}
	var p problem
	if a := h.request(t, "GET", "/api/events", "", session); a.status != http.StatusUnauthorized || json.Unmarshal([]byte(a.body), &p) != nil || p.Error != sessionExpired {
		t.Errorf("GET /api/events after the session ended: %d %s, want 401 %q", a.status, a.body, sessionExpired)
	}
}

// A form loaded before this browser signed in again carries the old
// session's token: it changes nothing, and the page says why and what
// to do, in a user's words.
func TestConsoleStaleForm(t *testing.T) {
	t.Parallel()
	h := start(t, options{rules: consoleRules})
	_, oldToken := h.consoleSession(t)
	session, _ := h.consoleSession(t) // signed in again: a new cookie
	a := h.consolePage(t, session, "POST", "/ui/mutes", url.Values{"csrf_token": {oldToken}, "rule": {"forward"}, "for": {"1h"}, "reason": {"stale"}})
	if a.status != http.StatusForbidden || !strings.Contains(a.body, "Nothing was changed") || !strings.Contains(a.body, "reload the page and try again") {
		t.Errorf("a stale form: %d, want 403 and a page that says to reload:\n%s", a.status, a.body)
	}
	if m := h.store(t).mutes(t); len(m) != 0 {
		t.Errorf("a stale form made a mute: %+v", m)
	}
}

// A job operation on ids of no job answers 404, as GET does; on a job in
// the wrong state, 409, naming apart the ids of no job at all.
func TestJobOpUnknownID(t *testing.T) {
	t.Parallel()
	h := start(t, options{rules: consoleRules})
	h.accept(t, js(t, messageEvent("OP-1", "hi")))
	eventually(t, "job 1 done", func() bool {
		jobs := h.jobs(t)
		return len(jobs) == 1 && jobs[0].ID == 1 && jobs[0].State == store.StateDone
	})
	for _, tc := range []struct {
		method, path, body string
		want               int
		says               string
	}{
		{"POST", "/api/jobs/999999/retry", "", http.StatusNotFound, "no job with id 999999"},
		{"POST", "/api/jobs/999999/cancel", "", http.StatusNotFound, "no job with id 999999"},
		{"DELETE", "/api/jobs/999999", "", http.StatusNotFound, "no job with id 999999"},
		{"POST", "/api/jobs/1/retry", "", http.StatusConflict, "no dead letter with id 1"},
		{"POST", "/api/jobs/1/cancel", "", http.StatusConflict, "no pending job with id 1"},
		{"POST", "/api/jobs/retry", `{"ids":[999998,999999]}`, http.StatusNotFound, "no job with id 999998, 999999"},
		{"POST", "/api/jobs/delete", `{"ids":[999999]}`, http.StatusNotFound, "no job with id 999999"},
		{"POST", "/api/jobs/retry", `{"ids":[1,999999]}`, http.StatusConflict, "no dead letter with id 1, and no job at all with id 999999"},
	} {
		if a := h.admin(t, tc.method, tc.path, tc.body); a.status != tc.want || !strings.Contains(a.body, tc.says) {
			t.Errorf("%s %s %s: %d %s, want %d saying %q", tc.method, tc.path, tc.body, a.status, a.body, tc.want, tc.says)
		}
	}
}
