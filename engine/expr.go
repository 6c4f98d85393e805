package engine

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/builtin"
	"github.com/expr-lang/expr/checker"
	"github.com/expr-lang/expr/compiler"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/optimizer"
	"github.com/expr-lang/expr/vm"
	"gopkg.in/yaml.v3"

	"github.com/hookd/hookd/engine/funcs"
	"github.com/hookd/hookd/event"
)

// maxExprNodes bounds the size of one expression.
const maxExprNodes = 5000

// knownFuncs are the names callable in expressions: expr's builtins and
// hookd's helpers.
var knownFuncs = func() []string {
	names := funcs.Names()
	for _, b := range builtin.Builtins {
		names = append(names, b.Name)
	}
	sort.Strings(names)
	return names
}()

// memberPath returns the names of a field reference: an identifier and
// the members read from it. A member named by a number is "[]" (any
// element); one named by anything else ends the path there (the whole
// object is read). exact reports that every member was named by a
// constant string.
func memberPath(n ast.Node) (path []string, exact, ok bool) {
	switch x := n.(type) {
	case *ast.IdentifierNode:
		return []string{x.Value}, true, true
	case *ast.MemberNode:
		base, exact, ok := memberPath(x.Node)
		if !ok {
			return nil, false, false
		}
		switch p := x.Property.(type) {
		case *ast.StringNode:
			return append(base, p.Value), exact, true
		case *ast.IntegerNode:
			return append(base, "[]"), false, true
		}
		return base, false, true
	case *ast.ChainNode:
		return memberPath(x.Node)
	}
	return nil, false, false
}

// fieldRef is a path of event fields an expression reads, e.g.
// data.chat.name, at a character offset in the expression.
type fieldRef struct {
	Path []string
	Off  int
	// Only, when set, are the fields of Path that are read: Path is the
	// argument of a helper that reads just these (funcs.ArgFields).
	Only []string
}

// compiled is one compiled expression and what it reads.
type compiled struct {
	Source string
	Prog   *vm.Program
	Fields []fieldRef
	// wholeEnv is set when the expression reads $env, the whole event.
	wholeEnv bool
}

// readsEnv reports whether a program reads $env.
func readsEnv(prog *vm.Program) bool {
	// $env.name (a constant name) reads one field, which fieldRefs
	// collects; $env alone, or $env[k], reads them all.
	named := map[ast.Node]bool{}
	ast.Find(prog.Node(), func(n ast.Node) bool {
		if m, ok := n.(*ast.MemberNode); ok {
			if _, ok := m.Property.(*ast.StringNode); ok {
				named[m.Node] = true
			}
		}
		return false
	})
	return ast.Find(prog.Node(), func(n ast.Node) bool {
		id, ok := n.(*ast.IdentifierNode)
		return ok && id.Value == "$env" && !named[n]
	}) != nil
}

// exprCheck walks an expression's syntax tree while it compiles: it
// reports calls of unknown functions and unknown vars (fieldRefs collects
// the event fields it reads, from the compiled program).
type exprCheck struct {
	vars     map[string]any
	problems []exprProblem
}

type exprProblem struct {
	off int
	msg string
}

// Visit implements ast.Visitor.
func (c *exprCheck) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.CallNode:
		if id, ok := n.Callee.(*ast.IdentifierNode); ok && !contains(knownFuncs, id.Value) {
			c.problems = append(c.problems, exprProblem{n.Location().From, fmt.Sprintf("unknown function %s%s; see the helper functions in the rules reference", id.Value, suggest(id.Value, knownFuncs))})
		}
	case *ast.MemberNode:
		if id, ok := n.Node.(*ast.IdentifierNode); ok && id.Value == "vars" {
			if s, ok := n.Property.(*ast.StringNode); ok {
				if _, defined := c.vars[s.Value]; !defined {
					names := make([]string, 0, len(c.vars))
					for k := range c.vars {
						names = append(names, k)
					}
					c.problems = append(c.problems, exprProblem{n.Property.Location().From, fmt.Sprintf("unknown variable vars.%s%s; define it under vars:", s.Value, suggest(s.Value, names))})
				}
			}
		}
	}
}

