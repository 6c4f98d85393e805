package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/expr-lang/expr/conf"
	"gopkg.in/yaml.v3"

	"github.com/hookd/hookd/actions"
	"github.com/hookd/hookd/actions/email"
	"github.com/hookd/hookd/actions/slack"
	"github.com/hookd/hookd/engine/eventschema"
	"github.com/hookd/hookd/event"
	suggestpkg "github.com/hookd/hookd/internal/suggest"
)

// Version is the rules file format this hookd reads.
const Version = 1

// Delivery says how the daemon retries actions.
type Delivery struct {
	// Attempts is how many times an action is tried before it is
	// dead-lettered.
	Attempts int `yaml:"attempts"`
	// Backoff bounds the exponential wait between attempts.
	Backoff Backoff `yaml:"backoff"`
	// Timeout bounds one attempt.
	Timeout time.Duration `yaml:"timeout"`
}

// Backoff is the range of the wait between attempts.
type Backoff struct {
	Min time.Duration `yaml:"min"`
	Max time.Duration `yaml:"max"`
}

// DefaultDelivery is used for what a rules file leaves out.
func DefaultDelivery() Delivery {
	return Delivery{Attempts: 12, Backoff: Backoff{Min: time.Second, Max: 10 * time.Minute}, Timeout: 15 * time.Second}
}

// RuleSet is a loaded, valid rules file. It is immutable and safe for
// concurrent use; the daemon swaps whole rule sets on reload.
type RuleSet struct {
	// File is the path the rules were read from.
	File string
	// Hash is the SHA-256 of the file's bytes, as hex.
	Hash string
	// LoadedAt is when the file was loaded.
	LoadedAt    time.Time
	Vars        map[string]any
	Connections actions.Connections
	Delivery    Delivery
	Rules       []*Rule
	// Identity maps event names to the key templates of the file's
	// `identity:` section, which override the default event identity
	// (see docs/daemon.md, "Event identity").
	Identity map[string]string
	// Unset lists the ${ENV} variables that were not set (only when
	// LoadOptions.AllowUnsetEnv).
	Unset []string
	// Warnings are the non-fatal problems found while loading.
	Warnings Problems

	index      *index
	projection *event.Projection
	// changesGroups is whether an action changes a group's
	// participants (see ChangesGroups).
	changesGroups bool
	// identity are the compiled templates of Identity.
	identity map[string]tmpl
	// compiled are the rule set's expressions, for the next reload.
	compiled map[exprKey]*compiled
	// unsetConnections are the connections whose settings read an unset
	// ${ENV} variable, with those variables (see UnsetRead).
	unsetConnections map[string][]string
	// secrets are the rule set's secret values (see Secrets), computed
	// once at load.
	secrets []string
}

// Projection is the set of event fields the rules read, for decoding
// only those (see event.ParseProjected); nil when an expression needs the
// whole event.
func (rs *RuleSet) Projection() *event.Projection { return rs.projection }

// Rule is one rule of a rules file.
type Rule struct {
	Name        string
	Description string
	// On lists the event names or globs the rule listens to.
	On []string
	// If is the condition's source ("" for none).
	If   string
	Stop bool
	Do   []*Action
	// Line is where the rule starts in the file.
	Line int
	// Examples is the rule's `examples:` list as written (nil for none);
	// package ruletest decodes and runs it.
	Examples *yaml.Node
	// Throttle, Window and Digest make the rule remember (see state.go);
	// Schedule makes it a timer rule (on: schedule); Self lets events
	// that hookd's own sends caused fire it (see OwnSend).
	Throttle *Throttle
	Window   *Window
	Digest   *Digest
	Schedule *Schedule
	Self     bool

	// key is the compiled state key template (nil: one state per rule),
	// keySrc its source, scope what Scope returns.
	key    tmpl
	keySrc string
	scope  string
	cond   *compiled
	// actions, when not nil, are the only event actions the condition can
	// be true for (from a top-level `action == "x"` or `action in [...]`).
	actions []string
	// values are the conjuncts of the condition that test other fields
	// against constant strings, for the value index.
	values []valueConstraint
}

