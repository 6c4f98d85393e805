package daemon

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/testbackend"
)

// The API shows event data, so it needs the admin key (never the
// webhook key: TestAdminAccess tries every route); /healthz and /metrics
// do not.
func TestAPIAccess(t *testing.T) {
	t.Parallel()
	testbackend.Each(t, func(t *testing.T, backend string) {
		h := start(t, options{backend: backend, rules: welcomeRules, key: "api-key-for-tests", adminKey: "admin-key-for-api-tests"})
		h.accept(t, js(t, groupEvent("API-1", "remove")))
		for _, tc := range []struct {
			path  string
			edit  func(*http.Request)
			want  int
			about string
		}{
			{"/api/events", nil, http.StatusUnauthorized, "no key"},
			{"/api/events?key=api-key-for-tests", nil, http.StatusUnauthorized, "webhook key in the query"},
			{"/api/events", func(r *http.Request) { r.Header.Set("X-Hookd-Key", "api-key-for-tests") }, http.StatusUnauthorized, "webhook key in the header"},
			{"/api/events", func(r *http.Request) { r.Header.Set(AdminKeyHeader, "wrong") }, http.StatusUnauthorized, "wrong admin key"},
			{"/api/events", func(r *http.Request) { r.Header.Set(AdminKeyHeader, "admin-key-for-api-tests") }, http.StatusOK, "admin key in the header"},
			{"/api/events", func(r *http.Request) { r.Header.Set("Authorization", "Bearer admin-key-for-api-tests") }, http.StatusOK, "admin bearer key"},
			{"/api/rules", nil, http.StatusUnauthorized, "no key"},
			{"/api/rules", func(r *http.Request) { r.Header.Set("Authorization", "Bearer api-key-for-tests") }, http.StatusUnauthorized, "webhook key as bearer"},
			{"/api/rules", func(r *http.Request) { r.Header.Set(AdminKeyHeader, "admin-key-for-api-tests") }, http.StatusOK, "admin key"},
			{"/healthz", nil, http.StatusOK, "no key"},
			{"/metrics", nil, http.StatusOK, "no key"},
			{"/api/nothing", nil, http.StatusNotFound, "unknown path"},
		} {
			t.Run(tc.path+" "+tc.about, func(t *testing.T) {
				req, err := http.NewRequest(http.MethodGet, h.base+tc.path, nil)
				if err != nil {
					t.Fatal(err)
				}
				if tc.edit != nil {
					tc.edit(req)
				}
				a := do(t, req)
				if a.status != tc.want {
					t.Errorf("status %d (%s), want %d", a.status, a.body, tc.want)
				}
				// A refusal says which key opens the API, never the key.
				if a.status == http.StatusUnauthorized && (!strings.Contains(a.body, "HOOKD_ADMIN_KEY") || strings.Contains(a.body, "admin-key-for-api-tests")) {
					t.Errorf("401 body %s does not say to send HOOKD_ADMIN_KEY, or holds the key", a.body)
				}
			})
		}
		if evs := h.events(t); len(evs) != 1 || evs[0].ID != "API-1" || evs[0].Event != "group:update" {
			t.Errorf("/api/events = %+v, want API-1", evs)
		}
		if st := h.rulesStatus(t); st.Rules != 1 || st.Names[0] != "welcome" || st.File != h.rulesPath || st.LastError != "" {
			t.Errorf("/api/rules = %+v, want the one rule of %s", st, h.rulesPath)
		}
	})
}

