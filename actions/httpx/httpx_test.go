package httpx

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/actions"
)

func newServer(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func post(t *testing.T, url, body string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// send is how the actions use this package: Do, then Success with the
// answer's Summary for a 2xx, else Failure with its Snippet, or, when
// there is no answer, ErrorResult. op prefixes every error. (The actions
// also pass Do the secrets their request carries.)
func send(ctx context.Context, client *http.Client, req *http.Request, op string) actions.Result {
	a, err := Do(ctx, client, req)
	if err != nil {
		return ErrorResult(op, err)
	}
	if a.OK() {
		return a.Success(a.Summary())
	}
	return a.Failure(op, a.Snippet(), "")
}

func TestSend(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		header     map[string]string
		body       string
		ok         bool
		reason     string
		retryable  bool
		retryAfter time.Duration
		response   string
		errText    string
	}{
		{name: "created json", status: 201, body: "{\n \"id\": \"abc\",\n \"status\": \"queued\"\n}",
			ok: true, reason: ReasonOK, response: `201 Created {"id":"abc","status":"queued"}`},
		{name: "no content", status: 204, ok: true, reason: ReasonOK, response: "204 No Content"},
		{name: "bad request", status: 400, body: "invalid_payload",
			reason: Reason4xx, errText: "op: 400 Bad Request: invalid_payload"},
		{name: "not found hint", status: 404, body: "no_service",
			reason: Reason4xx, errText: "op: 404 Not Found: no_service; check the URL or path"},
		{name: "rate limited", status: 429, header: map[string]string{"Retry-After": "7"}, body: "slow down",
			reason: Reason429, retryable: true, retryAfter: 7 * time.Second, errText: "op: 429 Too Many Requests: slow down; retryable"},
		{name: "unavailable", status: 503, header: map[string]string{"Retry-After": "3"},
			reason: Reason5xx, retryable: true, retryAfter: 3 * time.Second, errText: "op: 503 Service Unavailable; the target failed; retryable"},
		{name: "retry-after ignored on permanent", status: 400, header: map[string]string{"Retry-After": "9"},
			reason: Reason4xx, errText: "op: 400 Bad Request"},
		{name: "long html body", status: 500, body: "<html>\n" + strings.Repeat("x", 500) + "</html>",
			reason: Reason5xx, retryable: true, errText: "op: 500 Internal Server Error: <html> " + strings.Repeat("x", 193) + "...; the target failed; retryable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			})
			r := send(context.Background(), srv.Client(), post(t, srv.URL, "{}"), "op")
			if r.OK() != tt.ok || r.Reason != tt.reason || r.Retryable != tt.retryable || r.RetryAfter != tt.retryAfter {
				t.Errorf("got ok=%v reason=%q retryable=%v retryAfter=%v; want %v %q %v %v (err %v)",
					r.OK(), r.Reason, r.Retryable, r.RetryAfter, tt.ok, tt.reason, tt.retryable, tt.retryAfter, r.Err)
			}
			if tt.ok && r.Response != tt.response {
				t.Errorf("Response = %q, want %q", r.Response, tt.response)
			}
			if !tt.ok {
				if r.Err == nil || r.Err.Error() != tt.errText {
					t.Errorf("Err = %v\nwant   %s", r.Err, tt.errText)
				}
				var se *StatusError
				if !errors.As(r.Err, &se) || se.Status != tt.status {
					t.Errorf("Err %T is not a *StatusError with status %d", r.Err, tt.status)
				}
			}
		})
	}
}

// Do keeps MaxBody bytes of a long answer, and the connection is reused.
func TestDoBoundedBody(t *testing.T) {
	var conns sync.Map
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		conns.Store(r.RemoteAddr, true)
		w.WriteHeader(http.StatusBadGateway)
		_, _ = io.WriteString(w, strings.Repeat("a", MaxBody*3))
	})
	for range 3 {
		a, err := Do(context.Background(), srv.Client(), post(t, srv.URL, "x"))
		if err != nil {
			t.Fatal(err)
		}
		if len(a.Body) != MaxBody || !a.Truncated || a.Status != http.StatusBadGateway {
			t.Fatalf("body %d bytes, truncated %v, status %d", len(a.Body), a.Truncated, a.Status)
		}
	}
	n := 0
	conns.Range(func(_, _ any) bool { n++; return true })
	if n != 1 {
		t.Errorf("3 sequential requests used %d connections, want 1 (the rest of the body was not drained)", n)
	}
}

