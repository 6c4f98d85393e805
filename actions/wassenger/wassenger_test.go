package wassenger

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/actions"
	"github.com/hookd/hookd/actions/httpx"
	"github.com/hookd/hookd/actions/secret"
	"github.com/hookd/hookd/internal/standin"
)

// token is a sentinel: it must never appear in a Result or a Describe
// output.
const token = "SENTINEL-WASSENGER-TOKEN-7c41"

const (
	device = "61b37a069cba0c15d6c89757"
	group  = "120363012345678901@g.us"
)

type fixture struct {
	ws      *standin.Wassenger
	c       *Client
	outputs []string // every Result and Describe text seen, for the sentinel check
}

func newFixture(t *testing.T, cfg actions.WassengerConfig, opts Options) *fixture {
	t.Helper()
	ws := standin.NewWassenger(token)
	t.Cleanup(ws.Close)
	if cfg.Token.IsZero() {
		cfg.Token = secret.New(token)
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = ws.BaseURL()
	}
	// "STANDIN" in a test's base_url stands for the stand-in's.
	cfg.BaseURL = strings.ReplaceAll(cfg.BaseURL, "STANDIN", ws.BaseURL())
	if cfg.Rate == 0 {
		cfg.Rate, cfg.Burst = 1000, 100
	}
	f := &fixture{ws: ws, c: New(&cfg, opts)}
	t.Cleanup(func() {
		for _, s := range f.outputs {
			if strings.Contains(s, token) {
				t.Errorf("the token leaked into %q", s)
			}
		}
	})
	return f
}

func (f *fixture) do(ctx context.Context, call actions.Call) actions.Result {
	r := f.c.Do(ctx, call)
	f.outputs = append(f.outputs, r.Response, r.Reason)
	if r.Err != nil {
		f.outputs = append(f.outputs, r.Err.Error())
	}
	if d, err := f.c.Describe(call); err == nil {
		f.outputs = append(f.outputs, d)
	} else {
		f.outputs = append(f.outputs, err.Error())
	}
	return r
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func msg(params map[string]any) actions.Call {
	return actions.Call{Type: TypeMessage, Name: "r/wassenger.message[0]", Params: params, Reference: "hookd:EV1:r:0"}
}

func req(method, path string, body any, query map[string]string) actions.Call {
	p := map[string]any{"method": method, "path": path}
	if body != nil {
		p["body"] = body
	}
	if query != nil {
		p["query"] = query
	}
	return actions.Call{Type: TypeRequest, Name: "r/wassenger.request[0]", Params: p, Reference: "hookd:EV1:r:1"}
}

func TestMessage(t *testing.T) {
	tests := []struct {
		name   string
		params map[string]any
		want   map[string]any // fields of the body sent
	}{
		{"phone", map[string]any{"phone": "+1234567890", "message": "Hi"},
			map[string]any{"phone": "+1234567890", "message": "Hi", "reference": "hookd:EV1:r:0"}},
		{"group with device", map[string]any{"group": group, "message": "Welcome <b> & co", "device": device},
			map[string]any{"group": group, "message": "Welcome <b> & co", "device": device, "reference": "hookd:EV1:r:0"}},
		{"channel", map[string]any{"channel": "12036@newsletter", "message": "News"},
			map[string]any{"channel": "12036@newsletter", "message": "News", "reference": "hookd:EV1:r:0"}},
		{"rule's reference wins", map[string]any{"phone": "+1234567890", "message": "Hi", "reference": "mine"},
			map[string]any{"phone": "+1234567890", "message": "Hi", "reference": "mine"}},
		{"empty fields dropped", map[string]any{"phone": "+1234567890", "group": "", "channel": " ", "message": "Hi", "device": "", "reference": ""},
			map[string]any{"phone": "+1234567890", "message": "Hi", "reference": "hookd:EV1:r:0"}},
		{"media and nested fields", map[string]any{"phone": "+1234567890", "media": map[string]any{"url": "https://x/y.png"}, "priority": "high", "expiration": map[string]any{"seconds": 90}},
			map[string]any{"phone": "+1234567890", "media": map[string]any{"url": "https://x/y.png"}, "priority": "high", "expiration": map[string]any{"seconds": float64(90)}, "reference": "hookd:EV1:r:0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, actions.WassengerConfig{}, Options{})
			r := f.do(ctxT(t), msg(tt.params))
			if !r.OK() || r.Reason != "ok" {
				t.Fatalf("Do = %+v", r)
			}
			if !strings.HasPrefix(r.Response, `201 Created {"id":"`) || !strings.Contains(r.Response, `"status":"queued"`) {
				t.Errorf("Response = %q", r.Response)
			}
			reqs := f.ws.Requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests", len(reqs))
			}
			got := reqs[0]
			if got.Method != "POST" || got.Path != "/v1/messages" {
				t.Errorf("sent %s %s", got.Method, got.Path)
			}
			if got.Header.Get("Token") != token || got.Header.Get("Content-Type") != "application/json" {
				t.Errorf("headers %v", got.Header)
			}
			var body map[string]any
			if err := json.Unmarshal(got.Body, &body); err != nil {
				t.Fatal(err)
			}
			if !jsonEqual(body, tt.want) {
				t.Errorf("body %s, want %v", got.Body, tt.want)
			}
			if n := f.ws.References()[tt.want["reference"].(string)]; n != 1 {
				t.Errorf("reference accepted %d times", n)
			}
		})
	}
}

