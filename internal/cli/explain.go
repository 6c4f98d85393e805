package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/hookd/hookd/engine"
	"github.com/hookd/hookd/engine/funcs"
	"github.com/hookd/hookd/engine/requests"
	"github.com/hookd/hookd/engine/ruletest"
	"github.com/hookd/hookd/event"
)

// explainJSON is the output of `explain --format json`.
type explainJSON struct {
	Event explainEventJSON  `json:"event"`
	Rules []explainRuleJSON `json:"rules"`
	// DuplicateOf is the earlier event of the file with the same
	// identity key: the daemon takes the explained one in as a duplicate
	// and runs none of its rules.
	DuplicateOf *duplicateJSON `json:"duplicate_of,omitempty"`
}

type explainEventJSON struct {
	ID     string `json:"id"`
	Event  string `json:"event"`
	Action string `json:"action"`
	Source string `json:"source,omitempty"`
}

type explainRuleJSON struct {
	Rule      string         `json:"rule"`
	Line      int            `json:"line"`
	Outcome   engine.Outcome `json:"outcome"`
	Reason    string         `json:"reason,omitempty"`
	StoppedBy string         `json:"stopped_by,omitempty"`
	Condition *engine.Step   `json:"condition,omitempty"`
	Actions   []actionJSON   `json:"actions,omitempty"`
	Errors    []string       `json:"errors,omitempty"`
	State     *stateJSON     `json:"state,omitempty"`
}

func runExplain(s Streams, args []string) int {
	fs := newFlags(s, "explain", "--rules RULES [--id ID] [--format text|json] EVENT")
	rulesPath := fs.String("rules", "", "rules file (required)")
	id := fs.String("id", "", "explain the event with this id, or this identity key where events share an id (default: the first event in EVENT)")
	format := fs.String("format", "text", "output format: text or json")
	pos, err := parse(fs, args)
	if err != nil {
		return flagErr(err)
	}
	if *rulesPath == "" {
		return exitUsage(s, fs, "--rules is required")
	}
	if len(pos) != 1 {
		return exitUsage(s, fs, "name one event file (.json or .jsonl) or folder, e.g. hookd explain --rules rules.yaml event.json")
	}
	if *format != "text" && *format != "json" {
		return exitUsage(s, fs, "--format must be text or json, not %q", *format)
	}
	rs, code := loadRules(s, "explain", *rulesPath)
	if rs == nil {
		return code
	}
	events, err := event.ReadPaths(pos)
	if err != nil {
		fmt.Fprintf(s.Stderr, "hookd explain: %v\n", err)
		return 1
	}
	// Keys every event as the daemon stores it (identity: applied), for
	// --id, and finds those it would take for duplicates.
	dups := engine.Duplicates(rs, events)
	ev, shared, err := pickEvent(events, *id, pos[0])
	if err != nil {
		fmt.Fprintf(s.Stderr, "hookd explain: %v\n", err)
		return 1
	}
	if len(shared) > 1 {
		// The events of one message share its id: its acks, edits, votes
		// and reactions. Their keys tell them apart.
		fmt.Fprintf(s.Stderr, "hookd explain: %d events of %s have the id %q; this is the first: pick one with --id and its key: %s\n",
			len(shared), pos[0], *id, strings.Join(shared, ", "))
	}
	dup := duplicateOf(dups[ev])
	xs, before := explainEvent(rs, events, ev)
	reqs := explainRequests(requests.ForRules(rs), ev, xs)
	if *format == "json" {
		out := explainJSON{Event: explainEventJSON{ID: ev.ID, Event: ev.Name, Action: ev.Action, Source: ev.Source}, Rules: []explainRuleJSON{}, DuplicateOf: dup}
		for i, x := range xs {
			r := explainRuleJSON{Rule: x.Rule.Name, Line: x.Rule.Line, Outcome: x.Outcome, Reason: x.Reason, StoppedBy: x.StoppedBy, Condition: x.Condition, State: explainState(x)}
			for j, a := range x.Actions {
				r.Actions = append(r.Actions, actionJSON{Rule: x.Rule.Name, Type: a.Action.Type, Params: masked(a), Request: reqs[i][j]})
			}
			for _, e := range x.Errors {
				r.Errors = append(r.Errors, e.Error())
			}
			out.Rules = append(out.Rules, r)
		}
		enc := json.NewEncoder(s.Stdout)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			fmt.Fprintf(s.Stderr, "hookd explain: %v\n", err)
			return 1
		}
		return 0
	}
	writeExplanation(s.Stdout, rs, ev, xs, reqs)
	if dup != nil {
		fmt.Fprintf(s.Stdout, "\n(a duplicate of %s, key %s: the daemon acknowledges this event and runs none of the above)\n", dup.name(), dup.Key)
	}
	if before > 0 {
		fmt.Fprintf(s.Stdout, "\n(replayed first, in event time: the %s before it, from %s, for the throttles, windows, digests and loop guard)\n", funcs.Plural(before, "event", "events"), pos[0])
	}
	if len(events) > 1 && *id == "" {
		fmt.Fprintf(s.Stdout, "\n(%s holds %d events; this is the first: pick another with --id)\n", pos[0], len(events))
	}
	return 0
}

