package engine

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// errorf records an error at a node's position.
func (l *loader) errorf(n *yaml.Node, format string, args ...any) {
	l.add(Error, n.Line, n.Column, "", fmt.Sprintf(format, args...))
}

// warnf records a warning at a node's position.
func (l *loader) warnf(n *yaml.Node, format string, args ...any) {
	l.add(Warning, n.Line, n.Column, "", fmt.Sprintf(format, args...))
}

func (l *loader) add(sev Severity, line, col int, source, msg string) {
	if line == 0 {
		line, col = 1, 1
	}
	l.problems = append(l.problems, Problem{File: l.file, Line: line, Col: col, Severity: sev, Msg: msg, Source: source})
}

// errorAt records an error inside a scalar's text: off is the character
// offset in the scalar's value. The problem carries the source line so
// the caret can point at the column.
func (l *loader) errorAt(n *yaml.Node, off int, msg string) {
	line, col := l.posIn(n, off)
	l.add(Error, line, col, l.sourceLine(line), msg)
}

// warnAt records a warning inside a scalar's text, like errorAt.
func (l *loader) warnAt(n *yaml.Node, off int, msg string) {
	line, col := l.posIn(n, off)
	l.add(Warning, line, col, l.sourceLine(line), msg)
}

func (l *loader) sourceLine(line int) string {
	if line >= 1 && line <= len(l.lines) {
		return strings.TrimRight(l.lines[line-1], "\r")
	}
	return ""
}

// posIn maps a character offset inside a scalar's value to its line and
// column in the file. It is exact for single-line plain and quoted
// scalars and for literal blocks (|), and close for the rest.
func (l *loader) posIn(n *yaml.Node, off int) (line, col int) {
	value := []rune(n.Value)
	if off > len(value) {
		off = len(value)
	}
	switch n.Style {
	case yaml.LiteralStyle, yaml.FoldedStyle:
		before := string(value[:off])
		row := strings.Count(before, "\n")
		colIn := len([]rune(before[strings.LastIndex(before, "\n")+1:]))
		first := n.Line + 1
		for first <= len(l.lines) && strings.TrimSpace(l.lines[first-1]) == "" {
			first++
		}
		indent := 0
		if first <= len(l.lines) {
			src := l.lines[first-1]
			indent = len(src) - len(strings.TrimLeft(src, " "))
		}
		return first + row, indent + colIn + 1
	case yaml.SingleQuotedStyle, yaml.DoubleQuotedStyle:
		if !strings.Contains(n.Value, "\n") {
			return n.Line, n.Column + 1 + l.sourceOffset(n, off, 1)
		}
	default:
		if !strings.Contains(n.Value, "\n") {
			return n.Line, n.Column + l.sourceOffset(n, off, 0)
		}
	}
	return n.Line, n.Column
}

// sourceOffset finds how many characters of the source line the first off
// characters of the value take: escapes such as \" or ” make the source
// longer than the value. It falls back to off.
func (l *loader) sourceOffset(n *yaml.Node, off, quote int) int {
	src := []rune(l.sourceLine(n.Line))
	start := n.Column - 1 + quote
	if start < 0 || start > len(src) {
		return off
	}
	i, j := start, 0
	for j < off && i < len(src) {
		switch {
		case n.Style == yaml.DoubleQuotedStyle && src[i] == '\\':
			i += 2
		case n.Style == yaml.SingleQuotedStyle && src[i] == '\'' && i+1 < len(src) && src[i+1] == '\'':
			i += 2
		default:
			i++
		}
		j++
	}
	if j < off {
		return off
	}
	return i - start
}