func TestMessageInvalid(t *testing.T) {
	tests := []struct {
		name   string
		params map[string]any
		errHas string
	}{
		{"no recipient", map[string]any{"message": "Hi"}, "no recipient"},
		{"recipient rendered empty", map[string]any{"phone": "", "message": "Hi"}, "rendered empty"},
		{"two recipients", map[string]any{"phone": "+1234567890", "group": group, "message": "Hi"}, "phone and group are all set"},
		{"recipient not a string", map[string]any{"phone": 1234567890, "message": "Hi"}, "phone: must be a string, got integer"},
		{"no content", map[string]any{"phone": "+1234567890", "message": ""}, "nothing to send"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, actions.WassengerConfig{}, Options{})
			r := f.do(ctxT(t), msg(tt.params))
			if r.OK() || r.Retryable || r.Reason != "invalid" {
				t.Fatalf("Do = %+v, want a permanent invalid failure", r)
			}
			if !strings.Contains(r.Err.Error(), tt.errHas) || !strings.HasPrefix(r.Err.Error(), "wassenger.message: ") {
				t.Errorf("error %q does not say %q", r.Err, tt.errHas)
			}
			if _, err := f.c.Describe(msg(tt.params)); err == nil {
				t.Errorf("Describe accepted the call")
			}
			if n := f.ws.Count(); n != 0 {
				t.Errorf("%d requests sent", n)
			}
		})
	}
}

func TestRequest(t *testing.T) {
	base := "/devices/" + device + "/groups/" + group
	tests := []struct {
		name     string
		call     actions.Call
		method   string
		path     string
		query    string
		body     string // "" means no body and no Content-Type
		status   int
		response string
	}{
		{"remove participants, bare array", req("DELETE", base+"/participants", []any{"+1234567890", "1234@c.us"}, nil),
			"DELETE", "/v1" + base + "/participants", "", `["+1234567890","1234@c.us"]`, 200, "200 OK"},
		{"approve requests", req("post", base+"/members", map[string]any{"phones": []any{"+1234567890"}}, nil),
			"POST", "/v1" + base + "/members", "", `{"phones":["+1234567890"]}`, 200, "200 OK"},
		{"labels with query", req("PATCH", "/chat/"+device+"/chats/123@c.us/labels", []any{"vip"}, map[string]string{"upsert": "true"}),
			"PATCH", "/v1/chat/" + device + "/chats/123@c.us/labels", "upsert=true", `["vip"]`, 200, "200 OK"},
		{"get without body", req("GET", "/devices/"+device+"/groups", nil, map[string]string{"kind": "group", "size": "10"}),
			"GET", "/v1/devices/" + device + "/groups", "kind=group&size=10", "", 200, "200 OK"},
		{"delete without body", req("DELETE", "/chat/"+device+"/chats/123@c.us/owner", nil, nil),
			"DELETE", "/v1/chat/" + device + "/chats/123@c.us/owner", "", "", 200, "200 OK"},
		{"message through request", req("POST", "/messages", map[string]any{"phone": "+1234567890", "message": "Hi"}, nil),
			"POST", "/v1/messages", "", `{"message":"Hi","phone":"+1234567890"}`, 201, `201 Created {"id":`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, actions.WassengerConfig{}, Options{})
			r := f.do(ctxT(t), tt.call)
			if !r.OK() {
				t.Fatalf("Do = %+v", r)
			}
			if !strings.HasPrefix(r.Response, tt.response) {
				t.Errorf("Response = %q, want prefix %q", r.Response, tt.response)
			}
			got := f.ws.Requests()[0]
			if got.Method != tt.method || got.Path != tt.path || got.Query.Encode() != tt.query || got.Status != tt.status {
				t.Errorf("sent %s %s?%s (answered %d)", got.Method, got.Path, got.Query.Encode(), got.Status)
			}
			if string(got.Body) != tt.body {
				t.Errorf("body %q, want %q", got.Body, tt.body)
			}
			if (got.Header.Get("Content-Type") != "") != (tt.body != "") {
				t.Errorf("Content-Type %q with body %q", got.Header.Get("Content-Type"), got.Body)
			}
			if got.Header.Get("Token") != token {
				t.Errorf("Token header %q", got.Header.Get("Token"))
			}
		})
	}
}

