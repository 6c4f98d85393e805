// Package wassenger sends hookd's Wassenger actions to the Wassenger
// REST API: wassenger.message, wassenger.request, and the named group and
// chat actions (group.go, chat.go). One client per connection, with the
// connection's rate limit and cap on requests in flight shared by every
// action type.
package wassenger

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hookd/hookd/actions"
	"github.com/hookd/hookd/actions/httpx"
	"github.com/hookd/hookd/actions/secret"
)

// Action types the client handles.
const (
	TypeMessage = "wassenger.message"
	TypeRequest = "wassenger.request"
)

// Defaults of a connection that does not set them.
const (
	DefaultRate        = 5.0
	DefaultBurst       = 1
	DefaultConcurrency = 4
)

// Options tune a Client: its HTTP client and clock.
type Options = httpx.Options

// Client sends Wassenger actions over one connection. It implements
// actions.Action and actions.Describer for both wassenger.message and
// wassenger.request, and is safe for concurrent use.
type Client struct {
	base    *url.URL
	baseErr error
	token   secret.String
	http    *http.Client
	now     func() time.Time
	gate    *httpx.Gate
}

var (
	_ actions.Action    = (*Client)(nil)
	_ actions.Describer = (*Client)(nil)
)

// New returns a client for the connection cfg (nil is a connection with
// no token: every call then fails as "invalid"). Zero Rate, Burst and
// Concurrency take DefaultRate, DefaultBurst and DefaultConcurrency.
func New(cfg *actions.WassengerConfig, opts Options) *Client {
	if cfg == nil {
		cfg = &actions.WassengerConfig{}
	}
	opts = opts.WithDefaults()
	c := &Client{token: cfg.Token, http: opts.HTTPClient, now: opts.Now}
	c.base, c.baseErr = parseBase(cfg.BaseURL)
	rate, burst, conc := cfg.Rate, cfg.Burst, cfg.Concurrency
	if rate <= 0 {
		rate = DefaultRate
	}
	if burst <= 0 {
		burst = DefaultBurst
	}
	if conc <= 0 {
		conc = DefaultConcurrency
	}
	c.gate = httpx.NewGate(rate, burst, conc)
	return c
}

