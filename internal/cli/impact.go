package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"strings"

	"github.com/hookd/hookd/engine"
	"github.com/hookd/hookd/engine/funcs"
	"github.com/hookd/hookd/engine/requests"
	"github.com/hookd/hookd/engine/ruletest"
	"github.com/hookd/hookd/event"
)

// impactJSON is one line of `dry-run --baseline OLD --format json`: an
// event whose outcome changes between the baseline and the new rules.
// Only changed events are printed, and nothing else.
type impactJSON struct {
	ID     string `json:"id"`
	Event  string `json:"event"`
	Action string `json:"action"`
	// Started and Stopped are the rules that start or stop firing.
	Started []string `json:"started"`
	Stopped []string `json:"stopped"`
	// Changed are the rendered fields that differ in rules that fire
	// with both files.
	Changed []fieldChange `json:"changed"`
	// NewErrors and FixedErrors are run-time errors only the new or only
	// the baseline rules have.
	NewErrors   []string `json:"new_errors,omitempty"`
	FixedErrors []string `json:"fixed_errors,omitempty"`
	// DuplicateOf and BaselineDuplicateOf name the earlier event that
	// the event duplicates with the new rules only, or with the baseline
	// only: each side keys events with its own identity section, and the
	// daemon runs nothing for a duplicate.
	DuplicateOf         *duplicateJSON `json:"duplicate_of,omitempty"`
	BaselineDuplicateOf *duplicateJSON `json:"baseline_duplicate_of,omitempty"`

	source string
	// newIn and fixedIn are the rules of NewErrors and FixedErrors.
	newIn, fixedIn []string
}

// fieldChange is one rendered field of an action that differs. An
// action that only one file has is one change with an empty Field and
// the whole params as Old or New.
type fieldChange struct {
	Rule  string `json:"rule"`
	Type  string `json:"type"`
	Index int    `json:"index"`
	Field string `json:"field"`
	Old   any    `json:"old"`
	New   any    `json:"new"`
}

// ruleImpact counts, per rule, the events that start and stop firing it
// and its actions that render differently.
type ruleImpact struct {
	started, stopped, changed, newErrors, fixedErrors int
}

// runImpact is `dry-run --baseline OLD`: it evaluates both rule files
// over the events and prints only what changes.
func runImpact(s Streams, baselinePath string, rs *engine.RuleSet, events []*event.Event, format string) int {
	old, code := reportLoad(s, baselinePath, ruletest.LoadFile, engine.LoadOptions{AllowUnsetEnv: true}, "; it is the --baseline, the older rules file to compare with")
	if old == nil {
		return code
	}
	oldReqs, reqs := requests.ForRules(old), requests.ForRules(rs)
	var changes []impactJSON
	// Each side keys the events with its own identity section, on its
	// own copy of the event, and takes duplicates as the daemon would.
	var oldSeen, curSeen engine.Dedup
	for _, ev := range events {
		oldEv, curEv := *ev, *ev
		o := evaluateNew(old, oldReqs, &oldSeen, &oldEv)
		n := evaluateNew(rs, reqs, &curSeen, &curEv)
		if c, changed := compareEvent(o, n); changed {
			changes = append(changes, c)
		}
	}
	if format == "json" {
		enc := json.NewEncoder(s.Stdout)
		enc.SetEscapeHTML(false)
		for _, c := range changes {
			if err := enc.Encode(c); err != nil {
				fmt.Fprintf(s.Stderr, "hookd dry-run: %v\n", err)
				return 1
			}
		}
		return 0
	}
	writeImpact(s.Stdout, old, rs, len(events), changes)
	return 0
}

