package slack

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/actions"
	"github.com/hookd/hookd/actions/httpx"
	"github.com/hookd/hookd/actions/secret"
	"github.com/hookd/hookd/internal/standin"
	"github.com/hookd/hookd/internal/standin/slackd"
	"github.com/hookd/hookd/internal/syncbuf"
)

// Sentinels: none of them may show up in an error, a response, a
// description or a log line.
const (
	sentinelToken   = "xoxb-S3NT1NEL-token"
	sentinelWebhook = "S3NT1NELwebhookSecret"
)

var sentinels = []string{sentinelToken, sentinelWebhook}

type env struct {
	slack  *slackd.Server
	client *Client
	logs   *syncbuf.Buffer
}

func newEnv(t *testing.T, mod func(*actions.SlackConfig)) *env {
	t.Helper()
	srv := slackd.New(slackd.Options{
		Token:         sentinelToken,
		WebhookSecret: sentinelWebhook,
		Channels:      []string{"C0GENERAL", "C0OTHER"},
		NotMember:     []string{"C0PRIVATE"},
		Archived:      []string{"C0OLD"},
	})
	t.Cleanup(srv.Close)
	cfg := &actions.SlackConfig{
		WebhookURL: secret.New(srv.WebhookURL()),
		Token:      secret.New(sentinelToken),
		APIURL:     srv.APIURL(),
		Rate:       1000,
		Burst:      1000,
	}
	if mod != nil {
		mod(cfg)
	}
	logs := &syncbuf.Buffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e := &env{slack: srv, client: New(cfg, Options{Logger: logger}), logs: logs}
	t.Cleanup(func() { assertClean(t, "logs", logs.String()) })
	return e
}

// assertClean fails when s holds a secret, or 8 bytes of one in a row
// (the start of a secret cut short).
func assertClean(t *testing.T, what, s string) {
	t.Helper()
	for _, sec := range sentinels {
		for i := 0; i+8 <= len(sec); i++ {
			if strings.Contains(s, sec[i:i+8]) {
				t.Errorf("%s contains a secret or part of it (%s): %s", what, sec[i:i+8], s)
				break
			}
		}
	}
}

func checkResult(t *testing.T, r actions.Result) {
	t.Helper()
	if r.Err != nil {
		assertClean(t, "Err", r.Err.Error())
	}
	assertClean(t, "Response", r.Response)
}

func call(params map[string]any) actions.Call {
	return actions.Call{Type: "slack", Name: "welcome/slack[0]", Params: params, Reference: "hookd:ev1:welcome:0"}
}

var blocks = []any{
	map[string]any{"type": "section", "text": map[string]any{"type": "mrkdwn", "text": "*Zoë* joined <#C0GENERAL>"}},
}

func TestWebhookShape(t *testing.T) {
	e := newEnv(t, nil)
	r := e.client.Do(context.Background(), call(map[string]any{"text": "Zoë joined & left <3", "blocks": blocks}))
	checkResult(t, r)
	if !r.OK() || r.Reason != "ok" || r.Response != "200 OK ok" {
		t.Fatalf("Do = %+v, want ok with 200 OK ok", r)
	}
	reqs := e.slack.Requests()
	if len(reqs) != 1 {
		t.Fatalf("stand-in got %d requests, want 1", len(reqs))
	}
	req := reqs[0]
	if req.Method != http.MethodPost || req.Path != slackd.WebhookPathPrefix+sentinelWebhook {
		t.Errorf("request %s %s", req.Method, req.Path)
	}
	if ct := req.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	if req.Header.Get("Authorization") != "" {
		t.Errorf("webhook request carries Authorization")
	}
	var body map[string]any
	if err := json.Unmarshal(req.Body, &body); err != nil {
		t.Fatalf("body is not JSON: %v: %s", err, req.Body)
	}
	if len(body) != 2 || body["text"] != "Zoë joined & left <3" {
		t.Errorf("body = %s, want only text and blocks", req.Body)
	}
	if strings.Contains(string(req.Body), `\u003c`) {
		t.Errorf("body escapes HTML: %s", req.Body)
	}
	posts := e.slack.Posts()
	if len(posts) != 1 || posts[0].Via != "webhook" || len(posts[0].Blocks) != 1 {
		t.Errorf("posts = %+v", posts)
	}
}

