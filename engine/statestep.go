package engine

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/hookd/hookd/engine/funcs"
)

// RuleState is what a rule remembers about one key, stored as JSON. A
// window keeps the times of the events within its period, a throttle the
// time it next allows, a digest its events, their count and when it is
// due. Times are Unix milliseconds.
type RuleState struct {
	// Times are the times of the window's events within the period,
	// oldest first.
	Times []int64 `json:"times,omitempty"`
	// Fired are the times of the events that made the window fire and
	// start again (kept for the templates of that firing only).
	Fired []int64 `json:"fired,omitempty"`
	// Next is when the throttle lets the rule fire again.
	Next int64 `json:"next,omitempty"`
	// Count is how many events the digest collected (Events keeps the
	// first MaxEvents of them).
	Count  int               `json:"count,omitempty"`
	Events []json.RawMessage `json:"events,omitempty"`
	// First and Last are the times of the digest's first and last
	// events; Due is when it is flushed.
	First int64 `json:"first,omitempty"`
	Last  int64 `json:"last,omitempty"`
	Due   int64 `json:"due,omitempty"`
}

// StepInfo says what one step did, for dry-run, test and explain.
type StepInfo struct {
	// Key is the key the state is kept under (set by MemoryState).
	Key string
	// Count is the number of events in the window after this one (window
	// rules) or collected so far (digests).
	Count int
	// AtLeast is the window's threshold.
	AtLeast int
	// Throttled is set when the throttle held back a firing.
	Throttled bool
	// NextAllowed is when the throttle lets the rule fire next (zero for
	// a rule without throttle).
	NextAllowed time.Time
	// Due is when a digest is flushed, in the time zone of its schedule
	// (UTC for a digest of every:).
	Due time.Time
	// Reason says in one line why the rule fired or not, e.g. "5th
	// event within 10m of this key (at_least 5): fires".
	Reason string
}

func ms(t time.Time) int64     { return t.UnixMilli() }
func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

// Advance is the semantics of a stateful rule: given the state of one key
// (nil for none) and a matching event at time at that counts weight
// times in a window (1 without window.weight; raw is the event's JSON,
// kept by digests), it returns the new state (nil to delete it), whether
// the rule fires, what happened, and when the new state expires (the
// store may forget it then). It is pure and deterministic: the same
// arguments give the same results, so the store can retry it.
func Advance(r *Rule, old []byte, at time.Time, weight int, raw []byte) (next []byte, fire bool, info StepInfo, expires time.Time) {
	s := decodeState(old)
	now := ms(at)
	switch {
	case r.Digest != nil:
		return digestStep(r.Digest, s, at, raw)
	case r.Window != nil:
		w := r.Window
		keep := max(maxWindowTimes, w.AtLeast)
		s.Fired = nil
		s.Times = insertSorted(s.Times, now, min(weight, keep))
		latest := now // with nothing counted: an event of weight 0 alone
		if len(s.Times) > 0 {
			latest = s.Times[len(s.Times)-1]
			cut := latest - w.Within.Milliseconds()
			i := 0
			for i < len(s.Times) && s.Times[i] <= cut {
				i++
			}
			s.Times = s.Times[i:]
			if len(s.Times) > keep {
				s.Times = s.Times[len(s.Times)-keep:]
			}
		}
		info.Count, info.AtLeast = len(s.Times), w.AtLeast
		counted := windowCounted(w, info.Count, weight)
		switch {
		case weight == 0 && info.Count >= w.AtLeast:
			info.Reason = counted + ": an event that counts 0 does not fire the rule"
		case info.Count < w.AtLeast || weight == 0:
			info.Reason = counted + ", needs " + strconv.Itoa(w.AtLeast) + ": waits"
		default:
			fire = true
			info.Reason = counted + " reaches at_least " + strconv.Itoa(w.AtLeast)
			if !w.Continue {
				s.Fired, s.Times = s.Times, nil
				info.Reason += " (the window starts again)"
			}
		}
		if r.Throttle != nil && fire {
			fire = throttleStep(r.Throttle, &s, now, &info)
		}
		if fire {
			info.Reason += ": fires"
		}
		if r.Throttle != nil && !fire && s.Next > now {
			info.NextAllowed = fromMS(s.Next)
		}
		exp := latest + w.Within.Milliseconds()
		if len(s.Times) == 0 {
			exp = now
		}
		exp = max(exp, s.Next)
		if len(s.Times) == 0 && len(s.Fired) == 0 && s.Next <= now {
			return nil, fire, info, at
		}
		return encodeState(s), fire, info, fromMS(exp)
	case r.Throttle != nil:
		fire = throttleStep(r.Throttle, &s, now, &info)
		if fire {
			info.Reason = "first match of this key since the throttle allowed it: fires"
			if r.Throttle.Once {
				info.Reason = "first match of this key: fires (once per key)"
			}
		}
		return encodeState(RuleState{Next: s.Next}), fire, info, fromMS(s.Next)
	}
	return old, true, info, time.Time{}
}