func TestRequestInvalidPath(t *testing.T) {
	paths := []any{
		"",
		"devices/x",
		"//evil.example/v1/messages",
		"https://evil.example/x",
		"/x/https://evil.example",
		"/devices/../../admin",
		"/devices/%2e%2e/admin",
		"/devices/%2E%2E%2Fadmin",
		"/./messages",
		"/messages?token=x",
		"/messages#x",
		"/messages%3Ftoken=x",
		"/devices/a b",
		"/devices/\n",
		`/devices\..\x`,
		"/a//b",
		42,
	}
	f := newFixture(t, actions.WassengerConfig{}, Options{})
	for _, p := range paths {
		call := actions.Call{Type: TypeRequest, Params: map[string]any{"method": "GET", "path": p}}
		r := f.do(ctxT(t), call)
		if r.OK() || r.Retryable || r.Reason != "invalid" {
			t.Errorf("path %q: Do = %+v, want invalid", p, r)
		}
	}
	for _, m := range []string{"", "TRACE", "CONNECT"} {
		r := f.do(ctxT(t), req(m, "/messages", nil, nil))
		if r.Reason != "invalid" || !strings.Contains(r.Err.Error(), "method") {
			t.Errorf("method %q: %+v", m, r)
		}
	}
	if n := f.ws.Count(); n != 0 {
		t.Errorf("%d requests reached the server", n)
	}
}

