package funcs_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/expr-lang/expr"

	"github.com/hookd/hookd/engine/funcs"
	"github.com/hookd/hookd/event"
)

// TestDocsExamples runs every documented example through expr, so the
// rules reference cannot drift from the code.
func TestDocsExamples(t *testing.T) {
	for _, d := range funcs.Docs() {
		t.Run(d.Name, func(t *testing.T) {
			prog, err := expr.Compile(d.Example, funcs.Options()...)
			if err != nil {
				t.Fatalf("compile %s: %v", d.Example, err)
			}
			out, err := expr.Run(prog, map[string]any{})
			if err != nil {
				t.Fatalf("run %s: %v", d.Example, err)
			}
			got := event.Format(out)
			if s, ok := out.(string); ok {
				got = fmt.Sprintf("%q", s)
			}
			if got != d.Result {
				t.Errorf("%s = %s, documented %s", d.Example, got, d.Result)
			}
		})
	}
}

// ids are the kinds of id and number a helper meets, by name, for the
// table tests of the id helpers.
var ids = map[string]string{
	"user":        "34600000001@c.us",
	"device":      "34600000001:12@c.us",
	"lid":         "123456789012345@lid",
	"group":       "120363012345678901@g.us",
	"channel":     "120363012345678901@newsletter",
	"e164":        "+34600000001",
	"spaced":      "+34 600-000-001",
	"bare digits": "34600000001",
	"empty":       "",
	"no digits":   "no digits",
}

func TestIDHelpers(t *testing.T) {
	type want struct {
		phone, wid, mention               string
		isUser, isLid, isGroup, isChannel bool
	}
	tests := map[string]want{
		"user":        {"+34600000001", "34600000001@c.us", "@34600000001", true, false, false, false},
		"device":      {"+34600000001", "34600000001:12@c.us", "@34600000001", true, false, false, false},
		"lid":         {"", "123456789012345@lid", "@123456789012345", true, true, false, false},
		"group":       {"", "120363012345678901@g.us", "", false, false, true, false},
		"channel":     {"", "120363012345678901@newsletter", "", false, false, false, true},
		"e164":        {"+34600000001", "34600000001@c.us", "@34600000001", false, false, false, false},
		"spaced":      {"+34600000001", "34600000001@c.us", "@34600000001", false, false, false, false},
		"bare digits": {"+34600000001", "34600000001@c.us", "@34600000001", false, false, false, false},
		"empty":       {"", "", "", false, false, false, false},
		"no digits":   {"", "", "", false, false, false, false},
	}
	if len(tests) != len(ids) {
		t.Fatalf("%d cases for %d ids", len(tests), len(ids))
	}
	for name, w := range tests {
		in, ok := ids[name]
		if !ok {
			t.Fatalf("no id named %q", name)
		}
		t.Run(name, func(t *testing.T) {
			for _, c := range []struct {
				fn        string
				got, want any
			}{
				{"phone", funcs.Phone(in), w.phone},
				{"wid", funcs.WID(in), w.wid},
				{"mention", funcs.Mention(in), w.mention},
				{"isUser", funcs.IsUser(in), w.isUser},
				{"isLid", funcs.IsLid(in), w.isLid},
				{"isGroup", funcs.IsGroup(in), w.isGroup},
				{"isChannel", funcs.IsChannel(in), w.isChannel},
			} {
				if c.got != c.want {
					t.Errorf("%s(%q) = %#v, want %#v", c.fn, in, c.got, c.want)
				}
			}
		})
	}
}

// TestLidIsNeverAPhone checks the rule the id helpers keep for every
// linked id: its digits are never given out as a phone number.
func TestLidIsNeverAPhone(t *testing.T) {
	for _, lid := range []string{"1@lid", "123456789012345@lid", "123456789012345:3@lid", "+34600000001@lid"} {
		if got := funcs.Phone(lid); got != "" {
			t.Errorf("Phone(%q) = %q, want \"\"", lid, got)
		}
		if got := funcs.WID(lid); got != lid {
			t.Errorf("WID(%q) = %q, want it unchanged", lid, got)
		}
		user, _, _ := strings.Cut(strings.TrimSuffix(lid, "@lid"), ":")
		msg := map[string]any{"flow": "inbound", "from": lid, "fromNumber": "+" + funcs.Digits(user)}
		if got := funcs.SenderPhone(msg); got != "" {
			t.Errorf("SenderPhone(%v) = %q, want \"\"", msg, got)
		}
	}
}

