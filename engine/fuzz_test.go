package engine_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hookd/hookd/engine"
)

// FuzzLoad loads arbitrary rules files: Load must never panic, must
// return a rule set or at least one error, and must place every problem
// inside the file (a line that exists, a column at most one past its
// end). The seed corpus in testdata/fuzz/FuzzLoad holds the good and
// broken rules files of testdata/rules and rules.example.yaml.
func FuzzLoad(f *testing.F) {
	f.Add([]byte("version: 1\nrules:\n  - name: r\n    on: group:update\n    if: action == \"add\"\n    do: [log: {message: \"{{ author }}\"}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rs, problems := engine.Load("rules.yaml", data, engine.LoadOptions{AllowUnsetEnv: true, LookupEnv: envFrom(nil)})
		if rs == nil && problems.Errors() == 0 {
			t.Fatalf("no rule set and no error: %v", problems)
		}
		if rs != nil && problems.Errors() > 0 {
			t.Fatalf("a rule set despite errors: %v", problems)
		}
		lines := strings.Split(string(data), "\n")
		for _, p := range problems {
			if p.File != "rules.yaml" {
				t.Errorf("problem names file %q: %v", p.File, p)
			}
			if p.Line < 1 || p.Line > len(lines) {
				t.Fatalf("line %d outside the file's %d lines: %v", p.Line, len(lines), p)
			}
			if end := utf8.RuneCountInString(lines[p.Line-1]) + 1; p.Col < 1 || p.Col > end {
				t.Fatalf("column %d outside line %d (columns 1 to %d): %v\n%q", p.Col, p.Line, end, p, lines[p.Line-1])
			}
		}
	})
}
