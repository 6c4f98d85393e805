package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/hookd/hookd/engine"
	"github.com/hookd/hookd/engine/funcs"
	"github.com/hookd/hookd/engine/requests"
	"github.com/hookd/hookd/event"
)

// stateJSON is what a rule's throttle, window or digest did with an
// event, in `dry-run --format json`.
type stateJSON struct {
	Rule        string `json:"rule"`
	Key         string `json:"key"`
	Fires       bool   `json:"fires"`
	Count       int    `json:"count,omitempty"`
	NextAllowed string `json:"next_allowed,omitempty"`
	Due         string `json:"due,omitempty"`
	Reason      string `json:"reason"`
}

// replayJSON is one line of a replay's `dry-run --format json`: an event
// (with its time and what the state did), a digest sent, or a timer
// rule's tick.
type replayJSON struct {
	*dryRunJSON
	Time   string      `json:"time,omitempty"`
	State  []stateJSON `json:"state,omitempty"`
	Digest *digestJSON `json:"digest,omitempty"`
	Tick   *tickJSON   `json:"tick,omitempty"`
}

type digestJSON struct {
	Rule    string       `json:"rule"`
	Key     string       `json:"key"`
	Due     string       `json:"due"`
	Count   int          `json:"count"`
	AtEnd   bool         `json:"at_end"`
	Actions []actionJSON `json:"actions"`
	Errors  []string     `json:"errors"`
}

type tickJSON struct {
	Rule    string       `json:"rule"`
	Time    string       `json:"time"`
	Actions []actionJSON `json:"actions"`
	Errors  []string     `json:"errors"`
}

// replayDryRun is dry-run for rules that remember: the events are
// replayed in event-time order with state in memory, exactly as the
// daemon would apply it, and each event shows what every throttle,
// window and digest did; digests are sent at each period boundary of
// event time and, for those still collecting, when the events run out.
//
// An event with the identity key of an earlier one is a duplicate, as
// in the daemon: nothing runs for it and no state changes (see
// engine.RuleSet.Replay).
func replayDryRun(s Streams, rs *engine.RuleSet, events []*event.Event, format string, reqs requests.Builder, opts textOptions) int {
	describe := opts.describe
	m := engine.NewMemoryState()
	m.DropDuplicates()
	if format == "json" {
		enc := json.NewEncoder(s.Stdout)
		enc.SetEscapeHTML(false)
		var err error
		rs.Replay(events, m, func(it engine.ReplayItem) {
			reqs.CheckItem(it)
			if err == nil {
				err = enc.Encode(replayLine(it, describe))
			}
		})
		if err != nil {
			fmt.Fprintf(s.Stderr, "hookd dry-run: %v\n", err)
			return 1
		}
		return 0
	}
	sum := newSummary(rs)
	atEnd := 0
	rs.Replay(events, m, func(it engine.ReplayItem) {
		reqs.CheckItem(it)
		switch {
		case it.Result != nil:
			sum.add(it.Result, it.Duplicate, len(it.Outcomes) > 0)
			writeReplayEvent(s.Stdout, it, opts)
		case it.Flushed != nil:
			sum.fired[it.Flushed.Rule.Name]++
			sum.errors += len(it.Flushed.Errors)
			sum.failed[it.Flushed.Rule.Name] += len(it.Flushed.Errors)
			if it.AtEnd {
				atEnd++
			}
			writeDigest(s.Stdout, it, describe)
		case it.Tick != nil:
			sum.fired[it.Tick.Rule.Name]++
			sum.errors += len(it.Tick.Errors)
			sum.failed[it.Tick.Rule.Name] += len(it.Tick.Errors)
			fmt.Fprintf(s.Stdout, "== tick of %s at %s  (schedule %s)\n", it.Tick.Rule.Name, it.Tick.At.In(it.Tick.Rule.Schedule.Location()).Format(time.RFC3339), it.Tick.Rule.Schedule)
			writeFired(s.Stdout, requests.TickEvent(it.Tick), engine.Fired{Rule: it.Tick.Rule, Actions: it.Tick.Actions}, "", describe)
			writeErrors(s.Stdout, it.Tick.Errors)
			fmt.Fprintln(s.Stdout)
		}
	})
	fmt.Fprintln(s.Stdout, "replayed in event-time order (see rules.md, \"Event time\"), with throttles, windows, digests and the group changes of hookd's actions (the loop guard) kept in memory")
	if atEnd > 0 {
		verb := "were"
		if atEnd == 1 {
			verb = "was"
		}
		fmt.Fprintf(s.Stdout, "%s still collecting when the events ran out %s sent at the end\n", funcs.Plural(atEnd, "digest", "digests"), verb)
	}
	sum.write(s.Stdout)
	return 0
}

