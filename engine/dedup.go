package engine

import "github.com/hookd/hookd/event"

// Duplicate is an event of a replay whose identity key (event.Event.Key,
// with the rules file's identity section applied) an earlier event of
// the replay had: a redelivery, or an event that an identity: override
// takes for one. The daemon acknowledges such an event and runs nothing
// for it (see docs/daemon.md, "Duplicates"), and so do the replays of
// dry-run and test.
type Duplicate struct {
	// Key is the identity key the two events share.
	Key string
	// Of is the earlier event.
	Of *event.Event
	// Nth is the earlier event's place among the events the Dedup
	// checked (duplicates included), from 1.
	Nth int
}

// Dedup tells the events of a replay that the daemon would take for
// duplicates, as the store's unique index on the identity key does. The
// zero value is ready to use; a Dedup serves one rule set, since each
// computes keys with its own identity section. It is not safe for
// concurrent use.
type Dedup struct {
	// first is the first event taken in with each key, and its place.
	first map[string]Duplicate
	n     int
}

// Check sets ev.Key from rs's identity section, as Evaluate does, and
// returns the earlier event that had that key, or nil when ev is the
// first with it (it is then remembered).
// A key template that fails leaves the default key, as in the daemon;
// Evaluate reports the error.
func (d *Dedup) Check(rs *RuleSet, ev *event.Event) *Duplicate {
	rs.Identify(ev)
	d.n++
	if first, ok := d.first[ev.Key]; ok {
		return &first
	}
	if d.first == nil {
		d.first = map[string]Duplicate{}
	}
	d.first[ev.Key] = Duplicate{Key: ev.Key, Of: ev, Nth: d.n}
	return nil
}

// Identify sets ev.Key from rs's identity section, as Evaluate does, when
// it has a key template for ev's name: the key the daemon stores ev
// under. A template that fails leaves the default key, as in the daemon;
// Evaluate reports the error.
func (rs *RuleSet) Identify(ev *event.Event) {
	if _, keyed := rs.identity[ev.Name]; keyed {
		rs.withRunner(ev, func(r *runner) { _ = rs.identify(r, ev) })
	}
}

// Duplicates returns the events of the list that have the identity key
// of an earlier one in the order given (see Dedup), each with the event
// it duplicates.
func Duplicates(rs *RuleSet, events []*event.Event) map[*event.Event]*Duplicate {
	var d Dedup
	out := map[*event.Event]*Duplicate{}
	for _, ev := range events {
		if dup := d.Check(rs, ev); dup != nil {
			out[ev] = dup
		}
	}
	return out
}
