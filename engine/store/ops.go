package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// pruneChunk is the most rows one Prune transaction deletes, so that Prune
// never holds the write lock for long.
const pruneChunk = 500

// Accept durably stores each record's event and jobs, and returns one
// Outcome per record, in order. A record whose event id is already stored
// (also by an earlier record of the same call, or by a call committed in
// the same batch) is a duplicate: nothing of it is written. Accept returns
// only after the transaction holding the records is committed; concurrent
// calls share one transaction (group commit). The records of one call are
// stored all or none: on error nothing of them was stored and the caller
// should answer 503 so that the sender retries.
func (s *Store) Accept(ctx context.Context, recs []Record) ([]Outcome, error) {
	if len(recs) == 0 {
		return nil, nil
	}
	if err := validate(recs); err != nil {
		return nil, err
	}
	// Encode in the caller's goroutine: the writer is the one place every
	// write goes through, so it does only the SQL.
	enc := make([]encodedEvent, len(recs))
	for i := range recs {
		e, err := encodeEvent(&recs[i].Event)
		if err != nil {
			return nil, fmt.Errorf("store: event %q: %w", recs[i].Event.ID, err)
		}
		enc[i] = e
	}
	out := make([]Outcome, len(recs))
	err := s.write(ctx, func(w *wtx) error {
		now := fromMillis(millis(s.now()))
		for i := range recs {
			o, err := s.acceptRecord(w, &recs[i], enc[i], now)
			if err != nil {
				return fmt.Errorf("accept event %q: %w", recs[i].Event.ID, err)
			}
			out[i] = o
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// encodedEvent is an event's columns as stored.
type encodedEvent struct {
	body          []byte
	rules, errors string
}

func encodeEvent(ev *Event) (encodedEvent, error) {
	rules, err := json.Marshal(nonNil(ev.Rules))
	if err != nil {
		return encodedEvent{}, err
	}
	errs, err := json.Marshal(nonNil(ev.Errors))
	if err != nil {
		return encodedEvent{}, err
	}
	return encodedEvent{body: compressBody(ev.Body), rules: string(rules), errors: string(errs)}, nil
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

// acceptRecord inserts one record's event and, unless it is a duplicate,
// its jobs.
func (s *Store) acceptRecord(w *wtx, rec *Record, enc encodedEvent, now time.Time) (Outcome, error) {
	ev := rec.Event
	received := ev.ReceivedAt
	if received.IsZero() {
		received = now
	}
	res, err := w.exec(s.st.insertEvent, ev.ID, ev.Name, ev.Action, enc.body, millis(received), enc.rules, enc.errors)
	if err != nil {
		return Outcome{}, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return Outcome{}, err
	}
	if n == 0 {
		return Outcome{Duplicate: true}, nil
	}
	jobs := make([]Job, len(rec.Jobs))
	for k, in := range rec.Jobs {
		j := Job{
			EventID:   ev.ID,
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
		res, err := w.exec(s.st.insertJob, j.EventID, j.Rule, j.Index, j.Type, j.Name, string(j.Params),
			j.Reference, millis(j.NextAt), millis(now), millis(now))
		if err != nil {
			return Outcome{}, fmt.Errorf("job %s: %w", j.Name, err)
		}
		if j.ID, err = res.LastInsertId(); err != nil {
			return Outcome{}, fmt.Errorf("job %s: %w", j.Name, err)
		}
		jobs[k] = j
	}
	return Outcome{Jobs: jobs}, nil
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

// Prune deletes done and dead jobs last updated before olderThan, then
// events received before olderThan that no job refers to any more (an
// event with a pending job, or with a job finished after olderThan, is
// kept). It deletes in small transactions so that it never holds the write
// lock for long, and returns how many events and jobs it deleted.
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
	// Events with jobs left are skipped, not deleted: a cursor on
	// (received_at, seq) keeps each chunk from scanning them again.
	curAt, curSeq := int64(math.MinInt64), int64(math.MinInt64)
	for {
		var n int
		err := s.write(ctx, func(w *wtx) error {
			rows, err := w.query(s.st.pruneEvents, cut, curAt, curSeq, pruneChunk)
			if err != nil {
				return err
			}
			defer rows.Close()
			n = 0
			for rows.Next() {
				var at, seq int64
				if err := rows.Scan(&at, &seq); err != nil {
					return err
				}
				n++
				if at > curAt || (at == curAt && seq > curSeq) {
					curAt, curSeq = at, seq
				}
			}
			return rows.Err()
		})
		if err != nil {
			return events, jobs, err
		}
		events += n
		if n < pruneChunk {
			break
		}
	}
	return events, jobs, nil
}
