package engine

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// ScheduleEvent is the `on:` of a rule that fires on a timer instead of
// on events: `on: schedule` with `schedule: { cron: "0 9 * * *" }`.
const ScheduleEvent = "schedule"

// Defaults of the state keys.
const (
	// DefaultKeep is how long a throttle of `per: once` remembers a key,
	// and how long an unflushed digest is kept after it was due.
	DefaultKeep = 90 * 24 * time.Hour
	// DefaultMaxEvents bounds the events a digest keeps per key; its
	// count stays exact.
	DefaultMaxEvents = 100
	// maxWindowTimes bounds the event times a window keeps per key, so
	// window.count counts up to it with `then: continue`.
	maxWindowTimes = 1000
)

// Throttle lets a rule fire at most once per key per period:
// `throttle: { key: "{{ data.chat.id }}", per: 1h }`, or once per key
// with `per: once` (remembered for Keep).
type Throttle struct {
	// Per is the period; 0 with Once.
	Per  time.Duration
	Once bool
	// Keep is how long `per: once` remembers a key.
	Keep time.Duration
}

// Window makes a rule fire when the AtLeast-th matching event for a key
// arrives within Within: `window: { key: ..., within: 10m, at_least: 5 }`.
// With `weight:` an event counts as many as its expression says (the
// members a group:update removes: `weight: len(participants ?? [])`).
type Window struct {
	Within  time.Duration
	AtLeast int
	// Continue (`then: continue`) keeps counting after the window fires,
	// so every further event within the period fires too; by default the
	// window starts again from zero.
	Continue bool
	// weight is the `weight:` expression; nil counts each event once.
	weight *compiled
}

// Weighted reports whether the window counts events by a weight:
// expression rather than once each.
func (w *Window) Weighted() bool { return w.weight != nil }

// WeightSource is the weight: expression as written ("" for none).
func (w *Window) WeightSource() string {
	if w.weight == nil {
		return ""
	}
	return w.weight.Source
}

// Digest collects a rule's matching events per key; the actions run once
// per period (Every) or schedule tick (Schedule) with the collected
// events.
type Digest struct {
	Every    time.Duration
	Schedule *Schedule
	// MaxEvents bounds the events kept per key (digest.count stays
	// exact).
	MaxEvents int
	// Keep is how long a digest that could not be flushed is kept after
	// it was due.
	Keep time.Duration
}

// stateKeys are the rule keys of rules that remember.
var stateKeys = []string{"throttle", "window", "digest", "schedule", "self"}

// Stateful reports whether whether the rule fires depends on earlier
// events: it has a throttle, a window or a digest.
func (r *Rule) Stateful() bool { return r.Throttle != nil || r.Window != nil || r.Digest != nil }

// TimerScope names the state that holds a timer rule's last tick, and
// the jobs of its ticks (store.TickEventID): its name and schedule, so
// that a reload keeping both keeps it.
func (r *Rule) TimerScope() string { return "timer:" + r.Name + "#" + r.Schedule.String() }

// Timer reports whether the rule fires on a schedule (`on: schedule`).
func (r *Rule) Timer() bool { return r.Schedule != nil }

// KeySource is the rule's state key template as written ("" for one
// key for the whole rule).
func (r *Rule) KeySource() string { return r.keySrc }

// Scope names the rule's state: its name and a digest of what its state
// means (the kinds of state and the key expression). State saved under
// one scope must not be applied to another, so that a reload that keeps
// the name and the key keeps the state, and one that changes the key or
// turns a window into a digest starts afresh.
func (r *Rule) Scope() string {
	if r.scope != "" {
		return r.scope
	}
	return r.makeScope()
}

func (r *Rule) makeScope() string {
	var kinds []string
	if r.Window != nil {
		kinds = append(kinds, "window")
	}
	if r.Throttle != nil {
		kinds = append(kinds, "throttle")
	}
	if r.Digest != nil {
		kinds = append(kinds, "digest")
	}
	sum := sha256.Sum256([]byte(strings.Join(kinds, "+") + "\x00" + r.keySrc))
	return fmt.Sprintf("%s#%x", r.Name, sum[:4])
}

