// Package ruletest runs unit tests of a rules file: cases that feed one
// event (recorded or inline) to the rules and check which rules fire,
// which do not, and what their actions render to. Test files are YAML,
// decoded with positions so that every problem and every failing
// expectation is reported as file:line:col. The case decoder also reads the
// inline `examples:` of a rule.
package ruletest

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/hookd/hookd/actions"
	"github.com/hookd/hookd/engine"
	"github.com/hookd/hookd/engine/funcs"
	"github.com/hookd/hookd/event"
	"github.com/hookd/hookd/internal/yamlx"
)

// Suite is a decoded test file.
type Suite struct {
	// File is the test file's path.
	File string
	// Rules is the path of the rules file under test, joined to the test
	// file's folder ("" when the file has no rules: key).
	Rules string
	// RulesAt is where the value of the rules: key is written.
	RulesAt Pos
	Cases   []*Case
}

// Pos is a position in a test or rules file: a line and a column, both
// counted from 1, as yaml.v3 nodes and engine.Problem count them.
type Pos struct {
	Line, Col int
}

// posOf is where a node is written: for a mapping or a list item, its
// first key or value.
func posOf(n *yaml.Node) Pos { return Pos{Line: n.Line, Col: n.Column} }

// Case is one test: an event and what the rules should do with it.
type Case struct {
	Name string
	// File and Pos are where the case starts: the first key of its
	// mapping.
	File string
	Pos
	// Event is the event fed to the rules.
	Event *event.Event
	// Fires are rules that must fire; NotFires rules that must not.
	Fires    []Expect
	NotFires []Expect
	// Only, when set, fails the case if a rule outside Fires fires;
	// OnlyAt is where its value is written.
	Only   bool
	OnlyAt Pos
	// Actions are expectations on the rendered actions of fired rules.
	Actions []ActionExpect
	// Errors, when not nil, is the expected number of run-time errors;
	// when nil any run-time error fails the case.
	Errors *Count
	// Sequence, when not nil, are the events of a case written with
	// `events:`, in order, replayed with fresh state (see sequence.go);
	// Event is then the last of them, and Fires, NotFires, Only, Actions
	// and Errors are about it (and the digests sent at the end).
	Sequence []Step
}

// Expect names a rule at a position of the test file: the rule's name
// in a list, or the true or false of an example's fires (the example
// itself when it leaves fires out).
type Expect struct {
	Rule string
	Pos
}

// Count is an expected number at the position of its value.
type Count struct {
	N int
	Pos
}

// ActionExpect is what one action of a fired rule must render to.
type ActionExpect struct {
	// Pos is where the expectation (an item of actions) starts.
	Pos
	// Rule is the rule the action belongs to.
	Rule string
	// Type selects actions of this type ("" for any).
	Type string
	// Index selects the action at this position of the rule's do list
	// (-1 for any).
	Index int
	// Params are fields that must equal a value; Contains are fields
	// whose text must contain every listed substring.
	Params   []FieldExpect
	Contains []FieldExpect
}

// FieldExpect is an expectation on one rendered field.
type FieldExpect struct {
	Field string
	// Want is the exact value (Params) or the substrings, a []string
	// (Contains).
	Want any
	// Pos is where the field is named (its key); WantAt where what it
	// must be is written: the value (Params), or each substring of Want
	// (Contains).
	Pos
	WantAt []Pos
}

// CaseOptions tune DecodeCase.
type CaseOptions struct {
	// Dir is the folder that event paths are relative to.
	Dir string
	// Rule, when set, decodes an inline example of this rule: fires may
	// be true or false (about the rule itself, default true), actions
	// belong to the rule unless they name another, and name is optional.
	Rule string
	// Index is the example's position, for its default name.
	Index int
}

// Top-level keys of a test file, keys of a case and of an action
// expectation.
var (
	suiteKeys  = []string{"rules", "tests"}
	caseKeys   = []string{"name", "event", "event_index", "events", "fires", "not_fires", "only", "actions", "errors"}
	actionKeys = []string{"rule", "type", "index", "params", "contains"}
)

// decoder collects positioned problems.
type decoder struct {
	file     string
	problems engine.Problems
}

