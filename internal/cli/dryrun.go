package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/hookd/hookd/engine"
	"github.com/hookd/hookd/engine/funcs"
	"github.com/hookd/hookd/engine/requests"
	"github.com/hookd/hookd/event"
)

// dryRunJSON is one line of `dry-run --format json`.
type dryRunJSON struct {
	ID string `json:"id"`
	// Key is the event's identity key (see docs/daemon.md, "Event
	// identity"), the rules file's identity section applied.
	Key     string       `json:"key"`
	Event   string       `json:"event"`
	Action  string       `json:"action"`
	Rules   []string     `json:"rules"`
	Actions []actionJSON `json:"actions"`
	Errors  []string     `json:"errors"`
	// DuplicateOf is the earlier event of the replay with the same key,
	// for a duplicate, which the daemon takes in without running
	// anything.
	DuplicateOf *duplicateJSON `json:"duplicate_of,omitempty"`
}

// duplicateJSON names the earlier event of a duplicate: its place among
// the events of the dry-run (from 1, in the order they are printed),
// the file it was read from, and the identity key they share.
type duplicateJSON struct {
	Position int    `json:"position"`
	Source   string `json:"source,omitempty"`
	Key      string `json:"key"`
}

func duplicateOf(d *engine.Duplicate) *duplicateJSON {
	if d == nil {
		return nil
	}
	return &duplicateJSON{Position: d.Nth, Source: d.Of.Source, Key: d.Key}
}

// name is "event 3 (events.jsonl:3)", or "event 3" for an event not
// read from a file.
func (d *duplicateJSON) name() string {
	name := fmt.Sprintf("event %d", d.Position)
	if d.Source != "" {
		name += " (" + d.Source + ")"
	}
	return name
}

// checked is an event of a dry-run, once its identity key is known: its
// result (empty for a duplicate) and the earlier event it duplicates.
type checked struct {
	res *engine.Result
	dup *engine.Duplicate
}

// evaluateNew evaluates ev with rs, unless seen says it is a duplicate
// of an earlier event: the daemon then runs nothing for it.
func evaluateNew(rs *engine.RuleSet, reqs requests.Builder, seen *engine.Dedup, ev *event.Event) checked {
	if dup := seen.Check(rs, ev); dup != nil {
		return checked{res: &engine.Result{Event: ev}, dup: dup}
	}
	return checked{res: reqs.Check(rs.Evaluate(ev))}
}

type actionJSON struct {
	Rule    string         `json:"rule"`
	Type    string         `json:"type"`
	Params  map[string]any `json:"params"`
	Request string         `json:"request,omitempty"`
}

func runDryRun(s Streams, args []string) int {
	fs := newFlags(s, "dry-run", "--rules RULES [--baseline OLD_RULES] [--format text|json] EVENTS...")
	rulesPath := fs.String("rules", "", "rules file (required)")
	format := fs.String("format", "text", "output format: text or json (one object per event)")
	showRequests := fs.Bool("show-requests", false, "show the exact request each action would send (secrets masked)")
	baseline := fs.String("baseline", "", "older rules file: print only what changes between it and --rules, over the same events")
	verbose := fs.Bool("v", false, "also print each event's identity key, which tells duplicates (redeliveries) apart")
	pos, err := parse(fs, args)
	if err != nil {
		return flagErr(err)
	}
	if *rulesPath == "" {
		return exitUsage(s, fs, "--rules is required")
	}
	if len(pos) == 0 {
		return exitUsage(s, fs, "name at least one event file or folder (.json, .jsonl)")
	}
	if *format != "text" && *format != "json" {
		return exitUsage(s, fs, "--format must be text or json, not %q", *format)
	}
	rs, code := loadRules(s, "dry-run", *rulesPath)
	if rs == nil {
		return code
	}
	if len(rs.Unset) > 0 {
		fmt.Fprintf(s.Stderr, "note: environment variables not set (fine for a dry-run; `hookd check` requires them): %s\n", strings.Join(rs.Unset, ", "))
	}
	events, err := event.ReadPaths(pos)
	if err != nil {
		fmt.Fprintf(s.Stderr, "hookd dry-run: %v\n", err)
		return 1
	}
	if *baseline != "" {
		return runImpact(s, *baseline, rs, events, *format)
	}
	reqs := requests.ForRules(rs)
	var describe func(ev *event.Event, a engine.Rendered) string
	if *showRequests {
		describe = reqs.Show
	}
	if rs.Remembers() {
		return replayDryRun(s, rs, events, *format, reqs, textOptions{describe: describe, keys: *verbose})
	}
	var seen engine.Dedup
	if *format == "json" {
		enc := json.NewEncoder(s.Stdout)
		enc.SetEscapeHTML(false)
		for _, ev := range events {
			c := evaluateNew(rs, reqs, &seen, ev)
			if err := enc.Encode(toJSON(c.res, c.dup, describe)); err != nil {
				fmt.Fprintf(s.Stderr, "hookd dry-run: %v\n", err)
				return 1
			}
		}
		return 0
	}
	opts := textOptions{describe: describe, keys: *verbose}
	sum := newSummary(rs)
	for _, ev := range events {
		c := evaluateNew(rs, reqs, &seen, ev)
		sum.add(c.res, c.dup, false)
		writeText(s.Stdout, c, opts)
	}
	sum.write(s.Stdout)
	return 0
}

