package ruletest

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/hookd/hookd/engine"
	"github.com/hookd/hookd/engine/funcs"
	"github.com/hookd/hookd/event"
)

// Step is one event of a case's sequence (`events:`), at its time, with
// what must fire when it arrives.
type Step struct {
	Event *event.Event
	At    time.Time
	// Pos is where the step is written (repeats share it).
	Pos
	// Nth is the step's position, from 1.
	Nth      int
	Fires    []Expect
	NotFires []Expect
}

// stepKeys are the keys of an item of `events:`.
var stepKeys = []string{"event", "event_index", "at", "repeat", "every", "fires", "not_fires"}

// sequenceBase is the time of a sequence whose first event has no time
// of its own and no at:, in Unix seconds (2026-01-01T00:00:00Z).
const sequenceBase = 1767225600

// sequence decodes `events:`: a list of events, each with an optional
// time (at: an RFC 3339 time, or +10m after the previous event; without
// it the event's own time, else the previous event's), repeat:
// N copies every: a period apart (default 1m), and fires / not_fires
// checked when it arrives. The time is written into the event's created
// field, which is the event time windows, throttles and digests use.
func (d *decoder) sequence(n *yaml.Node, dir, what string) []Step {
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		d.errorf(n, "%s: events must be a list of events (each item like `- event: remove.json` with at: and fires:), found %s", what, describe(n))
		return nil
	}
	var out []Step
	var prev time.Time
	for i, item := range n.Content {
		w := fmt.Sprintf("%s: events[%d]", what, i)
		f := d.fields(item, w, stepKeys)
		e, ok := f["event"]
		if !ok {
			d.errorf(item, "%s has no `event:`: give a recorded event's path or the event inline", w)
			continue
		}
		ev := d.event(e.Value, dir, d.eventIndex(f, w), w)
		if ev == nil {
			continue
		}
		var at time.Time
		if x, ok := f["at"]; ok {
			at = d.stepTime(x.Value, prev, w)
		} else {
			base := prev
			if base.IsZero() {
				base = time.Unix(sequenceBase, 0).UTC()
			}
			at = engine.ReplayTime(ev, base) // its own time, else the previous one's
		}
		repeat, every := 1, time.Minute
		if x, ok := f["repeat"]; ok {
			if k, good := d.integer(x.Value, w+": repeat"); good && k >= 1 {
				repeat = k
			} else if good {
				d.errorf(x.Value, "%s: repeat must be at least 1", w)
			}
		}
		if x, ok := f["every"]; ok {
			p, err := engine.ParsePeriod(x.Value.Value)
			if err != nil || p <= 0 {
				d.errorf(x.Value, "%s: every must be a period such as 30s or 2m, found %s", w, describe(x.Value))
			} else {
				every = p
			}
		}
		var fires, notFires []Expect
		if x, ok := f["fires"]; ok {
			fires = d.ruleList(x.Value, w+": fires")
		}
		if x, ok := f["not_fires"]; ok {
			notFires = d.ruleList(x.Value, w+": not_fires")
		}
		for k := 0; k < repeat; k++ {
			st := Step{Event: timed(ev, at, k), At: at, Pos: posOf(item), Nth: len(out) + 1}
			if k == repeat-1 {
				st.Fires, st.NotFires = fires, notFires
			}
			out = append(out, st)
			prev = at
			at = at.Add(every)
		}
	}
	return out
}

// stepTime reads at: an RFC 3339 time, or +PERIOD after prev.
func (d *decoder) stepTime(n *yaml.Node, prev time.Time, what string) time.Time {
	s := strings.TrimSpace(n.Value)
	if rest, ok := strings.CutPrefix(s, "+"); ok {
		p, err := engine.ParsePeriod(rest)
		if err != nil || p < 0 {
			d.errorf(n, "%s: at: %q is not +PERIOD (e.g. +10m)", what, s)
			return prev
		}
		if prev.IsZero() {
			prev = time.Unix(sequenceBase, 0).UTC()
		}
		return prev.Add(p)
	}
	t, err := engine.ParseTime(s)
	if errors.Is(err, engine.ErrNoTimeZone) {
		d.errorf(n, "%s: at: %v", what, err)
		return prev
	}
	if err != nil {
		d.errorf(n, "%s: at must be a time such as 2026-03-02T10:00:00Z or +10m (after the previous event), found %s", what, describe(n))
		return prev
	}
	return t.UTC()
}

// timed returns a copy of ev whose time is at (its created field, see
// engine.WithEventTime), the k-th copy of a repeat (its id gets a
// suffix, so that each is its own event). Each step is an event of its
// own, also when it repeats an earlier step's event: the test writes
// the events, and a sequence does not take any for a redelivery.
func timed(ev *event.Event, at time.Time, k int) *event.Event {
	cp := *ev
	cp.Fields = engine.WithEventTime(ev, at)
	if raw, err := json.Marshal(cp.Fields); err == nil {
		cp.Raw = raw // what a digest keeps shows the time too
	}
	if k > 0 {
		cp.ID = fmt.Sprintf("%s#%d", ev.ID, k+1)
		cp.Key = fmt.Sprintf("%s#%d", ev.Key, k+1)
	}
	return &cp
}