func (d *decoder) errorf(n *yaml.Node, format string, args ...any) {
	line, col := 1, 1
	if n != nil && n.Line > 0 {
		line, col = n.Line, n.Column
	}
	d.problems = append(d.problems, engine.Problem{File: d.file, Line: line, Col: col, Severity: engine.Error, Msg: fmt.Sprintf(format, args...)})
}

// DecodeFile reads and decodes a test file.
func DecodeFile(file string) (*Suite, engine.Problems) {
	data, problems := readFile(file, "test file")
	if problems != nil {
		return nil, problems
	}
	return Decode(file, data)
}

// Decode decodes a test file's bytes; file names it in problems and is
// the base of relative paths (rules and events). It returns the suite,
// or nil and every problem found, each at its file:line:col.
func Decode(file string, data []byte) (*Suite, engine.Problems) {
	d := &decoder{file: file}
	s := &Suite{File: file}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, engine.Problems{engine.YAMLProblem(file, data, err)}
	}
	if len(doc.Content) == 0 {
		d.errorf(nil, "the test file is empty: write `rules: rules.yaml` and a `tests:` list")
		return nil, d.problems
	}
	root := doc.Content[0]
	top := d.fields(root, "test file", suiteKeys)
	if root.Kind != yaml.MappingNode {
		return nil, d.problems
	}
	dir := filepath.Dir(file)
	if e, ok := top["rules"]; ok {
		if p, ok := d.str(e.Value, "rules"); ok {
			s.Rules = joinPath(dir, p)
			s.RulesAt = posOf(e.Value)
		}
	}
	e, ok := top["tests"]
	switch {
	case !ok:
		d.errorf(root, "missing `tests:`: add a list of test cases, each with a name, an event and what should fire")
	case e.Value.Kind != yaml.SequenceNode:
		d.errorf(e.Value, "tests must be a list of cases (each item starting with `- name:`), found %s", describe(e.Value))
	default:
		names := map[string]int{}
		for i, n := range e.Value.Content {
			c, problems := DecodeCase(file, n, CaseOptions{Dir: dir, Index: i})
			d.problems = append(d.problems, problems...)
			if c == nil {
				continue
			}
			if first, dup := names[c.Name]; dup {
				d.errorf(n, "duplicate test name %q (first at line %d): test names must be unique", c.Name, first)
				continue
			}
			names[c.Name] = c.Line
			s.Cases = append(s.Cases, c)
		}
	}
	if len(d.problems) > 0 {
		return nil, d.problems
	}
	return s, nil
}

// DecodeExamples decodes the `examples:` list of a rule: n is the list
// node, file the rules file and rule the rule's name; event paths are
// relative to the rules file's folder.
func DecodeExamples(file, rule string, n *yaml.Node) ([]*Case, engine.Problems) {
	d := &decoder{file: file}
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, "rule %q: examples must be a list of examples (each item like `- event: ...`), found %s", rule, describe(n))
		return nil, d.problems
	}
	var cases []*Case
	for i, item := range n.Content {
		c, problems := DecodeCase(file, item, CaseOptions{Dir: filepath.Dir(file), Rule: rule, Index: i})
		d.problems = append(d.problems, problems...)
		if c != nil {
			cases = append(cases, c)
		}
	}
	if len(d.problems) > 0 {
		return nil, d.problems
	}
	return cases, nil
}

// DecodeCase decodes one case (or, with opts.Rule, one inline example of
// a rule) from its mapping node; file names the file the node comes from.
// It returns the case, or nil and the problems found.
func DecodeCase(file string, n *yaml.Node, opts CaseOptions) (*Case, engine.Problems) {
	d := &decoder{file: file}
	c := d.decodeCase(n, opts)
	if len(d.problems) > 0 {
		return nil, d.problems
	}
	return c, nil
}