// textOptions are what the text output of dry-run shows beside what
// fired: the requests (describe, with --show-requests) and the identity
// keys of the events (keys, with -v).
type textOptions struct {
	describe func(*event.Event, engine.Rendered) string
	keys     bool
}

func toJSON(res *engine.Result, dup *engine.Duplicate, describe func(*event.Event, engine.Rendered) string) dryRunJSON {
	out := dryRunJSON{ID: res.Event.ID, Key: res.Event.Key, Event: res.Event.Name, Action: res.Event.Action, Rules: []string{}, Actions: []actionJSON{}, Errors: []string{}, DuplicateOf: duplicateOf(dup)}
	for _, f := range res.Fired {
		out.Rules = append(out.Rules, f.Rule.Name)
		out.Actions = append(out.Actions, actionsJSON(res.Event, f.Rule.Name, f.Actions, describe)...)
	}
	for _, e := range res.Errors {
		out.Errors = append(out.Errors, e.Error())
	}
	return out
}

func eventTitle(ev *event.Event) string {
	title := ev.Name
	if ev.Action != "" {
		title += " (" + ev.Action + ")"
	}
	src := ev.Source
	if src == "" {
		src = "event"
	}
	return fmt.Sprintf("%s  %s  id %s", src, title, ev.ID)
}

func writeText(w io.Writer, c checked, opts textOptions) {
	res := c.res
	fmt.Fprintf(w, "== %s\n", eventTitle(res.Event))
	if writeIdentity(w, res.Event, c.dup, opts) {
		fmt.Fprintln(w)
		return
	}
	if len(res.Fired) == 0 && len(res.Errors) == 0 {
		fmt.Fprintln(w, "   no rule matched")
	}
	for _, f := range res.Fired {
		stop := ""
		if f.Rule.Stop {
			stop = "  (stop: later rules skipped)"
		}
		writeFired(w, res.Event, f, stop, opts.describe)
	}
	writeErrors(w, res.Errors)
	fmt.Fprintln(w)
}

// writeIdentity prints, under an event's title, its identity key (with
// -v) or, for a duplicate, which earlier event it duplicates and the key
// they share; it
// reports whether the event is a duplicate, for which nothing else is
// printed.
func writeIdentity(w io.Writer, ev *event.Event, dup *engine.Duplicate, opts textOptions) bool {
	if dup == nil {
		if opts.keys {
			fmt.Fprintf(w, "   key %s\n", ev.Key)
		}
		return false
	}
	fmt.Fprintf(w, "   duplicate of %s, key %s: the daemon acknowledges it and runs nothing\n", duplicateOf(dup).name(), dup.Key)
	return true
}

