package engine

import (
	"sort"
	"time"

	"github.com/hookd/hookd/event"
)

// MemoryState keeps what rules remember in a map, for dry-run, test and
// explain, which replay events without a store. It applies steps
// exactly as the store does (see StateStep), so that a replay shows
// what the daemon would do. It is not safe for concurrent use.
type MemoryState struct {
	// states holds the state of each rule by key; one MemoryState serves
	// one rule set, so a rule stands for its scope.
	states map[*Rule]map[string]memEntry
	// own remembers the group changes the replayed actions asked for,
	// as the daemon does for the actions it sends.
	own *OwnChanges
	// known, when set, says why the event is hookd's own where own does
	// not know it: the daemon's memory, for the API's dry-run (ExplainOwn).
	known string
	// dropDuplicates makes Replay take in a duplicate as the daemon does
	// (see DropDuplicates).
	dropDuplicates bool
}

// memEntry is a key's state and when it expires (Unix milliseconds, 0
// for never): few pointers, since a replay may hold millions.
type memEntry struct {
	state   []byte
	expires int64
}

// live reports whether the entry has not expired at at.
func (e memEntry) live(at time.Time) bool { return e.expires == 0 || e.expires >= ms(at) }

// DropDuplicates makes Replay take an event whose identity key an
// earlier event of its list had as the daemon takes a redelivery: it
// evaluates nothing for it and changes no state (ReplayItem.Duplicate).
// The earlier event is the earlier in the order given, the order a
// recording keeps, not in event time: the daemon keeps the first to
// arrive. dry-run replays recordings this way; a test sequence, whose
// steps are the events a test writes, does not.
func (m *MemoryState) DropDuplicates() { m.dropDuplicates = true }

// NewMemoryState returns an empty MemoryState.
func NewMemoryState() *MemoryState {
	return &MemoryState{states: map[*Rule]map[string]memEntry{}, own: NewOwnChanges()}
}

// step replays one event at at, as the daemon takes it in: it marks the
// event as hookd's own when it is the group:update of a change an
// earlier event's actions asked for, evaluates it, applies its steps,
// and records the changes its own actions ask for.
func (m *MemoryState) step(rs *RuleSet, ev *event.Event, at time.Time) (*Result, []StepOutcome) {
	ev.Own = m.own.Recognise(ev, at)
	if ev.Own == "" {
		ev.Own = m.known
	}
	res := rs.EvaluateAt(ev, at)
	outs := m.Apply(res)
	m.own.expectFired(res, at)
	return res, outs
}

// StepOutcome is what applying one step did.
type StepOutcome struct {
	Rule *Rule
	Key  string
	At   time.Time
	Fire bool
	Info StepInfo
}

// Apply applies res.Steps in order: each rule that fires joins
// res.Fired (in file order) with its actions rendered, and its template
// errors join res.Errors. It returns what each step did, and clears
// res.Steps.
func (m *MemoryState) Apply(res *Result) []StepOutcome {
	if len(res.Steps) == 0 {
		return nil
	}
	out := make([]StepOutcome, 0, len(res.Steps))
	for i := range res.Steps {
		st := &res.Steps[i]
		keys := m.states[st.Rule]
		if keys == nil {
			keys = map[string]memEntry{}
			m.states[st.Rule] = keys
		}
		var old []byte
		if e, ok := keys[st.Key]; ok && e.live(st.At) {
			old = e.state
		}
		// Advance is what st.Apply runs; it also says why.
		next, fire, info, expires := Advance(st.Rule, old, st.At, st.Weight, st.raw)
		info.Key = st.Key
		if next == nil {
			delete(keys, st.Key)
		} else {
			e := memEntry{state: next}
			if !expires.IsZero() {
				e.expires = ms(expires)
			}
			keys[st.Key] = e
		}
		if fire {
			acts, errs := st.Render(next)
			res.AddFired(Fired{Rule: st.Rule, Actions: acts})
			res.Errors = append(res.Errors, errs...)
		}
		out = append(out, StepOutcome{Rule: st.Rule, Key: st.Key, At: st.At, Fire: fire, Info: info})
	}
	res.Steps = nil
	return out
}

// FlushDue sends the digests due at or before now (every digest with
// all), in order of due time, then file order, then key, and forgets
// them.
func (m *MemoryState) FlushDue(rs *RuleSet, now time.Time, all bool) []Flushed {
	type due struct {
		rule  *Rule
		key   string
		state []byte
		at    time.Time
	}
	var list []due
	for rule, keys := range m.states {
		if rule.Digest == nil {
			continue
		}
		for key, e := range keys {
			at, ok := DigestDue(e.state)
			if ok && (all || !at.After(now)) {
				list = append(list, due{rule, key, e.state, at})
			}
		}
	}
	sort.Slice(list, func(i, j int) bool {
		a, b := list[i], list[j]
		if !a.at.Equal(b.at) {
			return a.at.Before(b.at)
		}
		if a.rule.Line != b.rule.Line {
			return a.rule.Line < b.rule.Line
		}
		return a.key < b.key
	})
	out := make([]Flushed, 0, len(list))
	for _, d := range list {
		out = append(out, rs.Flush(d.rule, d.key, d.state))
		delete(m.states[d.rule], d.key)
	}
	return out
}

