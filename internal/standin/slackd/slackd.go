// Package slackd stands in for Slack on 127.0.0.1: an incoming webhook
// and the Web API's chat.postMessage, answering as Slack documents it
// (https://api.slack.com/messaging/webhooks#handling_errors and
// https://api.slack.com/methods/chat.postMessage): plain-text error bodies
// with 4xx statuses for the webhook, HTTP 200 with {"ok":false,"error":...}
// for the Web API.
// It is built on standin.Server, so it records every request, can be told
// to fail or hang, and lets a caller wait for a condition. Nothing here
// depends on package testing.
package slackd

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"sync"

	"github.com/hookd/hookd/internal/standin"
)

// Paths of the stand-in.
const (
	// WebhookPathPrefix is the path of the webhook without its secret.
	WebhookPathPrefix = "/services/T000/B000/"
	// APIPath is the Web API's base path.
	APIPath = "/api"
)

// Options configures a Server.
type Options struct {
	// Token is the bot token chat.postMessage accepts (default
	// "xoxb-slackd-test-token").
	Token string
	// WebhookSecret is the last segment of the webhook path (default:
	// random).
	WebhookSecret string
	// Channels are the channel ids the bot is a member of (default
	// ["C0GENERAL"]).
	Channels []string
	// NotMember are channels that exist but the bot is not in
	// (chat.postMessage answers not_in_channel).
	NotMember []string
	// Archived are archived channels (is_archived).
	Archived []string
}

// Post is one message the stand-in accepted.
type Post struct {
	// Via is "webhook" or "chat.postMessage".
	Via string
	// Channel is the channel id (empty for the webhook).
	Channel string
	// Text, Blocks and ThreadTS are the fields of the payload.
	Text     string
	Blocks   []any
	ThreadTS string
	// TS is the timestamp chat.postMessage answered.
	TS string
	// Payload is the decoded JSON body as sent.
	Payload map[string]any
}

// Server is the Slack stand-in. The embedded standin.Server records
// every request (Requests, WaitFor, Count) and takes programmed failures
// (FailNext, HangNext, FailAll, HangAll, Heal) that come before Slack's
// own answers.
type Server struct {
	*standin.Server
	opts Options

	mu    sync.Mutex
	posts []Post
	seq   int
	chans map[string]string // channel id -> "member", "not_member", "archived"
}

// New starts a Slack stand-in on 127.0.0.1. Close it when done.
func New(opts Options) *Server {
	if opts.Token == "" {
		opts.Token = "xoxb-slackd-test-token"
	}
	if opts.WebhookSecret == "" {
		var b [12]byte
		_, _ = rand.Read(b[:])
		opts.WebhookSecret = hex.EncodeToString(b[:])
	}
	if opts.Channels == nil {
		opts.Channels = []string{"C0GENERAL"}
	}
	s := &Server{opts: opts, chans: map[string]string{}}
	for _, c := range opts.Channels {
		s.chans[c] = "member"
	}
	for _, c := range opts.NotMember {
		s.chans[c] = "not_member"
	}
	for _, c := range opts.Archived {
		s.chans[c] = "archived"
	}
	s.Server = standin.NewServer(http.HandlerFunc(s.handle))
	return s
}

// WebhookURL is the incoming webhook's URL, secret included.
func (s *Server) WebhookURL() string {
	return s.URL() + WebhookPathPrefix + s.opts.WebhookSecret
}

// APIURL is the Web API's base URL, to use as connections.slack.api_url.
func (s *Server) APIURL() string { return s.URL() + APIPath }

// Token is the bot token chat.postMessage accepts.
func (s *Server) Token() string { return s.opts.Token }

// Posts returns the messages accepted so far, in order.
func (s *Server) Posts() []Post {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Post(nil), s.posts...)
}

// FailNextAPI makes the next n requests answer HTTP 200 with
// {"ok":false,"error":code}, as the Web API does (e.g. "not_in_channel",
// "internal_error", "ratelimited").
func (s *Server) FailNextAPI(n int, code string) {
	body, _ := json.Marshal(map[string]any{"ok": false, "error": code})
	s.FailNext(n, http.StatusOK, http.Header{"Content-Type": {"application/json; charset=utf-8"}}, string(body))
}