func (d *decoder) decodeCase(n *yaml.Node, opts CaseOptions) *Case {
	what := fmt.Sprintf("tests[%d]", opts.Index)
	if opts.Rule != "" {
		what = fmt.Sprintf("rule %q: examples[%d]", opts.Rule, opts.Index)
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "%s must be a mapping with an event and what should happen, found %s", what, describe(n))
		return nil
	}
	before := len(d.problems)
	if v := mapValue(n, "name"); v != nil && v.Kind == yaml.ScalarNode && strings.TrimSpace(v.Value) != "" {
		what = fmt.Sprintf("test %q", v.Value)
		if opts.Rule != "" {
			what = fmt.Sprintf("rule %q: example %q", opts.Rule, v.Value)
		}
	}
	f := d.fields(n, what, caseKeys)
	c := &Case{File: d.file, Pos: posOf(n)}
	if e, ok := f["name"]; ok {
		if s, ok := d.str(e.Value, what+": name"); ok && strings.TrimSpace(s) != "" {
			c.Name = s
		} else if ok {
			d.errorf(e.Value, "%s: name must not be empty", what)
		}
	} else if opts.Rule == "" {
		d.errorf(n, "%s has no name: every test needs a unique `name:`", what)
	} else {
		c.Name = fmt.Sprintf("%s example %d", opts.Rule, opts.Index+1)
	}
	index := d.eventIndex(f, what)
	if e, ok := f["events"]; ok {
		if x, both := f["event"]; both {
			d.errorf(x.Key, "%s: give event: (one event) or events: (a sequence), not both", what)
		}
		c.Sequence = d.sequence(e.Value, opts.Dir, what)
		if len(c.Sequence) > 0 {
			c.Event = c.Sequence[len(c.Sequence)-1].Event
		}
	} else if e, ok := f["event"]; ok {
		c.Event = d.event(e.Value, opts.Dir, index, what)
	} else {
		d.errorf(n, "%s has no `event:`: give a recorded event's path (relative to this file) or the event inline", what)
	}
	if e, ok := f["fires"]; ok {
		if opts.Rule != "" && e.Value.Kind == yaml.ScalarNode && e.Value.ShortTag() == "!!bool" {
			if fires, _ := d.boolean(e.Value, what+": fires"); fires {
				c.Fires = []Expect{{Rule: opts.Rule, Pos: posOf(e.Value)}}
			} else {
				c.NotFires = []Expect{{Rule: opts.Rule, Pos: posOf(e.Value)}}
			}
		} else if e.Value.Kind == yaml.ScalarNode && e.Value.ShortTag() == "!!bool" {
			d.errorf(e.Value, "%s: fires: %s is for the examples of a rule; in a test file, list the rules that must fire, e.g. fires: [welcome]", what, e.Value.Value)
		} else {
			c.Fires = d.ruleList(e.Value, what+": fires")
		}
	} else if opts.Rule != "" && !stepChecks(c.Sequence) {
		c.Fires = []Expect{{Rule: opts.Rule, Pos: posOf(n)}}
	}
	if e, ok := f["not_fires"]; ok {
		c.NotFires = append(c.NotFires, d.ruleList(e.Value, what+": not_fires")...)
	}
	for _, nf := range c.NotFires {
		for _, fi := range c.Fires {
			if nf.Rule == fi.Rule {
				d.errorf(valueOf(f, "not_fires"), "%s: rule %q is in both fires and not_fires", what, nf.Rule)
			}
		}
	}
	if e, ok := f["only"]; ok {
		c.Only, _ = d.boolean(e.Value, what+": only")
		c.OnlyAt = posOf(e.Value)
	}
	if e, ok := f["actions"]; ok {
		if e.Value.Kind != yaml.SequenceNode {
			d.errorf(e.Value, "%s: actions must be a list (each item like `- rule: x`), found %s", what, describe(e.Value))
		} else {
			for i, an := range e.Value.Content {
				if a, ok := d.action(an, fmt.Sprintf("%s: actions[%d]", what, i), opts.Rule); ok {
					c.Actions = append(c.Actions, a)
				}
			}
		}
	}
	if e, ok := f["errors"]; ok {
		if k, ok := d.integer(e.Value, what+": errors"); ok {
			c.Errors = &Count{N: k, Pos: posOf(e.Value)}
		}
	}
	if len(d.problems) == before && opts.Rule == "" && len(c.Fires) == 0 && len(c.NotFires) == 0 && len(c.Actions) == 0 && c.Errors == nil && !c.Only && !stepChecks(c.Sequence) {
		d.errorf(n, "%s checks nothing: add fires, not_fires, actions or errors", what)
	}
	return c
}

