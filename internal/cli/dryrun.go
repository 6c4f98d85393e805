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
	ID      string       `json:"id"`
	Event   string       `json:"event"`
	Action  string       `json:"action"`
	Rules   []string     `json:"rules"`
	Actions []actionJSON `json:"actions"`
	Errors  []string     `json:"errors"`
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
		return replayDryRun(s, rs, events, *format, reqs, describe)
	}
	if *format == "json" {
		enc := json.NewEncoder(s.Stdout)
		enc.SetEscapeHTML(false)
		for _, ev := range events {
			if err := enc.Encode(toJSON(reqs.Check(rs.Evaluate(ev)), describe)); err != nil {
				fmt.Fprintf(s.Stderr, "hookd dry-run: %v\n", err)
				return 1
			}
		}
		return 0
	}
	sum := newSummary(rs)
	for _, ev := range events {
		res := reqs.Check(rs.Evaluate(ev))
		sum.add(res)
		writeText(s.Stdout, res, describe)
	}
	sum.write(s.Stdout)
	return 0
}

func toJSON(res *engine.Result, describe func(*event.Event, engine.Rendered) string) dryRunJSON {
	out := dryRunJSON{ID: res.Event.ID, Event: res.Event.Name, Action: res.Event.Action, Rules: []string{}, Actions: []actionJSON{}, Errors: []string{}}
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

func writeText(w io.Writer, res *engine.Result, describe func(*event.Event, engine.Rendered) string) {
	fmt.Fprintf(w, "== %s\n", eventTitle(res.Event))
	if len(res.Fired) == 0 && len(res.Errors) == 0 {
		fmt.Fprintln(w, "   no rule matched")
	}
	for _, f := range res.Fired {
		stop := ""
		if f.Rule.Stop {
			stop = "  (stop: later rules skipped)"
		}
		writeFired(w, res.Event, f, stop, describe)
	}
	writeErrors(w, res.Errors)
	fmt.Fprintln(w)
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
	errors  int
	fired   map[string]int
	failed  map[string]int
}

func newSummary(rs *engine.RuleSet) *summary {
	return &summary{rs: rs, fired: map[string]int{}, failed: map[string]int{}}
}

func (s *summary) add(res *engine.Result) {
	s.events++
	if len(res.Fired) > 0 {
		s.matched++
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
	fmt.Fprintf(w, "%s, %d matched at least one rule, %s\n", funcs.Plural(s.events, "event", "events"), s.matched, funcs.Plural(s.errors, "error", "errors"))
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
