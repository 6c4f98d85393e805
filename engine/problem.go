// Package engine loads hookd rules files and runs them: validation with
// file:line:col problems, expr-lang conditions and {{ }} templates compiled
// once at load, an index of rules by event name (and action), and the
// evaluation of an event into the actions it fires. Dry-run, tests and the
// daemon all share it.
package engine

import (
	"fmt"
	"sort"
	"strings"
)

// Severity tells errors from warnings.
type Severity int

// Severities of a problem.
const (
	Error Severity = iota
	Warning
)

// Problem is one thing wrong with a rules file, at a position in it.
type Problem struct {
	File     string
	Line     int
	Col      int
	Severity Severity
	Msg      string
	// Source is the file's line at Line, shown with a caret under Col
	// for expression errors ("" for none).
	Source string
}

// String formats the problem as "file:line:col: message", followed for
// expression problems by the source line and a caret under the column.
func (p Problem) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s:%d:%d: ", p.File, p.Line, p.Col)
	if p.Severity == Warning {
		b.WriteString("warning: ")
	}
	b.WriteString(p.Msg)
	if p.Source != "" {
		src := strings.ReplaceAll(p.Source, "\t", " ")
		fmt.Fprintf(&b, "\n    %s\n    %s^", src, caretPad(src, p.Col))
	}
	return b.String()
}

// caretPad returns the spaces that put a caret under the 1-based column
// col of line (counted in characters).
func caretPad(line string, col int) string {
	n := 0
	for range line {
		if n >= col-1 {
			break
		}
		n++
	}
	if col-1 > n {
		n = col - 1
	}
	return strings.Repeat(" ", n)
}

// Problems is a list of problems, in file order.
type Problems []Problem

// Errors returns how many problems are errors.
func (ps Problems) Errors() int {
	n := 0
	for _, p := range ps {
		if p.Severity == Error {
			n++
		}
	}
	return n
}

// Warnings returns how many problems are warnings.
func (ps Problems) Warnings() int { return len(ps) - ps.Errors() }

// Error implements error: every problem, one per line.
func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// First returns the first error problem, for short log lines.
func (ps Problems) First() (Problem, bool) {
	for _, p := range ps {
		if p.Severity == Error {
			return p, true
		}
	}
	return Problem{}, false
}

func (ps Problems) sort() {
	sort.SliceStable(ps, func(i, j int) bool {
		if ps[i].Line != ps[j].Line {
			return ps[i].Line < ps[j].Line
		}
		return ps[i].Col < ps[j].Col
	})
}