// mapValue returns the value of key in a mapping node, or nil.
func mapValue(n *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// valueOf returns the value node of key in fields, or nil.
func valueOf(f map[string]entry, key string) *yaml.Node {
	if x, ok := f[key]; ok {
		return x.Value
	}
	return nil
}

// event decodes a case's event: a path or an inline mapping.
// pickIndex says which event_index values a file of n events takes.
func pickIndex(n int) string {
	if n == 1 {
		return ": remove event_index, or write 0"
	}
	return fmt.Sprintf(": write 0 to %d", n-1)
}

// eventIndex reads the event_index of a case or a step, whose fields are
// f: the index and where it is written; -1 and nil without one, or -1
// and its node when it is not a whole number (reported here).
func (d *decoder) eventIndex(f map[string]entry, what string) pick {
	e, ok := f["event_index"]
	if !ok {
		return pick{-1, nil}
	}
	i, ok := d.integer(e.Value, what+": event_index")
	if !ok {
		i = -1
	}
	return pick{i, e.Value}
}

// pick is an event_index: i is -1 when none is given, or when the one
// written at n is not a whole number.
type pick struct {
	i int
	n *yaml.Node
}

// event reads the event of a case or step from n, a path or an inline
// event; index picks one of several.
func (d *decoder) event(n *yaml.Node, dir string, index pick, what string) *event.Event {
	if n.Kind == yaml.AliasNode {
		n = n.Alias // the same event again: `event: *link`
	}
	var evs []*event.Event
	var from string
	switch {
	case n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str":
		from = joinPath(dir, n.Value)
		var err error
		evs, err = event.ReadFile(from)
		if err != nil {
			d.errorf(n, "%s: event: %v", what, err)
			return nil
		}
	case n.Kind == yaml.MappingNode:
		var v any
		if err := n.Decode(&v); err != nil {
			d.errorf(n, "%s: event: %v", what, err)
			return nil
		}
		js, err := json.Marshal(v)
		if err != nil {
			d.errorf(n, "%s: event: cannot turn it into JSON: %v", what, err)
			return nil
		}
		evs, err = event.Parse(js)
		var se *event.SyntaxError
		if errors.As(err, &se) && se.Err != nil {
			err = se.Err // a line and column of JSON made from the YAML would point nowhere
		}
		if err != nil {
			d.errorf(n, "%s: event: %v", what, err)
			return nil
		}
		for _, ev := range evs {
			ev.Source = fmt.Sprintf("%s:%d", d.file, n.Line)
		}
		from = "the inline event"
	default:
		d.errorf(n, "%s: event must be a path to a .json or .jsonl file or an inline mapping with an `event` field, found %s", what, describe(n))
		return nil
	}
	switch {
	case index.n != nil && index.i < 0:
		return nil // not a whole number, reported
	case index.i >= len(evs):
		d.errorf(index.n, "%s: event_index %d is out of range: %s holds %s%s", what, index.i, from, funcs.Plural(len(evs), "event", "events"), pickIndex(len(evs)))
		return nil
	case index.i >= 0:
		return evs[index.i]
	case len(evs) > 1:
		d.errorf(n, "%s: %s holds %d events: pick one with event_index: 0 to %d", what, from, len(evs), len(evs)-1)
		return nil
	}
	return evs[0]
}

func (d *decoder) action(n *yaml.Node, what, defaultRule string) (ActionExpect, bool) {
	a := ActionExpect{Pos: posOf(n), Index: -1, Rule: defaultRule}
	before := len(d.problems)
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "%s must be a mapping with rule and params or contains, found %s", what, describe(n))
		return a, false
	}
	f := d.fields(n, what, actionKeys)
	ok := true
	if e, has := f["rule"]; has {
		a.Rule, ok = d.str(e.Value, what+": rule")
	} else if defaultRule == "" {
		d.errorf(n, "%s has no `rule:`: name the rule whose action this checks", what)
		ok = false
	}
	if e, has := f["type"]; has {
		var good bool
		if a.Type, good = d.str(e.Value, what+": type"); good && !known(a.Type) {
			d.errorf(e.Value, "%s: unknown action type %q; types: %s", what, a.Type, strings.Join(actions.Types(), ", "))
			good = false
		}
		ok = ok && good
	}
	if e, has := f["index"]; has {
		var good bool
		a.Index, good = d.integer(e.Value, what+": index")
		ok = ok && good
	}
	if e, has := f["params"]; has {
		a.Params = d.fieldExpects(e.Value, what+": params", false)
	}
	if e, has := f["contains"]; has {
		a.Contains = d.fieldExpects(e.Value, what+": contains", true)
	}
	if ok && len(a.Params) == 0 && len(a.Contains) == 0 && len(d.problems) == before {
		d.errorf(n, "%s checks nothing: add params (exact values) or contains (substrings)", what)
		ok = false
	}
	return a, ok
}

