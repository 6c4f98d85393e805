package ui

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// After sign-in and after a form, the console goes to its own pages
// only: never to another site.
func TestRedirectsStayInTheConsole(t *testing.T) {
	for _, tc := range []struct{ given, want string }{
		{"/ui/jobs?state=dead", "/ui/jobs?state=dead"},
		{"/ui/events/message:in:new/X", "/ui/events/message:in:new/X"},
		{"", "/ui/events"},
		{"https://evil.example/ui/", "/ui/events"},
		{"//evil.example/ui/", "/ui/events"},
		{"/ui/\\evil.example", "/ui/events"},
		{"/api/jobs", "/ui/events"},
	} {
		if got := nextOf(tc.given); got != tc.want {
			t.Errorf("nextOf(%q) = %q, want %q", tc.given, got, tc.want)
		}
		r := httptest.NewRequest("POST", "/ui/jobs", strings.NewReader(url.Values{"back": {tc.given}}.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if got := back(r, "/ui/events"); got != tc.want {
			t.Errorf("back(%q) = %q, want %q", tc.given, got, tc.want)
		}
	}
}

// The embedded templates parse, and the pages without data render.
func TestPagesParse(t *testing.T) {
	c, err := New(http.NotFoundHandler())
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]any{"error": nil, "login": "/ui/events"} {
		rec := httptest.NewRecorder()
		c.render(rec, 200, name, page{Title: "t", Error: "<b>x</b>", Data: data})
		if body := rec.Body.String(); rec.Code != 200 || !strings.Contains(body, "<main>") || !strings.Contains(body, "&lt;b&gt;x&lt;/b&gt;") {
			t.Errorf("page %s: %d %s", name, rec.Code, body)
		}
	}
}

// TestRulesPageNodes: on a cluster the rules page lists the nodes and
// marks one that runs other rules; on one node it has no such table.
func TestRulesPageNodes(t *testing.T) {
	c, err := New(http.NotFoundHandler())
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	cluster := rulesData{Rules: rules{Version: "v1", Nodes: []node{
		{Name: "hookd-1", RulesVersion: "v1", RulesLoaded: at, SeenAt: at},
		{Name: "hookd-2", RulesVersion: "v2", RulesLoaded: at, SeenAt: at},
	}}}
	for _, tt := range []struct {
		name string
		data rulesData
		want []string
		not  []string
	}{
		{"cluster", cluster, []string{`data-node="hookd-1" data-same="true"`, `data-node="hookd-2" data-same="false"`, "other rules than this node"}, nil},
		{"one node", rulesData{Rules: rules{Version: "v1"}}, nil, []string{`id="nodes"`}},
	} {
		body := renderPage(t, c, tt.name, "rules", page{Title: "Rules", Data: tt.data}, tt.want, tt.not)
		if n := strings.Count(body, "other rules than this node"); tt.name == "cluster" && n != 1 {
			t.Errorf("%s: %d nodes marked as running other rules, want 1", tt.name, n)
		}
	}
}

// With no rules and no events, each page says so instead of showing an
// empty table, list or result.
func TestEmptyStates(t *testing.T) {
	c, err := New(http.NotFoundHandler())
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		data any
		want []string
		not  []string
	}{
		{"rules", rulesData{}, []string{"No rules are running: the rules file has none."}, []string{`id="mute"`}},
		{"playground", &playgroundData{Result: &dryRun{Event: "message:in:new"}},
			[]string{"No recorded events yet: paste one below.", "No rules are running: the rules file has none."}, []string{`id="pick"`}},
		{"event", &eventData{Explain: &dryRun{}}, []string{"No actions ran for this event.", "No rules are running: the rules file has none."}, nil},
	} {
		renderPage(t, c, tt.name, tt.name, page{Title: tt.name, CSRF: "t", Data: tt.data}, tt.want, tt.not)
	}
}

// renderPage renders the page name with p and checks that it holds
// each of want and none of not; what names the case.
func renderPage(t *testing.T, c *Console, what, name string, p page, want, not []string) string {
	t.Helper()
	rec := httptest.NewRecorder()
	c.render(rec, 200, name, p)
	body := rec.Body.String()
	for _, s := range want {
		if !strings.Contains(body, s) {
			t.Errorf("%s: the page lacks %q:\n%s", what, s, body)
		}
	}
	for _, s := range not {
		if strings.Contains(body, s) {
			t.Errorf("%s: the page has %q", what, s)
		}
	}
	return body
}

// The playground's list of recorded events tells apart events of one
// kind and second (the acks of a message: one id, each its own key).
func TestPlaygroundPickShowsKeys(t *testing.T) {
	c, err := New(http.NotFoundHandler())
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	d := &playgroundData{Recent: []event{
		{ID: "3EB0A1", Key: "message:out:ack/3EB0A1/delivered", Event: "message:out:ack", ReceivedAt: at},
		{ID: "3EB0A1", Key: "message:out:ack/3EB0A1/read", Event: "message:out:ack", ReceivedAt: at},
	}}
	renderPage(t, c, "playground", "playground", page{Title: "Playground", CSRF: "t", Data: d},
		[]string{`<option value="message:out:ack/3EB0A1/delivered">2026-12-04 09:00:00Z message:out:ack/3EB0A1/delivered</option>`,
			`<option value="message:out:ack/3EB0A1/read">2026-12-04 09:00:00Z message:out:ack/3EB0A1/read</option>`}, nil)
}
