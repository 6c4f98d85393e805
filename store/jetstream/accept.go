package jetstream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hookd/hookd/store"
)

// maxConflicts bounds how often Accept computes a record again after
// another node changed its state first.
const maxConflicts = 100

// Accept stores the records (see store.Store): it computes their steps
// on this node's model, logs them, and computes again the records whose
// state another node changed meanwhile.
func (s *Store) Accept(ctx context.Context, recs []store.Record) ([]store.Outcome, error) {
	if err := s.guard(); err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		return nil, nil
	}
	if err := store.Validate(recs); err != nil {
		return nil, err
	}
	out := make([]store.Outcome, len(recs))
	todo := make([]int, 0, len(recs))
	for i := range recs {
		// An event the model holds is a duplicate: nothing to log.
		_, err := s.model.Event(ctx, recs[i].Event.ID)
		switch {
		case err == nil:
			out[i] = store.Outcome{Duplicate: true}
		case errors.Is(err, store.ErrNoEvent):
			todo = append(todo, i)
		default:
			return nil, err
		}
	}
	for try := 0; len(todo) > 0; try++ {
		if try == maxConflicts {
			s.handOff(out)
			return nil, fmt.Errorf("jetstream store: %d events met %d conflicts in a row on their rules' state: the nodes change the same keys faster than one can log; the sender should retry", len(todo), maxConflicts)
		}
		now := time.Now()
		// Half the wait: a command stored later is void even where the
		// stream's clock is behind this node's by up to as much.
		c := command{Kind: kindAccept, Node: s.opts.Node, At: now, Void: now.Add(s.opts.Timeout / 2)}
		var err error
		if c.Records, err = s.compute(ctx, recs, todo); err != nil {
			s.handOff(out)
			return nil, err
		}
		r, err := s.run(ctx, c)
		if err != nil {
			s.handOff(out)
			return nil, err
		}
		var again []int
		for k, i := range todo {
			if r.conflict[k] {
				again = append(again, i)
				continue
			}
			out[i] = r.outcomes[k]
		}
		todo = again
	}
	return out, nil
}

// handOff gives the jobs of records stored by a call that fails anyway
// to TakeRequeued, so that they run without waiting for a restart.
func (s *Store) handOff(out []store.Outcome) {
	s.amu.Lock()
	defer s.amu.Unlock()
	for _, o := range out {
		for _, j := range o.Jobs {
			s.handoff = append(s.handoff, j.ID)
		}
	}
}

// compute turns the records at todo into commands: each step applied to
// the state this node's model holds, with the writes of the records
// before it on top.
func (s *Store) compute(ctx context.Context, recs []store.Record, todo []int) ([]recordCmd, error) {
	v := newView(s.model, 0)
	out := make([]recordCmd, len(todo))
	for k, i := range todo {
		rec := recs[i]
		rc := recordCmd{Event: rec.Event, Jobs: rec.Jobs}
		for _, st := range rec.Steps {
			cur, err := v.get(ctx, st.Scope, st.Key, st.At)
			if err != nil {
				return nil, err
			}
			sc := computeStep(st, cur)
			v.put(sc, cur)
			rc.Steps = append(rc.Steps, sc)
		}
		out[k] = rc
	}
	return out, nil
}

// computeStep applies a step to the state cur.
func computeStep(st store.Step, cur entry) stepCmd {
	sc := stepCmd{Rule: st.Rule, Scope: st.Scope, Key: st.Key, At: st.At, MaxKeys: st.MaxKeys, Expect: cur.version, Self: cur.self}
	var old []byte
	if cur.present {
		old = cur.value
	}
	next, fire, expires := st.Apply(old)
	sc.Next, sc.Fire, sc.Expires = next, fire, expires
	if next != nil && st.Due != nil {
		sc.Dues = true
		if d, ok := st.Due(next); ok {
			sc.Due = d
		}
	}
	sc.Unchanged = cur.present && next != nil && bytes.Equal(next, old) &&
		sameMillis(expires, cur.expires) && sameMillis(sc.Due, cur.due)
	if sc.Unchanged {
		sc.Next = nil
	}
	if fire && st.Jobs != nil {
		sc.Jobs, sc.Errors = st.Jobs(next)
	}
	return sc
}

// sameMillis compares two optional times as the model stores them.
func sameMillis(a, b time.Time) bool {
	if a.IsZero() || b.IsZero() {
		return a.IsZero() == b.IsZero()
	}
	return a.UnixMilli() == b.UnixMilli()
}