// Action is one action of a rule, compiled.
type Action struct {
	// Type is the action type, e.g. "slack".
	Type string
	// Index is the action's position in the rule's do list.
	Index int
	// Name is "rule/type[index]", used in logs, metrics and output.
	Name string
	// Rule is the name of the rule the action belongs to.
	Rule string
	Line int
	Spec *actions.Spec

	params mapping
	// secrets are the rule set's (see RuleSet.Secrets).
	secrets []string
}

// Secrets lists the secret values of the rule set the action belongs to
// (see RuleSet.Secrets), for showing its rendered params masked.
func (a *Action) Secrets() []string { return a.secrets }

// LoadOptions tune loading.
type LoadOptions struct {
	// AllowUnsetEnv lets ${VAR} references to unset variables load (as
	// "<unset VAR>"), for dry-runs on a machine without the secrets.
	AllowUnsetEnv bool
	// LookupEnv reads environment variables; os.LookupEnv by default.
	LookupEnv func(string) (string, bool)
	// Now is the load time; time.Now by default.
	Now func() time.Time
	// Previous is the rule set this load replaces (a reload): expressions
	// it compiled are reused when the vars are the same.
	Previous *RuleSet
}

type loader struct {
	file     string
	lines    []string
	opts     LoadOptions
	problems Problems
	vars     map[string]any
	unset    map[string]bool
	// envValues are the ${ENV} values put into each scalar, and
	// secrets those known to be secrets (see noteEnv).
	envValues map[*yaml.Node][]string
	secrets   []string
	// expanded are the scalars whose ${ENV} references were expanded,
	// for positions in them (see posIn).
	expanded map[*yaml.Node]expandedValue
	rs       *RuleSet
	// actionNodes keeps the field nodes of each action for the checks
	// that need connections.
	pending []pendingAction
	// compiled caches expressions that compiled without problems, and
	// baseOpts are the expr options every compile shares.
	compiled map[exprKey]*compiled
	baseConf *conf.Config
	// previous holds the expressions of the rule set this load replaces,
	// when its vars are the same.
	previous map[exprKey]*compiled
	// currentOn is the `on` of the rule being loaded, for field checks.
	currentOn []string
	// stateVars are the names a stateful rule's templates may read
	// besides the event's fields (window, key, ...).
	stateVars []string
	// ownRefs are the reference fields of wassenger.message actions
	// that do not start with OwnSendPrefix (see checkOwnRefs).
	ownRefs []pendingAction
}

type pendingAction struct {
	node *yaml.Node
	what string // e.g. `rule "x": do[0].slack`
	spec *actions.Spec
	set  map[string]bool
}