// compareEvent diffs what two rule sets do with one event: what fires,
// and whether it is a duplicate.
func compareEvent(oldC, curC checked) (impactJSON, bool) {
	old, cur := oldC.res, curC.res
	ev := cur.Event
	c := impactJSON{ID: ev.ID, Event: ev.Name, Action: ev.Action, Started: []string{}, Stopped: []string{}, Changed: []fieldChange{}, source: ev.Source}
	if (oldC.dup == nil) != (curC.dup == nil) {
		c.DuplicateOf, c.BaselineDuplicateOf = duplicateOf(curC.dup), duplicateOf(oldC.dup)
	}
	oldFired, curFired := firedByName(old), firedByName(cur)
	for _, f := range cur.Fired {
		prev, ok := oldFired[f.Rule.Name]
		if !ok {
			c.Started = append(c.Started, f.Rule.Name)
			continue
		}
		c.Changed = append(c.Changed, compareActions(f.Rule.Name, prev.Actions, f.Actions)...)
	}
	for _, f := range old.Fired {
		if _, ok := curFired[f.Rule.Name]; !ok {
			c.Stopped = append(c.Stopped, f.Rule.Name)
		}
	}
	oldErrs, curErrs := errorTexts(old), errorTexts(cur)
	for i, e := range curErrs {
		if !containsString(oldErrs, e) {
			c.NewErrors = append(c.NewErrors, e)
			c.newIn = append(c.newIn, cur.Errors[i].Rule)
		}
	}
	for i, e := range oldErrs {
		if !containsString(curErrs, e) {
			c.FixedErrors = append(c.FixedErrors, e)
			c.fixedIn = append(c.fixedIn, old.Errors[i].Rule)
		}
	}
	changed := len(c.Started)+len(c.Stopped)+len(c.Changed)+len(c.NewErrors)+len(c.FixedErrors) > 0 ||
		c.DuplicateOf != nil || c.BaselineDuplicateOf != nil
	return c, changed
}

func firedByName(res *engine.Result) map[string]engine.Fired {
	m := make(map[string]engine.Fired, len(res.Fired))
	for _, f := range res.Fired {
		m[f.Rule.Name] = f
	}
	return m
}

func errorTexts(res *engine.Result) []string {
	out := make([]string, len(res.Errors))
	for i, e := range res.Errors {
		out[i] = e.Error()
	}
	return out
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// compareActions diffs the rendered actions of a rule that fires with
// both files. Actions are matched by type and position in the do list.
func compareActions(rule string, old, cur []engine.Rendered) []fieldChange {
	type key struct {
		typ   string
		index int
	}
	oldByKey := map[key]engine.Rendered{}
	for _, a := range old {
		oldByKey[key{a.Action.Type, a.Action.Index}] = a
	}
	var out []fieldChange
	seen := map[key]bool{}
	for _, a := range cur {
		k := key{a.Action.Type, a.Action.Index}
		seen[k] = true
		prev, ok := oldByKey[k]
		if !ok {
			out = append(out, fieldChange{Rule: rule, Type: k.typ, Index: k.index, New: masked(a)})
			continue
		}
		// Compared as sent, shown as dry-run shows them.
		shownOld, shownNew := masked(prev), masked(a)
		fields := append([]string{}, a.Action.Fields()...)
		for _, f := range prev.Action.Fields() {
			if !containsString(fields, f) {
				fields = append(fields, f)
			}
		}
		for _, f := range fields {
			ov, nv := prev.Params[f], a.Params[f]
			if !sameJSON(ov, nv) {
				out = append(out, fieldChange{Rule: rule, Type: k.typ, Index: k.index, Field: f, Old: shownOld[f], New: shownNew[f]})
			}
		}
	}
	for _, a := range old {
		k := key{a.Action.Type, a.Action.Index}
		if !seen[k] {
			out = append(out, fieldChange{Rule: rule, Type: k.typ, Index: k.index, Old: masked(a)})
		}
	}
	return out
}

// sameJSON compares two rendered values by their JSON forms.
func sameJSON(a, b any) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	if err1 != nil || err2 != nil {
		return reflect.DeepEqual(a, b)
	}
	return bytes.Equal(ja, jb)
}

// compactJSON prints a value as one line of JSON.
func compactJSON(v any) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