// stateful loads a rule's throttle, window, digest, schedule and self
// keys; it reports whether they are valid. It runs before the rule's
// actions compile, so that their templates may read window.count and the
// like without a warning.
func (l *loader) stateful(r *Rule, n *yaml.Node, f map[string]entry, what string) bool {
	ok := true
	l.stateVars = nil
	if e, has := f["self"]; has {
		r.Self, _ = l.boolean(e.Value, what+": self")
	}
	timer := len(r.On) == 1 && r.On[0] == ScheduleEvent
	if !timer && contains(r.On, ScheduleEvent) {
		l.errorf(mapValue(n, "on"), "%s: on: schedule cannot be mixed with event names: a timer rule fires on its schedule only; make two rules", what)
		ok = false
	}
	// mapping checks that e is a mapping; when it is not, the names
	// its section gives templates, vars, are still known, so that their
	// uses are not reported as well.
	mapping := func(e entry, example string, vars ...string) bool {
		if l.stateMapping(e, what, example) {
			return true
		}
		ok = false
		l.stateVars = append(l.stateVars, vars...)
		return false
	}
	keyNodes := map[string]*yaml.Node{}
	if e, has := f["window"]; has && mapping(e, "{ within: 10m, at_least: 5 }", "window", "key") {
		w := &Window{}
		body := l.fields(e.Value, what+": window", "key", "within", "at_least", "then", "weight")
		keyNodes["window"] = l.keyNode(body)
		w.Within = l.period(e.Value, body, "within", what+": window", true)
		if v, has := body["at_least"]; !has {
			l.errorf(e.Value, "%s: window needs at_least: the number of events within the period that fires the rule, e.g. at_least: 5", what)
			ok = false
		} else if k, good := l.count(v.Value, what+": window.at_least"); good {
			w.AtLeast = k
		} else {
			ok = false
		}
		if v, has := body["then"]; has {
			switch v.Value.Value {
			case "reset":
			case "continue":
				w.Continue = true
			default:
				l.errorf(v.Value, "%s: window.then must be reset (count again from zero after firing, the default) or continue (every further event within the period fires too), found %s", what, describe(v.Value))
				ok = false
			}
		}
		if v, has := body["weight"]; has {
			w.weight = l.windowWeight(v.Value, what)
			ok = ok && w.weight != nil
		}
		ok = ok && w.Within > 0 && w.AtLeast > 0
		r.Window = w
		l.stateVars = append(l.stateVars, "window", "key")
	}
	if e, has := f["throttle"]; has && mapping(e, "{ per: "+periodOr(e.Value, "10m")+" }", "throttle", "key") {
		t := &Throttle{}
		body := l.fields(e.Value, what+": throttle", "key", "per", "keep")
		keyNodes["throttle"] = l.keyNode(body)
		if v, has := body["per"]; has && v.Value.Value == "once" {
			t.Once = true
			t.Keep = DefaultKeep
			if _, has := body["keep"]; has {
				t.Keep = l.period(e.Value, body, "keep", what+": throttle", true)
				ok = ok && t.Keep > 0
			}
		} else {
			t.Per = l.period(e.Value, body, "per", what+": throttle", true)
			ok = ok && t.Per > 0
			if v, has := body["keep"]; has {
				l.errorf(v.Key, "%s: throttle.keep goes with per: once; a throttle with a period remembers a key for that period", what)
				ok = false
			}
		}
		r.Throttle = t
		l.stateVars = append(l.stateVars, "throttle", "key")
	}
	if e, has := f["digest"]; has && mapping(e, "{ every: "+periodOr(e.Value, "1h")+" } or { schedule: \"0 9 * * *\" }", "digest", "key") {
		d := &Digest{MaxEvents: DefaultMaxEvents, Keep: DefaultKeep}
		body := l.fields(e.Value, what+": digest", "key", "every", "schedule", "timezone", "max_events", "keep")
		keyNodes["digest"] = l.keyNode(body)
		_, every := body["every"]
		sched, hasSched := body["schedule"]
		tz, hasZone := body["timezone"]
		// Each of every: and schedule: is checked even when both are
		// set, so that the one kept is right.
		if every {
			d.Every = l.period(e.Value, body, "every", what+": digest", true)
			ok = ok && d.Every > 0
		}
		if hasSched {
			d.Schedule = l.schedule(sched.Value, tz.Value, what+": digest")
			ok = ok && d.Schedule != nil
		}
		switch {
		case every && hasSched:
			l.errorf(sched.Key, "%s: digest: set every: or schedule:, not both", what)
			ok = false
		case every && hasZone:
			l.errorf(tz.Key, "%s: digest: timezone goes with schedule:; every: counts periods from midnight UTC", what)
			ok = false
		case !every && !hasSched:
			l.errorf(e.Value, "%s: digest needs every: (e.g. every: 1h) or schedule: (a cron expression, e.g. \"0 9 * * *\")", what)
			ok = false
		}
		if v, has := body["max_events"]; has {
			if k, good := l.count(v.Value, what+": digest.max_events"); good {
				d.MaxEvents = k
			} else {
				ok = false
			}
		}
		if _, has := body["keep"]; has {
			d.Keep = l.period(e.Value, body, "keep", what+": digest", true)
			ok = ok && d.Keep > 0
		}
		r.Digest = d
		l.stateVars = append(l.stateVars, "digest", "key")
	}
	if e, has := f["schedule"]; has {
		if !timer {
			l.errorf(e.Key, "%s: schedule: belongs to timer rules (on: schedule); for a digest on a schedule write digest: { schedule: ... }", what)
			ok = false
		} else if mapping(e, "{ cron: "+strconv.Quote(scalarOr(e.Value, "0 9 * * *"))+", timezone: Europe/Madrid }", "schedule", "now") {
			body := l.fields(e.Value, what+": schedule", "cron", "timezone")
			if _, has := body["cron"]; !has {
				l.errorf(e.Value, "%s: schedule needs cron:, e.g. schedule: { cron: \"0 9 * * *\", timezone: Europe/Madrid }", what)
			}
			r.Schedule = l.schedule(body["cron"].Value, body["timezone"].Value, what+": schedule")
			ok = ok && r.Schedule != nil
			l.stateVars = append(l.stateVars, "schedule", "now")
		}
	} else if timer {
		l.errorf(mapValue(n, "on"), "%s: on: schedule needs schedule: { cron: \"0 9 * * *\", timezone: ... }: say when the rule fires", what)
		ok = false
	}
	ok = l.stateCombinations(r, n, f, what) && ok
	ok = l.stateKey(r, keyNodes, what) && ok
	if r.Stateful() {
		r.scope = r.makeScope()
	}
	return ok
}