// replay runs the case's sequence through the rules with fresh state:
// each step's fires and not_fires are checked as it arrives, with the
// digests and timer ticks sent since the step before. What it returns
// is what the case's own expectations check: the last step, with the
// digests sent when the events ran out.
func (r *run) replay() *view {
	c := r.c
	events := make([]*event.Event, len(c.Sequence))
	byEvent := map[*event.Event]*Step{}
	for i := range c.Sequence {
		events[i] = c.Sequence[i].Event
		byEvent[events[i]] = &c.Sequence[i]
	}
	var pending []sending
	var errs []engine.RuleError
	var last *view
	r.rs.Replay(events, engine.NewMemoryState(), func(it engine.ReplayItem) {
		r.reqs.CheckItem(it)
		switch {
		case it.Flushed != nil:
			pending = append(pending, digestSent(it.Flushed))
			errs = append(errs, it.Flushed.Errors...)
		case it.Tick != nil:
			pending = append(pending, tickSent(it.Tick))
			errs = append(errs, it.Tick.Errors...)
		case it.Result != nil:
			st := byEvent[it.Result.Event]
			v := newView(it.Result)
			v.reasons = map[string]string{}
			for _, o := range it.Outcomes {
				v.reasons[o.Rule.Name] = fmt.Sprintf("at event %d: %s", st.Nth, o.Info.Reason)
			}
			v.count(pending, fmt.Sprintf("before event %d", st.Nth), errs)
			pending, errs = nil, nil
			r.checkStep(st, v)
			last = v
		}
	})
	if last == nil {
		return newView(&engine.Result{Event: c.Event})
	}
	last.count(pending, "when the events ran out", errs)
	r.unbuildable(errs, c.Pos, "when the events ran out")
	return last
}

// sending is a digest or a timer tick that a replay sent, before it is
// counted with an event: what names it (`the digest of "g1@g.us" due at
// T`), and count how many events it collected (", with 2 events").
type sending struct {
	fired       engine.Fired
	what, count string
}

func digestSent(f *engine.Flushed) sending {
	what := "the digest"
	if f.Key != "" {
		what += fmt.Sprintf(" of %q", f.Key)
	}
	what += " due at " + f.LocalDue().Format(time.RFC3339)
	return sending{
		fired: engine.Fired{Rule: f.Rule, Actions: f.Actions},
		what:  what,
		count: ", with " + funcs.Plural(f.Count, "event", "events"),
	}
}

func tickSent(t *engine.Tick) sending {
	at := t.At
	if sc := t.Rule.Schedule; sc != nil {
		at = at.In(sc.Location())
	}
	return sending{fired: engine.Fired{Rule: t.Rule, Actions: t.Actions}, what: "the tick at " + at.Format(time.RFC3339)}
}

// count counts the digests and ticks sent (when: "before event 2") and
// their errors with the view's event.
func (v *view) count(sent []sending, when string, errs []engine.RuleError) {
	for _, s := range sent {
		v.res.AddFired(s.fired)
		v.sent = append(v.sent, Firing{Fired: s.fired, By: s.what + ", sent " + when + s.count})
	}
	v.res.Errors = append(v.res.Errors, errs...)
}

// checkStep checks the fires and not_fires of one step of a sequence,
// explaining a failure as a case's own are (see run.why), and fails the
// actions counted with the step whose request cannot be built.
func (r *run) checkStep(st *Step, v *view) {
	if st == nil {
		return
	}
	var fired []string
	for _, f := range v.res.Fired {
		fired = append(fired, f.Rule.Name)
	}
	for _, x := range st.Fires {
		if r.exists(x.Rule, x.Pos) && !contains(fired, x.Rule) {
			r.failf(x.Pos, "expected rule %q to fire at event %d (%s); fired: %s; %s", x.Rule, st.Nth, st.At.Format(time.RFC3339), orNothing(fired), r.why(v, x.Rule))
		}
	}
	for _, x := range st.NotFires {
		if r.exists(x.Rule, x.Pos) && contains(fired, x.Rule) {
			r.failf(x.Pos, "expected rule %q not to fire at event %d (%s), but it fired: %s", x.Rule, st.Nth, st.At.Format(time.RFC3339), r.why(v, x.Rule))
		}
	}
	r.unbuildable(v.res.Errors, st.Pos, fmt.Sprintf("at event %d (%s)", st.Nth, st.At.Format(time.RFC3339)))
}

// stepChecks reports whether a step of the sequence checks something.
func stepChecks(seq []Step) bool {
	for _, st := range seq {
		if len(st.Fires) > 0 || len(st.NotFires) > 0 {
			return true
		}
	}
	return false
}