// Do masks the secrets it is given in the answer's body before anything
// reads it: a target that echoes a secret where the snippet is cut, or
// where the kept body ends, shows no part of it.
func TestDoMasksSecretsInBody(t *testing.T) {
	const tok = "SENTINEL-7Qz4-9c2e-a1b3"
	tests := []struct {
		name string
		body string
	}{
		{"whole", "invalid credential " + tok},
		{"across the snippet's cut", strings.Repeat("x", SnippetLen-6) + " " + tok},
		{"across the JSON snippet's cut", `{"message":"` + strings.Repeat("x", SnippetLen-16) + " " + tok + `"}`},
		{"across the kept body's end", strings.Repeat(" ", MaxBody-8) + tok + strings.Repeat("y", 100)},
		// The first one masked leaves the read under MaxBody: the read
		// still cut the second.
		{"across the read's end, after one masked", tok + strings.Repeat(" ", MaxBody+1-len(tok)-10) + tok + strings.Repeat("y", 100)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusUnauthorized)
				_, _ = io.WriteString(w, tt.body)
			})
			a, err := Do(context.Background(), srv.Client(), post(t, srv.URL, "x"), tok)
			if err != nil {
				t.Fatal(err)
			}
			r := a.Failure("op", a.Snippet(), "")
			for what, text := range map[string]string{
				"body": string(a.Body), "snippet": a.Snippet(), "summary": a.Summary(), "error": r.Err.Error(),
			} {
				// Any 4 bytes of the secret in a row are a leak.
				for i := 0; i+4 <= len(tok); i++ {
					if strings.Contains(text, tok[i:i+4]) {
						t.Fatalf("%s shows %q of the secret: %q", what, tok[i:i+4], text)
					}
				}
			}
		})
	}
}

func TestSendTimeoutAndCancel(t *testing.T) {
	release := make(chan struct{})
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	defer close(release)

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	r := send(ctx, srv.Client(), post(t, srv.URL, "{}"), "op")
	if r.OK() || r.Reason != ReasonTimeout || !r.Retryable {
		t.Errorf("deadline: %+v", r)
	}
	if !errors.Is(r.Err, context.DeadlineExceeded) {
		t.Errorf("deadline error %v does not wrap context.DeadlineExceeded", r.Err)
	}

	ctx, cancel = context.WithCancel(context.Background())
	req := post(t, srv.URL, "{}")
	done := make(chan struct{})
	var got actions.Result
	go func() {
		defer close(done)
		got = send(ctx, srv.Client(), req, "op")
	}()
	cancel()
	<-done
	if got.OK() || got.Reason != ReasonCanceled || !got.Retryable {
		t.Errorf("cancel: %+v", got)
	}

	client := srv.Client()
	client.Timeout = 50 * time.Millisecond
	r = send(context.Background(), client, post(t, srv.URL, "{}"), "op")
	if r.Reason != ReasonTimeout || !r.Retryable {
		t.Errorf("client timeout: %+v", r)
	}
}

// CheckRedirect follows only same-host, same-method redirects.
func TestRedirects(t *testing.T) {
	other := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the other host got %s %s", r.Method, r.URL)
	})
	target := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/away":
			http.Redirect(w, r, other.URL+"/x?token=SENTINEL", http.StatusTemporaryRedirect)
		case "/found":
			http.Redirect(w, r, "/final", http.StatusFound)
		case "/moved":
			http.Redirect(w, r, "/final", http.StatusPermanentRedirect)
		case "/loop":
			http.Redirect(w, r, "/loop", http.StatusTemporaryRedirect)
		case "/final":
			body, _ := io.ReadAll(r.Body)
			_, _ = io.WriteString(w, r.Method+" "+string(body))
		}
	})
	client := NewClient()
	tests := []struct {
		name     string
		method   string
		path     string
		ok       bool
		response string
	}{
		{"post to another host", http.MethodPost, "/away", false, ""},
		{"get to another host", http.MethodGet, "/away", false, ""},
		{"post 302 would become get", http.MethodPost, "/found", false, ""},
		{"get 302 same host", http.MethodGet, "/found", true, "200 OK GET"},
		{"post 308 same host keeps the body", http.MethodPost, "/moved", true, "200 OK POST payload"},
		{"loop", http.MethodGet, "/loop", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader
			if tt.method == http.MethodPost {
				body = strings.NewReader("payload")
			}
			req, err := http.NewRequest(tt.method, target.URL+tt.path, body)
			if err != nil {
				t.Fatal(err)
			}
			r := send(context.Background(), client, req, "webhook: "+tt.method)
			if r.OK() != tt.ok {
				t.Fatalf("ok = %v, want %v: %+v", r.OK(), tt.ok, r)
			}
			if tt.ok {
				if r.Response != tt.response {
					t.Errorf("Response = %q, want %q", r.Response, tt.response)
				}
				return
			}
			if r.Reason != Reason3xx || r.Retryable {
				t.Errorf("reason %q retryable %v, want http_3xx permanent", r.Reason, r.Retryable)
			}
			if strings.Contains(r.Err.Error(), "SENTINEL") {
				t.Errorf("error shows the secret: %v", r.Err)
			}
			if !strings.Contains(r.Err.Error(), "redirects") {
				t.Errorf("error does not say it redirects: %v", r.Err)
			}
		})
	}
}

func TestSnippet(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"", 10, ""},
		{" {\"a\": 1,\n \"b\": [1, 2]} ", 100, `{"a":1,"b":[1,2]}`},
		{"line one\n\tline two", 100, "line one line two"},
		{"abcdef", 3, "abc..."},
		{"ééé", 3, "é..."},
		{"bad \xff byte", 100, "bad \uFFFD byte"},
	}
	for _, tt := range tests {
		if got := Snippet([]byte(tt.in), tt.n); got != tt.want {
			t.Errorf("Snippet(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}

func TestEncodeJSON(t *testing.T) {
	b, err := EncodeJSON(map[string]any{"m": "a < b & c", "n": 1})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"m":"a < b & c","n":1}`; string(b) != want {
		t.Errorf("EncodeJSON = %s, want %s", b, want)
	}
}
