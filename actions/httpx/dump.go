package httpx

import (
	"bytes"
	"encoding/json"
	"net/http"
	"sort"
	"strings"

	"github.com/hookd/hookd/actions/secret"
)

// Dump shows a request for Describer output, without sending it: the
// method and redacted URL on the first line, then the headers sorted by
// name one per line (secret ones masked, see MaskHeader), a blank line,
// and the body. A JSON body is pretty-printed with a 2-space indent and
// sorted keys; any other body is shown as it is.
func Dump(req *http.Request, body []byte) string {
	var b strings.Builder
	b.WriteString(req.Method)
	b.WriteString(" ")
	b.WriteString(RedactURL(req.URL.String()))
	b.WriteString("\n")
	names := make([]string, 0, len(req.Header))
	for name := range req.Header {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		for _, v := range req.Header[name] {
			b.WriteString(name)
			b.WriteString(": ")
			b.WriteString(MaskHeader(name, v))
			b.WriteString("\n")
		}
	}
	if len(body) > 0 {
		b.WriteString("\n")
		b.WriteString(prettyBody(body))
		b.WriteString("\n")
	}
	return b.String()
}

// MaskHeader returns the value to show for a header: "<secret>" for
// Authorization, Cookie, Token, X-Api-Key and any name IsSecretName
// matches, keeping an auth scheme ("Bearer <secret>"); the value as it
// is otherwise.
func MaskHeader(name, value string) string {
	if !IsSecretHeader(name) {
		return value
	}
	if scheme, _, ok := strings.Cut(value, " "); ok && isAuthScheme(scheme) {
		return scheme + " " + secret.Mask
	}
	return secret.Mask
}

// IsSecretHeader reports whether a header's value is a secret.
func IsSecretHeader(name string) bool {
	switch http.CanonicalHeaderKey(name) {
	case "Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie", "Token":
		return true
	}
	return IsSecretName(name)
}

func isAuthScheme(s string) bool {
	switch strings.ToLower(s) {
	case "bearer", "basic", "token", "digest", "bot":
		return true
	}
	return false
}

func prettyBody(body []byte) string {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil || dec.More() {
		return string(body)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return string(body)
	}
	return strings.TrimSuffix(buf.String(), "\n")
}