// writeReplayEvent prints an event of a replay: its time, what each
// stateful rule's state did, and what fired; for a duplicate, which
// event it duplicates.
func writeReplayEvent(w io.Writer, it engine.ReplayItem, opts textOptions) {
	res := it.Result
	fmt.Fprintf(w, "== %s  at %s\n", eventTitle(res.Event), it.At.Format(time.RFC3339))
	if writeIdentity(w, res.Event, it.Duplicate, opts) {
		fmt.Fprintln(w)
		return
	}
	notes := map[*engine.Rule]string{}
	for _, o := range it.Outcomes {
		note := "  (" + stateKind(o.Rule) + keyNote(o.Key) + ": " + o.Info.Reason + ")"
		if o.Fire {
			notes[o.Rule] = note
			continue
		}
		verb := " held"
		if o.Rule.Digest != nil {
			verb = ""
		}
		fmt.Fprintf(w, "   rule %s%s%s\n", o.Rule.Name, verb, note)
	}
	if len(res.Fired) == 0 && len(res.Errors) == 0 && len(it.Outcomes) == 0 {
		fmt.Fprintln(w, "   no rule matched")
	}
	for _, f := range res.Fired {
		note := notes[f.Rule]
		if f.Rule.Stop {
			note = "  (stop: later rules skipped)"
		}
		writeFired(w, res.Event, f, note, opts.describe)
	}
	writeErrors(w, res.Errors)
	fmt.Fprintln(w)
}

// writeDigest prints a digest sent during a replay.
func writeDigest(w io.Writer, it engine.ReplayItem, describe func(*event.Event, engine.Rendered) string) {
	f := it.Flushed
	when := "at the end of its period in event time"
	if it.AtEnd {
		when = "at the end of the events (a running daemon would send it when due)"
	}
	fmt.Fprintf(w, "== digest of %s%s due %s: %s, sent %s\n", f.Rule.Name, keyNote(f.Key), f.LocalDue().Format(time.RFC3339), funcs.Plural(f.Count, "event", "events"), when)
	if f.Events < f.Count {
		fmt.Fprintf(w, "   (digest.events keeps the first %d: max_events)\n", f.Events)
	}
	writeFired(w, requests.DigestEvent(f), engine.Fired{Rule: f.Rule, Actions: f.Actions}, "", describe)
	writeErrors(w, f.Errors)
	fmt.Fprintln(w)
}

func stateKind(r *engine.Rule) string {
	switch {
	case r.Window != nil && r.Throttle != nil:
		return "window and throttle"
	case r.Window != nil:
		return "window"
	case r.Throttle != nil:
		return "throttle"
	}
	return "digest"
}

func keyNote(key string) string {
	if key == "" {
		return ""
	}
	return " of " + key
}

