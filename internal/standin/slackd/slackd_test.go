package slackd

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestAnswers(t *testing.T) {
	s := New(Options{Token: "xoxb-t", WebhookSecret: "sekrit", Channels: []string{"C1"}, NotMember: []string{"C2"}, Archived: []string{"C3"}})
	defer s.Close()
	api := s.APIURL() + "/chat.postMessage"
	const jsonCT = "application/json; charset=utf-8"
	tests := []struct {
		name       string
		url        string
		auth       string
		ctype      string
		body       string
		wantStatus int
		wantBody   string
	}{
		{name: "webhook ok", url: s.WebhookURL(), ctype: "application/json", body: `{"text":"hi"}`, wantStatus: 200, wantBody: "ok"},
		{name: "webhook blocks only", url: s.WebhookURL(), ctype: "application/json", body: `{"blocks":[{"type":"divider"}]}`, wantStatus: 200, wantBody: "ok"},
		{name: "webhook wrong secret", url: s.URL() + WebhookPathPrefix + "other", ctype: "application/json", body: `{"text":"hi"}`, wantStatus: 404, wantBody: "no_service"},
		{name: "webhook no text", url: s.WebhookURL(), ctype: "application/json", body: `{"text":""}`, wantStatus: 400, wantBody: "no_text"},
		{name: "webhook bad blocks", url: s.WebhookURL(), ctype: "application/json", body: `{"text":"x","blocks":{"type":"divider"}}`, wantStatus: 400, wantBody: "invalid_blocks"},
		{name: "webhook not JSON", url: s.WebhookURL(), ctype: "application/json", body: `{`, wantStatus: 400, wantBody: "invalid_payload"},
		{name: "api ok", url: api, auth: "Bearer xoxb-t", ctype: jsonCT, body: `{"channel":"C1","text":"hi"}`, wantStatus: 200, wantBody: `"ok":true`},
		{name: "api missing charset", url: api, auth: "Bearer xoxb-t", ctype: "application/json", body: `{"channel":"C1","text":"hi"}`, wantStatus: 200, wantBody: `"warning":"missing_charset"`},
		{name: "api no auth", url: api, ctype: jsonCT, body: `{"channel":"C1","text":"hi"}`, wantStatus: 200, wantBody: `"error":"not_authed"`},
		{name: "api wrong token", url: api, auth: "Bearer nope", ctype: jsonCT, body: `{"channel":"C1","text":"hi"}`, wantStatus: 200, wantBody: `"error":"invalid_auth"`},
		{name: "api no channel", url: api, auth: "Bearer xoxb-t", ctype: jsonCT, body: `{"text":"hi"}`, wantStatus: 200, wantBody: `"error":"channel_not_found"`},
		{name: "api not member", url: api, auth: "Bearer xoxb-t", ctype: jsonCT, body: `{"channel":"C2","text":"hi"}`, wantStatus: 200, wantBody: `"error":"not_in_channel"`},
		{name: "api archived", url: api, auth: "Bearer xoxb-t", ctype: jsonCT, body: `{"channel":"C3","text":"hi"}`, wantStatus: 200, wantBody: `"error":"is_archived"`},
		{name: "api no text", url: api, auth: "Bearer xoxb-t", ctype: jsonCT, body: `{"channel":"C1"}`, wantStatus: 200, wantBody: `"error":"no_text"`},
		{name: "api bad JSON", url: api, auth: "Bearer xoxb-t", ctype: jsonCT, body: `{`, wantStatus: 200, wantBody: `"error":"invalid_json"`},
		{name: "api unknown method", url: s.APIURL() + "/chat.update", auth: "Bearer xoxb-t", ctype: jsonCT, body: `{}`, wantStatus: 200, wantBody: `"error":"unknown_method"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, tt.url, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", tt.ctype)
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.wantStatus || !strings.Contains(string(b), tt.wantBody) {
				t.Errorf("got %d %s, want %d with %s", resp.StatusCode, b, tt.wantStatus, tt.wantBody)
			}
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	posts, err := s.WaitPosts(ctx, 4)
	if err != nil {
		t.Fatal(err)
	}
	if len(posts) != 4 || posts[2].Via != "chat.postMessage" || posts[2].TS == "" {
		t.Errorf("posts = %+v, want 2 webhook and 2 chat.postMessage posts", posts)
	}
}

func TestProgrammedFailures(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	s.RateLimitNext(1, "5")
	s.FailNextAPI(1, "internal_error")
	post := func() (*http.Response, string) {
		resp, err := http.Post(s.WebhookURL(), "application/json", strings.NewReader(`{"text":"x"}`))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	if resp, _ := post(); resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "5" {
		t.Errorf("first: %d Retry-After %q, want 429 with 5", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if resp, body := post(); resp.StatusCode != 200 || !strings.Contains(body, `"internal_error"`) {
		t.Errorf("second: %d %s, want 200 ok:false internal_error", resp.StatusCode, body)
	}
	if resp, body := post(); resp.StatusCode != 200 || body != "ok" {
		t.Errorf("third: %d %s, want 200 ok", resp.StatusCode, body)
	}
	if n := len(s.Posts()); n != 1 {
		t.Errorf("posts = %d, want 1", n)
	}
}
