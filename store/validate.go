package store

import (
	"errors"
	"fmt"
	"path"
)

// Validate rejects records that can never be stored, so that an
// implementation fails the whole Accept before anything is written: an
// event without ID, a job naming another event, or two jobs for one rule
// action.
func Validate(recs []Record) error {
	type key struct {
		rule string
		idx  int
	}
	for i, rec := range recs {
		id := rec.Event.ID
		if id == "" {
			return fmt.Errorf("store: record %d: the event has no id: set Event.ID to the event's identity key", i)
		}
		seen := make(map[key]bool, len(rec.Jobs))
		for _, j := range rec.Jobs {
			if j.EventID != "" && j.EventID != id {
				return fmt.Errorf("store: event %q: a job names event %q: leave Job.EventID empty or equal to the event's id", id, j.EventID)
			}
			k := key{j.Rule, j.Index}
			if seen[k] {
				return fmt.Errorf("store: event %q: two jobs for rule %q action %d: give each action of a rule its own index", id, j.Rule, j.Index)
			}
			seen[k] = true
		}
		for _, st := range rec.Steps {
			if st.Scope == "" || st.Apply == nil {
				return fmt.Errorf("store: event %q: a state step of rule %q has no scope or no Apply: set both", id, st.Rule)
			}
		}
	}
	return nil
}

// Check reports a malformed Name pattern, naming the pattern and the
// syntax to use.
func (q EventQuery) Check() error {
	if q.Name == "" {
		return nil
	}
	if _, err := path.Match(q.Name, ""); err != nil {
		return BadQuery(fmt.Errorf("event name pattern %q: %w: use * for any run of characters, ? for one, [abc] for a set", q.Name, err))
	}
	return nil
}

// ErrBadQuery is matched by the errors of a query a store cannot run as
// asked (a malformed pattern, a cursor it never gave): the caller's
// mistake, to be told as such (400), not the store's.
var ErrBadQuery = errors.New("store: bad query")

// BadQuery marks err as the caller's mistake: the error it returns has
// err's text and chain, and matches ErrBadQuery.
func BadQuery(err error) error { return badQueryError{err} }

type badQueryError struct{ error }

func (e badQueryError) Is(target error) bool { return target == ErrBadQuery }
func (e badQueryError) Unwrap() error        { return e.error }

// Matches reports whether an event named name passes the Name pattern
// (call Check first: a malformed pattern matches nothing).
func (q EventQuery) Matches(name string) bool {
	if q.Name == "" {
		return true
	}
	ok, _ := path.Match(q.Name, name)
	return ok
}
