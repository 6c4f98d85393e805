// Package httpx holds what every HTTP integration of hookd needs: sending
// a prepared request and reading a bounded part of the answer, telling a
// transient failure from a permanent one, reading Retry-After, redacting
// secret URLs and headers, dumping a request for dry-run output, a client
// with sane timeouts, and rate and concurrency gates.
package httpx

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hookd/hookd/actions"
	"github.com/hookd/hookd/actions/secret"
)

// Limits on how much of an answer hookd reads.
const (
	// MaxBody is how many bytes of an answer Do keeps for messages and
	// parsing.
	MaxBody = 4 << 10
	// maxDrain is how many further bytes Do reads and discards so that
	// the connection can be reused; a longer answer closes it instead.
	maxDrain = 64 << 10
	// SnippetLen is how many bytes of a non-JSON answer an error shows.
	SnippetLen = 200
)

// Answer is what a target replied to one request: its status, headers
// and at most MaxBody bytes of its body.
type Answer struct {
	// Status is the status code, e.g. 201.
	Status int
	// StatusText is the status line without the protocol, e.g.
	// "201 Created".
	StatusText string
	// Header holds the answer's headers.
	Header http.Header
	// Body holds the first MaxBody bytes of the body.
	Body []byte
	// Truncated reports whether the body was longer than MaxBody.
	Truncated bool
	// Received is when the answer arrived; Retry-After dates are read
	// relative to it.
	Received time.Time
}

// Do sends req with ctx through client and reads the answer: at most
// MaxBody bytes are kept, a bounded rest is drained, and the body is
// closed, so the connection can be reused. Each of secrets (what the
// request carried: tokens, passwords, secret URLs) is masked in the kept
// body before anything reads it, so that a target echoing the request
// shows none of it in a Snippet, Summary or parsed message, not even the
// start of one cut short. A request that got no answer returns an error
// whose text holds no secret part of the URL (see RedactError); classify
// it with Classify or turn it into a Result with ErrorResult.
func Do(ctx context.Context, client *http.Client, req *http.Request, secrets ...string) (*Answer, error) {
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req.WithContext(ctx))
	if err != nil {
		return nil, RedactError(err)
	}
	defer resp.Body.Close()
	// A body that breaks off early keeps what arrived: the status is
	// what decides the outcome.
	body, _ := io.ReadAll(io.LimitReader(resp.Body, MaxBody+1))
	a := &Answer{
		Status:     resp.StatusCode,
		StatusText: statusText(resp),
		Header:     resp.Header,
		Received:   time.Now(),
	}
	if len(body) > MaxBody {
		a.Truncated = true
		_, _ = io.CopyN(io.Discard, resp.Body, maxDrain)
	}
	a.Body = maskBody(body, MaxBody, secrets...)
	return a, nil
}

// maskBody returns at most n bytes of body with every non-empty secret
// replaced by "<secret>", masked before the cut so that a cut inside a
// secret does not keep its start; when body (as read, n+1 bytes for an
// answer longer than n) was cut, a kept tail that could be the start of a
// secret the cut went through is dropped too, even if masking made the
// rest short enough to keep.
func maskBody(body []byte, n int, secrets ...string) []byte {
	cutShort := len(body) > n
	for _, s := range secrets {
		if s != "" {
			body = bytes.ReplaceAll(body, []byte(s), []byte(secret.Mask))
		}
	}
	if !cutShort {
		return body
	}
	body = body[:min(n, len(body))]
	cut := len(body)
	for _, s := range secrets {
		for k := min(len(s)-1, len(body)); k > 0; k-- {
			if bytes.HasSuffix(body, []byte(s[:k])) {
				cut = min(cut, len(body)-k)
				break
			}
		}
	}
	return body[:cut]
}