func TestPostMessageShape(t *testing.T) {
	e := newEnv(t, nil)
	r := e.client.Do(context.Background(), call(map[string]any{
		"text": "hello", "blocks": blocks, "channel": "C0GENERAL", "thread_ts": "1700000000.000001",
	}))
	checkResult(t, r)
	if !r.OK() || !strings.Contains(r.Response, "ts=1700000000.000001") || !strings.Contains(r.Response, "channel=C0GENERAL") {
		t.Fatalf("Do = %+v, want ok with the ts", r)
	}
	req := e.slack.Requests()[0]
	if req.Path != "/api/chat.postMessage" {
		t.Errorf("path = %s", req.Path)
	}
	if got := req.Header.Get("Authorization"); got != "Bearer "+sentinelToken {
		t.Errorf("Authorization = %q", got)
	}
	if got := req.Header.Get("Content-Type"); got != "application/json; charset=utf-8" {
		t.Errorf("Content-Type = %q", got)
	}
	var body map[string]any
	if err := json.Unmarshal(req.Body, &body); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{"channel": "C0GENERAL", "text": "hello", "thread_ts": "1700000000.000001"} {
		if body[k] != want {
			t.Errorf("body[%s] = %v, want %v", k, body[k], want)
		}
	}
	if _, ok := body["blocks"].([]any); !ok {
		t.Errorf("body has no blocks list: %s", req.Body)
	}
	if p := e.slack.Posts(); len(p) != 1 || p[0].Via != "chat.postMessage" || p[0].ThreadTS != "1700000000.000001" {
		t.Errorf("posts = %+v", p)
	}
	if strings.Contains(e.logs.String(), "missing_charset") {
		t.Errorf("Slack warned about the charset: %s", e.logs.String())
	}
}

func TestBlocksAsJSONString(t *testing.T) {
	e := newEnv(t, nil)
	r := e.client.Do(context.Background(), call(map[string]any{
		"text": "fallback", "blocks": `[{"type":"divider"}]`,
	}))
	if !r.OK() {
		t.Fatalf("Do: %v", r.Err)
	}
	if p := e.slack.Posts(); len(p) != 1 || len(p[0].Blocks) != 1 {
		t.Errorf("posts = %+v", p)
	}
}

func TestWebhookStatuses(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		header     http.Header
		body       string
		wantRetry  bool
		wantReason string
		wantAfter  time.Duration
		wantInErr  []string
	}{
		{name: "400 invalid_payload", status: 400, body: "invalid_payload", wantReason: "http_4xx", wantInErr: []string{"400", "invalid_payload", "text and blocks"}},
		{name: "400 invalid_blocks", status: 400, body: "invalid_blocks", wantReason: "http_4xx", wantInErr: []string{"invalid_blocks", "Block Kit"}},
		{name: "400 no_text", status: 400, body: "no_text", wantReason: "http_4xx", wantInErr: []string{"no_text", "give the rule a text"}},
		{name: "403 action_prohibited", status: 403, body: "action_prohibited", wantReason: "http_4xx", wantInErr: []string{"403", "action_prohibited", "new webhook"}},
		{name: "404 no_service", status: 404, body: "no_service", wantReason: "http_4xx", wantInErr: []string{"404", "no_service", "revoked", "webhook_url"}},
		{name: "410 channel_is_archived", status: 410, body: "channel_is_archived", wantReason: "http_4xx", wantInErr: []string{"410", "archived", "unarchive"}},
		{name: "429 with Retry-After", status: 429, header: http.Header{"Retry-After": {"7"}}, body: "rate_limited", wantRetry: true, wantReason: "http_429", wantAfter: 7 * time.Second},
		{name: "429 with an absurd Retry-After is clamped", status: 429, header: http.Header{"Retry-After": {"99999999"}}, wantRetry: true, wantReason: "http_429", wantAfter: 10 * time.Minute},
		{name: "500 rollup_error", status: 500, body: "rollup_error", wantRetry: true, wantReason: "http_5xx", wantInErr: []string{"500", "rollup_error"}},
		{name: "503", status: 503, header: http.Header{"Retry-After": {"3"}}, wantRetry: true, wantReason: "http_5xx", wantAfter: 3 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			e.slack.FailNext(1, tt.status, tt.header, tt.body)
			r := e.client.Do(context.Background(), call(map[string]any{"text": "hi"}))
			checkResult(t, r)
			if r.OK() {
				t.Fatal("Do succeeded")
			}
			if r.Retryable != tt.wantRetry || r.Reason != tt.wantReason || r.RetryAfter != tt.wantAfter {
				t.Errorf("Retryable=%v Reason=%q RetryAfter=%s, want %v %q %s (err %v)",
					r.Retryable, r.Reason, r.RetryAfter, tt.wantRetry, tt.wantReason, tt.wantAfter, r.Err)
			}
			for _, want := range tt.wantInErr {
				if !strings.Contains(r.Err.Error(), want) {
					t.Errorf("error lacks %q: %v", want, r.Err)
				}
			}
			if !strings.Contains(r.Err.Error(), "/services/<secret>") {
				t.Errorf("error does not name the redacted webhook: %v", r.Err)
			}
		})
	}
}

