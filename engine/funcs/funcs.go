// Package funcs holds the helper functions that hookd adds to expr-lang
// for WhatsApp data: phone numbers, chat ids, text. Each is available in
// conditions and templates; Docs lists them for the rules reference.
package funcs

import (
	"fmt"
	"slices"
	"strconv"
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
func Docs() []Doc { return slices.Clone(docs) }

// docs are the helpers, in the order of the rules reference.
var docs = []Doc{
	{"phone", "phone(id string) string", "The E.164 phone number of a user id (`<digits>@c.us`); a phone number is returned as is. Any other id gives \"\": a linked id (`@lid`) hides the number, and groups and channels have none.",
		`phone("34600000001@c.us")`, `"+34600000001"`},
	{"wid", "wid(phone string) string", "The WhatsApp user id (chat id) of a phone number; an id (with `@`) is returned as is.",
		`wid("+34 600 000 001")`, `"34600000001@c.us"`},
	{"digits", "digits(s string) string", "Only the digits of s.",
		`digits("+34 600-000-001")`, `"34600000001"`},
	{"isGroup", "isGroup(id string) bool", "Whether a chat id is a group (ends in `@g.us`).",
		`isGroup("120363012345678901@g.us")`, `true`},
	{"isChannel", "isChannel(id string) bool", "Whether a chat id is a channel (ends in `@newsletter`).",
		`isChannel("120363012345678901@newsletter")`, `true`},
	{"isUser", "isUser(id string) bool", "Whether an id names a user: by phone (`@c.us`) or by linked id (`@lid`).",
		`isUser("123456789012345@lid")`, `true`},
	{"isLid", "isLid(id string) bool", "Whether an id is a linked id (`<digits>@lid`), which names a user without giving their phone number.",
		`isLid("123456789012345@lid")`, `true`},
	{"mention", "mention(phoneOrID string) string", "A WhatsApp @mention of a user, for message text; \"\" for a group or channel id.",
		`mention("+34600000001")`, `"@34600000001"`},
	{"sender", "sender(message map) string", "The WhatsApp id of who sent a message, given `data`: the member (`data.author`) in a group, the user (`data.from`) in a one-to-one chat, the number itself (`data.fromNumber`) in an outbound message. `<digits>@c.us`, or `<digits>@lid` for a member known only by a linked id.",
		`sender({from: "120363041234567890@g.us", author: "34655443322@c.us"})`, `"34655443322@c.us"`},
	{"senderPhone", "senderPhone(message map) string", "The E.164 phone number of who sent a message (see `sender`), or \"\" when the event does not give it (a member known only by a linked id).",
		`senderPhone({from: "120363041234567890@g.us", author: "34655443322@c.us"})`, `"+34655443322"`},
	{"truncate", "truncate(s string, n int) string", "s cut to at most n characters, ending in … when cut.",
		`truncate("Welcome to the group", 10)`, `"Welcome t…"`},
	{"plural", "plural(n int, one string, many string) string", "n and the word that goes with it: one for 1, else many.",
		`plural(3, "member", "members")`, `"3 members"`},
	{"unixTime", "unixTime(seconds int) string", "A Unix time in seconds (e.g. created) as RFC 3339 UTC.",
		`unixTime(1721661487)`, `"2024-07-22T15:18:07Z"`},
}

// Options returns the expr options that declare every helper.
func Options() []expr.Option {
	return []expr.Option{
		expr.Function("phone", unary("phone", Phone), new(func(string) string)),
		expr.Function("wid", unary("wid", WID), new(func(string) string)),
		expr.Function("digits", unary("digits", Digits), new(func(string) string)),
		expr.Function("isGroup", unary("isGroup", IsGroup), new(func(string) bool)),
		expr.Function("isChannel", unary("isChannel", IsChannel), new(func(string) bool)),
		expr.Function("isUser", unary("isUser", IsUser), new(func(string) bool)),
		expr.Function("isLid", unary("isLid", IsLid), new(func(string) bool)),
		expr.Function("mention", unary("mention", Mention), new(func(string) string)),
		expr.Function("sender", unary("sender", Sender), new(func(map[string]any) string)),
		expr.Function("senderPhone", unary("senderPhone", SenderPhone), new(func(map[string]any) string)),
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
		expr.Function("plural", func(p ...any) (any, error) {
			n, err := intArg(p, 0, "plural")
			if err != nil {
				return nil, err
			}
			one, err := arg[string](p, 1, "plural")
			if err != nil {
				return nil, err
			}
			many, err := arg[string](p, 2, "plural")
			if err != nil {
				return nil, err
			}
			return Plural(n, one, many), nil
		}, new(func(int, string, string) string)),
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
	names := make([]string, len(docs))
	for i, d := range docs {
		names[i] = d.Name
	}
	return names
}

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

// Plural is n followed by one when n is 1, else by many: "1 member",
// "3 members", "2 people".
func Plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// UnixTime formats Unix seconds as RFC 3339 in UTC.
func UnixTime(sec int64) string { return time.Unix(sec, 0).UTC().Format(time.RFC3339) }

// unary adapts a helper of one argument to expr: the argument is
// checked to be a T (nil, a missing field, is an error).
func unary[T, R any](name string, f func(T) R) func(...any) (any, error) {
	return func(p ...any) (any, error) {
		v, err := arg[T](p, 0, name)
		if err != nil {
			return nil, err
		}
		return f(v), nil
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
