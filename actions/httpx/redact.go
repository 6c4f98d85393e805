package httpx

import (
	"errors"
	"net/url"
	"strings"

	"github.com/hookd/hookd/actions/secret"
)

// IsHTTPURL reports whether raw is an absolute http or https URL with a
// host: what a connection's URL setting must be.
func IsHTTPURL(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// RedactURL returns raw with its secret parts replaced by "<secret>": the
// password of the user info, the values of query parameters whose names
// say they are secret (token, key, secret, password, sig, ...), and the
// path of a Slack incoming webhook (/services/T.../B.../..., on any host,
// so that local stand-ins are covered too). The fragment is dropped. A
// URL that does not parse gives "<invalid URL>", since it may hold a
// secret anywhere.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<invalid URL>"
	}
	var b strings.Builder
	if u.Scheme != "" {
		b.WriteString(u.Scheme)
		b.WriteString(":")
	}
	if u.Opaque != "" {
		// mailto:x or host:port forms: nothing structured to keep.
		b.WriteString(secret.Mask)
		return b.String()
	}
	if u.Scheme != "" || u.Host != "" {
		b.WriteString("//")
	}
	if u.User != nil {
		b.WriteString(url.PathEscape(u.User.Username()))
		if _, ok := u.User.Password(); ok {
			b.WriteString(":" + secret.Mask)
		}
		b.WriteString("@")
	}
	b.WriteString(u.Host)
	b.WriteString(redactPath(u.Host, u.EscapedPath()))
	if u.RawQuery != "" {
		b.WriteString("?")
		b.WriteString(redactQuery(u.RawQuery))
	}
	return b.String()
}

// redactPath hides the secret of Slack webhook and workflow URLs.
func redactPath(host, p string) string {
	if strings.HasPrefix(p, "/services/") {
		rest := strings.TrimPrefix(p, "/services/")
		segs := strings.Split(rest, "/")
		if host == "hooks.slack.com" || (len(segs) >= 3 && strings.HasPrefix(segs[0], "T") && strings.HasPrefix(segs[1], "B")) {
			return "/services/" + secret.Mask
		}
	}
	if host == "hooks.slack.com" {
		// /workflows/..., /triggers/...: the whole path is the secret.
		if i := strings.Index(strings.TrimPrefix(p, "/"), "/"); i >= 0 {
			return p[:i+2] + secret.Mask
		}
	}
	return p
}

// redactQuery masks secret values and keeps the order and encoding of
// the rest.
func redactQuery(raw string) string {
	parts := strings.Split(raw, "&")
	for i, part := range parts {
		name, _, hasValue := strings.Cut(part, "=")
		key, err := url.QueryUnescape(name)
		if err != nil {
			key = name
		}
		if hasValue && IsSecretName(key) {
			parts[i] = name + "=" + secret.Mask
		}
	}
	return strings.Join(parts, "&")
}

// IsSecretName reports whether a query parameter or header name says its
// value is a secret: it contains token, secret, passw, apikey, api_key,
// api-key, authorization, authentication, signature, credential or
// cookie, or it is or ends in key, sig, pass, pwd, auth or session
// (case-insensitive).
func IsSecretName(name string) bool {
	n := strings.ToLower(name)
	for _, w := range []string{"token", "secret", "passw", "apikey", "api_key", "api-key", "authorization", "authentication", "signature", "credential", "cookie"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	for _, w := range []string{"key", "sig", "pass", "pwd", "auth", "session"} {
		if n == w || strings.HasSuffix(n, "_"+w) || strings.HasSuffix(n, "-"+w) || strings.HasSuffix(n, "."+w) {
			return true
		}
	}
	return false
}

// RedactError returns err with the URL inside a *url.Error (which
// net/http puts in the text of every failed request) redacted by
// RedactURL. Other errors are returned as they are.
func RedactError(err error) error {
	var ue *url.Error
	if err == nil || !errors.As(err, &ue) {
		return err
	}
	red := &url.Error{Op: ue.Op, URL: RedactURL(ue.URL), Err: ue.Err}
	if ue == err {
		return red
	}
	// The url.Error sits deeper in a chain: replace the text, keep the
	// chain for errors.Is and errors.As.
	return &replacedError{
		text: strings.ReplaceAll(err.Error(), ue.URL, red.URL),
		err:  err,
	}
}

type replacedError struct {
	text string
	err  error
}

func (e *replacedError) Error() string { return e.text }
func (e *replacedError) Unwrap() error { return e.err }

// Scrub replaces every non-empty secret in text by "<secret>": the last
// guard before a text the target sent (which may echo a request) goes
// into a Result or a log line.
func Scrub(text string, secrets ...string) string {
	for _, s := range secrets {
		if s != "" {
			text = strings.ReplaceAll(text, s, secret.Mask)
		}
	}
	return text
}

// ScrubError returns err with its text scrubbed by Scrub, keeping the
// chain for errors.Is and errors.As; err itself when it holds no secret.
func ScrubError(err error, secrets ...string) error {
	if err == nil {
		return nil
	}
	text := err.Error()
	if t := Scrub(text, secrets...); t != text {
		return &replacedError{text: t, err: err}
	}
	return err
}
