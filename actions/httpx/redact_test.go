package httpx

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestRedactURL(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"https://api.wassenger.com/v1/messages", "https://api.wassenger.com/v1/messages"},
		{"https://user:hunter2@example.com/x", "https://user:<secret>@example.com/x"},
		{"https://user@example.com/x", "https://user@example.com/x"},
		{"https://example.com/hook?token=abc&x=1", "https://example.com/hook?token=<secret>&x=1"},
		{"https://example.com/hook?key=abc", "https://example.com/hook?key=<secret>"},
		{"https://example.com/hook?api_key=abc&apiKey=def", "https://example.com/hook?api_key=<secret>&apiKey=<secret>"},
		{"https://example.com/hook?secret=s&password=p&sig=z", "https://example.com/hook?secret=<secret>&password=<secret>&sig=<secret>"},
		{"https://example.com/hook?access_token=a&X-Amz-Signature=b", "https://example.com/hook?access_token=<secret>&X-Amz-Signature=<secret>"},
		{"https://example.com/hook?author=bob&monkey=1&design=x", "https://example.com/hook?author=bob&monkey=1&design=x"},
		{"https://example.com/hook?Token=abc", "https://example.com/hook?Token=<secret>"},
		{"https://example.com/hook?flag&token", "https://example.com/hook?flag&token"},
		{"https://hooks.slack.com/services/T000/B000/XXXXSECRET", "https://hooks.slack.com/services/<secret>"},
		{"https://hooks.slack.com/services/anything", "https://hooks.slack.com/services/<secret>"},
		{"https://hooks.slack.com/workflows/T1/A2/3/secret", "https://hooks.slack.com/workflows/<secret>"},
		{"http://127.0.0.1:5555/services/T1/B2/secretpart", "http://127.0.0.1:5555/services/<secret>"},
		{"http://127.0.0.1:5555/services/status", "http://127.0.0.1:5555/services/status"},
		{"https://example.com/a%20b?q=%20", "https://example.com/a%20b?q=%20"},
		{"https://example.com/x#frag-token", "https://example.com/x"},
		{"/v1/messages?token=abc", "/v1/messages?token=<secret>"},
		{"http://[::1]:80/%zz", "<invalid URL>"},
		{"mailto:someone@example.com", "mailto:<secret>"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := RedactURL(tt.in); got != tt.want {
				t.Errorf("RedactURL(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestIsSecretHeader(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{"Token", true},
		{"token", true},
		{"Authorization", true},
		{"Proxy-Authorization", true},
		{"Cookie", true},
		{"X-Api-Key", true},
		{"X-API-KEY", true},
		{"Api-Key", true},
		{"X-Auth-Token", true},
		{"X-Hub-Signature-256", true},
		{"X-Webhook-Secret", true},
		{"Authentication", true},
		{"X-Authentication", true},
		{"Content-Type", false},
		{"X-Author", false},
		{"X-Request-Id", false},
		{"User-Agent", false},
		{"Keyboard", false},
	}
	for _, tt := range tests {
		if got := IsSecretHeader(tt.name); got != tt.want {
			t.Errorf("IsSecretHeader(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestMaskHeader(t *testing.T) {
	tests := []struct{ name, value, want string }{
		{"Authorization", "Bearer xoxb-123", "Bearer <secret>"},
		{"Authorization", "Basic dXNlcjpwYXNz", "Basic <secret>"},
		{"Authorization", "raw-token", "<secret>"},
		{"Token", "abc def", "<secret>"},
		{"X-Api-Key", "k", "<secret>"},
		{"Content-Type", "application/json", "application/json"},
	}
	for _, tt := range tests {
		if got := MaskHeader(tt.name, tt.value); got != tt.want {
			t.Errorf("MaskHeader(%q, %q) = %q, want %q", tt.name, tt.value, got, tt.want)
		}
	}
}

// A request that fails keeps the secret parts of its URL out of the
// error text, and the error still classifies.
func TestRedactErrorOfFailedRequest(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now: connection refused
	const sentinel = "SENTINEL-9f2c"
	for _, raw := range []string{
		"http://" + addr + "/services/T1/B2/" + sentinel,
		"http://" + addr + "/hook?token=" + sentinel,
		"http://user:" + sentinel + "@" + addr + "/hook",
	} {
		req, err := http.NewRequest(http.MethodPost, raw, strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		_, err = Do(context.Background(), NewClient(), req)
		if err == nil {
			t.Fatalf("POST %s: no error", RedactURL(raw))
		}
		if strings.Contains(err.Error(), sentinel) {
			t.Errorf("error holds the secret: %v", err)
		}
		var ue *url.Error
		if !errors.As(err, &ue) {
			t.Errorf("error %T is not a *url.Error", err)
		}
		if reason, _ := Classify(0, err); reason != ReasonNetwork {
			t.Errorf("reason %q, want network", reason)
		}
		r := ErrorResult("webhook: POST "+RedactURL(raw), err)
		if strings.Contains(r.Err.Error(), sentinel) || !r.Retryable || r.Reason != ReasonNetwork {
			t.Errorf("ErrorResult = %+v", r)
		}
	}
}

func TestScrub(t *testing.T) {
	got := Scrub("echo: tok123 and tok123, pw", "tok123", "", "pw")
	if want := "echo: <secret> and <secret>, <secret>"; got != want {
		t.Errorf("Scrub = %q, want %q", got, want)
	}
}

func TestScrubError(t *testing.T) {
	base := errors.New("denied: tok123")
	err := ScrubError(fmt.Errorf("send: %w", base), "tok123")
	if want := "send: denied: <secret>"; err.Error() != want || !errors.Is(err, base) {
		t.Errorf("ScrubError = %q (errors.Is %v), want %q keeping the chain", err, errors.Is(err, base), want)
	}
	if err := ScrubError(base, "other"); err != base {
		t.Errorf("ScrubError without a secret in the text = %v, want the error itself", err)
	}
	if err := ScrubError(nil, "tok123"); err != nil {
		t.Errorf("ScrubError(nil) = %v", err)
	}
}