// fieldExpects decodes params (exact values) or contains (a substring or
// a list of substrings per field).
func (d *decoder) fieldExpects(n *yaml.Node, what string, substrings bool) []FieldExpect {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "%s must be a mapping of action fields to values, found %s", what, describe(n))
		return nil
	}
	var out []FieldExpect
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if first, dup := seen[k.Value]; dup {
			d.errorf(k, "%s: duplicate field %q (first at line %d)", what, k.Value, first)
			continue
		}
		seen[k.Value] = k.Line
		fe := FieldExpect{Field: k.Value, Pos: posOf(k), WantAt: []Pos{posOf(v)}}
		if substrings {
			list, ok := d.strList(v, what+"."+k.Value)
			if !ok {
				continue
			}
			fe.Want = list
			if v.Kind == yaml.SequenceNode {
				fe.WantAt = fe.WantAt[:0]
				for _, item := range v.Content {
					fe.WantAt = append(fe.WantAt, posOf(item))
				}
			}
		} else {
			var val any
			if err := v.Decode(&val); err != nil {
				d.errorf(v, "%s.%s: %v", what, k.Value, err)
				continue
			}
			fe.Want = val
		}
		out = append(out, fe)
	}
	return out
}

// ruleList reads a rule name or a list of rule names.
func (d *decoder) ruleList(n *yaml.Node, what string) []Expect {
	items := []*yaml.Node{n}
	if n.Kind == yaml.SequenceNode {
		items = n.Content
	}
	var out []Expect
	for _, it := range items {
		if it.Kind != yaml.ScalarNode || it.ShortTag() == "!!null" || strings.TrimSpace(it.Value) == "" {
			d.errorf(it, "%s must be a rule name or a list of rule names, found %s", what, describe(it))
			continue
		}
		out = append(out, Expect{Rule: it.Value, Pos: posOf(it)})
	}
	return out
}

// entry is one key and value of a mapping.
type entry = yamlx.Entry

func (d *decoder) reader() yamlx.Reader { return yamlx.Reader{Errorf: d.errorf} }

// fields returns a mapping's entries by key, reporting duplicate and
// unknown keys.
func (d *decoder) fields(n *yaml.Node, what string, known []string) map[string]entry {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "%s must be a mapping of keys to values, found %s", what, describe(n))
		return map[string]entry{}
	}
	return d.reader().Fields(n, what, known...)
}

func (d *decoder) str(n *yaml.Node, what string) (string, bool) { return d.reader().Str(n, what) }

func (d *decoder) strList(n *yaml.Node, what string) ([]string, bool) {
	return d.reader().StrList(n, what)
}

func (d *decoder) integer(n *yaml.Node, what string) (int, bool) {
	i, err := strconv.Atoi(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil || i < 0 {
		d.errorf(n, "%s must be a whole number (0 or more), found %s", what, describe(n))
		return 0, false
	}
	return i, true
}

func (d *decoder) boolean(n *yaml.Node, what string) (bool, bool) { return d.reader().Bool(n, what) }

func describe(n *yaml.Node) string { return yamlx.Describe(n) }

// joinPath resolves p against dir unless it is absolute.
func joinPath(dir, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, filepath.FromSlash(p))
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func known(actionType string) bool {
	_, ok := actions.Lookup(actionType)
	return ok
}