// writeFired prints a fired rule (with note after its name) and its
// rendered actions.
func writeFired(w io.Writer, ev *event.Event, f engine.Fired, note string, describe func(*event.Event, engine.Rendered) string) {
	fmt.Fprintf(w, "   rule %s%s\n", f.Rule.Name, note)
	for _, a := range f.Actions {
		fmt.Fprintf(w, "     %s[%d]\n", a.Action.Type, a.Action.Index)
		params := masked(a)
		for _, k := range a.Action.Fields() {
			writeField(w, "       ", k, params[k])
		}
		if describe != nil {
			writeRequest(w, "       ", describe(ev, a))
		}
	}
}

// writeRequest prints the request of an action (text, from
// requests.Builder.Show) under a "request:" line at pad.
func writeRequest(w io.Writer, pad, text string) {
	fmt.Fprintf(w, "%srequest:\n%s", pad, padLines(text, pad+"  "))
}

func writeErrors(w io.Writer, errs []engine.RuleError) {
	for _, e := range errs {
		fmt.Fprintf(w, "   error: %s\n", indent(e.Error(), "          "))
	}
}

// writeField prints a rendered field; strings as they are (continuation
// lines indented), other values as compact JSON.
func writeField(w io.Writer, pad, key string, v any) {
	var text string
	if s, ok := v.(string); ok {
		text = s
	} else {
		text = event.Format(v)
	}
	text = strings.TrimRight(text, "\n")
	fmt.Fprintf(w, "%s%s: %s\n", pad, key, indent(text, pad+strings.Repeat(" ", len(key)+2)))
}

// summary counts, per rule, the events that fired it.
type summary struct {
	rs      *engine.RuleSet
	events  int
	matched int
	// heldOnly counts the events of matched that fired nothing: a rule
	// that remembers counted, held or collected them.
	heldOnly int
	errors   int
	// duplicates counts the events that had the identity key of an
	// earlier one.
	duplicates int
	fired      map[string]int
	failed     map[string]int
}

func newSummary(rs *engine.RuleSet) *summary {
	return &summary{rs: rs, fired: map[string]int{}, failed: map[string]int{}}
}

// add counts an event: what fired for it, or, for a duplicate (dup not
// nil), that it ran nothing. held says that a rule that remembers
// matched it without firing (a window waiting, a throttle holding, a
// digest collecting): the event matched a rule all the same.
func (s *summary) add(res *engine.Result, dup *engine.Duplicate, held bool) {
	s.events++
	if dup != nil {
		s.duplicates++
		return
	}
	if len(res.Fired) > 0 || held {
		s.matched++
	}
	if len(res.Fired) == 0 && held {
		s.heldOnly++
	}
	s.errors += len(res.Errors)
	for _, f := range res.Fired {
		s.fired[f.Rule.Name]++
	}
	for _, e := range res.Errors {
		s.failed[e.Rule]++
	}
}

func (s *summary) write(w io.Writer) {
	dups := ""
	if s.duplicates > 0 {
		dups = ", " + funcs.Plural(s.duplicates, "duplicate", "duplicates") + " (ran nothing)"
	}
	held := ""
	if s.heldOnly > 0 {
		held = fmt.Sprintf(" (%d only counted, held back or collected by rules that remember)", s.heldOnly)
	}
	fmt.Fprintf(w, "%s, %d matched at least one rule%s, %s%s\n", funcs.Plural(s.events, "event", "events"), s.matched, held, funcs.Plural(s.errors, "error", "errors"), dups)
	width := 4
	for _, r := range s.rs.Rules {
		width = max(width, len(r.Name))
	}
	names := make([]string, 0, len(s.rs.Rules))
	for _, r := range s.rs.Rules {
		names = append(names, r.Name)
	}
	for _, n := range names {
		line := fmt.Sprintf("  %-*s  fired %d", width, n, s.fired[n])
		if s.failed[n] > 0 {
			line += ", " + funcs.Plural(s.failed[n], "error", "errors")
		}
		fmt.Fprintln(w, line)
	}
}

// padLines prefixes every non-empty line of s with pad; empty lines stay
// empty, so that no line ends in spaces.
func padLines(s, pad string) string {
	var b strings.Builder
	for _, line := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		if line != "" {
			b.WriteString(pad)
			b.WriteString(line)
		}
		b.WriteByte('\n')
	}
	return b.String()
}