// Load loads a rules file's bytes; name is used in problems. It returns
// the rule set, or nil and every problem found; warnings come back in
// both cases. It does not run the rules' inline examples: every command
// loads rules files with ruletest.LoadFile, which does.
func Load(name string, data []byte, opts LoadOptions) (*RuleSet, Problems) {
	if opts.LookupEnv == nil {
		opts.LookupEnv = os.LookupEnv
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	sum := sha256.Sum256(data)
	l := &loader{
		file:      name,
		lines:     strings.Split(string(data), "\n"),
		opts:      opts,
		unset:     map[string]bool{},
		envValues: map[*yaml.Node][]string{},
		expanded:  map[*yaml.Node]expandedValue{},
		vars:      map[string]any{},
		rs: &RuleSet{
			File:     name,
			Hash:     hex.EncodeToString(sum[:]),
			LoadedAt: opts.Now(),
			Delivery: DefaultDelivery(),
		},
	}
	l.load(data)
	l.problems.sort()
	if l.problems.Errors() > 0 {
		return nil, l.problems
	}
	for n := range l.unset {
		l.rs.Unset = append(l.rs.Unset, n)
	}
	l.rs.Unset = sorted(l.rs.Unset)
	l.rs.Vars = l.vars
	l.rs.Warnings = l.problems
	l.rs.index = buildIndex(l.rs.Rules)
	l.rs.changesGroups = changesGroups(l.rs.Rules)
	l.rs.projection = l.projection()
	l.rs.compiled = l.compiled
	l.rs.secrets = actions.SecretList(slices.Concat(l.rs.Connections.Secrets(), l.secrets)...)
	for _, r := range l.rs.Rules {
		for _, a := range r.Do {
			a.secrets = l.rs.secrets
		}
	}
	return l.rs, l.problems
}

func (l *loader) lookupEnv(name string) (string, bool) { return l.opts.LookupEnv(name) }

func (l *loader) load(data []byte) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		l.yamlError(err)
		return
	}
	if len(doc.Content) == 0 {
		l.add(Error, 1, 1, "", "the rules file is empty: start with `version: 1` and a `rules:` list")
		return
	}
	root := doc.Content[0]
	l.expandEnv(root, false)
	if root.Kind == yaml.SequenceNode {
		// The list of rules without the lines above it.
		l.errorf(root, "the rules file is a list, not a mapping: start it with `version: 1` and `rules:`, and indent the list of rules under `rules:`")
		return
	}
	top := l.fields(root, "rules file", topLevelKeys...)
	if root.Kind != yaml.MappingNode {
		return
	}
	if e, ok := top["version"]; !ok {
		l.add(Error, root.Line, root.Column, "", "missing `version: 1` at the top of the file")
	} else if e.Value.Value != strconv.Itoa(Version) {
		l.errorf(e.Value, "unsupported version %s: this hookd reads version %d", e.Value.Value, Version)
	}
	if e, ok := top["vars"]; ok {
		if e.Value.Kind != yaml.MappingNode && !isNull(e.Value) {
			l.errorf(e.Value, "vars must be a mapping of names to values, found %s", describe(e.Value))
		} else if v, ok := l.plainValue(e.Value, "vars").(map[string]any); ok {
			l.vars = v
		}
	}
	if prev := l.opts.Previous; prev != nil && reflect.DeepEqual(prev.Vars, l.vars) {
		l.previous = prev.compiled
	}
	if e, ok := top["connections"]; ok {
		l.decodeStruct(e.Value, &l.rs.Connections, "connections")
		l.checkConnections(e.Value)
		if len(l.unset) > 0 {
			l.rs.unsetConnections = unsetConnections(e.Value)
		}
	}
	if e, ok := top["identity"]; ok {
		l.identity(e.Value)
	}
	if e, ok := top["delivery"]; ok {
		l.decodeStruct(e.Value, &l.rs.Delivery, "delivery")
		d := &l.rs.Delivery
		at := func(key string) *yaml.Node { return pathValue(e.Value, key) }
		if d.Attempts < 1 {
			l.errorf(at("attempts"), "delivery.attempts must be at least 1")
		}
		if d.Backoff.Min <= 0 || d.Backoff.Max < d.Backoff.Min {
			l.errorf(at("backoff"), "delivery.backoff needs 0 < min <= max, found min %s, max %s; e.g. backoff: { min: 1s, max: 10m }", d.Backoff.Min, d.Backoff.Max)
		}
		if d.Timeout <= 0 {
			l.errorf(at("timeout"), "delivery.timeout must be positive, e.g. timeout: 15s")
		}
	}
	e, ok := top["rules"]
	if !ok {
		l.add(Error, root.Line, root.Column, "", "missing `rules:`: add a list of rules")
		return
	}
	if e.Value.Kind != yaml.SequenceNode {
		if !isNull(e.Value) {
			l.errorf(e.Value, "rules must be a list of rules (each item starting with `- name:`), found %s", describe(e.Value))
		}
		return
	}
	names := map[string]int{}
	for i, rn := range e.Value.Content {
		r, ok := l.rule(rn, i)
		if r.Name != "" {
			if first, dup := names[r.Name]; dup {
				l.errorf(mapValue(rn, "name"), "duplicate rule name %q (first at line %d): rule names must be unique", r.Name, first)
				continue
			}
			names[r.Name] = rn.Line
		}
		if ok {
			l.rs.Rules = append(l.rs.Rules, r)
		}
		// The rule's nodes are no longer needed (what later checks use is
		// kept apart): let the garbage collector take them while the rest
		// load. With many rules the tree is as large as the rule set.
		e.Value.Content[i] = nil
	}
	for _, p := range l.pending {
		if msg := p.spec.CheckConnection(&l.rs.Connections, p.set); msg != "" {
			l.errorf(p.node, "%s: %s", p.what, msg)
		}
	}
	l.checkOwnRefs()
}