func parseBase(raw string) (*url.URL, error) {
	if raw == "" {
		raw = actions.DefaultWassengerBaseURL
	}
	u, err := url.Parse(strings.TrimRight(raw, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("connections.wassenger.base_url %s is not an http(s) URL without query; fix it or leave it out for %s",
			httpx.RedactURL(raw), actions.DefaultWassengerBaseURL)
	}
	u.User = nil
	return u, nil
}

// Do sends call once and reports what Wassenger answered.
func (c *Client) Do(ctx context.Context, call actions.Call) actions.Result {
	req, _, op, err := c.build(call)
	if err != nil {
		return actions.Result{Err: err, Reason: httpx.ReasonInvalid}
	}
	release, err := c.gate.Acquire(ctx)
	if err != nil {
		return httpx.ErrorResult(op, err)
	}
	defer release()
	ans, err := httpx.Do(ctx, c.http, req, c.token.Reveal())
	if err != nil {
		r := httpx.ErrorResult(op, err)
		r.Err = httpx.ScrubError(r.Err, c.token.Reveal())
		return r
	}
	ans.Received = c.now()
	if ans.OK() {
		if reportsParticipants(call.Type) {
			return partialResult(op, ans)
		}
		return ans.Success(summary(ans))
	}
	return ans.Failure(op, errorDetail(ans.Body), hint(ans.Status))
}

// Describe shows the request Do would send for call, the token masked.
func (c *Client) Describe(call actions.Call) (string, error) {
	req, body, _, err := c.build(call)
	if err != nil {
		return "", err
	}
	return httpx.Dump(req, body), nil
}

// build turns call into a request, its body (for Describe) and the op
// that prefixes errors.
func (c *Client) build(call actions.Call) (*http.Request, []byte, string, error) {
	if c.baseErr != nil {
		return nil, nil, "", fmt.Errorf("%s: %w", call.Type, c.baseErr)
	}
	if c.token.IsZero() {
		return nil, nil, "", fmt.Errorf("%s: no API key: set connections.wassenger.token (e.g. token: ${WASSENGER_TOKEN})", call.Type)
	}
	var (
		method, path string
		query        url.Values
		payload      any
		hasBody      bool
		err          error
	)
	switch call.Type {
	case TypeMessage:
		method, path = http.MethodPost, "/messages"
		payload, err = messageBody(call)
		hasBody = true
	case TypeRequest:
		method, path, query, payload, hasBody, err = requestParts(call.Params)
	default:
		// The named group, chat and message.delete actions (group.go, chat.go).
		var n named
		n, err = namedRequest(call)
		method, path, query, payload, hasBody = n.method, n.path, n.query, n.body, n.hasBody
	}
	if err != nil {
		return nil, nil, "", fmt.Errorf("%s: %w", call.Type, err)
	}
	op := "wassenger: " + method + " " + path
	u, err := url.Parse(c.base.String() + path)
	if err != nil || u.Host != c.base.Host {
		return nil, nil, "", fmt.Errorf("%s: path %q does not make a valid URL under base_url; use a plain path like /devices/ID/groups", call.Type, path)
	}
	if len(query) > 0 {
		u.RawQuery = query.Encode()
	}
	var body []byte
	if hasBody {
		body, err = httpx.EncodeJSON(payload)
		if err != nil {
			return nil, nil, "", fmt.Errorf("%s: body cannot be sent as JSON: %w", call.Type, err)
		}
	}
	var rd io.Reader
	if hasBody {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, u.String(), rd)
	if err != nil {
		return nil, nil, "", fmt.Errorf("%s: %w", call.Type, httpx.RedactError(err))
	}
	req.Header.Set("Token", c.token.Reveal())
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "hookd")
	if call.Reference != "" {
		req.Header.Set(actions.ReferenceHeader, call.Reference)
	}
	if hasBody {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, body, op, nil
}

// requestParts reads the fields of a wassenger.request call.
func requestParts(p map[string]any) (method, path string, query url.Values, body any, hasBody bool, err error) {
	m, _ := p["method"].(string)
	method = strings.ToUpper(strings.TrimSpace(m))
	switch method {
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
	default:
		return "", "", nil, nil, false, fmt.Errorf("method %q is not GET, POST, PUT, PATCH or DELETE", m)
	}
	rawPath, isString := p["path"].(string)
	if !isString {
		return "", "", nil, nil, false, fmt.Errorf("path must be a string like /devices/ID/groups, got %T", p["path"])
	}
	if path, err = CheckPath(rawPath); err != nil {
		return "", "", nil, nil, false, err
	}
	if query, err = queryValues(p["query"]); err != nil {
		return "", "", nil, nil, false, err
	}
	body, hasBody = p["body"]
	if hasBody && body == nil {
		hasBody = false
	}
	return method, path, query, body, hasBody, nil
}

// CheckPath validates the path of a wassenger.request, which comes from
// templates and so from event data: it must start with "/" and hold no
// scheme or host, no "." or ".." segment (also percent-encoded), no "?"
// or "#", no backslash, whitespace or control characters. It returns the
// path to append to base_url.
func CheckPath(p string) (string, error) {
	bad := func(why string) (string, error) {
		return "", fmt.Errorf("path %q %s; give a path relative to base_url like /devices/ID/groups/ID@g.us/members, with query parameters in the action's query field", p, why)
	}
	switch {
	case p == "":
		return bad("is empty (a template may have rendered empty)")
	case !strings.HasPrefix(p, "/"):
		return bad(`does not start with "/"`)
	case strings.HasPrefix(p, "//"), strings.Contains(p, "://"):
		return bad("names a host")
	case strings.ContainsAny(p, "?#"):
		return bad(`contains "?" or "#"`)
	case strings.ContainsAny(p, "\\"):
		return bad("contains a backslash")
	}
	for _, r := range p {
		if r <= ' ' || r == 0x7f {
			return bad("contains whitespace or control characters")
		}
	}
	dec, err := url.PathUnescape(p)
	if err != nil {
		return bad("has a malformed %-escape")
	}
	for _, seg := range strings.Split(dec, "/") {
		if seg == "." || seg == ".." {
			return bad(`contains a "." or ".." segment`)
		}
	}
	if strings.ContainsAny(dec, "?#\\") || strings.Contains(dec, "//") {
		return bad(`contains an escaped "?", "#", "\" or "//"`)
	}
	return p, nil
}

func queryValues(v any) (url.Values, error) {
	q := url.Values{}
	switch m := v.(type) {
	case nil:
	case map[string]string:
		for k, s := range m {
			q.Set(k, s)
		}
	case map[string]any:
		for k, x := range m {
			switch s := x.(type) {
			case string:
				q.Set(k, s)
			case nil:
			default:
				q.Set(k, fmt.Sprint(s))
			}
		}
	default:
		return nil, fmt.Errorf("query must be a map of names to strings, got %T", v)
	}
	return q, nil
}

// apiError is Wassenger's error body.
type apiError struct {
	Status    int    `json:"status"`
	Message   string `json:"message"`
	ErrorCode string `json:"errorCode"`
	Errors    []struct {
		Code    string `json:"code"`
		Reason  string `json:"reason"`
		Message string `json:"message"`
	} `json:"errors"`
}

// errorDetail renders Wassenger's error body as
// "message (errorCode X; errors: code: message, ...)", or the first
// bytes of a body that is not one.
func errorDetail(body []byte) string {
	var e apiError
	if err := json.Unmarshal(body, &e); err != nil || (e.Message == "" && e.ErrorCode == "" && len(e.Errors) == 0) {
		return httpx.Snippet(body, httpx.SnippetLen)
	}
	var extra []string
	if e.ErrorCode != "" {
		extra = append(extra, "errorCode "+e.ErrorCode)
	}
	if len(e.Errors) > 0 {
		items := make([]string, 0, len(e.Errors))
		for _, it := range e.Errors {
			text := it.Message
			if text == "" {
				text = it.Reason
			}
			switch {
			case it.Code != "" && text != "":
				items = append(items, it.Code+": "+text)
			case it.Code != "":
				items = append(items, it.Code)
			default:
				items = append(items, text)
			}
		}
		extra = append(extra, "errors: "+strings.Join(items, ", "))
	}
	s := e.Message
	if len(extra) > 0 {
		s = strings.TrimSpace(s + " (" + strings.Join(extra, "; ") + ")")
	}
	return httpx.Snippet([]byte(s), 2*httpx.SnippetLen)
}

// hint says what to do about a Wassenger error status.
func hint(status int) string {
	switch status {
	case http.StatusUnauthorized:
		return "check connections.wassenger.token (a team agent's key has no API access)"
	case http.StatusPaymentRequired:
		return "the Wassenger plan does not allow this call"
	case http.StatusForbidden:
		return "the API key lacks permission for this call (group operations need a QR-paired number that is group admin)"
	case http.StatusNotFound:
		return "check the path and the ids in it (device, group, chat)"
	case http.StatusConflict:
		return "Wassenger reports a conflict with the current state"
	}
	return httpx.Hint(status)
}

// summary is the Response of a success: the status and the answer's id
// and status when present.
func summary(a *httpx.Answer) string {
	var m map[string]any
	if json.Unmarshal(a.Body, &m) != nil {
		return a.StatusText
	}
	keep := map[string]any{}
	for _, k := range []string{"id", "status"} {
		if v, ok := m[k]; ok {
			keep[k] = v
		}
	}
	if len(keep) == 0 {
		return a.StatusText
	}
	b, err := httpx.EncodeJSON(keep)
	if err != nil {
		return a.StatusText
	}
	return a.StatusText + " " + string(b)
}
