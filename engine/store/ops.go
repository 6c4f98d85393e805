package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/hookd/hookd/engine/store/eventlog"
)

// pruneChunk is the most rows one Prune transaction deletes, so that Prune
// never holds the write lock for long.
const pruneChunk = 500

// Accept durably stores each record's event and jobs, and returns one
// Outcome per record, in order. A record whose event id is already stored
// (also by an earlier record of the same call, or by a call committed in
// the same batch) is a duplicate: nothing of it is written. Accept returns
// only after the records are committed; concurrent calls share one commit
// (group commit). The records of one call are stored all or none: on
// error nothing of them was stored and the caller should answer 503 so
// that the sender retries.
func (s *Store) Accept(ctx context.Context, recs []Record) ([]Outcome, error) {
	if len(recs) == 0 {
		return nil, nil
	}
	if err := validate(recs); err != nil {
		return nil, err
	}
	// Encode in the caller's goroutine: the writer is the one place every
	// write goes through, so it only copies bytes and runs SQL.
	now := fromMillis(millis(s.now()))
	a := &acceptance{recs: recs, frames: make([]eventlog.Frame, len(recs)), out: make([]Outcome, len(recs))}
	for i := range recs {
		ev := &recs[i].Event
		at := ev.ReceivedAt
		if at.IsZero() {
			at = now
		}
		a.frames[i] = eventlog.Encode(&eventlog.Record{
			ID: ev.ID, Name: ev.Name, Action: ev.Action, ReceivedAt: at,
			Rules: ev.Rules, Errors: ev.Errors, Body: ev.Body,
		})
	}
	o := &op{done: make(chan error, 1), durable: true, accept: a}
	o.apply = func(w *wtx) error {
		for i := range recs {
			if a.out[i].Duplicate || len(recs[i].Jobs) == 0 {
				continue
			}
			jobs, err := s.insertJobs(w, &recs[i], now)
			if err != nil {
				return fmt.Errorf("accept event %q: %w", recs[i].Event.ID, err)
			}
			a.out[i].Jobs = jobs
		}
		return nil
	}
	if err := s.enqueue(ctx, o); err != nil {
		return nil, err
	}
	return a.out, nil
}

// acceptance is the part of an Accept the writer handles itself: the
// events to check for duplicates and append to the event log.
type acceptance struct {
	recs   []Record
	frames []eventlog.Frame
	out    []Outcome
}

// hasJobs reports whether a record not found to be a duplicate has jobs.
func (a *acceptance) hasJobs() bool {
	for i := range a.recs {
		if !a.out[i].Duplicate && len(a.recs[i].Jobs) > 0 {
			return true
		}
	}
	return false
}

// dedup marks the records whose event is stored already, or taken by an
// earlier record of the batch (seen), as duplicates, and adds the others
// to seen.
func (s *Store) dedup(a *acceptance, seen map[string]struct{}) error {
	for i, f := range a.frames {
		id := f.ID()
		if _, ok := seen[id]; ok {
			a.out[i].Duplicate = true
			continue
		}
		stored, err := s.events.Contains(id)
		if err != nil {
			a.forget(seen, i)
			return fmt.Errorf("store %s: %w", s.dir, err)
		}
		if stored {
			a.out[i].Duplicate = true
			continue
		}
		seen[id] = struct{}{}
	}
	return nil
}

// forget undoes dedup for an acceptance that failed: the ids its first n
// records took are free for the rest of the batch. (The records after
// them were not checked: their ids may be taken by earlier operations.)
func (a *acceptance) forget(seen map[string]struct{}, n int) {
	for i, f := range a.frames {
		if i < n && !a.out[i].Duplicate {
			delete(seen, f.ID())
		}
		a.out[i] = Outcome{}
	}
}