// checkOwnRefs warns at each wassenger.message reference of the file's
// own that does not start with OwnSendPrefix when a rule listens to
// message:out:new without self: true. Wassenger echoes the reference in
// the message's message:out:new, and hookd knows its own sends by the
// prefix alone (see OwnSend), so that rule would fire on the message as
// if someone else had sent it: the loop the guard is there to prevent.
func (l *loader) checkOwnRefs() {
	if len(l.ownRefs) == 0 {
		return
	}
	var listener *Rule
	for _, r := range l.rs.Rules {
		if !r.Self && r.Schedule == nil && r.Listens("message:out:new") {
			listener = r
			break
		}
	}
	if listener == nil {
		return
	}
	for _, p := range l.ownRefs {
		l.warnf(p.node, "%s: a reference that does not start with %s hides the message from the loop guard: its message:out:new fires rule %q as if someone else sent it; start the reference with %s (e.g. \"%s{{ id }}\"), leave it to hookd, or give that rule self: true if it should see hookd's messages",
			p.what, OwnSendPrefix, listener.Name, OwnSendPrefix, OwnSendPrefix)
	}
}

func (l *loader) checkConnections(n *yaml.Node) {
	c := &l.rs.Connections
	if c.Email != nil {
		// The sender would refuse every send: the daemon would
		// dead-letter each message.
		for _, p := range email.Check(c.Email, notCheckable) {
			l.errorf(pathValue(n, "email", p.Field), "%s", p.Msg)
		}
		if msg := email.PlaintextProblem(c.Email); msg != "" && checkable(c.Email.Host) {
			l.errorf(pathValue(n, "email", "tls"), "%s", msg)
		}
	}
	if c.Slack != nil {
		// The actions would refuse these at every send: the daemon would
		// dead-letter each message.
		for _, p := range slack.Check(c.Slack, notCheckable) {
			l.errorf(pathValue(n, "slack", p.Field), "%s", p.Msg)
		}
	}
	if c.Wassenger != nil && c.Wassenger.BaseURL != "" && !strings.HasPrefix(c.Wassenger.BaseURL, "http://") && !strings.HasPrefix(c.Wassenger.BaseURL, "https://") {
		l.errorf(pathValue(n, "wassenger", "base_url"), "connections.wassenger.base_url must start with https:// (or http:// for a local test server)")
	}
}

// checkable reports whether a connection setting can be checked: it is
// set, and holds neither an unset variable's text nor a malformed
// variable reference (each reported already).
func checkable(v string) bool {
	return v != "" && !strings.Contains(v, unsetMark) && !strings.Contains(v, "${")
}

// notCheckable is !checkable, for the connections' Check functions.
func notCheckable(v string) bool { return !checkable(v) }

var (
	topLevelKeys = []string{"version", "vars", "connections", "delivery", "identity", "rules"}
	ruleKeys     = append([]string{"name", "description", "on", "if", "stop", "do", "examples"}, stateKeys...)
)

// TopLevelKeys returns the keys a rules file may have at the top, in the
// order of the docs (the JSON Schema is checked against them).
func TopLevelKeys() []string { return append([]string(nil), topLevelKeys...) }

// RuleKeys returns the keys a rule may have.
func RuleKeys() []string { return append([]string(nil), ruleKeys...) }