func TestWebhookRevoked(t *testing.T) {
	// A webhook URL the stand-in does not know: its real 404 no_service.
	e := newEnv(t, nil)
	e.client = New(&actions.SlackConfig{
		WebhookURL: secret.New(e.slack.URL() + "/services/T000/B000/" + sentinelWebhook + "x"),
	}, Options{})
	r := e.client.Do(context.Background(), call(map[string]any{"text": "hi"}))
	checkResult(t, r)
	if r.OK() || r.Retryable || r.Reason != "http_4xx" || !strings.Contains(r.Err.Error(), "no_service") {
		t.Fatalf("Do = %+v, want a permanent 404 no_service", r)
	}
}

func TestAPIErrors(t *testing.T) {
	tests := []struct {
		name       string
		program    func(*slackd.Server)
		channel    string
		token      string
		wantRetry  bool
		wantReason string
		wantCode   string
		wantAfter  time.Duration
		wantInErr  string
	}{
		{name: "wrong token", token: "xoxb-wrong", channel: "C0GENERAL", wantReason: "slack_error", wantCode: "invalid_auth", wantInErr: "connections.slack.token"},
		{name: "unknown channel", channel: "C0NOPE", wantReason: "slack_error", wantCode: "channel_not_found", wantInErr: "channel's ID"},
		{name: "bot not in channel", channel: "C0PRIVATE", wantReason: "slack_error", wantCode: "not_in_channel", wantInErr: "invite"},
		{name: "archived channel", channel: "C0OLD", wantReason: "slack_error", wantCode: "is_archived", wantInErr: "unarchive"},
		{name: "token revoked", program: func(s *slackd.Server) { s.FailNextAPI(1, "token_revoked") }, channel: "C0GENERAL", wantReason: "slack_error", wantCode: "token_revoked", wantInErr: "reinstall"},
		{name: "missing scope", program: func(s *slackd.Server) { s.FailNextAPI(1, "missing_scope") }, channel: "C0GENERAL", wantReason: "slack_error", wantCode: "missing_scope", wantInErr: "chat:write"},
		{name: "msg_too_long", program: func(s *slackd.Server) { s.FailNextAPI(1, "msg_too_long") }, channel: "C0GENERAL", wantReason: "slack_error", wantCode: "msg_too_long", wantInErr: "shorten"},
		{name: "ok false rate_limited", program: func(s *slackd.Server) { s.FailNextAPI(1, "rate_limited") }, channel: "C0GENERAL", wantRetry: true, wantReason: "slack_error", wantCode: "rate_limited"},
		{name: "ok false ratelimited", program: func(s *slackd.Server) { s.FailNextAPI(1, "ratelimited") }, channel: "C0GENERAL", wantRetry: true, wantReason: "slack_error", wantCode: "ratelimited"},
		{name: "internal_error", program: func(s *slackd.Server) { s.FailNextAPI(1, "internal_error") }, channel: "C0GENERAL", wantRetry: true, wantReason: "slack_error", wantCode: "internal_error"},
		{name: "fatal_error", program: func(s *slackd.Server) { s.FailNextAPI(1, "fatal_error") }, channel: "C0GENERAL", wantRetry: true, wantReason: "slack_error", wantCode: "fatal_error"},
		{name: "service_unavailable", program: func(s *slackd.Server) { s.FailNextAPI(1, "service_unavailable") }, channel: "C0GENERAL", wantRetry: true, wantReason: "slack_error", wantCode: "service_unavailable"},
		{name: "request_timeout", program: func(s *slackd.Server) { s.FailNextAPI(1, "request_timeout") }, channel: "C0GENERAL", wantRetry: true, wantReason: "slack_error", wantCode: "request_timeout"},
		{name: "HTTP 429 with Retry-After", program: func(s *slackd.Server) { s.RateLimitNext(1, "30") }, channel: "C0GENERAL", wantRetry: true, wantReason: "http_429", wantAfter: 30 * time.Second},
		{name: "HTTP 500", program: func(s *slackd.Server) { s.FailNext(1, 500, nil, "") }, channel: "C0GENERAL", wantRetry: true, wantReason: "http_5xx"},
		{name: "200 that is not JSON", program: func(s *slackd.Server) { s.FailNext(1, 200, nil, "<html>proxy</html>") }, channel: "C0GENERAL", wantReason: "slack_error", wantCode: "not_json", wantInErr: "api_url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, func(c *actions.SlackConfig) {
				if tt.token != "" {
					c.Token = secret.New(tt.token)
				}
			})
			if tt.program != nil {
				tt.program(e.slack)
			}
			r := e.client.Do(context.Background(), call(map[string]any{"text": "hi", "channel": tt.channel}))
			checkResult(t, r)
			if r.OK() {
				t.Fatal("Do succeeded")
			}
			if r.Retryable != tt.wantRetry || r.Reason != tt.wantReason || r.RetryAfter != tt.wantAfter {
				t.Errorf("Retryable=%v Reason=%q RetryAfter=%s, want %v %q %s (err %v)",
					r.Retryable, r.Reason, r.RetryAfter, tt.wantRetry, tt.wantReason, tt.wantAfter, r.Err)
			}
			var ae *APIError
			if tt.wantCode != "" {
				if !errors.As(r.Err, &ae) || ae.Code != tt.wantCode {
					t.Errorf("error %v: want an APIError with code %s", r.Err, tt.wantCode)
				}
				if !strings.Contains(r.Err.Error(), tt.wantCode) || !strings.Contains(r.Err.Error(), tt.channel) {
					t.Errorf("error does not name the code and channel: %v", r.Err)
				}
			}
			if tt.wantInErr != "" && !strings.Contains(r.Err.Error(), tt.wantInErr) {
				t.Errorf("error lacks hint %q: %v", tt.wantInErr, r.Err)
			}
			if len(e.slack.Posts()) != 0 {
				t.Errorf("stand-in accepted a post")
			}
		})
	}
}