func TestSender(t *testing.T) {
	const (
		group = "120363041234567890@g.us"
		own   = "+34911234567"
	)
	tests := []struct {
		name                string
		msg                 map[string]any
		sender, senderPhone string
	}{
		{"group message", map[string]any{
			"flow": "inbound", "from": group, "to": "34911234567@c.us",
			"author": "34655443322@c.us", "fromNumber": "+34655443322",
		}, "34655443322@c.us", "+34655443322"},
		{"group message from a linked id with its number", map[string]any{
			"flow": "inbound", "from": group, "author": "98765432109876@lid", "fromNumber": "+34655443322",
		}, "98765432109876@lid", "+34655443322"},
		{"group message from a linked id without a number", map[string]any{
			"flow": "inbound", "from": group, "author": "98765432109876@lid",
		}, "98765432109876@lid", ""},
		{"group message from a linked id whose digits are given as a number", map[string]any{
			"flow": "inbound", "from": group, "author": "98765432109876@lid", "fromNumber": "+98765432109876",
		}, "98765432109876@lid", ""},
		{"group message without author", map[string]any{
			"flow": "inbound", "from": group, "fromNumber": "+34655443322",
		}, "34655443322@c.us", "+34655443322"},
		{"group message with a phone as author", map[string]any{
			"flow": "inbound", "from": group, "author": "+34655443322",
		}, "34655443322@c.us", "+34655443322"},
		{"one-to-one message", map[string]any{
			"flow": "inbound", "from": "34655443322@c.us", "fromNumber": "+34655443322", "to": "34911234567@c.us",
		}, "34655443322@c.us", "+34655443322"},
		{"one-to-one message from a linked id", map[string]any{
			"flow": "inbound", "from": "98765432109876@lid", "to": "34911234567@c.us",
		}, "98765432109876@lid", ""},
		{"outbound message", map[string]any{
			"flow": "outbound", "from": "34911234567@c.us", "fromNumber": own, "to": "34655443322@c.us",
		}, "34911234567@c.us", own},
		{"outbound message to a group", map[string]any{
			"flow": "outbound", "from": group, "fromNumber": own,
		}, "34911234567@c.us", own},
		{"outbound message without fromNumber", map[string]any{
			"flow": "outbound", "from": "34911234567@c.us",
		}, "34911234567@c.us", own},
		{"no sender fields", map[string]any{"body": "hi"}, "", ""},
		{"fields of other types", map[string]any{"from": 34655443322, "author": map[string]any{"id": "x"}}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := funcs.Sender(tt.msg); got != tt.sender {
				t.Errorf("Sender = %q, want %q", got, tt.sender)
			}
			if got := funcs.SenderPhone(tt.msg); got != tt.senderPhone {
				t.Errorf("SenderPhone = %q, want %q", got, tt.senderPhone)
			}
			// hookd decodes only ArgFields of the message for them.
			only := map[string]any{"chat": map[string]any{"id": "34699999999@c.us"}}
			for _, k := range funcs.ArgFields("sender") {
				if v, ok := tt.msg[k]; ok {
					only[k] = v
				}
			}
			if got := funcs.Sender(only); got != tt.sender {
				t.Errorf("Sender of ArgFields only = %q, want %q", got, tt.sender)
			}
			if got := funcs.SenderPhone(only); got != tt.senderPhone {
				t.Errorf("SenderPhone of ArgFields only = %q, want %q", got, tt.senderPhone)
			}
		})
	}
}

