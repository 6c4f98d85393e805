package jetstream

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/hookd/hookd/store"
)

// Done records that a job's target accepted it.
func (s *Store) Done(ctx context.Context, jobID int64, attempts int, response string) error {
	return s.update(ctx, jobUpdate{Kind: kindDone, JobID: jobID, Attempts: attempts, Detail: response})
}

// Retry records a failed attempt of a job that is tried again at next.
func (s *Store) Retry(ctx context.Context, jobID int64, attempts int, next time.Time, reason, lastErr string) error {
	return s.update(ctx, jobUpdate{Kind: kindRetry, JobID: jobID, Attempts: attempts, Next: next, Reason: reason, Detail: lastErr})
}

// Dead turns a job into a dead letter.
func (s *Store) Dead(ctx context.Context, jobID int64, attempts int, reason, lastErr string) error {
	return s.update(ctx, jobUpdate{Kind: kindDead, JobID: jobID, Attempts: attempts, Reason: reason, Detail: lastErr})
}

// Requeue turns dead letters back into pending jobs (nil: all of them).
// A Store with a Node takes the jobs it requeues; one without leaves
// them to their node.
func (s *Store) Requeue(ctx context.Context, ids []int64) (int, error) {
	r, err := s.run(ctx, command{Kind: kindRequeue, Node: s.opts.Node, IDs: ids, All: ids == nil})
	return r.n, err
}

// TakeRequeued returns this node's jobs requeued since the last call,
// and those of its writes whose caller stopped waiting, each once. It
// first waits for the job outcomes queued before it (LazyJobUpdates):
// delivery may have run such a job already, read by a refill, and it
// must not come back as pending.
func (s *Store) TakeRequeued(ctx context.Context) ([]store.Job, error) {
	if err := s.guard(); err != nil {
		return nil, err
	}
	fctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	err := s.flushJobs(fctx)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("take requeued jobs: %w", err)
	}
	s.amu.Lock()
	ids := s.handoff
	s.handoff = nil
	s.amu.Unlock()
	var jobs []store.Job
	seen := make(map[int64]bool, len(ids))
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		j, err := s.model.Job(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			continue // deleted or pruned since
		}
		if err != nil {
			// The read model failed: hand every id out again at the
			// next call (a job read twice is queued once).
			s.amu.Lock()
			s.handoff = append(ids, s.handoff...)
			s.amu.Unlock()
			return nil, fmt.Errorf("take requeued jobs: %w", err)
		}
		if j.State == store.StatePending {
			jobs = append(jobs, j)
		}
	}
	slices.SortFunc(jobs, func(a, b store.Job) int {
		return cmp.Or(a.NextAt.Compare(b.NextAt), cmp.Compare(a.ID, b.ID))
	})
	return jobs, nil
}

// TakeCancelled returns this node's jobs cancelled since the last call,
// by any node, each once, except those requeued to this node since:
// the node's delivery drops those it holds queued (see
// delivery.CancelledJobs). A job cancelled through another node's admin
// API would otherwise still run here.
func (s *Store) TakeCancelled(_ context.Context) ([]int64, error) {
	if err := s.guard(); err != nil {
		return nil, err
	}
	s.amu.Lock()
	defer s.amu.Unlock()
	ids := s.cancels
	s.cancels = nil
	return ids, nil
}

// PendingPage returns the first limit pending jobs of this node (of
// every node for a Store without a Node), by NextAt then ID.
func (s *Store) PendingPage(ctx context.Context, limit int) ([]store.Job, error) {
	if err := s.catchUp(ctx); err != nil {
		return nil, err
	}
	if s.opts.Node == "" {
		return s.model.PendingPage(ctx, limit)
	}
	for n := limit; ; n *= 4 {
		jobs, err := s.model.PendingPage(ctx, n)
		if err != nil {
			return nil, err
		}
		mine := jobs[:0]
		for _, j := range jobs {
			if s.owner(j.ID) == s.opts.Node {
				mine = append(mine, j)
			}
		}
		if len(mine) >= limit || len(jobs) < n {
			return mine[:min(len(mine), limit)], nil
		}
	}
}

// Job returns the job with id.
func (s *Store) Job(ctx context.Context, id int64) (store.Job, error) {
	if err := s.catchUp(ctx); err != nil {
		return store.Job{}, err
	}
	return s.model.Job(ctx, id)
}

// DeadLetters returns dead jobs, most recently dead first.
func (s *Store) DeadLetters(ctx context.Context, limit int) ([]store.Job, error) {
	if err := s.catchUp(ctx); err != nil {
		return nil, err
	}
	return s.model.DeadLetters(ctx, limit)
}

// Events calls fn for each stored event q selects.
func (s *Store) Events(ctx context.Context, q store.EventQuery, fn func(store.Event) error) error {
	if err := s.catchUp(ctx); err != nil {
		return err
	}
	return s.model.Events(ctx, q, fn)
}