func TestPerChannelLimiter(t *testing.T) {
	e := newEnv(t, func(c *actions.SlackConfig) { c.Rate, c.Burst = 0.001, 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	send := func(channel string) actions.Result {
		p := map[string]any{"text": "hi"}
		if channel != "" {
			p["channel"] = channel
		}
		return e.client.Do(ctx, call(p))
	}
	if r := send("C0GENERAL"); !r.OK() {
		t.Fatalf("first post to C0GENERAL: %v", r.Err)
	}
	// C0GENERAL's bucket is empty for ~1000s: a send must give up at
	// once, since the wait would outlast the deadline.
	r := send("C0GENERAL")
	checkResult(t, r)
	if r.OK() || !r.Retryable || r.Reason != "timeout" || !strings.Contains(r.Err.Error(), "rate limit") {
		t.Fatalf("second post to C0GENERAL = %+v, want a retryable rate-limit timeout", r)
	}
	// Other channels and the webhook have their own buckets.
	if r := send("C0OTHER"); !r.OK() {
		t.Errorf("post to C0OTHER was held by C0GENERAL's limiter: %v", r.Err)
	}
	if r := send(""); !r.OK() {
		t.Errorf("post to the webhook was held by a channel's limiter: %v", r.Err)
	}
	if n := len(e.slack.Posts()); n != 3 {
		t.Errorf("stand-in accepted %d posts, want 3", n)
	}
}

func TestCancelWhileWaitingForRate(t *testing.T) {
	e := newEnv(t, func(c *actions.SlackConfig) { c.Rate, c.Burst = 0.001, 1 })
	if r := e.client.Do(context.Background(), call(map[string]any{"text": "first"})); !r.OK() {
		t.Fatalf("first post: %v", r.Err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan actions.Result, 1)
	go func() { done <- e.client.Do(ctx, call(map[string]any{"text": "second"})) }()
	cancel()
	r := <-done
	checkResult(t, r)
	if r.OK() || !r.Retryable || r.Reason != "canceled" {
		t.Fatalf("Do with a canceled ctx = %+v, want retryable canceled", r)
	}
	if n := e.slack.Count(); n != 1 {
		t.Errorf("stand-in got %d requests, want 1", n)
	}
}

func TestHangTimesOut(t *testing.T) {
	e := newEnv(t, nil)
	e.slack.HangNext(1)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	r := e.client.Do(ctx, call(map[string]any{"text": "hi"}))
	checkResult(t, r)
	if r.OK() || !r.Retryable || r.Reason != "timeout" {
		t.Fatalf("Do on a hung webhook = %+v, want retryable timeout", r)
	}
}

func TestNetworkErrorRedacted(t *testing.T) {
	srv := slackd.New(slackd.Options{WebhookSecret: sentinelWebhook})
	url := srv.WebhookURL()
	srv.Close()
	c := New(&actions.SlackConfig{WebhookURL: secret.New(url)}, Options{})
	r := c.Do(context.Background(), call(map[string]any{"text": "hi"}))
	checkResult(t, r)
	if r.OK() || !r.Retryable || r.Reason != "network" {
		t.Fatalf("Do to a closed server = %+v, want retryable network", r)
	}
}

func TestSecretsNeverLeak(t *testing.T) {
	// A target that echoes the request (and the last part of its path on
	// its own), at a webhook path RedactURL does not recognise.
	echo := standin.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		// The padding puts the webhook URL where the error's snippet is
		// cut.
		pad := strings.Repeat("x", httpx.SnippetLen-67)
		_, _ = w.Write([]byte("hook " + path.Base(r.URL.Path) + " " + pad + " bad request to " + r.URL.String() + " auth " + r.Header.Get("Authorization")))
	}))
	t.Cleanup(echo.Close)
	c := New(&actions.SlackConfig{
		WebhookURL: secret.New(echo.URL() + "/hooks/" + sentinelWebhook),
		Token:      secret.New(sentinelToken),
		APIURL:     echo.URL() + "/api",
	}, Options{})
	for _, p := range []map[string]any{
		{"text": "hi"},
		{"text": "hi", "channel": "C0GENERAL"},
	} {
		r := c.Do(context.Background(), call(p))
		checkResult(t, r)
		if r.OK() {
			t.Fatalf("Do succeeded against an echoing 400")
		}
		d, err := c.Describe(call(p))
		if err != nil {
			t.Fatal(err)
		}
		assertClean(t, "Describe", d)
	}
	if echo.Count() != 2 {
		t.Errorf("echo server got %d requests, want 2", echo.Count())
	}
}