func TestFailures(t *testing.T) {
	now := time.Date(2025, 5, 1, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name       string
		setup      func(*standin.Wassenger)
		cfg        actions.WassengerConfig
		call       actions.Call
		reason     string
		retryable  bool
		retryAfter time.Duration
		err        string
	}{
		{"wassenger 400 body", nil, actions.WassengerConfig{},
			msg(map[string]any{"phone": "not-a-phone", "message": "Hi"}), "http_4xx", false, 0,
			"wassenger: POST /messages: 400 Bad Request: Invalid phone number (errorCode error:invalid_phone; errors: phone: invalid)"},
		{"429 retry-after seconds", func(ws *standin.Wassenger) {
			ws.FailNext(1, 429, http.Header{"Retry-After": {"2"}}, `{"status":429,"message":"Too many requests - Try again later"}`)
		}, actions.WassengerConfig{}, msg(map[string]any{"phone": "+1234567890", "message": "Hi"}), "http_429", true, 2 * time.Second,
			"wassenger: POST /messages: 429 Too Many Requests: Too many requests - Try again later; retryable"},
		{"429 retry-after date", func(ws *standin.Wassenger) {
			ws.FailNext(1, 429, http.Header{"Retry-After": {now.Add(30 * time.Second).Format(http.TimeFormat)}}, "")
		}, actions.WassengerConfig{}, msg(map[string]any{"phone": "+1234567890", "message": "Hi"}), "http_429", true, 30 * time.Second,
			"wassenger: POST /messages: 429 Too Many Requests; retryable"},
		{"429 huge retry-after", func(ws *standin.Wassenger) {
			ws.FailNext(1, 429, http.Header{"Retry-After": {"86400"}}, "")
		}, actions.WassengerConfig{}, msg(map[string]any{"phone": "+1234567890", "message": "Hi"}), "http_429", true, httpx.MaxRetryAfter,
			"wassenger: POST /messages: 429 Too Many Requests; retryable"},
		{"503", func(ws *standin.Wassenger) {
			ws.FailNext(1, 503, nil, `{"status":503,"message":"Service temporarily unavailable - try again later"}`)
		}, actions.WassengerConfig{}, msg(map[string]any{"phone": "+1234567890", "message": "Hi"}), "http_5xx", true, 0,
			"wassenger: POST /messages: 503 Service Unavailable: Service temporarily unavailable - try again later; the target failed; retryable"},
		{"502 html", func(ws *standin.Wassenger) {
			ws.FailNext(1, 502, nil, "<html><body>Bad gateway</body></html>")
		}, actions.WassengerConfig{}, msg(map[string]any{"phone": "+1234567890", "message": "Hi"}), "http_5xx", true, 0,
			"wassenger: POST /messages: 502 Bad Gateway: <html><body>Bad gateway</body></html>; the target failed; retryable"},
		{"401 wrong token", nil, actions.WassengerConfig{Token: secret.New("wrong-token")},
			msg(map[string]any{"phone": "+1234567890", "message": "Hi"}), "http_4xx", false, 0,
			"wassenger: POST /messages: 401 Unauthorized: Invalid or missing API key (errorCode error:unauthorized); check connections.wassenger.token (a team agent's key has no API access)"},
		{"403", func(ws *standin.Wassenger) {
			ws.FailNext(1, 403, nil, `{"status":403,"message":"Forbidden: not a group admin","errorCode":"error:forbidden"}`)
		}, actions.WassengerConfig{}, req("POST", "/devices/"+device+"/groups/"+group+"/participants", map[string]any{"participants": []any{"+1234567890"}}, nil), "http_4xx", false, 0,
			"wassenger: POST /devices/" + device + "/groups/" + group + "/participants: 403 Forbidden: Forbidden: not a group admin (errorCode error:forbidden); the API key lacks permission for this call (group operations need a QR-paired number that is group admin)"},
		{"404 unknown route", nil, actions.WassengerConfig{}, req("GET", "/nothing", nil, nil), "http_4xx", false, 0,
			"wassenger: GET /nothing: 404 Not Found: Resource not found: /v1/nothing (errorCode error:not_found); check the path and the ids in it (device, group, chat)"},
		{"trailing slashes in base_url", nil, actions.WassengerConfig{BaseURL: "STANDIN//"}, req("GET", "/nothing", nil, nil), "http_4xx", false, 0,
			"wassenger: GET /nothing: 404 Not Found: Resource not found: /v1/nothing (errorCode error:not_found); check the path and the ids in it (device, group, chat)"},
		{"bad base_url", nil, actions.WassengerConfig{BaseURL: "ftp://x"}, req("GET", "/nothing", nil, nil), "invalid", false, 0,
			"wassenger.request: connections.wassenger.base_url ftp://x is not an http(s) URL without query; fix it or leave it out for https://api.wassenger.com/v1"},
		{"echoed token scrubbed", func(ws *standin.Wassenger) {
			ws.FailNext(1, 400, nil, `{"status":400,"message":"bad key `+token+`"}`)
		}, actions.WassengerConfig{}, msg(map[string]any{"phone": "+1234567890", "message": "Hi"}), "http_4xx", false, 0,
			"wassenger: POST /messages: 400 Bad Request: bad key <secret>"},
		// Where the message is cut, a scrub after the cut would miss the
		// token and show its start.
		{"echoed token at the message's cut", func(ws *standin.Wassenger) {
			ws.FailNext(1, 400, nil, `{"status":400,"message":"`+strings.Repeat("x", 2*httpx.SnippetLen-10)+" "+token+`"}`)
		}, actions.WassengerConfig{}, msg(map[string]any{"phone": "+1234567890", "message": "Hi"}), "http_4xx", false, 0,
			"wassenger: POST /messages: 400 Bad Request: " + strings.Repeat("x", 2*httpx.SnippetLen-10) + " <secret>"},
		{"echoed token at the snippet's cut", func(ws *standin.Wassenger) {
			ws.FailNext(1, 502, nil, strings.Repeat("x", httpx.SnippetLen-10)+" "+token)
		}, actions.WassengerConfig{}, msg(map[string]any{"phone": "+1234567890", "message": "Hi"}), "http_5xx", true, 0,
			"wassenger: POST /messages: 502 Bad Gateway: " + strings.Repeat("x", httpx.SnippetLen-10) + " <secret>; the target failed; retryable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.cfg, Options{Now: func() time.Time { return now }})
			if tt.setup != nil {
				tt.setup(f.ws)
			}
			r := f.do(ctxT(t), tt.call)
			if r.OK() || r.Reason != tt.reason || r.Retryable != tt.retryable || r.RetryAfter != tt.retryAfter {
				t.Errorf("Do = reason %q retryable %v retryAfter %v, want %q %v %v (err %v)",
					r.Reason, r.Retryable, r.RetryAfter, tt.reason, tt.retryable, tt.retryAfter, r.Err)
			}
			if r.Err == nil || r.Err.Error() != tt.err {
				t.Errorf("error\n got %v\nwant %s", r.Err, tt.err)
			}
		})
	}
}