// stateMapping reports whether the value of e, the window, throttle,
// digest or schedule of a rule, is a mapping (or empty, which lacks
// its fields). When it is not, it reports that once, with the mapping
// to write instead, example, rather than each field it then lacks.
func (l *loader) stateMapping(e entry, what, example string) bool {
	if e.Value.Kind == yaml.MappingNode || isNull(e.Value) {
		return true
	}
	l.errorf(e.Value, "%s: %s must be a mapping of keys to values, found %s: write %s: %s", what, e.Key.Value, describe(e.Value), e.Key.Value, example)
	return false
}

// scalarOr is the text of n when it is a scalar, else or: the value a
// user wrote where a mapping belongs (schedule: "0 9 * * *"), to put
// in it.
func scalarOr(n *yaml.Node, or string) string {
	if n.Kind == yaml.ScalarNode && n.Value != "" {
		return n.Value
	}
	return or
}

// periodOr is the text of n when it is a period (throttle: 10m), else or.
func periodOr(n *yaml.Node, or string) string {
	if _, err := ParsePeriod(n.Value); err == nil && n.Kind == yaml.ScalarNode {
		return n.Value
	}
	return or
}

// windowWeight compiles a window's weight: expression, which must give a
// number (it may read the event, not the window's own state).
func (l *loader) windowWeight(n *yaml.Node, what string) *compiled {
	src, ok := l.str(n, what+": window.weight")
	if !ok {
		return nil
	}
	if strings.Contains(src, "{{") {
		l.errorf(n, "%s: window.weight is an expression, as in if:, not a template: write weight: len(participants ?? []) without {{ }}", what)
		return nil
	}
	c := l.compileExpr(src, n, 0, false, what+": window.weight")
	if c == nil {
		return nil
	}
	switch k := c.Prog.Node().Type(); {
	case k == nil, k.Kind() == reflect.Interface:
	case k.Kind() >= reflect.Int && k.Kind() <= reflect.Float64:
	default:
		l.errorf(n, "%s: window.weight must give a number (how many this event counts for), but %q gives a %s; e.g. weight: len(participants ?? [])", what, src, k)
		return nil
	}
	return c
}

