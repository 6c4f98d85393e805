package jetstream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/store"
)

// errVoid is the result of a command stored too late to be applied.
var errVoid = errors.New("jetstream store: the command reached the log after its publisher gave up on it, and was not applied: the sender should retry")

// startApplier starts applying the log to the model, from its start.
func (s *Store) startApplier(ctx context.Context) error {
	it, err := s.messages(ctx, 1)
	if err != nil {
		return err
	}
	go func() {
		defer close(s.stopped)
		for {
			if s.consume(ctx, it) {
				return
			}
			// Kicked: read again from the first command not applied.
			for {
				s.amu.Lock()
				next := s.applied + 1
				s.amu.Unlock()
				if it, err = s.messages(ctx, next); err == nil {
					break
				}
				s.log.Warn("jetstream store: read the log again", "stream", s.opts.Stream, "from", next, "err", err)
				t := time.NewTimer(time.Second)
				select {
				case <-ctx.Done():
					t.Stop()
					return
				case <-t.C:
				}
			}
		}
	}()
	return nil
}

// messages reads the log from seq on, in order (an ordered consumer: the
// client makes it again on another server when its server goes away).
func (s *Store) messages(ctx context.Context, seq uint64) (jetstream.MessagesContext, error) {
	cfg := jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy}
	if seq > 1 {
		cfg = jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: seq}
	}
	cons, err := s.js.OrderedConsumer(ctx, s.opts.Stream, cfg)
	if err != nil {
		return nil, s.unavailable("read the log", err)
	}
	// A short heartbeat: when the server holding the consumer dies, the
	// client notices in about two seconds and makes it again elsewhere.
	it, err := cons.Messages(jetstream.PullExpiry(10*time.Second), jetstream.PullHeartbeat(time.Second))
	if err != nil {
		return nil, s.unavailable("read the log", err)
	}
	return it, nil
}

// consume applies what it delivers until the store closes or the model
// fails (true), or until a reader waiting for the log to advance kicks
// it (false): a consumer made while a new cluster settled may deliver
// nothing, and is then made again.
func (s *Store) consume(ctx context.Context, it jetstream.MessagesContext) (stop bool) {
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
		case <-s.kick:
		case <-done:
		}
		it.Stop()
	}()
	for {
		msg, err := it.Next()
		if err != nil {
			if ctx.Err() != nil {
				return true
			}
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return false
			}
			s.log.Warn("jetstream store: read the log", "stream", s.opts.Stream, "err", err)
			continue
		}
		meta, err := msg.Metadata()
		if err != nil {
			s.log.Warn("jetstream store: a log entry without metadata", "stream", s.opts.Stream, "err", err)
			continue
		}
		seq := meta.Sequence.Stream
		s.amu.Lock()
		old := seq <= s.applied
		s.amu.Unlock()
		if old {
			continue // delivered again after a kick
		}
		var c command
		if err := json.Unmarshal(msg.Data(), &c); err != nil {
			// Every node skips it alike.
			s.log.Error("jetstream store: a log entry that is no hookd command was skipped", "stream", s.opts.Stream, "seq", seq, "err", err)
			s.advance(seq, command{}, result{})
			continue
		}
		r, err := s.apply(ctx, seq, meta.Timestamp, c)
		if err != nil {
			if ctx.Err() != nil {
				return true
			}
			s.amu.Lock()
			s.failed = fmt.Errorf("jetstream store: apply log entry %d (%s) to the read model: %w: the node stopped applying the log; fix the read model's folder and restart hookd (the log keeps everything)", seq, c.Kind, err)
			s.amu.Unlock()
			s.log.Error("jetstream store: stopped applying the log", "stream", s.opts.Stream, "seq", seq, "err", err)
			return true
		}
		s.advance(seq, c, r)
	}
}

// advance records that the command at seq is applied and hands its
// result to the caller waiting for it. Jobs of this node that no caller
// waits for (it gave up) are handed out by TakeRequeued.
func (s *Store) advance(seq uint64, c command, r result) {
	s.amu.Lock()
	defer s.amu.Unlock()
	s.applied = seq
	close(s.advanced)
	s.advanced = make(chan struct{})
	if ch, ok := s.waiters[c.ID]; ok && c.ID != "" {
		delete(s.waiters, c.ID)
		ch <- r
		return
	}
	// While Open replays the log, the daemon's PendingPage will list
	// this node's jobs; requeues are handed out either way.
	if !s.live || s.opts.Node == "" || c.Node != s.opts.Node {
		return
	}
	for _, o := range r.outcomes {
		for _, j := range o.Jobs {
			s.handoff = append(s.handoff, j.ID)
		}
	}
	for _, j := range r.swap.Jobs {
		s.handoff = append(s.handoff, j.ID)
	}
}