// compileExpr compiles src, which sits at character offset off of the
// scalar node n, reporting problems at their place in the file. asBool
// requires a boolean result.
func (l *loader) compileExpr(src string, n *yaml.Node, off int, asBool bool, what string) *compiled {
	key := exprKey{src, asBool}
	if c, ok := l.previous[key]; ok && l.compiled[key] == nil {
		// Compiled by the previous load of this file, with the same vars:
		// a reload after a small edit compiles only what changed.
		if l.compiled == nil {
			l.compiled = map[exprKey]*compiled{}
		}
		l.compiled[key] = c
	}
	if c, ok := l.compiled[key]; ok {
		// The same text compiled cleanly before: programs are immutable
		// and safe to share, and rule files repeat {{ data.chat.id }} a lot.
		l.checkFields(c, n, off, what)
		return c
	}
	check := &exprCheck{vars: l.vars}
	prog, err := l.compileProgram(src, asBool, check)
	for _, p := range check.problems {
		l.errorAt(n, off+p.off, what+": "+p.msg)
	}
	if err != nil {
		if len(check.problems) > 0 {
			return nil // the visitor's message says more than the checker's
		}
		var fe *file.Error
		if errors.As(err, &fe) {
			at := fe.From
			if fe.Message == "unexpected token EOF" {
				at = len([]rune(src)) // where the missing part goes
			}
			l.errorAt(n, off+at, what+": "+syntaxHint(strings.TrimSpace(fe.Message))+l.commentHint(n))
		} else {
			msg := err.Error()
			if asBool && strings.HasPrefix(msg, "expected bool") {
				msg = "the condition must be true or false, but it " + strings.TrimPrefix(msg, "expected bool, but ") + "; compare it, e.g. len(participants) > 0"
			}
			l.errorAt(n, off, what+": "+msg)
		}
		return nil
	}
	if len(check.problems) > 0 {
		return nil
	}
	c := &compiled{Source: src, Prog: prog, Fields: fieldRefs(prog), wholeEnv: readsEnv(prog)}
	if l.compiled == nil {
		l.compiled = map[exprKey]*compiled{}
	}
	l.compiled[key] = c
	l.checkFields(c, n, off, what)
	return c
}

// exprOptions are the expr options of every expression of a rules file:
// vars known, event fields allowed (they vary by event), hookd's helpers,
// a size limit.
func exprOptions(vars map[string]any) []expr.Option {
	return append([]expr.Option{
		expr.Env(map[string]any{"vars": vars}),
		expr.AllowUndefinedVariables(),
		expr.MaxNodes(maxExprNodes),
	}, funcs.Options()...)
}

// compileProgram is expr.Compile with exprOptions, built once per load:
// expr.Compile builds its configuration anew for every expression, a
// large part of what loading a large rules file allocated (see
// BENCHMARKS.md, "Figures behind the code").
func (l *loader) compileProgram(src string, asBool bool, check ast.Visitor) (*vm.Program, error) {
	if l.baseConf == nil {
		c := conf.CreateNew()
		for _, op := range exprOptions(l.vars) {
			op(c)
		}
		for name := range c.Disabled {
			delete(c.Builtins, name)
		}
		l.baseConf = c
	}
	cfg := *l.baseConf
	cfg.Visitors = []ast.Visitor{fieldsOverFunctions{}, check}
	if asBool {
		expr.AsBool()(&cfg)
	}
	tree, err := checker.ParseCheck(src, &cfg)
	if err != nil {
		return nil, err
	}
	if cfg.Optimize {
		if err := optimizer.Optimize(&tree.Node, &cfg); err != nil {
			var fe *file.Error
			if errors.As(err, &fe) {
				return nil, fe.Bind(tree.Source)
			}
			return nil, err
		}
	}
	prog, err := compiler.Compile(tree, &cfg)
	if err != nil {
		return nil, err
	}
	bindVars(prog, l.vars)
	return prog, nil
}

// bindVars makes the program read `vars` as a constant, the rules file's
// vars, instead of from the environment: the environment is then the
// event's own fields, which Evaluate neither copies nor changes. Only the
// bytecode changes; the program's syntax tree, which explain and the
// field checks read, still names vars.
func bindVars(prog *vm.Program, vars map[string]any) {
	at := -1
	for i, op := range prog.Bytecode {
		if op != vm.OpLoadFast || prog.Constants[prog.Arguments[i]] != "vars" {
			continue
		}
		if at < 0 {
			at = len(prog.Constants)
			prog.Constants = append(prog.Constants, vars)
		}
		prog.Bytecode[i], prog.Arguments[i] = vm.OpPush, at
	}
}

// exprKey identifies a compiled expression within one load.
type exprKey struct {
	src    string
	asBool bool
}

// commentHint explains an expression cut short by YAML: in a plain
// scalar, " #" starts a comment, so `any(xs, # > 1)` loses its end.
func (l *loader) commentHint(n *yaml.Node) string {
	if n.Style != 0 || strings.Contains(n.Value, "\n") {
		return ""
	}
	src := []rune(l.sourceLine(n.Line))
	end := n.Column - 1 + len([]rune(n.Value))
	if end < len(src) && strings.HasPrefix(strings.TrimLeft(string(src[end:]), " \t"), "#") {
		return "; the rest of the line was read as a YAML comment (a # after a space starts one): put the expression in quotes"
	}
	return ""
}

// syntaxHint rewords expr's syntax errors that do not say what to do.
func syntaxHint(msg string) string {
	switch msg {
	case "unexpected token EOF":
		return "the expression ends too early: an operand, a closing ) or ], or a quote is missing"
	case `unexpected token Operator("=")`:
		return msg + ": to compare, write =="
	case "literal not terminated":
		return "a string is never closed: add the closing quote"
	}
	for _, op := range []string{"contains", "startsWith", "endsWith", "matches"} {
		if msg == `unexpected token Operator("`+op+`")` {
			return op + " is an operator, not a function: write it between its operands, e.g. data.body " + op + ` "help"`
		}
	}
	if strings.HasPrefix(msg, "invalid operation: ") && strings.Contains(msg, "(mismatched types ") {
		return msg + ": compare like with like, a number with a number (without quotes) and text with text"
	}
	return msg
}

