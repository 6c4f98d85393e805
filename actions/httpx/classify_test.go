package httpx

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"testing"
)

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestClassifyStatus(t *testing.T) {
	tests := []struct {
		status    int
		reason    string
		retryable bool
	}{
		{0, ReasonHTTPOther, false},
		{100, ReasonHTTPOther, false},
		{199, ReasonHTTPOther, false},
		{200, ReasonOK, false},
		{201, ReasonOK, false},
		{202, ReasonOK, false},
		{204, ReasonOK, false},
		{299, ReasonOK, false},
		{300, Reason3xx, false},
		{301, Reason3xx, false},
		{302, Reason3xx, false},
		{303, Reason3xx, false},
		{304, Reason3xx, false},
		{307, Reason3xx, false},
		{308, Reason3xx, false},
		{400, Reason4xx, false},
		{401, Reason4xx, false},
		{402, Reason4xx, false},
		{403, Reason4xx, false},
		{404, Reason4xx, false},
		{405, Reason4xx, false},
		{408, ReasonTimeout, true},
		{409, Reason4xx, false},
		{410, Reason4xx, false},
		{413, Reason4xx, false},
		{415, Reason4xx, false},
		{422, Reason4xx, false},
		{429, Reason429, true},
		{451, Reason4xx, false},
		{499, Reason4xx, false},
		{500, Reason5xx, true},
		{501, Reason5xx, true},
		{502, Reason5xx, true},
		{503, Reason5xx, true},
		{504, Reason5xx, true},
		{599, Reason5xx, true},
		{600, ReasonHTTPOther, false},
		{999, ReasonHTTPOther, false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.status), func(t *testing.T) {
			reason, retry := Classify(tt.status, nil)
			if reason != tt.reason || retry != tt.retryable {
				t.Errorf("Classify(%d) = %q, %v; want %q, %v", tt.status, reason, retry, tt.reason, tt.retryable)
			}
		})
	}
}

func TestClassifyError(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		reason string
	}{
		{"canceled", context.Canceled, ReasonCanceled},
		{"canceled in url.Error", &url.Error{Op: "Post", URL: "http://x", Err: context.Canceled}, ReasonCanceled},
		{"wrapped canceled", fmt.Errorf("waiting: %w", context.Canceled), ReasonCanceled},
		{"deadline", context.DeadlineExceeded, ReasonTimeout},
		{"deadline in url.Error", &url.Error{Op: "Get", URL: "http://x", Err: context.DeadlineExceeded}, ReasonTimeout},
		{"net timeout", &net.OpError{Op: "read", Net: "tcp", Err: timeoutErr{}}, ReasonTimeout},
		{"os deadline", os.ErrDeadlineExceeded, ReasonTimeout},
		{"refused", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}, ReasonNetwork},
		{"dns", &net.DNSError{Err: "no such host", Name: "nowhere.invalid", IsNotFound: true}, ReasonNetwork},
		{"other", errors.New("tls: handshake failure"), ReasonNetwork},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The status is ignored when there is an error.
			reason, retry := Classify(200, tt.err)
			if reason != tt.reason || !retry {
				t.Errorf("Classify(%v) = %q, %v; want %q, true", tt.err, reason, retry, tt.reason)
			}
		})
	}
}