// rule loads one rule; it returns the rule (with its name when it has
// one) and whether it is valid.
func (l *loader) rule(n *yaml.Node, i int) (*Rule, bool) {
	what := fmt.Sprintf("rules[%d]", i)
	if n.Kind != yaml.MappingNode {
		l.errorf(n, "%s must be a rule (a mapping with name, on, if, do), found %s", what, describe(n))
		return &Rule{}, false
	}
	named := what
	if v := mapValue(n, "name"); v != nil && v.Kind == yaml.ScalarNode && strings.TrimSpace(v.Value) != "" {
		named = fmt.Sprintf("rule %q", v.Value)
	}
	f := l.fields(n, named, ruleKeys...)
	r := &Rule{Line: n.Line}
	// The field checks of this rule's expressions must not see the
	// previous rule's events or state names.
	l.currentOn, l.stateVars = nil, nil
	ok := true
	if e, has := f["name"]; !has {
		l.errorf(n, "%s has no name: every rule needs a unique `name:`", what)
		ok = false
	} else if s, good := l.str(e.Value, "name"); good && strings.TrimSpace(s) != "" {
		r.Name = s
		what = fmt.Sprintf("rule %q", s)
	} else {
		if good {
			l.errorf(e.Value, "rule name must not be empty")
		}
		ok = false
	}
	if e, has := f["description"]; has {
		r.Description, _ = l.str(e.Value, what+": description")
	}
	if e, has := f["on"]; !has {
		l.errorf(n, "%s has no `on:`: name the events it listens to, e.g. on: group:update", what)
		ok = false
	} else if on, good := l.strList(e.Value, what+": on"); good {
		r.On = l.checkOn(e.Value, on, what)
		ok = ok && r.On != nil
		l.currentOn = r.On
	} else {
		ok = false
	}
	if e, has := f["if"]; has {
		if s, good := l.str(e.Value, what+": if"); good {
			r.If = s
			r.cond = l.compileExpr(s, e.Value, 0, true, what+": condition")
			ok = ok && r.cond != nil && l.checkCondition(r.cond, e.Value, what+": condition")
			if r.cond != nil {
				r.actions, r.values = conditionIndexes(r.cond)
			}
		} else {
			ok = false
		}
	}
	if e, has := f["examples"]; has && !isNull(e.Value) {
		if e.Value.Kind != yaml.SequenceNode {
			l.errorf(e.Value, "%s: examples must be a list (each item like `- event: ...`), found %s", what, describe(e.Value))
			ok = false
		}
		r.Examples = e.Value
	}
	stopRead := true // a stop that cannot be read says nothing about do
	if e, has := f["stop"]; has {
		r.Stop, stopRead = l.boolean(e.Value, what+": stop")
	}
	ok = l.stateful(r, n, f, what) && ok
	e, has := f["do"]
	switch {
	case !has && !r.Stop && stopRead:
		l.errorf(n, "%s has no `do:`: list at least one action (or set stop: true for a rule that only ends the chain)", what)
		ok = false
	case has && e.Value.Kind == yaml.SequenceNode:
		for j, an := range e.Value.Content {
			a := l.action(an, r, j)
			if a == nil {
				ok = false
				continue
			}
			r.Do = append(r.Do, a)
		}
	case has && !isNull(e.Value):
		l.errorf(e.Value, "%s: do must be a list of actions (each item like `- slack: {text: ...}`), found %s", what, describe(e.Value))
		ok = false
	}
	return r, ok
}

func (l *loader) checkOn(n *yaml.Node, on []string, what string) []string {
	items := []*yaml.Node{n}
	if n.Kind == yaml.SequenceNode {
		items = n.Content
	}
	if len(on) == 0 {
		l.errorf(n, "%s: on must name at least one event", what)
		return nil
	}
	for i, name := range on {
		at := items[min(i, len(items)-1)]
		if strings.TrimSpace(name) == "" {
			l.errorf(at, "%s: on: empty event name", what)
			return nil
		}
		if name == ScheduleEvent {
			continue
		}
		if strings.ContainsAny(name, "*?[") {
			if _, err := path.Match(name, ""); err != nil {
				l.errorf(at, "%s: on: bad glob %q: %v", what, name, err)
				return nil
			}
			continue
		}
		if !eventschema.Known(name) {
			l.warnf(at, "%s: on: %q is not a Wassenger event name%s; the rule fires only for events named exactly so", what, name, suggest(name, eventschema.Events()))
		}
	}
	return on
}