// projection is the union of the fields every compiled expression reads
// and of those Evaluate reads itself: the reference of hookd's own sends
// (data.reference, see OwnSend), when a rule remembers the event time
// (created, data.timestamp, date, and an ack's state and data.events,
// see EventTime), and when a rule changes a group's participants the
// fields that tell the group:update about the change (see
// OwnChanges.Recognise). It is nil when an expression reads the
// environment as a whole ($env).
func (l *loader) projection() *event.Projection {
	paths := [][]string{{"data", "reference"}}
	if slices.ContainsFunc(l.rs.Rules, (*Rule).Stateful) {
		paths = append(paths, []string{"created"}, []string{"data", "timestamp"}, []string{"date"},
			[]string{"ack"}, []string{"data", "ack"}, []string{"data", "events"})
	}
	if l.rs.changesGroups {
		for _, f := range ownChangeFields() {
			paths = append(paths, f.keys)
		}
	}
	for _, c := range l.compiled {
		if c.wholeEnv {
			return nil
		}
		for _, f := range c.Fields {
			path := f.Path
			if path[0] == "$env" {
				path = path[1:]
			}
			if f.Only == nil {
				paths = append(paths, path)
			}
			for _, k := range f.Only {
				paths = append(paths, append(slices.Clip(path), k))
			}
		}
	}
	return event.NewProjection(paths)
}

// fieldRefs collects the chains of member access rooted at an event field
// (not vars, not a closure's #) that a program reads.
func fieldRefs(prog *vm.Program) []fieldRef {
	var refs []fieldRef
	// Only whole chains are reads: in data.chat.name, data.chat and data
	// are steps on the way, while a bare data (len(data), data[k]) reads
	// the whole object, even beside data.chat.name.
	// The argument of a helper such as sender(data) is read in part:
	// only the fields funcs.ArgFields names.
	steps := map[ast.Node]bool{}
	partial := map[ast.Node][]string{}
	// A name that a let declares is that variable where the let holds,
	// not a field.
	declared := map[ast.Node]bool{}
	ast.Find(prog.Node(), func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.VariableDeclaratorNode:
			ast.Find(n.Expr, func(x ast.Node) bool {
				if id, ok := x.(*ast.IdentifierNode); ok && id.Value == n.Name {
					declared[x] = true
				}
				return false
			})
		case *ast.MemberNode:
			steps[n.Node] = true
			if c, ok := n.Node.(*ast.ChainNode); ok {
				steps[c.Node] = true
			}
		case *ast.CallNode:
			if id, ok := n.Callee.(*ast.IdentifierNode); ok && len(n.Arguments) == 1 {
				if only := funcs.ArgFields(id.Value); only != nil {
					partial[n.Arguments[0]] = only
				}
			}
		}
		return false
	})
	seen := map[string]int{}
	ast.Find(prog.Node(), func(n ast.Node) bool {
		if steps[n] || declared[rootIdent(n)] {
			return false
		}
		switch n.(type) {
		case *ast.MemberNode, *ast.IdentifierNode:
			path, _, ok := memberPath(n)
			if !ok || len(path) == 0 || path[0] == "vars" {
				return false
			}
			if path[0] != "$env" && contains(knownFuncs, path[0]) || len(path) == 1 && path[0] == "$env" {
				return false // $env.date is the field date, whatever functions are named
			}
			only := partial[n]
			key := strings.Join(path, ".")
			i, dup := seen[key]
			switch {
			case !dup:
				seen[key] = len(refs)
				refs = append(refs, fieldRef{Path: path, Off: n.Location().From, Only: only})
			case only == nil || refs[i].Only == nil:
				refs[i].Only = nil // read whole somewhere
			default:
				refs[i].Only = append(slices.Clip(refs[i].Only), only...)
			}
		}
		return false
	})
	return refs
}

// fieldsOverFunctions makes a name that is not called read the event's
// field of that name, where expr would take it for the function of that
// name: `date`, the time of each batched message:out:failed and
// message:out:sent item, is expr's date() otherwise, and `date
// startsWith "2024"` would not compile. A function is never a value in
// expr, so such a name can only mean the field; date(...) stays the
// function, and a `let` of the name is not a function and stays itself.
type fieldsOverFunctions struct{}

// Visit rewrites an identifier typed as a function into $env.name.
func (fieldsOverFunctions) Visit(n *ast.Node) {
	id, ok := (*n).(*ast.IdentifierNode)
	if !ok {
		return
	}
	if nt := id.Nature(); nt == nil || nt.TypeData == nil || nt.TypeData.Func == nil {
		return
	}
	ast.Patch(n, &ast.MemberNode{Node: &ast.IdentifierNode{Value: "$env"}, Property: &ast.StringNode{Value: id.Value}})
}