// Stats counts what the store holds.
func (s *Store) Stats(ctx context.Context) (store.Stats, error) {
	if err := s.catchUp(ctx); err != nil {
		return store.Stats{}, err
	}
	return s.model.Stats(ctx)
}

// Prune deletes old events and finished jobs on every node.
func (s *Store) Prune(ctx context.Context, olderThan time.Time) (events, jobs int, err error) {
	r, err := s.run(ctx, command{Kind: kindPrune, Before: olderThan})
	return r.pruned[0], r.pruned[1], err
}

// DueStates returns the states due at or before now.
func (s *Store) DueStates(ctx context.Context, scopes []string, now time.Time, limit int) ([]store.State, error) {
	if err := s.catchUp(ctx); err != nil {
		return nil, err
	}
	states, err := s.model.DueStates(ctx, scopes, now, limit)
	for i := range states {
		_, states[i].Value = unversioned(states[i].Value)
	}
	return states, err
}

// GetState returns the state of (scope, key) as of now.
func (s *Store) GetState(ctx context.Context, scope, key string, now time.Time) (store.State, bool, error) {
	if err := s.catchUp(ctx); err != nil {
		return store.State{}, false, err
	}
	st, ok, err := s.model.GetState(ctx, scope, key, now)
	_, st.Value = unversioned(st.Value)
	return st, ok, err
}

// Swap changes one state and inserts jobs if it still holds sw.Old.
func (s *Store) Swap(ctx context.Context, sw store.Swap) (store.SwapOutcome, error) {
	r, err := s.run(ctx, command{Kind: kindSwap, Node: s.opts.Node, Swap: &sw})
	return r.swap, err
}

// PruneState deletes expired states and old mutes on every node.
func (s *Store) PruneState(ctx context.Context, now, olderThan time.Time) (states, mutes int, err error) {
	r, err := s.run(ctx, command{Kind: kindPruneState, At: now, Before: olderThan})
	return r.pruned[0], r.pruned[1], err
}

// AddMute records a mute.
func (s *Store) AddMute(ctx context.Context, m store.Mute) (store.Mute, error) {
	r, err := s.run(ctx, command{Kind: kindAddMute, Mute: &m})
	return r.mute, err
}

// Mutes returns the mutes active at now (with all, also ended ones).
func (s *Store) Mutes(ctx context.Context, now time.Time, all bool) ([]store.Mute, error) {
	if err := s.catchUp(ctx); err != nil {
		return nil, err
	}
	return s.model.Mutes(ctx, now, all)
}

// EndMute ends a mute at now.
func (s *Store) EndMute(ctx context.Context, id int64, by string, now time.Time) (store.Mute, error) {
	r, err := s.run(ctx, command{Kind: kindEndMute, MuteID: id, By: by, At: now})
	return r.mute, err
}

// EventPage returns one page of events, newest first.
func (s *Store) EventPage(ctx context.Context, q store.EventPageQuery) ([]store.Event, string, error) {
	if err := s.catchUp(ctx); err != nil {
		return nil, "", err
	}
	return s.model.EventPage(ctx, q)
}

// Event returns the event with key.
func (s *Store) Event(ctx context.Context, key string) (store.Event, error) {
	if err := s.catchUp(ctx); err != nil {
		return store.Event{}, err
	}
	return s.model.Event(ctx, key)
}

// Jobs returns one page of jobs, highest id first.
func (s *Store) Jobs(ctx context.Context, q store.JobQuery) ([]store.Job, error) {
	if err := s.catchUp(ctx); err != nil {
		return nil, err
	}
	return s.model.Jobs(ctx, q)
}

// Attempts returns the recorded attempts of each job.
func (s *Store) Attempts(ctx context.Context, jobIDs []int64) (map[int64][]store.Attempt, error) {
	if err := s.catchUp(ctx); err != nil {
		return nil, err
	}
	return s.model.Attempts(ctx, jobIDs)
}

// Cancel turns pending jobs into dead letters (nil: every pending job).
func (s *Store) Cancel(ctx context.Context, ids []int64, lastErr string) ([]int64, error) {
	r, err := s.run(ctx, command{Kind: kindCancel, IDs: ids, All: ids == nil, Detail: lastErr})
	return r.ids, err
}

// Delete deletes done jobs and dead letters (nil: every dead letter).
func (s *Store) Delete(ctx context.Context, ids []int64) (int, error) {
	r, err := s.run(ctx, command{Kind: kindDelete, IDs: ids, All: ids == nil})
	return r.n, err
}

// RuleCounts counts per rule what events and jobs did since since.
func (s *Store) RuleCounts(ctx context.Context, since time.Time) (map[string]store.RuleCount, error) {
	if err := s.catchUp(ctx); err != nil {
		return nil, err
	}
	return s.model.RuleCounts(ctx, since)
}
