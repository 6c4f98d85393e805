package yamlx_test

import (
	"fmt"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/hookd/hookd/internal/yamlx"
)

// collect returns a Reader that records problems as "line:col: message".
func collect() (yamlx.Reader, *[]string) {
	var got []string
	return yamlx.Reader{Errorf: func(n *yaml.Node, format string, args ...any) {
		got = append(got, fmt.Sprintf("%d:%d: ", n.Line, n.Column)+fmt.Sprintf(format, args...))
	}}, &got
}

func parse(t *testing.T, src string) *yaml.Node {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Content[0]
}

func TestFields(t *testing.T) {
	tests := []struct {
		src   string
		known []string
		keys  int
		want  []string
	}{
		{"name: a\nif: x\n", []string{"name", "if"}, 2, nil},
		{"name: a\niff: x\n", []string{"name", "if"}, 1, []string{`2:1: rule: unknown key "iff" (did you mean "if"?); known keys: if, name`}},
		{"a: 1\na: 2\n", nil, 1, []string{`2:1: rule: duplicate key "a" (first at line 1); remove one`}},
		{"[1, 2]\n", nil, 0, []string{"1:1: rule must be a mapping of keys to values, found a list"}},
		{"~\n", nil, 0, nil},
	}
	for _, tt := range tests {
		r, got := collect()
		out := r.Fields(parse(t, tt.src), "rule", tt.known...)
		if len(out) != tt.keys || strings.Join(*got, "\n") != strings.Join(tt.want, "\n") {
			t.Errorf("Fields(%q): %d keys, problems %q; want %d keys, %q", tt.src, len(out), *got, tt.keys, tt.want)
		}
	}
}

func TestScalars(t *testing.T) {
	r, got := collect()
	if s, ok := r.Str(parse(t, `"x"`), "name"); !ok || s != "x" {
		t.Errorf("Str = %q, %v", s, ok)
	}
	if l, ok := r.StrList(parse(t, "one"), "on"); !ok || len(l) != 1 {
		t.Errorf("StrList(scalar) = %q, %v", l, ok)
	}
	if l, ok := r.StrList(parse(t, "[a, b]"), "on"); !ok || len(l) != 2 {
		t.Errorf("StrList(list) = %q, %v", l, ok)
	}
	if b, ok := r.Bool(parse(t, "true"), "stop"); !ok || !b {
		t.Errorf("Bool = %v, %v", b, ok)
	}
	if len(*got) != 0 {
		t.Fatalf("unexpected problems: %q", *got)
	}
	r.Str(parse(t, "{a: 1}"), "name")
	r.Bool(parse(t, `"yes"`), "stop")
	want := []string{"1:1: name must be a string, found a mapping", `1:1: stop must be true or false, found the text "yes"`}
	if strings.Join(*got, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems %q, want %q", *got, want)
	}
}

// TestBool: only a YAML boolean is true or false; a quoted "true" is
// text and gets a hint to remove the quotes, at its line and column.
func TestBool(t *testing.T) {
	tests := []struct {
		src     string
		want    bool
		problem string // "" when the value reads
	}{
		{"stop: true", true, ""},
		{"stop: false", false, ""},
		{"stop: True", true, ""},
		{"stop: FALSE", false, ""},
		{"stop: !!bool true", true, ""},
		{`stop: "true"`, false, `1:7: stop must be true or false, found the text "true": remove the quotes (in YAML a quoted true is text)`},
		{"stop: 'false'", false, `1:7: stop must be true or false, found the text "false": remove the quotes (in YAML a quoted false is text)`},
		{"stop: !!str true", false, `1:7: stop must be true or false, found the text "true": remove the quotes (in YAML a quoted true is text)`},
		{"stop: yes", false, `1:7: stop must be true or false, found the text "yes"`},
		{"stop: 1", false, "1:7: stop must be true or false, found a number 1"},
		{"stop:", false, "1:6: stop must be true or false, found nothing (null)"},
		{"stop: [true]", false, "1:7: stop must be true or false, found a list"},
	}
	for _, tt := range tests {
		r, got := collect()
		b, ok := r.Bool(parse(t, tt.src).Content[1], "stop")
		if b != tt.want || ok != (tt.problem == "") || strings.Join(*got, "\n") != tt.problem {
			t.Errorf("Bool(%s) = %v, %v, problems %q; want %v, problem %q", tt.src, b, ok, *got, tt.want, tt.problem)
		}
	}
}
