package ui

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
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