// loadRules loads a rules file for a command that sends nothing (unset
// ${ENV} variables are allowed) and runs its inline examples, printing
// problems; nil and the exit code when it is invalid.
func loadRules(s Streams, cmd, path string) (*engine.RuleSet, int) {
	return reportLoad(s, path, ruletest.LoadFile, engine.LoadOptions{AllowUnsetEnv: true}, "")
}

// reportLoad loads a rules file with load and opts, printing problems to
// stderr: its warnings too when it loads (a misspelt field, an inline
// example whose action cannot be built), since they often say why a rule
// does not fire. It returns nil and the exit code when the file is
// invalid; why, when set, ends the message that says so.
func reportLoad(s Streams, path string, load func(string, engine.LoadOptions) (*engine.RuleSet, engine.Problems), opts engine.LoadOptions, why string) (*engine.RuleSet, int) {
	rs, problems := load(path, opts)
	for _, p := range problems {
		fmt.Fprintln(s.Stderr, p)
	}
	if rs == nil {
		fmt.Fprintf(s.Stderr, "%s: %s; fix them and run again (hookd check %s)%s\n", path, countProblems(problems), path, why)
		return nil, 1
	}
	return rs, 0
}

// pickEvent returns the first event whose id or identity key is id, or
// the first event when id is "". When id is an id that several events
// share (the events of one message do), shared holds their keys.
func pickEvent(events []*event.Event, id, where string) (ev *event.Event, shared []string, err error) {
	if len(events) == 0 {
		return nil, nil, fmt.Errorf("%s holds no events (.json or .jsonl files)", where)
	}
	if id == "" {
		return events[0], nil, nil
	}
	var ids []string
	for _, e := range events {
		if e.Key == id && ev == nil {
			return e, nil, nil
		}
		if e.ID == id {
			if ev == nil {
				ev = e
			}
			shared = append(shared, e.Key)
		}
		if len(ids) < 10 && !slices.Contains(ids, e.ID) {
			ids = append(ids, e.ID)
		}
	}
	if ev == nil {
		return nil, nil, fmt.Errorf("no event with id or key %q in %s; ids there include: %s", id, where, strings.Join(ids, ", "))
	}
	return ev, shared, nil
}

// explainRequests builds the request of each action of xs, fired for ev,
// as dry-run does: reqs[i][j] is the request of xs[i].Actions[j], or why
// it cannot be built. An action whose request cannot be built is also an
// error of its rule (see requests.Builder.Build).
func explainRequests(b requests.Builder, ev *event.Event, xs []engine.RuleExplanation) [][]string {
	reqs := make([][]string, len(xs))
	for i := range xs {
		x := &xs[i]
		for _, a := range x.Actions {
			text, err := b.Build(ev, a)
			reqs[i] = append(reqs[i], text)
			if err != nil {
				x.Errors = append(x.Errors, *err)
			}
		}
	}
	return reqs
}

