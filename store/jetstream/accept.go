package jetstream

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/hookd/hookd/store"
)

const (
	// maxConflicts bounds how often Accept computes a record again after
	// another node changed its state first.
	maxConflicts = 100
	// acceptWorkers is how many accept commands a node has in flight at
	// once; calls that arrive meanwhile share the next command.
	acceptWorkers = 2
	// maxBatchRecords bounds the records of one accept command.
	maxBatchRecords = 256
)

// acceptCall is the records of one Accept waiting for a command.
type acceptCall struct {
	recs []store.Record
	todo []int // the records to log, by index in recs
	done chan acceptDone
}

// acceptDone is what a command did with a call's records.
type acceptDone struct {
	outcomes map[int]store.Outcome // by index in recs
	again    []int                 // conflicts: compute and log again
	err      error
}

// Accept stores the records (see store.Store). Concurrent calls share a
// command (group commit): a node computes their steps on its model, logs
// them, and computes again the records whose state another node changed
// meanwhile.
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
		held, err := s.model.HasEvent(ctx, recs[i].Event.ID)
		switch {
		case err != nil:
			return nil, err
		case held:
			out[i] = store.Outcome{Duplicate: true}
		default:
			todo = append(todo, i)
		}
	}
	for try := 0; len(todo) > 0; try++ {
		if try == maxConflicts {
			s.handOff(out)
			return nil, fmt.Errorf("jetstream store: %d events met %d conflicts in a row on their rules' state: the nodes change the same keys faster than one can log; the sender should retry", len(todo), maxConflicts)
		}
		call := &acceptCall{recs: recs, todo: todo, done: make(chan acceptDone, 1)}
		select {
		case s.acceptQ <- call:
		case <-ctx.Done():
			s.handOff(out)
			return nil, ctx.Err()
		case <-s.stopped:
			return nil, s.stoppedErr()
		}
		var d acceptDone
		select {
		case d = <-call.done:
		case <-s.stopped:
			return nil, s.stoppedErr()
		case <-ctx.Done():
			// The command runs all the same: its jobs go to TakeRequeued.
			go func() { s.handOff(outcomeList((<-call.done).outcomes)) }()
			s.handOff(out)
			return nil, ctx.Err()
		}
		for i, o := range d.outcomes {
			out[i] = o
		}
		if d.err != nil {
			s.handOff(out)
			return nil, d.err
		}
		todo = d.again
	}
	return out, nil
}

// outcomeList lists the outcomes of a map.
func outcomeList(m map[int]store.Outcome) []store.Outcome {
	out := make([]store.Outcome, 0, len(m))
	for _, o := range m {
		out = append(out, o)
	}
	return out
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

// acceptWorker logs the records of waiting Accept calls, as many calls
// in one command as are waiting (up to maxBatchRecords and half the
// servers' max_payload).
func (s *Store) acceptWorker(ctx context.Context) {
	for {
		var calls []*acceptCall
		select {
		case c := <-s.acceptQ:
			calls = append(calls, c)
		case <-ctx.Done():
			return
		}
		n, size := len(calls[0].todo), callSize(calls[0])
	gather:
		for n < maxBatchRecords && size < s.opts.Conn.MaxPayload()/2 {
			select {
			case c := <-s.acceptQ:
				calls = append(calls, c)
				n, size = n+len(c.todo), size+callSize(c)
			default:
				break gather
			}
		}
		s.runAccepts(ctx, calls)
	}
}

// callSize estimates the bytes a call's records take in a command.
func callSize(c *acceptCall) int64 {
	var n int64
	for _, i := range c.todo {
		n += int64(len(c.recs[i].Event.Body)) * 4 / 3 // base64
		for _, j := range c.recs[i].Jobs {
			n += int64(len(j.Params)) * 4 / 3
		}
	}
	return n
}

// runAccepts logs the calls' records in one command and tells each call
// what became of its records.
func (s *Store) runAccepts(ctx context.Context, calls []*acceptCall) {
	var recs []store.Record
	type place struct {
		call *acceptCall
		i    int
	}
	var places []place
	for _, c := range calls {
		for _, i := range c.todo {
			recs = append(recs, c.recs[i])
			places = append(places, place{c, i})
		}
	}
	done := make(map[*acceptCall]*acceptDone, len(calls))
	for _, c := range calls {
		done[c] = &acceptDone{outcomes: make(map[int]store.Outcome)}
	}
	now := time.Now()
	// Half the wait: a command stored later is void even where the
	// stream's clock is behind this node's by up to as much.
	cmd := command{Kind: kindAccept, Node: s.opts.Node, At: now, Void: now.Add(s.opts.Timeout / 2)}
	var err error
	if cmd.Records, err = s.compute(ctx, recs); err == nil {
		var r result
		r, err = s.run(ctx, cmd)
		if err == nil {
			for k, p := range places {
				d := done[p.call]
				if r.conflict[k] {
					d.again = append(d.again, p.i)
				} else {
					d.outcomes[p.i] = r.outcomes[k]
				}
			}
		}
	}
	for _, c := range calls {
		d := done[c]
		d.err = err
		c.done <- *d
	}
}

// compute turns records into commands: each step applied to the state
// this node's model holds, with the writes of the records before it on
// top, as applying the command will see them. A record whose event an
// earlier one of the command holds is a duplicate: its steps are left
// out.
func (s *Store) compute(ctx context.Context, recs []store.Record) ([]recordCmd, error) {
	v := newView(s.model, 0)
	seen := make(map[string]bool, len(recs))
	out := make([]recordCmd, len(recs))
	for k, rec := range recs {
		rc := recordCmd{Event: rec.Event, Jobs: rec.Jobs}
		if seen[rec.Event.ID] {
			out[k] = rc
			continue
		}
		seen[rec.Event.ID] = true
		rv := v.child()
		for _, st := range rec.Steps {
			cur, err := rv.get(ctx, st.Scope, st.Key, st.At)
			if err != nil {
				return nil, err
			}
			sc := computeStep(st, cur)
			rv.put(sc, cur)
			rc.Steps = append(rc.Steps, sc)
		}
		rv.commit()
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