func TestHangingServerTimesOut(t *testing.T) {
	f := newFixture(t, actions.WassengerConfig{}, Options{})
	f.ws.HangNext(1)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	r := f.do(ctx, msg(map[string]any{"phone": "+1234567890", "message": "Hi"}))
	if r.OK() || r.Reason != "timeout" || !r.Retryable || !errors.Is(r.Err, context.DeadlineExceeded) {
		t.Fatalf("Do = %+v", r)
	}
	if !strings.HasPrefix(r.Err.Error(), "wassenger: POST /messages: ") {
		t.Errorf("error %q", r.Err)
	}
	// A retry with the same reference is accepted once.
	r = f.do(ctxT(t), msg(map[string]any{"phone": "+1234567890", "message": "Hi"}))
	if !r.OK() || f.ws.References()["hookd:EV1:r:0"] != 1 {
		t.Fatalf("retry: %+v, references %v", r, f.ws.References())
	}
}

func TestRateLimitHonoursContext(t *testing.T) {
	f := newFixture(t, actions.WassengerConfig{Rate: 0.001, Burst: 1}, Options{})
	call := msg(map[string]any{"phone": "+1234567890", "message": "Hi"})
	if r := f.do(ctxT(t), call); !r.OK() {
		t.Fatalf("first call: %+v", r)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if r := f.do(ctx, call); r.Reason != "canceled" || !r.Retryable {
		t.Errorf("canceled wait: %+v", r)
	}
	ctx, cancel = context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if r := f.do(ctx, call); r.Reason != "timeout" || !r.Retryable {
		t.Errorf("wait beyond the deadline: %+v", r)
	}
	if n := f.ws.Count(); n != 1 {
		t.Errorf("%d requests sent, want 1", n)
	}
}

func TestConcurrencyCap(t *testing.T) {
	f := newFixture(t, actions.WassengerConfig{Concurrency: 1}, Options{})
	f.ws.HangNext(1)
	call := msg(map[string]any{"phone": "+1234567890", "message": "Hi"})
	hold, release := context.WithCancel(context.Background())
	done := make(chan actions.Result, 1)
	go func() { done <- f.c.Do(hold, call) }()
	if err := f.ws.WaitCount(ctxT(t), 1); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	r := f.do(ctx, call)
	if r.Reason != "timeout" || !strings.Contains(r.Err.Error(), "free slot") {
		t.Errorf("second call with the only slot taken: %+v", r)
	}
	release()
	if r := <-done; r.Reason != "canceled" {
		t.Errorf("held call: %+v", r)
	}
	if n := f.ws.Count(); n != 1 {
		t.Errorf("%d requests sent, want 1", n)
	}
}

func TestDescribe(t *testing.T) {
	c := New(&actions.WassengerConfig{Token: secret.New(token), BaseURL: "https://api.example.test/v1/"}, Options{})
	got, err := c.Describe(msg(map[string]any{"group": group, "message": "Hi", "device": ""}))
	if err != nil {
		t.Fatal(err)
	}
	want := `POST https://api.example.test/v1/messages
Accept: application/json
Content-Type: application/json
Token: <secret>
User-Agent: hookd
X-Hookd-Reference: hookd:EV1:r:0

{
  "group": "120363012345678901@g.us",
  "message": "Hi",
  "reference": "hookd:EV1:r:0"
}
`
	if got != want {
		t.Errorf("Describe =\n%s\nwant\n%s", got, want)
	}
	got, err = c.Describe(req("DELETE", "/devices/"+device+"/groups/"+group+"/participants", []any{"+1"}, map[string]string{"x": "1"}))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(got, "DELETE https://api.example.test/v1/devices/"+device+"/groups/"+group+"/participants?x=1\n") ||
		!strings.HasSuffix(got, "\n[\n  \"+1\"\n]\n") || strings.Contains(got, token) {
		t.Errorf("Describe =\n%s", got)
	}
	_, err = New(nil, Options{}).Describe(msg(map[string]any{"phone": "+1", "message": "x"}))
	if err == nil || !strings.Contains(err.Error(), "connections.wassenger.token") {
		t.Errorf("Describe without a token: %v", err)
	}
	_, err = c.Describe(actions.Call{Type: "slack"})
	if err == nil {
		t.Errorf("Describe accepted a slack call")
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}
