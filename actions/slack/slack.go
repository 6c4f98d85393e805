// Package slack implements hookd's `slack` action: a message posted to an
// incoming webhook (connections.slack.webhook_url), or with chat.postMessage
// and a bot token when the action names a channel. It reads Slack's two
// ways of failing (a status with a plain-text code for webhooks, HTTP 200
// with "ok": false for the Web API), says what to do about the common
// ones, and keeps about one message a second per webhook or channel.
package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/hookd/hookd/actions"
	"github.com/hookd/hookd/actions/httpx"
	"github.com/hookd/hookd/actions/secret"
)

// Defaults of the Slack connection.
const (
	// DefaultRate is messages per second per webhook or channel.
	DefaultRate = 1.0
	// DefaultBurst is how many messages may go at once above the rate.
	DefaultBurst = 3
)

// ReasonSlackError is the Result.Reason of a Web API answer with
// "ok": false.
const ReasonSlackError = "slack_error"

// Options are the parts of a Client that do not come from the rules file.
type Options struct {
	// HTTPClient sends the requests (default httpx.NewClient()).
	HTTPClient *http.Client
	// Logger receives warnings Slack sends back (default slog.Default()).
	Logger *slog.Logger
}

// Client sends the `slack` action. It is safe for concurrent use.
type Client struct {
	webhook secret.String
	token   secret.String
	apiURL  string
	http    *http.Client
	gates   *httpx.Gates
	logger  *slog.Logger
	// secrets are the connection's Secrets, masked in what Slack
	// answers and in every text the Client returns.
	secrets []string
	// cfgErr is a connection problem found by New.
	cfgErr error
}

var (
	_ actions.Action    = (*Client)(nil)
	_ actions.Describer = (*Client)(nil)
)

// New returns a Client for the connection. A connection that cannot work
// (a webhook URL or api_url that is not http(s)) does not fail here:
// every call then returns a permanent "invalid" Result saying what to fix.
func New(cfg *actions.SlackConfig, opts Options) *Client {
	if cfg == nil {
		cfg = &actions.SlackConfig{}
	}
	c := &Client{
		webhook: cfg.WebhookURL,
		token:   cfg.Token,
		secrets: cfg.Secrets(),
		apiURL:  strings.TrimRight(cfg.APIURL, "/"),
		http:    opts.HTTPClient,
		logger:  opts.Logger,
	}
	if c.apiURL == "" {
		c.apiURL = actions.DefaultSlackAPIURL
	}
	if c.http == nil {
		c.http = httpx.NewClient()
	}
	if c.logger == nil {
		c.logger = slog.Default()
	}
	r, burst := cfg.Rate, cfg.Burst
	if r <= 0 {
		r = DefaultRate
	}
	if burst <= 0 {
		burst = DefaultBurst
	}
	c.gates = httpx.NewGates(r, burst, 0)

	var problems []string
	for _, p := range Check(cfg, nil) {
		problems = append(problems, p.Msg)
	}
	if len(problems) > 0 {
		c.cfgErr = fmt.Errorf("slack: %s", strings.Join(problems, "; "))
	}
	return c
}

// Check returns the problems of cfg's URLs, which New refuses every call
// for and the rules loader reports at the field's line: a webhook_url or
// api_url that is not an http(s) URL. skip, when not nil, says a value
// is not to be checked (an unset variable of a dry-run).
func Check(cfg *actions.SlackConfig, skip func(string) bool) []actions.Problem {
	checks := func(v string) bool { return v != "" && (skip == nil || !skip(v)) }
	var out []actions.Problem
	if u := cfg.WebhookURL.Reveal(); checks(u) && !httpx.IsHTTPURL(u) {
		out = append(out, actions.Problem{Field: "webhook_url", Msg: "connections.slack.webhook_url is not an http(s) URL; copy the incoming webhook's URL (https://hooks.slack.com/services/...) from the Slack app"})
	}
	if u := cfg.APIURL; checks(u) && !httpx.IsHTTPURL(u) {
		out = append(out, actions.Problem{Field: "api_url", Msg: fmt.Sprintf("connections.slack.api_url %q is not an http(s) URL; remove it to use %s", httpx.RedactURL(u), actions.DefaultSlackAPIURL)})
	}
	return out
}