// validate rejects records that can never be stored, before anything is
// written.
func validate(recs []Record) error {
	type key struct {
		rule string
		idx  int
	}
	for i, rec := range recs {
		id := rec.Event.ID
		if id == "" {
			return fmt.Errorf("store: record %d: the event has no id: set it (the event's id, entityId or the hash of its bytes)", i)
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
	}
	return nil
}

// insertJobs stores the jobs of a record whose event is new. A job stored
// already (its event was refused after its jobs were committed, and is
// now sent again) is returned as stored when still pending, and skipped
// otherwise.
func (s *Store) insertJobs(w *wtx, rec *Record, now time.Time) ([]Job, error) {
	jobs := make([]Job, 0, len(rec.Jobs))
	for _, in := range rec.Jobs {
		j := Job{
			EventID:   rec.Event.ID,
			Rule:      in.Rule,
			Index:     in.Index,
			Type:      in.Type,
			Name:      in.Name,
			Params:    in.Params,
			Reference: in.Reference,
			State:     StatePending,
			NextAt:    in.NextAt,
			CreatedAt: now,
			UpdatedAt: now,
		}
		if len(j.Params) == 0 {
			j.Params = []byte("{}")
		}
		if j.NextAt.IsZero() {
			j.NextAt = now
		}
		j.NextAt = fromMillis(millis(j.NextAt))
		err := w.stmt(s.st.insertJob).QueryRowContext(w.ctx, j.EventID, j.Rule, j.Index, j.Type, j.Name, string(j.Params),
			j.Reference, millis(j.NextAt), millis(now), millis(now)).Scan(&j.ID)
		if errors.Is(err, sql.ErrNoRows) {
			old, err := scanJob(w.stmt(s.st.jobByKey).QueryRowContext(w.ctx, j.EventID, j.Rule, j.Index))
			if err != nil {
				return nil, fmt.Errorf("job %s: %w", j.Name, err)
			}
			if old.State == StatePending {
				jobs = append(jobs, old)
			}
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("job %s: %w", j.Name, err)
		}
		jobs = append(jobs, j)
	}
	return jobs, nil
}

// nonNil turns a nil list into an empty one, stored as [].
func nonNil(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

// Done records that a pending job's target accepted it after attempts
// attempts, with the target's (redacted) response.
func (s *Store) Done(ctx context.Context, jobID int64, attempts int, response string) error {
	return s.update(ctx, func(w *wtx) error {
		res, err := w.exec(s.st.done, attempts, response, millis(s.now()), jobID)
		return s.changed(w, res, err, jobID)
	})
}

// Retry records a failed attempt of a pending job that will be tried again
// at next. reason is the short failure label, lastErr the redacted error.
func (s *Store) Retry(ctx context.Context, jobID int64, attempts int, next time.Time, reason, lastErr string) error {
	return s.update(ctx, func(w *wtx) error {
		res, err := w.exec(s.st.retry, attempts, millis(next), reason, lastErr, millis(s.now()), jobID)
		return s.changed(w, res, err, jobID)
	})
}

// Dead turns a pending job into a dead letter after its last attempt (or a
// permanent failure). reason is the short failure label, lastErr the
// redacted error.
func (s *Store) Dead(ctx context.Context, jobID int64, attempts int, reason, lastErr string) error {
	return s.update(ctx, func(w *wtx) error {
		res, err := w.exec(s.st.dead, attempts, reason, lastErr, millis(s.now()), jobID)
		return s.changed(w, res, err, jobID)
	})
}

// changed checks that a job update touched the job, and says why not.
func (s *Store) changed(w *wtx, res sql.Result, err error, id int64) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil || n > 0 {
		return err
	}
	var state string
	err = w.stmt(s.st.jobState).QueryRowContext(w.ctx, id).Scan(&state)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w %d: it was pruned, or belongs to another store", ErrNotFound, id)
	}
	if err != nil {
		return err
	}
	return fmt.Errorf("%w: job %d is %s", ErrNotPending, id, state)
}