// stateCombinations refuses the keys that make no sense together, each
// pair that does not.
func (l *loader) stateCombinations(r *Rule, n *yaml.Node, f map[string]entry, what string) bool {
	at := func(k string) *yaml.Node { return f[k].Key }
	ok := true
	refuse := func(n *yaml.Node, format string) {
		l.errorf(n, format, what)
		ok = false
	}
	if r.Digest != nil && r.Window != nil {
		refuse(at("window"), "%s: a digest collects every matching event and a window counts them: use one of digest and window (a digest's digest.count is the number of events)")
	}
	if r.Digest != nil && r.Throttle != nil {
		refuse(at("throttle"), "%s: a digest already runs its actions at most once per period: remove throttle, or make every: longer")
	}
	if r.Schedule != nil && (r.Digest != nil || r.Window != nil || r.Throttle != nil) {
		refuse(n, "%s: a timer rule (on: schedule) has no events to throttle, count or collect: remove throttle, window and digest, or listen to events")
	}
	if r.Schedule != nil && r.If != "" {
		refuse(at("if"), "%s: a timer rule (on: schedule) has no event for its condition to test: remove if:")
	}
	if r.Stop && (r.Stateful() || r.Schedule != nil) {
		refuse(at("stop"), "%s: stop: true cannot go with throttle, window, digest or schedule: whether such a rule fires is decided after the other rules ran; split it into a rule with stop and a rule that remembers")
	}
	return ok
}

// keyNode returns the key: node of a state key's body, or nil.
func (l *loader) keyNode(body map[string]entry) *yaml.Node {
	if e, ok := body["key"]; ok {
		return e.Value
	}
	return nil
}

// stateKey compiles the key template, which the window, throttle and
// digest of a rule share. A rule without key: keeps one state for the
// whole rule.
func (l *loader) stateKey(r *Rule, nodes map[string]*yaml.Node, what string) bool {
	var src string
	var at *yaml.Node
	for _, kind := range []string{"window", "throttle", "digest"} {
		n := nodes[kind]
		if n == nil {
			continue
		}
		s, ok := l.str(n, what+": "+kind+".key")
		if !ok {
			return false
		}
		if at != nil && s != src {
			l.errorf(n, "%s: %s.key differs from the window's key %q: a rule keeps one state per key, so its window and throttle share one key; write it once, in window:", what, kind, src)
			return false
		}
		src, at = s, n
	}
	if at == nil {
		return true
	}
	if !strings.Contains(src, "{{") {
		l.errorf(at, "%s: the key %q is a constant, so every event would share one state: read the event, e.g. key: \"{{ data.chat.id }}\", or leave key out for one state for the whole rule", what, src)
		return false
	}
	t := l.compileTemplate(at, src, what+": key")
	if t == nil {
		return false
	}
	var exprs []*compiled
	switch t := t.(type) {
	case whole:
		exprs = []*compiled{t.expr}
	case *text:
		for _, p := range t.parts {
			if p.expr != nil {
				exprs = append(exprs, p.expr)
			}
		}
	}
	reads := false
	for _, c := range exprs {
		if !l.keyExprOK(c, at, src, what) {
			return false
		}
		reads = reads || readsEvent(c)
	}
	if !reads {
		l.errorf(at, "%s: the key %q reads no event field, so every event would share one state: read the event, e.g. key: \"{{ data.chat.id }}\", or leave key out for one state for the whole rule", what, src)
		return false
	}
	if _, isWhole := t.(whole); isWhole {
		t = asString{t}
	}
	r.keySrc = src
	r.key = t
	return true
}

// keyExprOK refuses a key expression whose type is known and is not a
// string or a whole number.
func (l *loader) keyExprOK(c *compiled, at *yaml.Node, src, what string) bool {
	if t := c.Prog.Node().Type(); t != nil {
		switch t.Kind() {
		case reflect.Interface, reflect.String, reflect.Int, reflect.Int64:
		default:
			l.errorf(at, "%s: the key %q is a %s, not a string: a key names one group, chat or sender, e.g. key: \"{{ data.chat.id }}\"", what, src, t.Kind())
			return false
		}
	}
	return true
}

