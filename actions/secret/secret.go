// Package secret holds the type hookd uses for tokens, passwords and
// secret URLs, so that they cannot leak into logs, errors or output.
package secret

import (
	"fmt"
	"log/slog"
)

// Mask is what a secret prints as.
const Mask = "<secret>"

// String is a secret value. Every way of printing it (fmt verbs, JSON,
// slog) shows Mask; only Reveal gives the value, for the one place that
// sends it.
type String struct{ v string }

// New wraps a secret value.
func New(v string) String { return String{v: v} }

// Reveal returns the secret value. Call it only where the value is sent.
func (s String) Reveal() string { return s.v }

// IsZero reports whether the secret is empty.
func (s String) IsZero() bool { return s.v == "" }

// String implements fmt.Stringer and prints Mask.
func (s String) String() string {
	if s.v == "" {
		return ""
	}
	return Mask
}

// GoString implements fmt.GoStringer and prints Mask.
func (s String) GoString() string { return s.String() }

// Format implements fmt.Formatter so that every verb prints Mask.
func (s String) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(s.String())) }

// MarshalJSON prints Mask.
func (s String) MarshalJSON() ([]byte, error) { return []byte(`"` + s.String() + `"`), nil }

// MarshalText prints Mask.
func (s String) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// LogValue implements slog.LogValuer and logs Mask.
func (s String) LogValue() slog.Value { return slog.StringValue(s.String()) }