// POST /api/dry-run says what the daemon would record: a rule muted as a
// whole, or for the key of the event, is "muted", with no actions, and
// the daemon then records the same event's match of it as muted; a key
// that is not muted still fires. The mutes are in the store, which the
// sqlite backend is enough to read (TestMutesThroughTheAPI runs both).
func TestAPIDryRunShowsMutes(t *testing.T) {
	t.Parallel()
	t0 := time.Now().Truncate(time.Second)
	h := start(t, options{rules: muteRules, clock: newClock(t0)})
	for _, body := range []string{
		`{"rule":"welcome","for":"2h","reason":"migration","by":"ana"}`,
		`{"rule":"removal-alert","key":"g1@g.us","for":"30m","reason":"noisy group"}`,
	} {
		if st := h.apiCall(t, "POST", "/api/mutes", body, nil); st != http.StatusCreated {
			t.Fatalf("POST /api/mutes %s: %d", body, st)
		}
	}
	type rule struct {
		Rule    string         `json:"rule"`
		Outcome string         `json:"outcome"`
		Reason  string         `json:"reason"`
		Actions []RenderedJSON `json:"actions"`
		State   *StateJSON     `json:"state"`
	}
	for _, tc := range []struct {
		id, action, chat string
		rule, outcome    string
		reason           string
	}{
		{"D1", "add", "g1@g.us", "welcome", "muted", "the rule is muted until " + t0.Add(2*time.Hour).UTC().Format(time.RFC3339)},
		{"D2", "remove", "g1@g.us", "removal-alert", "muted", "key g1@g.us of the rule is muted until " + t0.Add(30*time.Minute).UTC().Format(time.RFC3339)},
		{"D3", "remove", "g2@g.us", "removal-alert", "fired", ""},
	} {
		ev := js(t, inChat(tc.id, tc.action, tc.chat, t0))
		var dry struct{ Rules []rule }
		decode(t, h.admin(t, "POST", "/api/dry-run", ev), &dry)
		i := slices.IndexFunc(dry.Rules, func(r rule) bool { return r.Rule == tc.rule })
		if i < 0 {
			t.Fatalf("%s: dry-run %+v has no rule %s", tc.id, dry, tc.rule)
		}
		got := dry.Rules[i]
		if got.Outcome != tc.outcome {
			t.Errorf("%s: %s outcome %q (%s), want %q", tc.id, tc.rule, got.Outcome, got.Reason, tc.outcome)
		}
		if tc.outcome == "muted" && (len(got.Actions) != 0 || got.State != nil || !strings.HasPrefix(got.Reason, tc.reason)) {
			t.Errorf("%s: muted %s: reason %q, actions %v, state %+v; want the reason to start %q, no actions, no state", tc.id, tc.rule, got.Reason, got.Actions, got.State, tc.reason)
		}
		if tc.outcome == "fired" && len(got.Actions) != 1 {
			t.Errorf("%s: %s fired with actions %v, want its webhook", tc.id, tc.rule, got.Actions)
		}

		// The daemon records the event as the dry-run said.
		h.accept(t, ev)
		rules, muted := h.eventRules(t, tc.id)
		want := []string{tc.rule}
		if tc.outcome == "muted" && (len(rules) != 0 || !slices.Equal(muted, want)) ||
			tc.outcome == "fired" && (!slices.Equal(rules, want) || len(muted) != 0) {
			t.Errorf("%s: the daemon recorded rules %v muted %v; the dry-run said %s %s", tc.id, rules, muted, tc.rule, tc.outcome)
		}
	}
}

// A parameter the API cannot read is a 400 that names it, not a default
// taken in silence: ?body=1 would otherwise give a page without payloads
// and ?all=yes the mutes in force only.
func TestAPIBadParameters(t *testing.T) {
	t.Parallel()
	h := start(t, options{rules: welcomeRules, adminKey: "admin-key-for-api-tests"})
	for _, tc := range []struct {
		path string
		want int
		says string
	}{
		{"/api/events?limit=abc", http.StatusBadRequest, "limit"},
		{"/api/events?state=sleeping", http.StatusBadRequest, "state"},
		{"/api/events?body=1", http.StatusBadRequest, "body"},
		{"/api/events?body=yes", http.StatusBadRequest, "body"},
		{"/api/events?body=true", http.StatusOK, ""},
		{"/api/events?body=false", http.StatusOK, ""},
		{"/api/events?cursor=garbage", http.StatusBadRequest, "cursor"},
		{"/api/events?event=group:%5Bupdate", http.StatusBadRequest, "pattern"},
		{"/api/mutes?all=yes", http.StatusBadRequest, "all"},
		{"/api/mutes?all=true", http.StatusOK, ""},
		{"/api/mutes?all=false", http.StatusOK, ""},
		{"/api/mutes", http.StatusOK, ""},
	} {
		t.Run(tc.path, func(t *testing.T) {
			a := h.admin(t, http.MethodGet, tc.path, "")
			if a.status != tc.want || !strings.Contains(a.body, tc.says) {
				t.Errorf("status %d (%s), want %d naming %q", a.status, a.body, tc.want, tc.says)
			}
		})
	}
}
