package webhook

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/actions"
	"github.com/hookd/hookd/actions/httpx"
	"github.com/hookd/hookd/internal/standin"
)

const sentinel = "SENTINEL-WEBHOOK-3e9a"

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func recorder(t *testing.T) *standin.Recorder {
	rec := standin.NewRecorder()
	t.Cleanup(rec.Close)
	return rec
}

func call(params map[string]any) actions.Call {
	return actions.Call{Type: Type, Name: "r/webhook[0]", Params: params, Reference: "hookd:EV:r:0"}
}

func TestSend(t *testing.T) {
	tests := []struct {
		name        string
		params      map[string]any
		path        string
		method      string
		contentType string
		body        string
		header      map[string]string
	}{
		{"string body", map[string]any{"body": "hello <world>"}, "/hook", "POST", "text/plain; charset=utf-8", "hello <world>", nil},
		{"json object", map[string]any{"body": map[string]any{"b": []any{1, "x"}, "a": "<&>"}}, "/hook", "POST", "application/json", `{"a":"<&>","b":[1,"x"]}`, nil},
		{"json array", map[string]any{"body": []any{"+1", "+2"}, "method": "delete"}, "/hook", "DELETE", "application/json", `["+1","+2"]`, nil},
		{"json number", map[string]any{"body": 42, "method": "PUT"}, "/hook", "PUT", "application/json", `42`, nil},
		{"string with own content type", map[string]any{"body": `<x/>`, "headers": map[string]any{"Content-Type": "application/xml"}}, "/hook", "POST", "application/xml", `<x/>`, nil},
		{"headers", map[string]any{"headers": map[string]string{"X-Event": "group:update", "Authorization": "Bearer abc"}, "body": map[string]any{}},
			"/hook", "POST", "application/json", `{}`, map[string]string{"X-Event": "group:update", "Authorization": "Bearer abc", "User-Agent": "hookd"}},
		{"get without body", map[string]any{"method": "GET"}, "/hook", "GET", "", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := recorder(t)
			p := map[string]any{"url": rec.URL() + "/hook?q=1"}
			for k, v := range tt.params {
				p[k] = v
			}
			c := New(nil, Options{})
			r := c.Do(ctxT(t), call(p))
			if !r.OK() || r.Response != "200 OK ok" {
				t.Fatalf("Do = %+v", r)
			}
			reqs := rec.Requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests", len(reqs))
			}
			got := reqs[0]
			if got.Method != tt.method || got.Path != tt.path || got.Query.Get("q") != "1" {
				t.Errorf("sent %s %s?%s", got.Method, got.Path, got.Query.Encode())
			}
			if ct := got.Header.Get("Content-Type"); ct != tt.contentType {
				t.Errorf("Content-Type %q, want %q", ct, tt.contentType)
			}
			if string(got.Body) != tt.body {
				t.Errorf("body %q, want %q", got.Body, tt.body)
			}
			for k, v := range tt.header {
				if got.Header.Get(k) != v {
					t.Errorf("header %s = %q, want %q", k, got.Header.Get(k), v)
				}
			}
		})
	}
}

func TestInvalid(t *testing.T) {
	rec := recorder(t)
	tests := []struct {
		name   string
		params map[string]any
		errHas string
	}{
		{"no url", map[string]any{}, "not an http(s) URL"},
		{"ftp", map[string]any{"url": "ftp://example.com/x"}, "not an http(s) URL"},
		{"relative", map[string]any{"url": "/hook"}, "not an http(s) URL"},
		{"no host", map[string]any{"url": "http:///x"}, "not an http(s) URL"},
		{"file", map[string]any{"url": "file:///etc/passwd"}, "not an http(s) URL"},
		{"secret in a bad url stays hidden", map[string]any{"url": "ftp://u:" + sentinel + "@x/"}, "<secret>"},
		{"method", map[string]any{"url": rec.URL(), "method": "TRACE"}, "method"},
		{"headers", map[string]any{"url": rec.URL(), "headers": []any{"x"}}, "headers must be a map"},
		{"body", map[string]any{"url": rec.URL(), "body": map[string]any{"f": func() {}}}, "cannot be sent as JSON"},
	}
	c := New(nil, Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := c.Do(ctxT(t), call(tt.params))
			if r.OK() || r.Retryable || r.Reason != "invalid" || !strings.Contains(r.Err.Error(), tt.errHas) {
				t.Errorf("Do = %+v, want invalid saying %q", r, tt.errHas)
			}
			if strings.Contains(r.Err.Error(), sentinel) {
				t.Errorf("error shows a secret: %v", r.Err)
			}
			if _, err := c.Describe(call(tt.params)); err == nil {
				t.Errorf("Describe accepted it")
			}
		})
	}
	if n := rec.Count(); n != 0 {
		t.Errorf("%d requests sent", n)
	}
}