func TestInvalid(t *testing.T) {
	tests := []struct {
		name      string
		cfg       actions.SlackConfig
		params    map[string]any
		wantInErr string
	}{
		{name: "empty text", cfg: actions.SlackConfig{WebhookURL: secret.New("https://hooks.slack.com/services/T1/B1/" + sentinelWebhook)}, params: map[string]any{"text": "  "}, wantInErr: "text is empty"},
		{name: "blocks not a list", cfg: actions.SlackConfig{WebhookURL: secret.New("https://hooks.slack.com/services/T1/B1/" + sentinelWebhook)}, params: map[string]any{"text": "x", "blocks": map[string]any{"type": "divider"}}, wantInErr: "blocks"},
		{name: "block not an object", cfg: actions.SlackConfig{WebhookURL: secret.New("https://hooks.slack.com/services/T1/B1/" + sentinelWebhook)}, params: map[string]any{"text": "x", "blocks": []any{"divider"}}, wantInErr: "blocks[0]"},
		{name: "blocks string not JSON", cfg: actions.SlackConfig{WebhookURL: secret.New("https://hooks.slack.com/services/T1/B1/" + sentinelWebhook)}, params: map[string]any{"text": "x", "blocks": "[{"}, wantInErr: "blocks"},
		{name: "channel without token", cfg: actions.SlackConfig{WebhookURL: secret.New("https://hooks.slack.com/services/T1/B1/" + sentinelWebhook)}, params: map[string]any{"text": "x", "channel": "C1"}, wantInErr: "connections.slack.token"},
		{name: "no webhook", cfg: actions.SlackConfig{Token: secret.New(sentinelToken)}, params: map[string]any{"text": "x"}, wantInErr: "webhook_url is empty"},
		{name: "webhook not http", cfg: actions.SlackConfig{WebhookURL: secret.New("hooks.slack.com/services/T1/B1/" + sentinelWebhook)}, params: map[string]any{"text": "x"}, wantInErr: "not an http(s) URL"},
		{name: "text not text", cfg: actions.SlackConfig{WebhookURL: secret.New("https://hooks.slack.com/services/T1/B1/" + sentinelWebhook)}, params: map[string]any{"text": []any{"a"}}, wantInErr: "text is []interface {}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New(&tt.cfg, Options{})
			r := c.Do(context.Background(), call(tt.params))
			checkResult(t, r)
			if r.OK() || r.Retryable || r.Reason != "invalid" {
				t.Fatalf("Do = %+v, want permanent invalid", r)
			}
			if !strings.Contains(r.Err.Error(), tt.wantInErr) {
				t.Errorf("error lacks %q: %v", tt.wantInErr, r.Err)
			}
			if _, err := c.Describe(call(tt.params)); err == nil {
				t.Errorf("Describe accepted what Do refuses")
			}
		})
	}
}

