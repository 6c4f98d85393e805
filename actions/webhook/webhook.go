// Package webhook sends hookd's webhook action: an HTTP request to a URL
// fixed in the rules file, with a rate limit per target host and a cap
// on requests in flight.
package webhook

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hookd/hookd/actions"
	"github.com/hookd/hookd/actions/httpx"
)

// Type is the action type the client handles.
const Type = "webhook"

// Defaults of a connection that does not set them.
const (
	DefaultRate        = 10.0
	DefaultConcurrency = 8
)

// Options tune a Client: its HTTP client and clock.
type Options = httpx.Options

// Client sends webhook actions. It implements actions.Action and
// actions.Describer and is safe for concurrent use.
type Client struct {
	http  *http.Client
	now   func() time.Time
	gates *httpx.Gates
}

var (
	_ actions.Action    = (*Client)(nil)
	_ actions.Describer = (*Client)(nil)
)

// New returns a webhook client tuned by cfg (nil takes the defaults):
// Rate requests a second per target host (burst: Rate rounded up) and at
// most Concurrency requests in flight over all hosts.
func New(cfg *actions.WebhookConfig, opts Options) *Client {
	if cfg == nil {
		cfg = &actions.WebhookConfig{}
	}
	rate, conc := cfg.Rate, cfg.Concurrency
	if rate <= 0 {
		rate = DefaultRate
	}
	if conc <= 0 {
		conc = DefaultConcurrency
	}
	opts = opts.WithDefaults()
	return &Client{
		http:  opts.HTTPClient,
		now:   opts.Now,
		gates: httpx.NewGates(rate, int(math.Ceil(rate)), conc),
	}
}

// Do sends call once and reports what the target answered.
func (c *Client) Do(ctx context.Context, call actions.Call) actions.Result {
	req, _, secrets, err := build(call)
	if err != nil {
		return actions.Result{Err: err, Reason: httpx.ReasonInvalid}
	}
	op := "webhook: " + req.Method + " " + httpx.RedactURL(req.URL.String())
	release, err := c.gates.Acquire(ctx, req.URL.Host)
	if err != nil {
		return httpx.ErrorResult(op, err)
	}
	defer release()
	ans, err := httpx.Do(ctx, c.http, req, secrets...)
	if err != nil {
		return httpx.ErrorResult(op, err)
	}
	ans.Received = c.now()
	if ans.OK() {
		return ans.Success(ans.Summary())
	}
	return ans.Failure(op, ans.Snippet(), "")
}

// Describe shows the request Do would send for call, secrets masked.
func (c *Client) Describe(call actions.Call) (string, error) {
	req, body, _, err := build(call)
	if err != nil {
		return "", err
	}
	return httpx.Dump(req, body), nil
}

// build turns call into a request, its body, and the secret values it
// carries (secret headers, URL password and secret query values) to
// mask in what the target answers.
func build(call actions.Call) (*http.Request, []byte, []string, error) {
	p := call.Params
	raw, _ := p["url"].(string)
	u, err := url.Parse(strings.TrimSpace(raw))
	if raw == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, nil, nil, fmt.Errorf("webhook: url %s is not an http(s) URL; set url: to https://host/path in the rules file", httpx.RedactURL(raw))
	}
	u.Fragment = ""
	var secrets []string
	if pw, ok := u.User.Password(); ok {
		secrets = append(secrets, pw)
	}
	for k, vs := range u.Query() {
		if httpx.IsSecretName(k) {
			secrets = append(secrets, vs...)
		}
	}

	m, _ := p["method"].(string)
	method := strings.ToUpper(strings.TrimSpace(m))
	switch method {
	case "":
		method = http.MethodPost
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
	default:
		return nil, nil, nil, fmt.Errorf("webhook: method %q is not GET, POST, PUT, PATCH or DELETE", m)
	}

	header := http.Header{}
	switch hs := p["headers"].(type) {
	case nil:
	case map[string]string:
		for k, v := range hs {
			header.Set(k, v)
		}
	case map[string]any:
		for k, v := range hs {
			if v != nil {
				header.Set(k, fmt.Sprint(v))
			}
		}
	default:
		return nil, nil, nil, fmt.Errorf("webhook: headers must be a map of names to strings, got %T", hs)
	}
	for k, vs := range header {
		if httpx.IsSecretHeader(k) {
			for _, v := range vs {
				secrets = append(secrets, v)
				if _, cred, ok := strings.Cut(v, " "); ok {
					secrets = append(secrets, cred)
				}
			}
		}
	}

	var body []byte
	switch b := p["body"].(type) {
	case nil:
	case string:
		body = []byte(b)
		if header.Get("Content-Type") == "" {
			header.Set("Content-Type", "text/plain; charset=utf-8")
		}
	default:
		body, err = httpx.EncodeJSON(b)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("webhook: body cannot be sent as JSON: %w", err)
		}
		if header.Get("Content-Type") == "" {
			header.Set("Content-Type", "application/json")
		}
	}
	if header.Get("User-Agent") == "" {
		header.Set("User-Agent", "hookd")
	}
	if header.Get(actions.ReferenceHeader) == "" && call.Reference != "" {
		header.Set(actions.ReferenceHeader, call.Reference)
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, u.String(), rd)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("webhook: %w", httpx.RedactError(err))
	}
	req.Header = header
	if h := header.Get("Host"); h != "" {
		req.Host = h
	}
	return req, body, secrets, nil
}