func statusText(resp *http.Response) string {
	if resp.Status != "" {
		// resp.Status is "201 Created"; some servers send only the code.
		return strings.TrimSpace(resp.Status)
	}
	return fmt.Sprintf("%d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
}

// OK reports whether the status is 2xx.
func (a *Answer) OK() bool { return a.Status >= 200 && a.Status <= 299 }

// Success is an ok Result whose Response is summary.
func (a *Answer) Success(summary string) actions.Result {
	return actions.Result{Response: summary, Reason: ReasonOK}
}

// Failure is the Result of a non-2xx answer: classified by status, with
// RetryAfter read from the Retry-After header when the failure is
// retryable, and a *StatusError built from op, the status, detail and
// hint (what the user can do; Hint(status) when empty). For a 3xx the
// detail is the redacted Location.
func (a *Answer) Failure(op, detail, hint string) actions.Result {
	reason, retry := Classify(a.Status, nil)
	if hint == "" {
		hint = Hint(a.Status)
	}
	if a.Status/100 == 3 {
		// A redirect's body repeats its Location, which may hold a
		// secret: show the redacted Location instead.
		detail = "redirect not followed"
		if loc := a.Header.Get("Location"); loc != "" {
			detail = "redirects to " + RedactURL(loc)
		}
	}
	r := actions.Result{
		Err: &StatusError{
			Op: op, Status: a.Status, StatusText: a.StatusText,
			Detail: detail, Hint: hint,
		},
		Retryable: retry,
		Reason:    reason,
		Response:  a.StatusText,
	}
	if retry {
		r.RetryAfter = RetryAfter(a.Header.Get("Retry-After"), a.Received)
	}
	return r
}

// Summary is a short line for a successful answer's Response: the status
// and the start of the body, JSON compacted, e.g.
// `201 Created {"id":"abc","status":"queued"}`.
func (a *Answer) Summary() string {
	s := a.Snippet()
	if s == "" {
		return a.StatusText
	}
	return a.StatusText + " " + s
}

// Snippet is the start of the body for messages: compact JSON when the
// body is JSON, else at most SnippetLen bytes of text on one line.
func (a *Answer) Snippet() string {
	return Snippet(a.Body, SnippetLen)
}

// Snippet returns at most n bytes of body on one line: JSON is compacted
// first, invalid UTF-8 is replaced and the cut never splits a rune.
func Snippet(body []byte, n int) string {
	b := bytes.TrimSpace(body)
	var buf bytes.Buffer
	if json.Valid(b) && json.Compact(&buf, b) == nil {
		b = buf.Bytes()
	}
	s := strings.ToValidUTF8(string(b), "\uFFFD")
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// StatusError is the error of an answer that was not 2xx.
type StatusError struct {
	// Op says what was attempted, e.g. "wassenger: POST /messages".
	Op string
	// Status is the status code.
	Status int
	// StatusText is e.g. "400 Bad Request".
	StatusText string
	// Detail is what the target said, e.g. its error message.
	Detail string
	// Hint says what the user can do about it.
	Hint string
}

// Error renders "op: 400 Bad Request: detail; hint".
func (e *StatusError) Error() string {
	var b strings.Builder
	b.WriteString(e.Op)
	b.WriteString(": ")
	if e.StatusText != "" {
		b.WriteString(e.StatusText)
	} else {
		fmt.Fprintf(&b, "%d %s", e.Status, http.StatusText(e.Status))
	}
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	if e.Hint != "" {
		b.WriteString("; ")
		b.WriteString(e.Hint)
	}
	return b.String()
}

// Hint says what a user can do about an answer with this status, or ""
// when there is nothing specific.
func Hint(status int) string {
	switch {
	case status/100 == 3:
		return "the target redirects; point the rule at the final URL"
	case status == http.StatusUnauthorized:
		return "check the credentials of the connection"
	case status == http.StatusForbidden:
		return "the credentials lack permission for this call"
	case status == http.StatusNotFound:
		return "check the URL or path"
	case status == http.StatusRequestTimeout, status == http.StatusTooManyRequests:
		return "retryable"
	case status/100 == 5:
		return "the target failed; retryable"
	}
	return ""
}

// ErrorResult is the Result of a request that got no answer: classified
// by Classify, with err's text redacted and a hint added. op prefixes the
// error, e.g. "wassenger: POST /messages".
func ErrorResult(op string, err error) actions.Result {
	reason, retry := Classify(0, err)
	err = RedactError(err)
	var ue *url.Error
	if errors.As(err, &ue) {
		// op already says what was sent and where; keep the cause.
		err = ue.Err
	}
	var hint string
	switch reason {
	case ReasonTimeout:
		hint = "the attempt's deadline passed; retryable"
	case ReasonCanceled:
		hint = "canceled by hookd (shutting down or the job was stopped); retryable"
	case ReasonNetwork:
		hint = "could not reach the target; retryable"
	}
	if hint != "" {
		err = &hintError{err: err, hint: hint}
	}
	return actions.Result{
		Err:       fmt.Errorf("%s: %w", op, err),
		Retryable: retry,
		Reason:    reason,
	}
}

type hintError struct {
	err  error
	hint string
}

func (e *hintError) Error() string { return e.err.Error() + " (" + e.hint + ")" }
func (e *hintError) Unwrap() error { return e.err }

// EncodeJSON marshals v as compact JSON without HTML escaping (so that
// "<", ">" and "&" in messages stay readable) and without a trailing
// newline.
func EncodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