// writeExplanation prints each rule with ✓ or ✗, its position, why it
// did or did not fire, its condition part by part, and the request of
// each action it fires (reqs, from explainRequests).
func writeExplanation(w io.Writer, rs *engine.RuleSet, ev *event.Event, xs []engine.RuleExplanation, reqs [][]string) {
	fmt.Fprintf(w, "%s\n", eventTitle(ev))
	fired := 0
	for _, x := range xs {
		if x.Outcome == engine.OutcomeFired {
			fired++
		}
	}
	fmt.Fprintf(w, "%s: %s, %d fired\n", rs.File, funcs.Plural(len(xs), "rule", "rules"), fired)
	for i, x := range xs {
		mark := "✗"
		if x.Outcome == engine.OutcomeFired {
			mark = "✓"
		}
		fmt.Fprintf(w, "\n%s %s  (%s:%d)\n", mark, x.Rule.Name, rs.File, x.Rule.Line)
		if x.Reason != "" && x.Outcome != engine.OutcomeFalse && x.Outcome != engine.OutcomeError {
			fmt.Fprintf(w, "    %s\n", x.Reason)
		}
		writeState(w, x)
		if x.Condition != nil {
			pad := "    "
			if x.Outcome == engine.OutcomeOtherAction || x.Outcome == engine.OutcomeOtherValue || x.Outcome == engine.OutcomeStopped {
				fmt.Fprintln(w, "    the condition would have been:")
				pad += "  "
			}
			writeStep(w, x.Condition, pad, 0)
		} else if x.Outcome == engine.OutcomeFired {
			fmt.Fprintln(w, "    no condition: fires for every event it listens to")
		}
		for j, a := range x.Actions {
			fmt.Fprintf(w, "    does %s[%d]\n", a.Action.Type, a.Action.Index)
			writeRequest(w, "      ", reqs[i][j])
		}
		if x.Outcome == engine.OutcomeFired && x.Rule.Stop {
			fmt.Fprintln(w, "    stop: true: the rules after it are skipped")
		}
		for _, e := range x.Errors {
			if e.Action != "" {
				fmt.Fprintf(w, "    error: %s\n", indent(e.Error(), "           "))
			}
		}
	}
}

// maxExprWidth is the widest expression column before the arrows.
const maxExprWidth = 44

// writeStep prints a condition step and its parts, one per line, with
// values after an arrow aligned among siblings.
func writeStep(w io.Writer, st *engine.Step, pad string, width int) {
	text := st.Expr
	if n := utf8.RuneCountInString(text); n < width {
		text += strings.Repeat(" ", width-n)
	}
	fmt.Fprintf(w, "%s%s   %s\n", pad, text, stepResult(st))
	parts := st.Operands
	if len(parts) == 0 {
		return
	}
	width = 0
	for _, p := range parts {
		if n := utf8.RuneCountInString(p.Expr); n <= maxExprWidth {
			width = max(width, n)
		}
	}
	for _, p := range parts {
		writeStep(w, p, pad+"  ", width)
	}
}

// stepResult is what follows an expression: its comparison and value,
// an error, or why it was not evaluated.
func stepResult(st *engine.Step) string {
	switch {
	case st.Skipped != "":
		return "(not evaluated: " + st.Skipped + ")"
	case st.Comparison() && st.Error != "":
		return "→ " + st.Compared() + " → error: " + st.Error
	case st.Comparison():
		return "→ " + st.Compared() + " → " + engine.FormatValue(st.Value)
	case st.Error != "":
		return "→ error: " + st.Error
	}
	return "→ " + engine.FormatValue(st.Value)
}
