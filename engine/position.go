package engine

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

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
	line, col = l.clamp(line, col)
	l.problems = append(l.problems, Problem{File: l.file, Line: line, Col: col, Severity: sev, Msg: msg, Source: source})
}

// clamp keeps a position inside the file: a line that exists, a column
// at most one past its end. A position past the end (an empty block
// scalar on the last line, whose text would start on the next) becomes
// the end of the last line.
func (l *loader) clamp(line, col int) (int, int) {
	if line < 1 {
		return 1, 1
	}
	if line > len(l.lines) {
		line, col = len(l.lines), math.MaxInt
	}
	if end := utf8.RuneCountInString(l.lines[line-1]) + 1; col > end {
		col = end
	}
	return line, max(col, 1)
}

// errorAt records an error inside a scalar's text: off is the character
// offset in the scalar's value. The problem carries the source line so
// the caret can point at the column.
func (l *loader) errorAt(n *yaml.Node, off int, msg string) {
	line, col := l.clamp(l.posIn(n, off))
	l.add(Error, line, col, l.sourceLine(line), msg)
}

// warnAt records a warning inside a scalar's text, like errorAt.
func (l *loader) warnAt(n *yaml.Node, off int, msg string) {
	line, col := l.clamp(l.posIn(n, off))
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
// scalars, literal blocks (|), folded blocks (>) and plain scalars over
// several lines whose lines share one indentation, and close for the rest
// (a quoted scalar over several lines gives its start).
func (l *loader) posIn(n *yaml.Node, off int) (line, col int) {
	text := n.Value
	if e, ok := l.expanded[n]; ok {
		text, off = e.raw, e.rawOffset(off)
	}
	value := []rune(text)
	if off > len(value) {
		off = len(value)
	}
	switch n.Style {
	case yaml.LiteralStyle:
		before := string(value[:off])
		row := strings.Count(before, "\n")
		colIn := len([]rune(before[strings.LastIndex(before, "\n")+1:]))
		first := n.Line + 1
		return first + row, l.blockIndent(first) + colIn + 1
	case yaml.FoldedStyle:
		first := n.Line + 1
		for first < len(l.lines) && strings.TrimSpace(l.lines[first-1]) == "" {
			first++
		}
		return l.foldedPos(first, l.blockIndent(first)+1, off)
	case yaml.SingleQuotedStyle, yaml.DoubleQuotedStyle:
		if !strings.Contains(text, "\n") {
			return n.Line, n.Column + 1 + l.sourceOffset(n, off, 1)
		}
	default:
		rest := []rune(strings.TrimRight(l.sourceLine(n.Line), " \t"))
		if n.Column-1+len(value) <= len(rest) {
			return n.Line, n.Column + l.sourceOffset(n, off, 0)
		}
		return l.foldedPos(n.Line, n.Column, off)
	}
	return n.Line, n.Column
}

// blockIndent is the indentation of a block scalar that starts at line
// first: that of its first line that is not blank.
func (l *loader) blockIndent(first int) int {
	for i := first; i <= len(l.lines); i++ {
		if src := l.lines[i-1]; strings.TrimSpace(src) != "" {
			return len(src) - len(strings.TrimLeft(src, " "))
		}
	}
	return 0
}

// foldedPos maps an offset in a folded value (a > block, or a plain
// scalar over several lines) whose text starts at row:col. Folding joins
// the lines' text with one space, or with one newline per blank line
// between them.
func (l *loader) foldedPos(row, col, off int) (int, int) {
	rest := off
	for row <= len(l.lines) {
		src := []rune(strings.TrimRight(l.lines[row-1], " \t\r"))
		text := len(src) - min(col-1, len(src))
		if rest <= text {
			return row, col + rest
		}
		rest -= text
		next, blanks := row+1, 0
		for next <= len(l.lines) && strings.TrimSpace(l.lines[next-1]) == "" {
			next, blanks = next+1, blanks+1
		}
		if rest -= max(1, blanks); rest < 0 || next > len(l.lines) {
			return row, col + text // inside the line break
		}
		row, col = next, firstColumn(l.lines[next-1])
	}
	return row, col
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

// maxSyntaxProbe bounds the lines syntaxPos parses, so that a syntax error
// near the end of a huge file costs little.
const maxSyntaxProbe = 2000

// syntaxPos finds the line and column of a YAML syntax error. yaml.v3
// reports only a line, and often not the culprit's: the line where the
// enclosing scalar or block starts (for parser errors, the line before
// it). That line is never after the culprit, so syntaxPos parses ever
// longer prefixes of the file from there: the first line whose prefix
// fails with the same message holds the culprit, and the shortest failing
// prefix of that line ends at it. It falls back to the first character of
// line from.
func syntaxPos(lines []string, from int, msg string) (line, col int) {
	from = max(from, 1)
	if from > len(lines) {
		return from, 1
	}
	fails := func(text string) bool {
		var doc yaml.Node
		err := yaml.Unmarshal([]byte(text), &doc)
		if err == nil {
			return false
		}
		_, _, m := splitYAMLError(err)
		return m == msg
	}
	var prefix strings.Builder
	for _, s := range lines[:from-1] {
		prefix.WriteString(s)
		prefix.WriteByte('\n')
	}
	for k := from; k <= len(lines) && k < from+maxSyntaxProbe; k++ {
		row := lines[k-1]
		if !fails(prefix.String() + row + "\n") {
			prefix.WriteString(row)
			prefix.WriteByte('\n')
			continue
		}
		runes := []rune(strings.TrimRight(row, "\r"))
		for c := 1; c <= len(runes); c++ {
			if fails(prefix.String() + string(runes[:c])) {
				return k, c
			}
		}
		return k, firstColumn(row)
	}
	return from, firstColumn(lines[from-1])
}

// unclosedBracket finds the opening bracket of close (] or }) that is
// still open at the end of line (1-based): the last one opened and not
// closed, outside quoted strings and comments (a heuristic: it takes a
// quote for the start of a quoted string, and ends one at the end of
// its line). It returns its line and
// column; ok is false when every such bracket is closed.
func unclosedBracket(lines []string, line int, close string) (l, c int, ok bool) {
	type mark struct {
		open      rune
		line, col int
	}
	var open []mark
rows:
	for i := 0; i < line && i < len(lines); i++ {
		var quote rune
		prev := ' '
		for j, r := range []rune(lines[i]) {
			switch {
			case quote != 0:
				if r == quote {
					quote = 0
				}
			case r == '#' && (prev == ' ' || prev == '\t'):
				continue rows
			case r == '"' || r == '\'':
				quote = r // to the end of the line at most: an apostrophe may be plain text
			case r == '[' || r == '{':
				open = append(open, mark{r, i + 1, j + 1})
			case (r == ']' || r == '}') && len(open) > 0:
				open = open[:len(open)-1]
			}
			prev = r
		}
	}
	want := map[string]rune{"]": '[', "}": '{'}[close]
	for k := len(open) - 1; k >= 0; k-- {
		if open[k].open == want {
			return open[k].line, open[k].col, true
		}
	}
	return 0, 0, false
}

// firstColumn is the column of a line's first character that is not a
// space (1 for a blank line).
func firstColumn(s string) int {
	if strings.TrimSpace(s) == "" {
		return 1
	}
	return len([]rune(s)) - len([]rune(strings.TrimLeft(s, " "))) + 1
}

// keyValueLine matches a line `key: value` (also as a list item) whose
// value is a plain scalar; group 1 is the indentation of the key.
var keyValueLine = regexp.MustCompile(`^((?: *- +)* *)[^ #'"\[{][^:#]*: +[^ |>#&!*\[{'"]`)

// continuesValue reports whether line (1-based) is indented deeper than
// the key of the line above it, when that key has a plain value on its
// line: YAML then reads the line as more of that value.
func continuesValue(lines []string, line int) bool {
	if line < 2 || line > len(lines) {
		return false
	}
	prev := line - 1
	for prev >= 1 && (strings.TrimSpace(lines[prev-1]) == "" || strings.HasPrefix(strings.TrimSpace(lines[prev-1]), "#")) {
		prev--
	}
	if prev < 1 {
		return false
	}
	m := keyValueLine.FindStringSubmatch(lines[prev-1])
	return m != nil && firstColumn(lines[line-1])-1 > len(m[1])
}

// afterQuote reports whether the character before column col of line,
// spaces skipped, is a quote.
func afterQuote(line string, col int) bool {
	r := []rune(line)
	if col-1 > len(r) {
		return false
	}
	before := strings.TrimRight(string(r[:max(col-1, 0)]), " ")
	return strings.HasSuffix(before, `"`) || strings.HasSuffix(before, "'")
}

var yamlLine = regexp.MustCompile(`^line (\d+)(?:, column (\d+))?: (.*)`)

// splitYAMLError splits a yaml.v3 error into its line (0 when it has
// none), column (0) and message.
func splitYAMLError(err error) (line, col int, msg string) {
	msg = strings.TrimPrefix(err.Error(), "yaml: ")
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		col, _ = strconv.Atoi(m[2])
		msg = m[3]
	}
	return line, col, msg
}

// YAMLProblem is the problem of a yaml.v3 syntax error in data, the bytes
// of file: at the character that causes it, with its source line, in the
// words `hookd check` uses for one in a rules file. It is for the other
// YAML files hookd reads, such as test files.
func YAMLProblem(file string, data []byte, err error) Problem {
	l := &loader{file: file, lines: strings.Split(string(data), "\n")}
	l.yamlError(err)
	return l.problems[0]
}

// yamlError records a YAML syntax error at the character that causes it,
// with the source line, in words that say what to fix.
func (l *loader) yamlError(err error) {
	line, col, msg := splitYAMLError(err)
	if col == 0 {
		line, col = syntaxPos(l.lines, line, msg)
	}
	if strings.HasPrefix(msg, "did not find expected ',' or ") {
		// The bracket that is never closed may be lines above.
		if bl, bc, ok := unclosedBracket(l.lines, line, msg[len(msg)-2:len(msg)-1]); ok {
			line, col = bl, bc
		}
	}
	src := l.sourceLine(line)
	var at rune
	if r := []rune(src); col >= 1 && col <= len(r) {
		at = r[col-1]
		if strings.HasPrefix(msg, "did not find expected ',' or ") && col >= 2 && (r[col-2] == '[' || r[col-2] == '{') {
			col, at = col-1, r[col-2] // the bracket, not the first item
		}
	}
	switch {
	case strings.Contains(msg, "tab character") || at == '\t':
		msg = "a tab character in the indentation: indent with spaces only"
	case msg == "found unexpected end of stream" && (at == '"' || at == '\''):
		msg = "this quoted string is never closed: add the closing " + string(at)
	case msg == "mapping values are not allowed in this context" && continuesValue(l.lines, line):
		col = firstColumn(src)
		msg = "this line is indented deeper than the key above it, so it reads as the rest of that key's value: indent it like the key above"
	case msg == "mapping values are not allowed in this context":
		msg = "unexpected `:` here: quote a value that contains \": \" (message: \"Note: ...\"), or fix the indentation"
	case (msg == "did not find expected key" || msg == "did not find expected '-' indicator") && col == firstColumn(src):
		msg = "this line's indentation does not match the lines above it: indent it exactly like its sibling keys (or list items)"
	case msg == "did not find expected key" && afterQuote(src, col):
		msg = "unexpected text after a quoted value: put the whole value in quotes, e.g. if: 'data.body == \"hi\" && ...'"
	case strings.HasPrefix(msg, "did not find expected ',' or ") && (at == '[' || at == '{'):
		msg = "this " + string(at) + " is never closed, or its items lack commas: add the closing " + msg[len(msg)-2:len(msg)-1]
	default:
		msg += " (check indentation and quoting on this line or the one before)"
	}
	l.add(Error, line, col, src, "YAML syntax: "+msg)
}