// apply applies one command to the model. Its error is the command's
// result (the same on every node); an error only when the model itself
// fails (it cannot write), which stops the applier.
func (s *Store) apply(ctx context.Context, seq uint64, stored time.Time, c command) (result, error) {
	s.clock.Store(c.At.UnixNano())
	if !c.Void.IsZero() && stored.After(c.Void) {
		s.log.Warn("jetstream store: a command stored after its publisher gave up was not applied (the sender was told to retry)",
			"stream", s.opts.Stream, "seq", seq, "kind", c.Kind, "late", stored.Sub(c.Void))
		return result{err: errVoid}, nil
	}
	r := s.applyKind(ctx, seq, c)
	if r.err != nil {
		if err := s.model.Writable(ctx); err != nil {
			return result{}, fmt.Errorf("%w (the model: %v)", r.err, err)
		}
	}
	return r, nil
}

// applyKind applies one command by its kind.
func (s *Store) applyKind(ctx context.Context, seq uint64, c command) result {
	var r result
	switch c.Kind {
	case kindAccept:
		return s.applyAccept(ctx, seq, c)
	case kindJobs:
		return s.applyJobs(ctx, c)
	case kindRequeue:
		return s.applyRequeue(ctx, c)
	case kindCancel:
		r.ids, r.err = s.model.Cancel(ctx, idsOrAll(c), c.Detail)
		if r.err == nil {
			s.handCancels(r.ids)
		}
	case kindDelete:
		r.n, r.err = s.model.Delete(ctx, idsOrAll(c))
		if r.err == nil {
			for _, id := range c.IDs {
				s.setOwner(id, "")
			}
		}
	case kindPrune:
		r.pruned[0], r.pruned[1], r.err = s.model.Prune(ctx, c.Before)
	case kindSwap:
		return s.applySwap(ctx, seq, c)
	case kindPruneState:
		r.pruned[0], r.pruned[1], r.err = s.model.PruneState(ctx, c.At, c.Before)
	case kindAddMute:
		r.mute, r.err = s.model.AddMute(ctx, *c.Mute)
	case kindEndMute:
		r.mute, r.err = s.model.EndMute(ctx, c.MuteID, c.By, c.At)
	default:
		s.log.Error("jetstream store: a command of an unknown kind was skipped: is a newer hookd writing to this stream?", "stream", s.opts.Stream, "seq", seq, "kind", c.Kind)
	}
	return r
}

// idsOrAll is the ids of a command, nil for all.
func idsOrAll(c command) []int64 {
	if c.All {
		return nil
	}
	if c.IDs == nil {
		return []int64{}
	}
	return c.IDs
}

// handCancels records the cancelled jobs of this node for
// TakeCancelled: its delivery may hold them queued, and the cancel may
// come from another node.
func (s *Store) handCancels(ids []int64) {
	s.amu.Lock()
	defer s.amu.Unlock()
	if !s.live || s.opts.Node == "" {
		return
	}
	for _, id := range ids {
		if s.owners[id] == s.opts.Node {
			s.cancels = append(s.cancels, id)
		}
	}
}

// setOwner records the node of a job ("" forgets it).
func (s *Store) setOwner(id int64, node string) {
	s.amu.Lock()
	defer s.amu.Unlock()
	if node == "" {
		delete(s.owners, id)
		return
	}
	s.owners[id] = node
}

// owner returns the node of a job.
func (s *Store) owner(id int64) string {
	s.amu.Lock()
	defer s.amu.Unlock()
	return s.owners[id]
}

// applyRequeue requeues dead letters; a Store with a Node takes them.
func (s *Store) applyRequeue(ctx context.Context, c command) result {
	var r result
	ids := idsOrAll(c)
	if c.All {
		dead, err := s.model.DeadLetters(ctx, 0)
		if err != nil {
			r.err = err
			return r
		}
		ids = make([]int64, len(dead))
		for i, j := range dead {
			ids[i] = j.ID
		}
		if len(ids) == 0 {
			return r
		}
	}
	r.n, r.err = s.model.Requeue(ctx, ids)
	if r.err != nil {
		return r
	}
	for _, id := range ids {
		node := c.Node
		if node == "" {
			node = s.owner(id)
		} else {
			s.setOwner(id, node)
		}
		if node != "" && node == s.opts.Node {
			s.amu.Lock()
			s.handoff = append(s.handoff, id)
			// Pending again and this node's: a cancel not yet handed
			// out would drop the job once requeued.
			s.cancels = slices.DeleteFunc(s.cancels, func(c int64) bool { return c == id })
			s.amu.Unlock()
		}
	}
	return r
}