// message is a call's fields, checked.
type message struct {
	text     string
	blocks   []any
	channel  string
	threadTS string
}

// request is what Do sends for a call.
type request struct {
	req  *http.Request
	body []byte
	// op names the request in errors, URL redacted.
	op string
	// key selects the rate limiter: the webhook, or the channel.
	key string
	msg message
}

// build checks the call's fields and makes the request. It reads no
// secret into any text it returns.
func (c *Client) build(call actions.Call) (*request, error) {
	if c.cfgErr != nil {
		return nil, c.cfgErr
	}
	m, err := readMessage(call.Params)
	if err != nil {
		return nil, err
	}
	var (
		target  string
		payload = map[string]any{"text": m.text}
		r       = &request{msg: m}
	)
	if len(m.blocks) > 0 {
		payload["blocks"] = m.blocks
	}
	if m.threadTS != "" {
		payload["thread_ts"] = m.threadTS
	}
	if m.channel != "" {
		if c.token.IsZero() {
			return nil, errors.New("slack: channel is set but connections.slack.token is empty; add a bot token (xoxb-..., scope chat:write) or remove channel to post to the webhook")
		}
		payload["channel"] = m.channel
		target = c.apiURL + "/chat.postMessage"
		r.key = "channel:" + m.channel
	} else {
		if c.webhook.IsZero() {
			return nil, errors.New("slack: connections.slack.webhook_url is empty; set it, or give the action a channel and set connections.slack.token")
		}
		target = c.webhook.Reveal()
		r.key = "webhook"
	}
	body, err := httpx.EncodeJSON(payload)
	if err != nil {
		return nil, fmt.Errorf("slack: encode the message: %w; blocks must be plain JSON values", err)
	}
	req, err := http.NewRequest(http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("slack: build request for %s: %w", httpx.RedactURL(target), httpx.RedactError(err))
	}
	req.Header.Set("User-Agent", "hookd")
	if m.channel != "" {
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
		req.Header.Set("Authorization", "Bearer "+c.token.Reveal())
	} else {
		req.Header.Set("Content-Type", "application/json")
	}
	r.req, r.body = req, body
	r.op = "slack: POST " + c.scrub(httpx.RedactURL(target))
	return r, nil
}

// readMessage reads text, blocks, channel and thread_ts.
func readMessage(params map[string]any) (message, error) {
	var m message
	var errs []error
	get := func(field string) string {
		switch v := params[field].(type) {
		case nil:
			return ""
		case string:
			return v
		case bool, int, int64, float64, json.Number:
			return fmt.Sprint(v)
		default:
			errs = append(errs, fmt.Errorf("%s is %T; it must render to text", field, v))
			return ""
		}
	}
	m.text = get("text")
	m.channel = strings.TrimSpace(get("channel"))
	m.threadTS = strings.TrimSpace(get("thread_ts"))
	blocks, err := readBlocks(params["blocks"])
	if err != nil {
		errs = append(errs, err)
	}
	m.blocks = blocks
	if len(errs) == 0 && strings.TrimSpace(m.text) == "" {
		errs = append(errs, errors.New("text is empty after rendering; give the rule a text (Slack shows it in notifications, also when blocks are set)"))
	}
	if len(errs) > 0 {
		return m, fmt.Errorf("slack: %w", errors.Join(errs...))
	}
	return m, nil
}

// readBlocks accepts a list of block objects, or a string holding one as
// JSON (a template that renders a JSON document).
func readBlocks(v any) ([]any, error) {
	switch b := v.(type) {
	case nil:
		return nil, nil
	case []any:
		for i, e := range b {
			if _, ok := e.(map[string]any); !ok {
				return nil, fmt.Errorf("blocks[%d] is %T; each block is an object like {type: section, text: {type: mrkdwn, text: ...}}", i, e)
			}
		}
		return b, nil
	case string:
		if strings.TrimSpace(b) == "" {
			return nil, nil
		}
		var list []any
		if err := json.Unmarshal([]byte(b), &list); err != nil {
			return nil, fmt.Errorf("blocks is a string that is not a JSON list of blocks (%v); write blocks as a YAML list", err)
		}
		return readBlocks(list)
	default:
		return nil, fmt.Errorf("blocks is %T; write blocks as a list of Block Kit objects", v)
	}
}