func TestDescribe(t *testing.T) {
	c := New(&actions.SlackConfig{
		WebhookURL: secret.New("https://hooks.slack.com/services/T0001/B0001/" + sentinelWebhook),
		Token:      secret.New(sentinelToken),
	}, Options{})
	tests := []struct {
		name   string
		params map[string]any
		want   string
	}{
		{
			name:   "webhook",
			params: map[string]any{"text": "Zoë <joined>"},
			want: "POST https://hooks.slack.com/services/<secret>\n" +
				"Content-Type: application/json\n" +
				"User-Agent: hookd\n\n" +
				"{\n  \"text\": \"Zoë <joined>\"\n}\n",
		},
		{
			name:   "chat.postMessage",
			params: map[string]any{"text": "hi", "channel": "C0GENERAL", "thread_ts": "1.2"},
			want: "POST https://slack.com/api/chat.postMessage\n" +
				"Authorization: Bearer <secret>\n" +
				"Content-Type: application/json; charset=utf-8\n" +
				"User-Agent: hookd\n\n" +
				"{\n  \"channel\": \"C0GENERAL\",\n  \"text\": \"hi\",\n  \"thread_ts\": \"1.2\"\n}\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.Describe(call(tt.params))
			if err != nil {
				t.Fatal(err)
			}
			assertClean(t, "Describe", got)
			if got != tt.want {
				t.Errorf("Describe =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}
