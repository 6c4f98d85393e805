package funcs_test

import (
	"fmt"
	"testing"

	"github.com/expr-lang/expr"

	"github.com/hookd/hookd/engine/event"
	"github.com/hookd/hookd/engine/funcs"
)

// TestDocsExamples runs every documented example through expr, so the
// rules reference cannot drift from the code.
func TestDocsExamples(t *testing.T) {
	for _, d := range funcs.Docs {
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

func TestPhone(t *testing.T) {
	tests := []struct{ in, want string }{
		{"34600000001@c.us", "+34600000001"},
		{"+34600000001", "+34600000001"},
		{"+34 600 000 001", "+34600000001"},
		{"120363012345678901@g.us", "+120363012345678901"},
		{"", ""},
		{"no digits", ""},
	}
	for _, tt := range tests {
		if got := funcs.Phone(tt.in); got != tt.want {
			t.Errorf("Phone(%q) = %q, want %q", tt.in, got, tt.want)
		}
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