// replayLine is the JSON line of one replay item.
func replayLine(it engine.ReplayItem, describe func(*event.Event, engine.Rendered) string) replayJSON {
	switch {
	case it.Flushed != nil:
		f := it.Flushed
		return replayJSON{Digest: &digestJSON{Rule: f.Rule.Name, Key: f.Key, Due: f.LocalDue().Format(time.RFC3339), Count: f.Count, AtEnd: it.AtEnd,
			Actions: actionsJSON(requests.DigestEvent(f), f.Rule.Name, f.Actions, describe), Errors: errorStrings(f.Errors)}}
	case it.Tick != nil:
		t := it.Tick
		return replayJSON{Tick: &tickJSON{Rule: t.Rule.Name, Time: t.At.Format(time.RFC3339), Actions: actionsJSON(requests.TickEvent(t), t.Rule.Name, t.Actions, describe), Errors: errorStrings(t.Errors)}}
	}
	line := toJSON(it.Result, it.Duplicate, describe)
	out := replayJSON{dryRunJSON: &line, Time: it.At.Format(time.RFC3339)}
	for _, o := range it.Outcomes {
		sj := stateJSON{Rule: o.Rule.Name, Key: o.Key, Fires: o.Fire, Count: o.Info.Count, Reason: o.Info.Reason}
		if !o.Info.NextAllowed.IsZero() {
			sj.NextAllowed = o.Info.NextAllowed.Format(time.RFC3339)
		}
		if !o.Info.Due.IsZero() {
			sj.Due = o.Info.Due.Format(time.RFC3339)
		}
		out.State = append(out.State, sj)
	}
	return out
}

func actionsJSON(ev *event.Event, rule string, acts []engine.Rendered, describe func(*event.Event, engine.Rendered) string) []actionJSON {
	out := []actionJSON{}
	for _, a := range acts {
		aj := actionJSON{Rule: rule, Type: a.Action.Type, Params: masked(a)}
		if describe != nil {
			aj.Request = describe(ev, a)
		}
		out = append(out, aj)
	}
	return out
}

func errorStrings(errs []engine.RuleError) []string {
	out := []string{}
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}

// explainEvent explains ev; for rules that remember, after replaying the
// events before it (see engine.RuleSet.ExplainReplayed), whose number it
// returns.
func explainEvent(rs *engine.RuleSet, events []*event.Event, ev *event.Event) ([]engine.RuleExplanation, int) {
	if !rs.Remembers() {
		return rs.Explain(ev), 0
	}
	return rs.ExplainReplayed(events, ev)
}

// explainState is the state part of a rule's explanation in JSON.
func explainState(x engine.RuleExplanation) *stateJSON {
	if x.State == nil {
		return nil
	}
	st := x.State
	out := &stateJSON{Rule: x.Rule.Name, Key: st.Key, Fires: x.Outcome == engine.OutcomeFired, Count: st.Count, Reason: st.Reason}
	if !st.NextAllowed.IsZero() {
		out.NextAllowed = st.NextAllowed.Format(time.RFC3339)
	}
	if !st.Due.IsZero() {
		out.Due = st.Due.Format(time.RFC3339)
	}
	return out
}

// writeState prints a stateful rule's key, its window's count and its
// throttle's next allowed time, under its explanation.
func writeState(w io.Writer, x engine.RuleExplanation) {
	st := x.State
	if st == nil {
		return
	}
	if st.Key != "" {
		fmt.Fprintf(w, "    key: %s\n", st.Key)
	}
	switch r := x.Rule; {
	case r.Window != nil:
		counted := "events"
		if r.Window.Weighted() {
			counted = "counted (weight: " + r.Window.WeightSource() + ")"
		}
		fmt.Fprintf(w, "    window: %d of %d %s within %s\n", st.Count, st.AtLeast, counted, engine.FormatPeriod(r.Window.Within))
	case r.Digest != nil:
		fmt.Fprintf(w, "    digest: %s collected, sent at %s\n", funcs.Plural(st.Count, "event", "events"), st.Due.Format(time.RFC3339))
	}
	if x.Rule.Throttle != nil {
		if st.NextAllowed.IsZero() {
			fmt.Fprintln(w, "    throttle: open")
		} else {
			fmt.Fprintf(w, "    throttle: next allowed at %s\n", st.NextAllowed.Format(time.RFC3339))
		}
	}
}