// readsEvent reports whether an expression reads an event field (not
// only vars).
func readsEvent(c *compiled) bool {
	if c.wholeEnv {
		return true
	}
	for _, f := range c.Fields {
		if f.Path[0] != "vars" {
			return true
		}
	}
	return false
}

// schedule reads a cron expression node and its time zone node (nil
// for UTC). It reports the problems of both, each at its own node, and
// returns nil for any problem. With no cron node (a missing cron:,
// reported by the caller) it checks the zone alone.
func (l *loader) schedule(cronNode, zoneNode *yaml.Node, what string) *Schedule {
	loc := time.UTC
	good := true
	if zoneNode != nil && !isNull(zoneNode) {
		zone, ok := l.str(zoneNode, what+": timezone")
		if ok {
			var err error
			if loc, err = loadZone(zone); err != nil {
				l.errorf(zoneNode, "%s: %v", what, err)
				ok = false
			}
		}
		good = ok
	}
	if cronNode == nil {
		return nil
	}
	expr, ok := l.str(cronNode, what+": cron")
	if !ok {
		return nil
	}
	spec, err := parseCron(expr)
	if err != nil {
		l.errorf(cronNode, "%s: %v", what, err)
		return nil
	}
	if !good {
		return nil
	}
	sc, err := newSchedule(expr, spec, loc, l.opts.Now())
	if err != nil {
		l.errorf(cronNode, "%s: %v", what, err)
		return nil
	}
	return sc
}

// count reads a whole number of at least 1, such as window.at_least. As
// in the JSON Schema of rules files, a quoted number ("5") is text, not a
// number: it is refused with a hint to drop the quotes.
func (l *loader) count(n *yaml.Node, what string) (int, bool) {
	k, err := strconv.Atoi(n.Value)
	switch {
	case n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str" && err == nil && k >= 1:
		l.errorf(n, "%s must be a whole number, found the text %q: remove the quotes (in YAML a quoted number is text)", what, n.Value)
	case n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || err != nil || k < 1:
		l.errorf(n, "%s must be a whole number of at least 1, found %s", what, describe(n))
	default:
		return k, true
	}
	return 0, false
}

// period reads a duration key of a state key's body: 90s, 10m, 1h, 7d,
// 2w. With required it reports a missing key; it reports a zero or
// negative period, and returns 0 for any problem.
func (l *loader) period(parent *yaml.Node, body map[string]entry, key, what string, required bool) time.Duration {
	e, has := body[key]
	if !has {
		if required {
			l.errorf(parent, "%s needs %s: a period such as 10m, 1h or 7d", what, key)
		}
		return 0
	}
	d, err := ParsePeriod(e.Value.Value)
	if err != nil || e.Value.Kind != yaml.ScalarNode {
		l.errorf(e.Value, "%s.%s must be a period such as 90s, 10m, 1h, 7d or 2w, found %s", what, key, describe(e.Value))
		return 0
	}
	if d < time.Second {
		l.errorf(e.Value, "%s.%s must be at least 1s, found %s", what, key, e.Value.Value)
		return 0
	}
	return d
}

// ParsePeriod reads a period: a Go duration (90s, 10m, 1h30m) or a whole
// number of days or weeks (7d, 2w).
func ParsePeriod(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	for suffix, unit := range map[string]time.Duration{"d": 24 * time.Hour, "w": 7 * 24 * time.Hour} {
		if num, ok := strings.CutSuffix(s, suffix); ok {
			n, err := strconv.Atoi(num)
			if err != nil {
				return 0, fmt.Errorf("bad period %q", s)
			}
			return time.Duration(n) * unit, nil
		}
	}
	return time.ParseDuration(s)
}

// ErrNoTimeZone is the error of ParseTime for a time without a zone.
var ErrNoTimeZone = errors.New("no time zone")

// ParseTime reads an RFC 3339 time, as tests and `hookd fire --at` take
// them. A time without a zone (2026-03-02T10:00:00) is refused with a
// hint to add one (ErrNoTimeZone), since which zone was meant is
// anyone's guess.
func ParseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, s)
	if err == nil {
		return t, nil
	}
	if _, local := time.Parse("2006-01-02T15:04:05", s); local == nil {
		return time.Time{}, fmt.Errorf("%q has %w: add Z for UTC (%sZ) or the offset (%s+01:00)", s, ErrNoTimeZone, s, s)
	}
	return time.Time{}, err
}