func TestFailures(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		header     http.Header
		body       string
		reason     string
		retryable  bool
		retryAfter time.Duration
		err        string
	}{
		{"429", 429, http.Header{"Retry-After": {"5"}}, "slow", "http_429", true, 5 * time.Second, ": 429 Too Many Requests: slow; retryable"},
		{"503", 503, nil, "", "http_5xx", true, 0, ": 503 Service Unavailable; the target failed; retryable"},
		{"404", 404, nil, "no_service", "http_4xx", false, 0, ": 404 Not Found: no_service; check the URL or path"},
		{"410", 410, nil, "channel_is_archived", "http_4xx", false, 0, ": 410 Gone: channel_is_archived"},
		{"echo of a secret", 400, nil, "bad header Bearer " + sentinel, "http_4xx", false, 0, ": 400 Bad Request: bad header Bearer <secret>"},
		{"echo of a secret at the snippet's cut", 400, nil, strings.Repeat("x", httpx.SnippetLen-10) + " " + sentinel, "http_4xx", false, 0,
			": 400 Bad Request: " + strings.Repeat("x", httpx.SnippetLen-10) + " <secret>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := recorder(t)
			rec.FailNext(1, tt.status, tt.header, tt.body)
			c := New(nil, Options{})
			r := c.Do(ctxT(t), call(map[string]any{
				"url":     rec.URL() + "/hook?token=" + sentinel,
				"headers": map[string]string{"Authorization": "Bearer " + sentinel},
			}))
			if r.OK() || r.Reason != tt.reason || r.Retryable != tt.retryable || r.RetryAfter != tt.retryAfter {
				t.Errorf("Do = %+v", r)
			}
			want := "webhook: POST " + rec.URL() + "/hook?token=<secret>" + tt.err
			if r.Err == nil || r.Err.Error() != want {
				t.Errorf("error\n got %v\nwant %s", r.Err, want)
			}
			if got := rec.Requests()[0]; !got.Failed || got.Status != tt.status {
				t.Errorf("recorded %+v", got)
			}
		})
	}
}

func TestTimeout(t *testing.T) {
	rec := recorder(t)
	rec.HangNext(1)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	r := New(nil, Options{}).Do(ctx, call(map[string]any{"url": rec.URL() + "/services/T1/B2/" + sentinel}))
	if r.Reason != "timeout" || !r.Retryable {
		t.Errorf("Do = %+v", r)
	}
	if strings.Contains(r.Err.Error(), sentinel) || !strings.Contains(r.Err.Error(), "/services/<secret>") {
		t.Errorf("error %v", r.Err)
	}
}

func TestRedirects(t *testing.T) {
	other := recorder(t)
	rec := recorder(t)
	c := New(nil, Options{})

	rec.FailNext(1, http.StatusFound, http.Header{"Location": {other.URL() + "/elsewhere?key=" + sentinel}}, "")
	r := c.Do(ctxT(t), call(map[string]any{"url": rec.URL() + "/hook", "body": map[string]any{"a": 1}}))
	if r.OK() || r.Retryable || r.Reason != "http_3xx" {
		t.Fatalf("redirect to another host: %+v", r)
	}
	if !strings.Contains(r.Err.Error(), "redirects to "+other.URL()+"/elsewhere?key=<secret>") || strings.Contains(r.Err.Error(), sentinel) {
		t.Errorf("error %v", r.Err)
	}
	if n := other.Count(); n != 0 {
		t.Errorf("the other host got %d requests", n)
	}

	// A 308 to the same host keeps the method and body: followed.
	rec.FailNext(1, http.StatusPermanentRedirect, http.Header{"Location": {"/moved"}}, "")
	r = c.Do(ctxT(t), call(map[string]any{"url": rec.URL() + "/hook", "body": map[string]any{"a": 1}}))
	if !r.OK() {
		t.Fatalf("same-host 308: %+v", r)
	}
	reqs := rec.Requests()
	last := reqs[len(reqs)-1]
	if last.Path != "/moved" || last.Method != "POST" || string(last.Body) != `{"a":1}` {
		t.Errorf("followed redirect sent %s %s %s", last.Method, last.Path, last.Body)
	}
}

func TestRateLimitPerHost(t *testing.T) {
	a, b := recorder(t), recorder(t)
	c := New(&actions.WebhookConfig{Rate: 0.001}, Options{})
	if r := c.Do(ctxT(t), call(map[string]any{"url": a.URL()})); !r.OK() {
		t.Fatalf("first call to a: %+v", r)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if r := c.Do(ctx, call(map[string]any{"url": a.URL() + "/again"})); r.Reason != "timeout" || !r.Retryable {
		t.Errorf("second call to a within the rate: %+v", r)
	}
	if r := c.Do(ctx, call(map[string]any{"url": b.URL()})); !r.OK() {
		t.Errorf("call to b blocked by a's rate: %+v", r)
	}
	if a.Count() != 1 || b.Count() != 1 {
		t.Errorf("a got %d, b got %d requests", a.Count(), b.Count())
	}
}

func TestDescribe(t *testing.T) {
	c := New(nil, Options{})
	got, err := c.Describe(call(map[string]any{
		"url":     "https://user:" + sentinel + "@hooks.example.test/in?sig=" + sentinel + "&x=1",
		"method":  "put",
		"headers": map[string]string{"X-Api-Key": sentinel, "Authorization": "Bearer " + sentinel, "X-Event": "add"},
		"body":    map[string]any{"text": "hi", "n": 1},
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := `PUT https://user:<secret>@hooks.example.test/in?sig=<secret>&x=1
Authorization: Bearer <secret>
Content-Type: application/json
User-Agent: hookd
X-Api-Key: <secret>
X-Event: add
X-Hookd-Reference: hookd:EV:r:0

{
  "n": 1,
  "text": "hi"
}
`
	if got != want {
		t.Errorf("Describe =\n%s\nwant\n%s", got, want)
	}
}