// Describe shows the request Do would send: method, redacted URL,
// headers with the token masked, and the JSON body.
func (c *Client) Describe(call actions.Call) (string, error) {
	r, err := c.build(call)
	if err != nil {
		return "", err
	}
	return c.scrub(httpx.Dump(r.req, r.body)), nil
}

// scrub hides the token and the webhook URL (whole, and each part that
// holds its secret, see actions.SlackConfig.Secrets) in a text: the last
// guard for webhook URLs whose path httpx.RedactURL does not recognise.
func (c *Client) scrub(text string) string {
	return httpx.Scrub(text, c.secrets...)
}

// Do posts the call's message once, after waiting for the rate of its
// webhook or channel.
func (c *Client) Do(ctx context.Context, call actions.Call) actions.Result {
	res := c.do(ctx, call)
	res.Err = httpx.ScrubError(res.Err, c.secrets...)
	res.Response = c.scrub(res.Response)
	return res
}

func (c *Client) do(ctx context.Context, call actions.Call) actions.Result {
	r, err := c.build(call)
	if err != nil {
		return actions.Result{Err: err, Reason: httpx.ReasonInvalid}
	}
	release, err := c.gates.Acquire(ctx, r.key)
	if err != nil {
		return httpx.ErrorResult(r.op, err)
	}
	defer release()

	a, err := httpx.Do(ctx, c.http, r.req, c.secrets...)
	if err != nil {
		return httpx.ErrorResult(r.op, err)
	}
	if r.msg.channel != "" {
		return c.apiResult(call, r, a, c.scrub)
	}
	return webhookResult(r, a, c.scrub)
}

// webhookResult reads an incoming webhook's answer: 200 "ok", or a
// status with a plain-text error code.
func webhookResult(r *request, a *httpx.Answer, scrub func(string) string) actions.Result {
	if a.OK() {
		return a.Success(scrub(a.Summary()))
	}
	code := strings.TrimSpace(scrub(a.Snippet()))
	return a.Failure(r.op, code, webhookHint(a.Status, code))
}

func webhookHint(status int, code string) string {
	switch {
	case status == http.StatusNotFound:
		return "the webhook was revoked or disabled, or its channel deleted: create a new incoming webhook in the Slack app and update connections.slack.webhook_url"
	case status == http.StatusGone:
		return "the webhook's channel is archived: unarchive it, or create a webhook for another channel and update connections.slack.webhook_url"
	case status == http.StatusForbidden:
		return "Slack does not let this webhook post (action_prohibited, or the token behind it was revoked): check the app's permissions in the workspace, or create a new webhook"
	case status == http.StatusBadRequest && (code == "no_text" || strings.HasPrefix(code, "missing_text")):
		return "the message has no text: give the rule a text"
	case status == http.StatusBadRequest && strings.Contains(code, "blocks"):
		return "Slack refused the blocks: check them in Block Kit Builder"
	case status == http.StatusBadRequest:
		return "Slack refused the message: check the rule's text and blocks"
	}
	return ""
}

// apiAnswer is the JSON of a Web API answer.
type apiAnswer struct {
	OK       bool   `json:"ok"`
	Error    string `json:"error"`
	Warning  string `json:"warning"`
	Channel  string `json:"channel"`
	TS       string `json:"ts"`
	Metadata struct {
		Warnings []string `json:"warnings"`
		Messages []string `json:"messages"`
	} `json:"response_metadata"`
}

// retryableCodes are the Web API error codes worth retrying.
var retryableCodes = map[string]bool{
	"rate_limited":        true,
	"ratelimited":         true,
	"internal_error":      true,
	"fatal_error":         true,
	"service_unavailable": true,
	"request_timeout":     true,
}

