package httpx

import (
	"context"
	"errors"
	"net"
	"net/http"
)

// Reasons that HTTP integrations put in actions.Result.Reason.
const (
	ReasonOK       = "ok"
	ReasonNetwork  = "network"
	ReasonTimeout  = "timeout"
	ReasonCanceled = "canceled"
	Reason429      = "http_429"
	Reason5xx      = "http_5xx"
	Reason4xx      = "http_4xx"
	Reason3xx      = "http_3xx"
	// ReasonHTTPOther is a status outside 2xx-5xx (1xx, or a code a
	// broken server made up).
	ReasonHTTPOther = "http_other"
	ReasonInvalid   = "invalid"
)

// Classify says how hookd treats the outcome of one HTTP attempt: the
// error of a request that got no answer when err is not nil, else the
// status of the answer.
//
//   - 2xx: ok.
//   - 408 (the target timed out reading the request): "timeout", retryable.
//   - 429: "http_429", retryable.
//   - 5xx: "http_5xx", retryable.
//   - other 4xx: "http_4xx", permanent.
//   - 3xx (a redirect hookd did not follow): "http_3xx", permanent.
//   - anything else: "http_other", permanent.
//   - the caller's context canceled: "canceled", retryable; the target
//     did not fail, hookd stopped the attempt (e.g. shutting down).
//   - a deadline or a net.Error timeout: "timeout", retryable.
//   - any other error (refused, reset, DNS, TLS): "network", retryable.
func Classify(status int, err error) (reason string, retryable bool) {
	if err != nil {
		var ne net.Error
		switch {
		case errors.Is(err, context.Canceled):
			return ReasonCanceled, true
		case errors.Is(err, context.DeadlineExceeded),
			errors.As(err, &ne) && ne.Timeout():
			return ReasonTimeout, true
		default:
			return ReasonNetwork, true
		}
	}
	switch {
	case status >= 200 && status <= 299:
		return ReasonOK, false
	case status == http.StatusRequestTimeout:
		return ReasonTimeout, true
	case status == http.StatusTooManyRequests:
		return Reason429, true
	case status >= 500 && status <= 599:
		return Reason5xx, true
	case status >= 400 && status <= 499:
		return Reason4xx, false
	case status >= 300 && status <= 399:
		return Reason3xx, false
	default:
		return ReasonHTTPOther, false
	}
}