// PendingPage returns the first limit unfinished jobs, by NextAt then ID:
// what the daemon loads at start-up (a job that was running when the
// process died is pending again) and as its queue drains. It runs in the
// writer, after every write queued before it (lazy job
// updates included), so a job whose Done was queued before the call is
// never returned as pending. The daemon refills its bounded in-memory
// queue with it.
func (s *Store) PendingPage(ctx context.Context, limit int) ([]Job, error) {
	var jobs []Job
	err := s.enqueue(ctx, &op{done: make(chan error, 1), apply: func(w *wtx) error {
		rows, err := w.query(s.st.pendingPage, limit)
		if err != nil {
			return err
		}
		jobs, err = scanJobs(rows)
		return err
	}})
	if err != nil {
		return nil, err
	}
	return jobs, nil
}

// Requeue turns dead letters back into pending jobs: attempts 0, due now,
// and flagged for TakeRequeued (the daemon may be another process). ids
// nil requeues every dead letter; ids that are not dead letters are
// skipped. It returns how many jobs it requeued.
func (s *Store) Requeue(ctx context.Context, ids []int64) (int, error) {
	if ids != nil && len(ids) == 0 {
		return 0, nil
	}
	var n int64
	err := s.write(ctx, func(w *wtx) error {
		now := millis(s.now())
		var (
			res sql.Result
			err error
		)
		if ids == nil {
			res, err = w.exec(s.st.requeueAll, now)
		} else {
			list, jerr := json.Marshal(ids)
			if jerr != nil {
				return jerr
			}
			res, err = w.exec(s.st.requeueIDs, now, string(list))
		}
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, err
	}
	return int(n), nil
}

// TakeRequeued returns the pending jobs flagged by Requeue since the last
// call, by NextAt then ID, and clears their flags, so each requeued job is
// handed out once (a job PendingPage also returned is queued once: the
// daemon's queue drops a job it holds already). The daemon calls it after its own
// Requeue and periodically for requeues made by another process; a call
// that finds nothing does not write.
func (s *Store) TakeRequeued(ctx context.Context) ([]Job, error) {
	if err := s.readable(); err != nil {
		return nil, err
	}
	var found bool
	err := s.r.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM jobs WHERE requeued = 1)`).Scan(&found)
	if err != nil {
		return nil, s.fail("read requeued jobs", err)
	}
	if !found {
		return nil, nil
	}
	var jobs []Job
	err = s.write(ctx, func(w *wtx) error {
		rows, err := w.query(s.st.takeRequeued)
		if err != nil {
			return err
		}
		all, err := scanJobs(rows)
		if err != nil {
			return err
		}
		for _, j := range all {
			if j.State == StatePending {
				jobs = append(jobs, j)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sortJobs(jobs)
	return jobs, nil
}

// sortJobs orders jobs by NextAt then ID.
func sortJobs(jobs []Job) {
	slices.SortFunc(jobs, func(a, b Job) int {
		if c := a.NextAt.Compare(b.NextAt); c != 0 {
			return c
		}
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
}

// Prune deletes done and dead jobs last updated before olderThan, in small
// transactions so that it never holds the write lock for long, then the
// event log's segments whose events were all received before olderThan
// (jobs keep what they need: their rendered parameters). It returns how
// many events and jobs it deleted. Prune must not run concurrently with
// itself.
func (s *Store) Prune(ctx context.Context, olderThan time.Time) (events, jobs int, err error) {
	cut := millis(olderThan)
	for {
		var n int64
		err := s.write(ctx, func(w *wtx) error {
			res, err := w.exec(s.st.pruneJobs, cut, pruneChunk)
			if err != nil {
				return err
			}
			n, err = res.RowsAffected()
			return err
		})
		if err != nil {
			return events, jobs, err
		}
		jobs += int(n)
		if n < pruneChunk {
			break
		}
	}
	// Events go a whole segment of the event log at a time: those
	// received before olderThan whose segment holds nothing newer.
	err = s.enqueue(ctx, &op{done: make(chan error, 1), logWork: func() error {
		var err error
		events, err = s.events.Prune(olderThan)
		return err
	}})
	if err != nil {
		return events, jobs, fmt.Errorf("store %s: %w", s.dir, err)
	}
	return events, jobs, nil
}