// windowCounted says how many a window holds after an event that
// counted weight, for StepInfo.Reason: "3rd event within 10m of this
// key", or with window.weight "5 counted within 10m of this key (this
// event counts 2)".
func windowCounted(w *Window, count, weight int) string {
	if w.Weighted() {
		return fmt.Sprintf("%d counted within %s of this key (this event counts %d)", count, FormatPeriod(w.Within), weight)
	}
	return fmt.Sprintf("%s event within %s of this key", ordinal(count), FormatPeriod(w.Within))
}

// throttleStep lets a firing through when the throttle allows it at now,
// and then closes the throttle for the period; it says which in info.
func throttleStep(t *Throttle, s *RuleState, now int64, info *StepInfo) bool {
	if s.Next > now {
		info.Throttled = true
		info.NextAllowed = fromMS(s.Next)
		what := "throttled: fires again for this key from " + info.NextAllowed.Format(time.RFC3339)
		if t.Once {
			what = "throttled: already fired once for this key (remembered until " + info.NextAllowed.Format(time.RFC3339) + ")"
		}
		if info.Reason != "" {
			info.Reason += "; " + what
		} else {
			info.Reason = what
		}
		return false
	}
	d := t.Per
	if t.Once {
		d = t.Keep
	}
	s.Next = now + d.Milliseconds()
	info.NextAllowed = fromMS(s.Next)
	return true
}

// digestStep adds an event to a digest; a digest never fires on an event
// (see Flush).
func digestStep(d *Digest, s RuleState, at time.Time, raw []byte) ([]byte, bool, StepInfo, time.Time) {
	now := ms(at)
	if s.Count == 0 {
		s.First = now
		s.Due = ms(d.due(at))
	}
	s.Count++
	s.First, s.Last = min(s.First, now), max(s.Last, now)
	if len(s.Events) < d.MaxEvents && json.Valid(raw) {
		s.Events = append(s.Events, json.RawMessage(raw))
	}
	due := fromMS(s.Due)
	local := due
	if d.Schedule != nil {
		local = due.In(d.Schedule.spec.Location)
	}
	info := StepInfo{Count: s.Count, Due: local, Reason: fmt.Sprintf("collected, %s for this key so far, sent at %s", funcs.Plural(s.Count, "event", "events"), local.Format(time.RFC3339))}
	return encodeState(s), false, info, due.Add(d.Keep)
}

// due is when a digest whose first event is at is flushed: the end of
// the period of every: (periods start at midnight UTC), or the next
// schedule tick.
func (d *Digest) due(at time.Time) time.Time {
	if d.Schedule != nil {
		return d.Schedule.Next(at)
	}
	return at.UTC().Truncate(d.Every).Add(d.Every)
}

// DigestDue returns when a digest's state is due to be flushed, and
// false for a state that holds no digest.
func DigestDue(state []byte) (time.Time, bool) {
	s := decodeState(state)
	if s.Count == 0 {
		return time.Time{}, false
	}
	return fromMS(s.Due), true
}

// insertSorted inserts n copies of v into the sorted ts, after those
// equal to it.
func insertSorted(ts []int64, v int64, n int) []int64 {
	if n <= 0 {
		return ts
	}
	i, _ := slices.BinarySearch(ts, v)
	for i < len(ts) && ts[i] == v {
		i++
	}
	return slices.Insert(ts, i, slices.Repeat([]int64{v}, n)...)
}

// ordinal is 1st, 2nd, 3rd, 4th, ..., 11th, 12th, 13th, 21st.
func ordinal(n int) string {
	suffix := "th"
	switch {
	case n%100 >= 11 && n%100 <= 13:
	case n%10 == 1:
		suffix = "st"
	case n%10 == 2:
		suffix = "nd"
	case n%10 == 3:
		suffix = "rd"
	}
	return fmt.Sprintf("%d%s", n, suffix)
}

// FormatPeriod prints a duration as written in rules: 10m, 1h, 7d.
func FormatPeriod(d time.Duration) string {
	switch {
	case d%(24*time.Hour) == 0:
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return d.String()
}