// writeImpact prints each changed event, then the counts per rule.
func writeImpact(w io.Writer, old, cur *engine.RuleSet, total int, changes []impactJSON) {
	if len(changes) == 0 {
		fmt.Fprintf(w, "no changes over %s\n", funcs.Plural(total, "event", "events"))
		return
	}
	per := map[string]*ruleImpact{}
	count := func(rule string) *ruleImpact {
		if per[rule] == nil {
			per[rule] = &ruleImpact{}
		}
		return per[rule]
	}
	becomeDups, stopDups := 0, 0
	for _, c := range changes {
		title := c.Event
		if c.Action != "" {
			title += " (" + c.Action + ")"
		}
		src := c.source
		if src == "" {
			src = "event"
		}
		fmt.Fprintf(w, "== %s  %s  id %s\n", src, title, c.ID)
		if d := c.DuplicateOf; d != nil {
			fmt.Fprintf(w, "   + duplicate of %s, key %s: with the new rules the daemon runs nothing for it\n", d.name(), d.Key)
			becomeDups++
		}
		if d := c.BaselineDuplicateOf; d != nil {
			fmt.Fprintf(w, "   - duplicate (with the baseline) of %s, key %s: with the new rules it is an event of its own\n", d.name(), d.Key)
			stopDups++
		}
		for _, r := range c.Started {
			fmt.Fprintf(w, "   + %s starts firing\n", r)
			count(r).started++
		}
		for _, r := range c.Stopped {
			fmt.Fprintf(w, "   - %s stops firing\n", r)
			count(r).stopped++
		}
		type actionKey struct {
			rule  string
			index int
		}
		counted := map[actionKey]bool{}
		for _, f := range c.Changed {
			name := fmt.Sprintf("%s/%s[%d]", f.Rule, f.Type, f.Index)
			switch {
			case f.Field == "" && f.Old == nil:
				fmt.Fprintf(w, "   ~ %s is new: %s\n", name, compactJSON(f.New))
			case f.Field == "":
				fmt.Fprintf(w, "   ~ %s is gone (was %s)\n", name, compactJSON(f.Old))
			default:
				fmt.Fprintf(w, "   ~ %s %s: %s → %s\n", name, f.Field, compactJSON(f.Old), compactJSON(f.New))
			}
			if k := (actionKey{f.Rule, f.Index}); !counted[k] {
				counted[k] = true
				count(f.Rule).changed++
			}
		}
		for i, e := range c.NewErrors {
			fmt.Fprintf(w, "   + error: %s\n", indent(e, "            "))
			count(c.newIn[i]).newErrors++
		}
		for i, e := range c.FixedErrors {
			fmt.Fprintf(w, "   - error (fixed): %s\n", indent(e, "                    "))
			count(c.fixedIn[i]).fixedErrors++
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "%d of %s change (baseline %s)\n", len(changes), funcs.Plural(total, "event", "events"), old.File)
	if becomeDups > 0 {
		fmt.Fprintf(w, "%s with the new rules' identity keys\n", funcs.Plural(becomeDups, "event becomes a duplicate", "events become duplicates"))
	}
	if stopDups > 0 {
		fmt.Fprintf(w, "%s with the new rules' identity keys\n", funcs.Plural(stopDups, "duplicate becomes an event of its own", "duplicates become events of their own"))
	}
	var order []string
	for _, r := range cur.Rules {
		order = append(order, r.Name)
	}
	for _, r := range old.Rules {
		if !containsString(order, r.Name) {
			order = append(order, r.Name)
		}
	}
	for _, name := range order {
		n := per[name]
		if n == nil {
			continue
		}
		var parts []string
		if n.started > 0 {
			parts = append(parts, "+"+funcs.Plural(n.started, "event", "events"))
		}
		if n.stopped > 0 {
			parts = append(parts, "-"+funcs.Plural(n.stopped, "event", "events"))
		}
		if n.changed > 0 {
			parts = append(parts, funcs.Plural(n.changed, "changed action", "changed actions"))
		}
		if n.newErrors > 0 {
			parts = append(parts, funcs.Plural(n.newErrors, "new error", "new errors"))
		}
		if n.fixedErrors > 0 {
			parts = append(parts, funcs.Plural(n.fixedErrors, "fixed error", "fixed errors"))
		}
		fmt.Fprintf(w, "rule %s: %s\n", name, strings.Join(parts, ", "))
	}
}
