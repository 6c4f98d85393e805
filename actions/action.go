// Package actions holds hookd's action types: what fields each one takes,
// and the integrations that send them (Wassenger, Slack, email, webhooks,
// log lines). Every integration implements the one-method Action interface
// and reports whether a failure is worth retrying.
package actions

import (
	"context"
	"time"
)

// ReferenceHeader is the HTTP and email header that carries a call's
// Reference, so that a target can recognise a retried send.
const ReferenceHeader = "X-Hookd-Reference"

// Call is one action to perform: its type, its fields with every template
// already rendered, and the identity that makes a retried send recognisable.
type Call struct {
	// Type is the action type, e.g. "slack" or "wassenger.message".
	Type string
	// Name identifies the action instance in logs and metrics,
	// e.g. "removal-alert/slack[0]".
	Name string
	// Params are the action's fields as written in the rules file,
	// with every template rendered (nested maps and lists kept).
	Params map[string]any
	// Reference is a stable idempotency key for this event, rule and
	// action, e.g. "hookd:3EB0...:removal-alert:0". Retries reuse it.
	Reference string
}

// Result says what the target answered and, on failure, whether and when
// a retry makes sense.
type Result struct {
	// Response is a short, redacted summary of the target's answer,
	// e.g. `201 Created {"id":"...","status":"queued"}` or "250 OK".
	Response string
	// Err is nil when the target accepted the action.
	Err error
	// Retryable reports whether the failure is transient (network error,
	// timeout, 408, 429, 5xx, SMTP 4xx).
	Retryable bool
	// RetryAfter is the wait the target asked for (Retry-After), clamped;
	// zero when it did not say.
	RetryAfter time.Duration
	// Reason is a short, low-cardinality label for metrics and dead
	// letters: "ok", "network", "timeout", "http_429", "http_5xx",
	// "http_4xx", "slack_error", "smtp_temporary", "smtp_permanent",
	// "invalid" (the action's fields cannot be sent), "partial" (a group
	// participant action that some participants failed).
	Reason string
}

// OK reports whether the action was accepted by its target.
func (r Result) OK() bool { return r.Err == nil }

// Action sends one rendered action to its target.
type Action interface {
	// Do performs the call once. It honours ctx for cancellation and
	// deadlines, and never retries by itself.
	Do(ctx context.Context, call Call) Result
}

// Describer is implemented by every integration: it shows the exact
// request Do would send for a call (method, URL, headers, body; for email
// the envelope and headers), with secrets masked. It sends nothing.
type Describer interface {
	Describe(call Call) (string, error)
}
