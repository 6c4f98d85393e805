// Package funcs holds the helper functions that hookd adds to expr-lang
// for WhatsApp data: phone numbers, chat ids, text. Each is available in
// conditions and templates; Docs lists them for the rules reference.
package funcs

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/expr-lang/expr"
)

// Doc documents one helper function.
type Doc struct {
	Name      string
	Signature string
	Doc       string
	// Example is an expression and Result what it evaluates to.
	Example string
	Result  string
}

// Docs lists every helper, in the order of the rules reference.
var Docs = []Doc{
	{"phone", "phone(id string) string", "The E.164 phone number of a WhatsApp user id; a phone number is returned as is.",
		`phone("34600000001@c.us")`, `"+34600000001"`},
	{"wid", "wid(phone string) string", "The WhatsApp user id (chat id) of a phone number.",
		`wid("+34 600 000 001")`, `"34600000001@c.us"`},
	{"digits", "digits(s string) string", "Only the digits of s.",
		`digits("+34 600-000-001")`, `"34600000001"`},
	{"isGroup", "isGroup(id string) bool", "Whether a chat id is a group (ends in @g.us).",
		`isGroup("120363012345678901@g.us")`, `true`},
	{"isChannel", "isChannel(id string) bool", "Whether a chat id is a channel (ends in @newsletter).",
		`isChannel("120363012345678901@newsletter")`, `true`},
	{"isUser", "isUser(id string) bool", "Whether a chat id is a one-to-one chat with a user (ends in @c.us).",
		`isUser("34600000001@c.us")`, `true`},
	{"mention", "mention(phoneOrID string) string", "A WhatsApp @mention of a user, for message text.",
		`mention("+34600000001")`, `"@34600000001"`},
	{"truncate", "truncate(s string, n int) string", "s cut to at most n characters, ending in … when cut.",
		`truncate("Welcome to the group", 10)`, `"Welcome t…"`},
	{"unixTime", "unixTime(seconds int) string", "A Unix time in seconds (e.g. created) as RFC 3339 UTC.",
		`unixTime(1721661487)`, `"2024-07-22T15:18:07Z"`},
}

// Options returns the expr options that declare every helper.
func Options() []expr.Option {
	return []expr.Option{
		expr.Function("phone", str1(Phone), new(func(string) string)),
		expr.Function("wid", str1(WID), new(func(string) string)),
		expr.Function("digits", str1(Digits), new(func(string) string)),
		expr.Function("isGroup", strBool(IsGroup), new(func(string) bool)),
		expr.Function("isChannel", strBool(IsChannel), new(func(string) bool)),
		expr.Function("isUser", strBool(IsUser), new(func(string) bool)),
		expr.Function("mention", str1(Mention), new(func(string) string)),
		expr.Function("truncate", func(p ...any) (any, error) {
			s, err := arg[string](p, 0, "truncate")
			if err != nil {
				return nil, err
			}
			n, err := intArg(p, 1, "truncate")
			if err != nil {
				return nil, err
			}
			return Truncate(s, n), nil
		}, new(func(string, int) string)),
		expr.Function("unixTime", func(p ...any) (any, error) {
			n, err := intArg(p, 0, "unixTime")
			if err != nil {
				return nil, err
			}
			return UnixTime(int64(n)), nil
		}, new(func(int) string)),
	}
}

// Names returns the names of the helpers.
func Names() []string {
	names := make([]string, len(Docs))
	for i, d := range Docs {
		names[i] = d.Name
	}
	return names
}

// Phone returns the E.164 number of a user id: "34600000001@c.us" gives
// "+34600000001". A value without "@" is taken as a number already.
func Phone(id string) string {
	if i := strings.IndexByte(id, '@'); i >= 0 {
		id = id[:i]
	}
	d := Digits(id)
	if d == "" {
		return ""
	}
	return "+" + d
}

// WID returns the user chat id of a phone number: "+34 600 000 001"
// gives "34600000001@c.us". An id that already has "@" is returned as is.
func WID(phone string) string {
	if strings.Contains(phone, "@") {
		return phone
	}
	d := Digits(phone)
	if d == "" {
		return ""
	}
	return d + "@c.us"
}

// Digits keeps only the ASCII digits of s.
func Digits(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// IsGroup reports whether id is a group chat id.
func IsGroup(id string) bool { return strings.HasSuffix(id, "@g.us") }

// IsChannel reports whether id is a channel id.
func IsChannel(id string) bool { return strings.HasSuffix(id, "@newsletter") }

// IsUser reports whether id is a one-to-one chat id.
func IsUser(id string) bool { return strings.HasSuffix(id, "@c.us") }

// Mention returns "@<digits>" for a phone number or user id.
func Mention(v string) string { return "@" + Digits(strings.SplitN(v, "@", 2)[0]) }

// Truncate cuts s to at most n runes, the last one being "…" when cut.
func Truncate(s string, n int) string {
	if n <= 0 {
		return ""
	}
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// UnixTime formats Unix seconds as RFC 3339 in UTC.
func UnixTime(sec int64) string { return time.Unix(sec, 0).UTC().Format(time.RFC3339) }

func str1(f func(string) string) func(...any) (any, error) {
	return func(p ...any) (any, error) {
		s, err := arg[string](p, 0, "")
		if err != nil {
			return nil, err
		}
		return f(s), nil
	}
}

func strBool(f func(string) bool) func(...any) (any, error) {
	return func(p ...any) (any, error) {
		s, err := arg[string](p, 0, "")
		if err != nil {
			return nil, err
		}
		return f(s), nil
	}
}

func arg[T any](p []any, i int, fn string) (T, error) {
	var zero T
	if i >= len(p) {
		return zero, fmt.Errorf("%s: missing argument %d", fn, i+1)
	}
	if p[i] == nil {
		return zero, fmt.Errorf("%s: argument %d is nil (a missing field?); use ?? to give a default", fn, i+1)
	}
	v, ok := p[i].(T)
	if !ok {
		return zero, fmt.Errorf("%s: argument %d is %T, want %T", fn, i+1, p[i], zero)
	}
	return v, nil
}

func intArg(p []any, i int, fn string) (int, error) {
	if i < len(p) {
		switch v := p[i].(type) {
		case int:
			return v, nil
		case int64:
			return int(v), nil
		case float64:
			return int(v), nil
		}
	}
	if i < len(p) && p[i] == nil {
		return 0, fmt.Errorf("%s: argument %d is nil (a missing field?); use ?? to give a default", fn, i+1)
	}
	return 0, fmt.Errorf("%s: argument %d must be a number", fn, i+1)
}