// APIError is the error of a Web API answer with "ok": false.
type APIError struct {
	// Op says what was sent, e.g. "slack: POST https://slack.com/api/chat.postMessage".
	Op string
	// Channel is the channel the message was for.
	Channel string
	// Code is Slack's error code, e.g. "not_in_channel".
	Code string
	// Hint says what the user can do.
	Hint string
}

// Error renders "op: channel C123: not_in_channel; hint".
func (e *APIError) Error() string {
	s := fmt.Sprintf("%s: channel %s: %s", e.Op, e.Channel, e.Code)
	if e.Hint != "" {
		s += "; " + e.Hint
	}
	return s
}

func (c *Client) apiResult(call actions.Call, r *request, a *httpx.Answer, scrub func(string) string) actions.Result {
	if !a.OK() {
		return a.Failure(r.op, scrub(a.Snippet()), apiStatusHint(a.Status))
	}
	var ans apiAnswer
	if err := json.Unmarshal(a.Body, &ans); err != nil {
		return actions.Result{
			Err: &APIError{Op: r.op, Channel: r.msg.channel, Code: "not_json",
				Hint: fmt.Sprintf("the answer is not Slack's JSON (%s): check connections.slack.api_url", scrub(a.Snippet()))},
			Reason:   ReasonSlackError,
			Response: a.StatusText,
		}
	}
	warnings := ans.Metadata.Warnings
	if ans.Warning != "" && len(warnings) == 0 {
		warnings = []string{ans.Warning}
	}
	if len(warnings) > 0 {
		c.logger.Warn("slack: chat.postMessage answered with warnings",
			"action", call.Name, "channel", r.msg.channel, "warnings", strings.Join(warnings, ","))
	}
	if ans.OK {
		return a.Success(fmt.Sprintf("%s ok channel=%s ts=%s", a.StatusText, ans.Channel, ans.TS))
	}
	code := scrub(ans.Error)
	if code == "" {
		code = "unknown_error"
	}
	res := actions.Result{
		Err:       &APIError{Op: r.op, Channel: r.msg.channel, Code: code, Hint: apiHint(code, r.msg.channel)},
		Retryable: retryableCodes[code],
		Reason:    ReasonSlackError,
		Response:  scrub(a.Summary()),
	}
	if res.Retryable {
		res.RetryAfter = httpx.RetryAfter(a.Header.Get("Retry-After"), a.Received)
	}
	return res
}

func apiStatusHint(status int) string {
	if status == http.StatusNotFound {
		return "no Slack Web API here: check connections.slack.api_url"
	}
	return ""
}

// apiHint says what to do about a Web API error code.
func apiHint(code, channel string) string {
	switch code {
	case "not_in_channel":
		return fmt.Sprintf("the bot is not a member of %s: invite it (/invite @your-bot in the channel), or add the chat:write.public scope for public channels", channel)
	case "channel_not_found":
		return fmt.Sprintf("%s does not exist or the bot cannot see it: use the channel's ID (C..., from the channel details), and invite the bot to private channels", channel)
	case "is_archived":
		return fmt.Sprintf("%s is archived: unarchive it or choose another channel", channel)
	case "invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive":
		return "the bot token was refused: check connections.slack.token (a bot token, xoxb-...) and reinstall the Slack app if it was revoked"
	case "missing_scope":
		return "the bot token lacks the chat:write scope: add it under OAuth & Permissions and reinstall the Slack app"
	case "msg_too_long":
		return "the text is too long: shorten the rule's text (Slack advises under 4,000 characters)"
	case "no_text":
		return "the message has no text: give the rule a text"
	case "invalid_blocks", "invalid_blocks_format", "too_many_blocks":
		return "Slack refused the blocks: check them in Block Kit Builder (at most 50 blocks)"
	case "restricted_action", "ekm_access_denied":
		return "the workspace does not let the bot post there: ask a workspace admin"
	}
	if retryableCodes[code] {
		return "Slack is rate limiting or unavailable; retryable"
	}
	return ""
}