// TestSenderInExpressions calls sender and senderPhone as rules do, on
// data of an event, and checks that a missing data is an error.
func TestSenderInExpressions(t *testing.T) {
	opts := append(funcs.Options(), expr.AllowUndefinedVariables())
	env := map[string]any{"data": map[string]any{
		"from": "120363041234567890@g.us", "author": "98765432109876@lid", "fromNumber": "+34655443322",
	}}
	for src, want := range map[string]string{
		`sender(data)`:                    "98765432109876@lid",
		`senderPhone(data)`:               "+34655443322",
		`mention(sender(data))`:           "@98765432109876",
		`phone(sender(data))`:             "",
		`isLid(sender(data)) ? "y" : "n"`: "y",
	} {
		prog, err := expr.Compile(src, opts...)
		if err != nil {
			t.Fatalf("compile %s: %v", src, err)
		}
		out, err := expr.Run(prog, env)
		if err != nil {
			t.Fatalf("run %s: %v", src, err)
		}
		if out != want {
			t.Errorf("%s = %#v, want %q", src, out, want)
		}
	}
	prog, err := expr.Compile(`sender(data)`, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := expr.Run(prog, map[string]any{}); err == nil || !strings.Contains(err.Error(), "sender: argument 1 is nil") {
		t.Errorf("sender(nil) error = %v, want one naming sender and the nil argument", err)
	}
	if _, err := expr.Compile(`sender("34655443322@c.us")`, opts...); err == nil {
		t.Error(`sender("34655443322@c.us") compiled; a string is not a message`)
	}
}

func TestTruncate(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"hello", 10, "hello"},
		{"hello", 5, "hello"},
		{"hello", 4, "hel…"},
		{"¡Hola 🙏 amigos!", 8, "¡Hola 🙏…"},
		{"x", 0, ""},
	}
	for _, tt := range tests {
		if got := funcs.Truncate(tt.in, tt.n); got != tt.want {
			t.Errorf("Truncate(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}

// TestPlural runs plural as rules call it: on the length of a list of
// the event, with a missing list given a default.
func TestPlural(t *testing.T) {
	tests := []struct {
		participants any
		want         string
	}{
		{[]any{}, "0 members"},
		{[]any{"+34600000001"}, "1 member"},
		{[]any{"+34600000001", "+34600000002"}, "2 members"},
		{nil, "0 members"},
	}
	prog, err := expr.Compile(`plural(len(participants ?? []), "member", "members")`, append(funcs.Options(), expr.AllowUndefinedVariables())...)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		out, err := expr.Run(prog, map[string]any{"participants": tt.participants})
		if err != nil {
			t.Fatalf("participants %v: %v", tt.participants, err)
		}
		if out != tt.want {
			t.Errorf("participants %v: %q, want %q", tt.participants, out, tt.want)
		}
	}
	bad, err := expr.Compile(`plural(size, "member", "members")`, append(funcs.Options(), expr.AllowUndefinedVariables())...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := expr.Run(bad, map[string]any{}); err == nil || !strings.Contains(err.Error(), "plural: argument 1 is nil") {
		t.Errorf("plural of a missing field: err = %v, want it to name the nil argument", err)
	}
}

func TestNilArgumentIsAnError(t *testing.T) {
	prog, err := expr.Compile(`phone(author)`, append(funcs.Options(), expr.AllowUndefinedVariables())...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := expr.Run(prog, map[string]any{}); err == nil {
		t.Fatal("phone(nil) did not fail")
	}
}

func ExamplePhone() {
	fmt.Println(funcs.Phone("34600000001@c.us"))
	// Output: +34600000001
}

func ExampleWID() {
	fmt.Println(funcs.WID("+34 600 000 001"))
	// Output: 34600000001@c.us
}

func ExampleIsGroup() {
	fmt.Println(funcs.IsGroup("120363012345678901@g.us"), funcs.IsGroup("34600000001@c.us"))
	// Output: true false
}

func ExampleMention() {
	fmt.Println(funcs.Mention("34600000001@c.us"))
	// Output: @34600000001
}

func ExampleIsLid() {
	fmt.Println(funcs.IsLid("123456789012345@lid"), funcs.IsUser("123456789012345@lid"), funcs.Phone("123456789012345@lid") == "")
	// Output: true true true
}

func ExampleSender() {
	// A message:in:new from a group: data.from is the group, data.author
	// the member who wrote.
	data := map[string]any{
		"flow":       "inbound",
		"from":       "120363041234567890@g.us",
		"author":     "34655443322@c.us",
		"fromNumber": "+34655443322",
	}
	fmt.Println(funcs.Sender(data), funcs.SenderPhone(data))
	// Output: 34655443322@c.us +34655443322
}

func ExampleSenderPhone() {
	// A member known only by a linked id: no phone number.
	data := map[string]any{"flow": "inbound", "from": "120363041234567890@g.us", "author": "98765432109876@lid"}
	fmt.Printf("%q %q\n", funcs.Sender(data), funcs.SenderPhone(data))
	// Output: "98765432109876@lid" ""
}
