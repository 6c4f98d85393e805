package daemon

import (
	"net/http"
	"testing"

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
				if a := do(t, req); a.status != tc.want {
					t.Errorf("status %d (%s), want %d", a.status, a.body, tc.want)
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