// RateLimitNext makes the next n requests answer 429 with Retry-After
// set to retryAfter (seconds or an HTTP date), as Slack rate-limits both
// webhooks and the Web API.
func (s *Server) RateLimitNext(n int, retryAfter string) {
	s.FailNext(n, http.StatusTooManyRequests, http.Header{"Retry-After": {retryAfter}}, "rate_limited")
}

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	switch {
	case strings.HasPrefix(r.URL.Path, APIPath+"/"):
		s.api(w, r, strings.TrimPrefix(r.URL.Path, APIPath+"/"))
	case r.URL.Path == WebhookPathPrefix+s.opts.WebhookSecret:
		s.webhook(w, r)
	default:
		text(w, http.StatusNotFound, "no_service")
	}
}

func text(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

func apiJSON(w http.ResponseWriter, v map[string]any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(v)
}

func apiError(w http.ResponseWriter, code string) {
	apiJSON(w, map[string]any{"ok": false, "error": code})
}

// payload decodes a JSON body and checks text and blocks; it returns
// Slack's error code when they are not right.
func payload(r *http.Request) (map[string]any, string) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/json" {
		return nil, "invalid_payload"
	}
	var p map[string]any
	dec := json.NewDecoder(r.Body)
	dec.UseNumber()
	if err := dec.Decode(&p); err != nil {
		return nil, "invalid_payload"
	}
	blocks, hasBlocks := p["blocks"]
	if hasBlocks && blocks != nil {
		list, ok := blocks.([]any)
		if !ok {
			return nil, "invalid_blocks"
		}
		for _, b := range list {
			m, ok := b.(map[string]any)
			if !ok || m["type"] == nil {
				return nil, "invalid_blocks"
			}
		}
	}
	t, _ := p["text"].(string)
	if strings.TrimSpace(t) == "" && (!hasBlocks || blocks == nil) {
		return nil, "no_text"
	}
	return p, ""
}

func toPost(via, channel, ts string, p map[string]any) Post {
	t, _ := p["text"].(string)
	thread, _ := p["thread_ts"].(string)
	blocks, _ := p["blocks"].([]any)
	return Post{Via: via, Channel: channel, Text: t, Blocks: blocks, ThreadTS: thread, TS: ts, Payload: p}
}

func (s *Server) webhook(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		text(w, http.StatusMethodNotAllowed, "invalid_method")
		return
	}
	p, code := payload(r)
	if code != "" {
		text(w, http.StatusBadRequest, code)
		return
	}
	s.mu.Lock()
	s.posts = append(s.posts, toPost("webhook", "", "", p))
	s.mu.Unlock()
	w.Header().Set("Content-Type", "text/html")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, "ok")
}

func (s *Server) api(w http.ResponseWriter, r *http.Request, method string) {
	if method != "chat.postMessage" {
		apiError(w, "unknown_method")
		return
	}
	auth := r.Header.Get("Authorization")
	token, isBearer := strings.CutPrefix(auth, "Bearer ")
	switch {
	case auth == "":
		apiError(w, "not_authed")
		return
	case !isBearer || token != s.opts.Token:
		apiError(w, "invalid_auth")
		return
	}
	p, code := payload(r)
	if code == "invalid_payload" {
		code = "invalid_json"
	}
	if code != "" {
		apiError(w, code)
		return
	}
	channel, _ := p["channel"].(string)
	s.mu.Lock()
	state := s.chans[channel]
	s.mu.Unlock()
	switch state {
	case "":
		apiError(w, "channel_not_found")
		return
	case "not_member":
		apiError(w, "not_in_channel")
		return
	case "archived":
		apiError(w, "is_archived")
		return
	}
	s.mu.Lock()
	s.seq++
	ts := fmt.Sprintf("1700000000.%06d", s.seq)
	s.posts = append(s.posts, toPost("chat.postMessage", channel, ts, p))
	s.mu.Unlock()
	resp := map[string]any{"ok": true, "channel": channel, "ts": ts, "message": map[string]any{"text": p["text"], "type": "message"}}
	if _, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); params["charset"] == "" {
		resp["warning"] = "missing_charset"
		resp["response_metadata"] = map[string]any{"warnings": []string{"missing_charset"}}
	}
	apiJSON(w, resp)
}

// WaitPosts waits until at least n messages were accepted, or ctx ends.
func (s *Server) WaitPosts(ctx context.Context, n int) ([]Post, error) {
	err := s.WaitFor(ctx, func([]standin.Request) bool { return len(s.Posts()) >= n })
	return s.Posts(), err
}