// applyAccept stores the records of an accept command, in one
// transaction of the model: those whose event is new and whose state is
// still what their node read. A record whose event the model holds, or
// an earlier record of the command, is a duplicate; one whose state
// changed is a conflict, stored nowhere.
func (s *Store) applyAccept(ctx context.Context, seq uint64, c command) result {
	r := result{outcomes: make([]store.Outcome, len(c.Records)), conflict: make([]bool, len(c.Records))}
	v := newView(s.model, seq)
	seen := make(map[string]bool, len(c.Records))
	var recs []store.Record
	var at []int
	for i, rc := range c.Records {
		id := rc.Event.ID
		if seen[id] {
			r.outcomes[i] = store.Outcome{Duplicate: true}
			continue
		}
		seen[id] = true
		// The model tells a duplicate too, but a record with steps must
		// be known as one before its writes join the view.
		if len(rc.Steps) > 0 {
			held, err := s.model.HasEvent(ctx, id)
			if err != nil {
				r.err = err
				return r
			}
			if held {
				r.outcomes[i] = store.Outcome{Duplicate: true}
				continue
			}
		}
		steps, ok, err := s.checkSteps(ctx, v, seq, rc.Steps)
		if err != nil {
			r.err = err
			return r
		}
		if !ok {
			r.conflict[i] = true
			continue
		}
		recs = append(recs, store.Record{Event: rc.Event, Jobs: rc.Jobs, Steps: steps})
		at = append(at, i)
	}
	if len(recs) == 0 {
		return r
	}
	outs, err := s.model.Accept(ctx, recs)
	if err != nil {
		r.err = err
		return r
	}
	for k, i := range at {
		r.outcomes[i] = outs[k]
		for _, j := range outs[k].Jobs {
			s.setOwner(j.ID, c.Node)
		}
	}
	return r
}

// checkSteps compares the version of each step's state with the one its
// node read, and turns the steps into store.Steps that write what the
// node computed. ok is false on a conflict; otherwise the steps' writes
// are added to v, for the records after it.
func (s *Store) checkSteps(ctx context.Context, v *view, seq uint64, cmds []stepCmd) ([]store.Step, bool, error) {
	if len(cmds) == 0 {
		return nil, true, nil
	}
	rv := v.child()
	steps := make([]store.Step, len(cmds))
	for i, sc := range cmds {
		cur, err := rv.get(ctx, sc.Scope, sc.Key, sc.At)
		if err != nil {
			return nil, false, err
		}
		if cur.self != sc.Self || (!sc.Self && cur.version != sc.Expect) {
			return nil, false, nil
		}
		rv.put(sc, cur)
		steps[i] = s.step(seq, sc)
	}
	rv.commit()
	return steps, true, nil
}

// step is a store.Step that writes what the node computed.
func (s *Store) step(seq uint64, sc stepCmd) store.Step {
	st := store.Step{
		Rule:    sc.Rule,
		Scope:   sc.Scope,
		Key:     sc.Key,
		At:      sc.At,
		MaxKeys: sc.MaxKeys,
		Apply: func(old []byte) ([]byte, bool, time.Time) {
			if sc.Unchanged {
				return old, sc.Fire, sc.Expires
			}
			return versioned(seq, sc.Next), sc.Fire, sc.Expires
		},
		Jobs: func([]byte) ([]store.Job, []string) { return sc.Jobs, sc.Errors },
	}
	if sc.Dues {
		st.Due = func([]byte) (time.Time, bool) { return sc.Due, !sc.Due.IsZero() }
	}
	return st
}

// applySwap swaps a state if it still holds what the caller read.
func (s *Store) applySwap(ctx context.Context, seq uint64, c command) result {
	var r result
	sw := *c.Swap
	cur, ok, err := s.model.GetState(ctx, sw.Scope, sw.Key, sw.At)
	if err != nil {
		r.err = err
		return r
	}
	var stored []byte
	if ok {
		_, value := unversioned(cur.Value)
		if sw.Old == nil || !bytes.Equal(value, sw.Old) {
			return r
		}
		stored = cur.Value
	} else if sw.Old != nil {
		return r
	}
	sw.Old, sw.New = stored, versioned(seq, sw.New)
	r.swap, r.err = s.model.Swap(ctx, sw)
	for _, j := range r.swap.Jobs {
		s.setOwner(j.ID, c.Node)
	}
	return r
}