func (l *loader) action(n *yaml.Node, r *Rule, j int) *Action {
	what := fmt.Sprintf("rule %q: do[%d]", r.Name, j)
	if n.Kind != yaml.MappingNode || len(n.Content) == 0 {
		l.errorf(n, "%s must be one action such as `- slack: {text: ...}`, found %s", what, describe(n))
		return nil
	}
	if len(n.Content) > 2 {
		l.errorf(n.Content[2], "%s: one action per list item: found %s and %s; start a new `- ` item for each", what, n.Content[0].Value, n.Content[2].Value)
		return nil
	}
	typ, body := n.Content[0], n.Content[1]
	spec, known := actions.Lookup(typ.Value)
	if !known {
		l.errorf(typ, "%s: unknown action type %q%s; types: %s", what, typ.Value, suggest(typ.Value, actions.Types()), strings.Join(actions.Types(), ", "))
		return nil
	}
	a := &Action{Type: spec.Type, Index: j, Rule: r.Name, Name: fmt.Sprintf("%s/%s[%d]", r.Name, spec.Type, j), Line: typ.Line, Spec: spec}
	what = fmt.Sprintf("%s.%s", what, spec.Type)
	if body.Kind != yaml.MappingNode {
		l.errorf(body, "%s: fields must be a mapping (e.g. text: ...), found %s", what, describe(body))
		return nil
	}
	fields := l.fields(body, what, spec.FieldNames()...)
	if spec.Type == "webhook" {
		l.webhookSecrets(body)
	}
	set := map[string]bool{}
	// misspelt holds the fields an unknown key is taken for: its error
	// suggests the field, which is then not also reported missing.
	misspelt := map[string]bool{}
	ok := true
	for i := 0; i+1 < len(body.Content); i += 2 {
		k := body.Content[i].Value
		e, kept := fields[k]
		if !kept {
			misspelt[suggestpkg.Closest(k, spec.FieldNames())] = true
			ok = false
			continue
		}
		f, _ := spec.Field(k)
		if isNull(e.Value) {
			continue
		}
		t := l.compileField(e.Value, f, what+"."+k)
		if t == nil {
			ok = false
			continue
		}
		if !l.checkShape(e.Value, f.Shape, what+"."+k) {
			ok = false
			set[k] = true // present: only its value is wrong
			continue
		}
		set[k] = true
		a.params.keys = append(a.params.keys, k)
		a.params.vals = append(a.params.vals, t)
		if spec.Type == "wassenger.message" && k == "reference" && !strings.HasPrefix(e.Value.Value, OwnSendPrefix) {
			l.ownRefs = append(l.ownRefs, pendingAction{node: e.Value, what: what + "." + k})
		}
	}
	for _, f := range spec.Fields {
		if f.Required && !set[f.Name] && !misspelt[f.Name] {
			if _, present := fields[f.Name]; !present {
				l.errorf(typ, "%s: missing required field %q: %s", what, f.Name, f.Doc)
				ok = false
			}
		}
	}
	for _, group := range spec.OneOf {
		var found []string
		for _, name := range group {
			if set[name] {
				found = append(found, name)
			}
		}
		switch {
		case len(found) == 0:
			l.errorf(typ, "%s: set one of %s", what, strings.Join(group, ", "))
			ok = false
		case len(found) > 1:
			l.errorf(fields[found[1]].Key, "%s: set only one of %s, found %s; remove one", what, strings.Join(group, ", "), strings.Join(found, " and "))
			ok = false
		}
	}
	for _, group := range spec.AnyOf {
		any := false
		for _, name := range group {
			any = any || set[name]
		}
		if !any {
			l.errorf(typ, "%s: set at least one of %s", what, strings.Join(group, ", "))
			ok = false
		}
	}
	for _, f := range spec.Fields {
		for _, need := range f.Needs {
			if set[f.Name] && !set[need] {
				l.errorf(fields[f.Name].Key, "%s: %s needs %s; set it too", what, f.Name, need)
				ok = false
			}
		}
	}
	if spec.CheckConnection != nil {
		l.pending = append(l.pending, pendingAction{node: typ, what: what, spec: spec, set: set})
	}
	if !ok {
		return nil
	}
	return a
}