// ReplayItem is one thing a replay did: an event evaluated (Result and
// Outcomes), a digest sent (Flushed), or a timer rule's tick (Tick).
type ReplayItem struct {
	Result   *Result
	Outcomes []StepOutcome
	// Duplicate is set for an event that has the identity key of an
	// earlier one: no rule was evaluated for it (Result has no firing
	// and no error) and no state changed, as in the daemon.
	Duplicate *Duplicate
	// At is the event's time (Result only).
	At      time.Time
	Flushed *Flushed
	// AtEnd marks the digests sent because the events ran out.
	AtEnd bool
	Tick  *Tick
}

// Tick is a timer rule firing at a tick of its schedule.
type Tick struct {
	Rule    *Rule
	At      time.Time
	Actions []Rendered
	Errors  []RuleError
}

// SortByTime orders events by ReplayTime, stably. An event without a
// time of its own takes the time of the event before it in the given
// order (the first timed event's for those at the start, the Unix epoch
// when no event has one), so its place is kept. It returns the times, in
// the new order.
func SortByTime(events []*event.Event) []time.Time {
	var first time.Time
	for _, ev := range events {
		if t := ReplayTime(ev, time.Unix(0, 0)); t.Unix() != 0 {
			first = t
			break
		}
	}
	if first.IsZero() {
		first = time.Unix(0, 0).UTC()
	}
	type timed struct {
		ev *event.Event
		at time.Time
	}
	list := make([]timed, len(events))
	prev := first
	for i, ev := range events {
		prev = ReplayTime(ev, prev)
		list[i] = timed{ev, prev}
	}
	sort.SliceStable(list, func(i, j int) bool { return list[i].at.Before(list[j].at) })
	times := make([]time.Time, len(list))
	for i, t := range list {
		events[i], times[i] = t.ev, t.at
	}
	return times
}

// maxReplayTicks bounds the ticks of timer rules one replay shows.
const maxReplayTicks = 1000

// Replay runs events through rs in event-time order (it sorts them, see
// SortByTime) with state in m, as the daemon would have over the same
// events: before each event it sends the digests due by the event's time
// and fires the timer rules whose ticks passed; after the last it sends
// every digest still collecting (AtEnd). With m.DropDuplicates, an event
// with the identity key of an earlier one is a Duplicate: nothing is
// evaluated for it and no state changes. emit sees each step in order.
func (rs *RuleSet) Replay(events []*event.Event, m *MemoryState, emit func(ReplayItem)) {
	var dups map[*event.Event]*Duplicate
	if m.dropDuplicates {
		dups = Duplicates(rs, events) // in the order they arrived
	}
	times := SortByTime(events)
	timers := rs.TimerRules()
	nextTick := make([]time.Time, len(timers))
	if len(times) > 0 {
		for i, r := range timers {
			nextTick[i] = r.Schedule.Next(times[0])
		}
	}
	ticks := 0
	advance := func(now time.Time) {
		for _, f := range m.FlushDue(rs, now, false) {
			m.own.expectAll(f.Actions, f.Due)
			emit(ReplayItem{Flushed: &f})
		}
		for ticks < maxReplayTicks {
			i := -1
			for j := range timers {
				if !nextTick[j].IsZero() && !nextTick[j].After(now) && (i < 0 || nextTick[j].Before(nextTick[i])) {
					i = j
				}
			}
			if i < 0 {
				return
			}
			acts, errs := rs.Tick(timers[i], nextTick[i])
			m.own.expectAll(acts, nextTick[i])
			emit(ReplayItem{Tick: &Tick{Rule: timers[i], At: nextTick[i], Actions: acts, Errors: errs}})
			nextTick[i] = timers[i].Schedule.Next(nextTick[i])
			ticks++
		}
	}
	for i, ev := range events {
		advance(times[i])
		if dup := dups[ev]; dup != nil {
			emit(ReplayItem{Result: &Result{Event: ev}, Duplicate: dup, At: times[i]})
			continue
		}
		res, outs := m.step(rs, ev, times[i])
		emit(ReplayItem{Result: res, Outcomes: outs, At: times[i]})
	}
	for _, f := range m.FlushDue(rs, time.Time{}, true) {
		emit(ReplayItem{Flushed: &f, AtEnd: true})
	}
}

// ExplainReplayed explains ev after replaying, with fresh state, the
// events of the list that come before it in event-time order (digests
// due meanwhile are sent, as in Replay), so that a window says its count
// and a throttle when it allows the next firing; those that are
// duplicates of earlier ones in the list change nothing, as in Replay
// with DropDuplicates. It returns the explanation and how many events
// were replayed before ev; events is not reordered.
func (rs *RuleSet) ExplainReplayed(events []*event.Event, ev *event.Event) ([]RuleExplanation, int) {
	dups := Duplicates(rs, events)
	cp := append([]*event.Event(nil), events...)
	times := SortByTime(cp)
	m := NewMemoryState()
	for i, e := range cp {
		m.FlushDue(rs, times[i], false)
		if e == ev {
			return rs.ExplainIn(ev, m, times[i]), i
		}
		if dups[e] == nil {
			m.step(rs, e, times[i])
		}
	}
	return rs.ExplainIn(ev, m, time.Time{}), 0
}
