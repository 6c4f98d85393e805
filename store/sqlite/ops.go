package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/hookd/hookd/store"
)

// pruneChunk is the most rows one Prune transaction deletes, so that Prune
// never holds the write lock for long.
const pruneChunk = 500

// Accept durably stores each record's event and jobs, and returns one
// Outcome per record, in order (see store.Store). Concurrent calls share
// one commit (group commit).
func (s *Store) Accept(ctx context.Context, recs []store.Record) ([]store.Outcome, error) {
	if len(recs) == 0 {
		return nil, s.readable()
	}
	if err := store.Validate(recs); err != nil {
		return nil, err
	}
	// Encode in the caller's goroutine: the writer only runs SQL.
	now := fromMillis(millis(s.now()))
	type row struct {
		at            int64
		rules, errors string
		body          []byte
		encoding      int
	}
	rows := make([]row, len(recs))
	bufs := make([]*[]byte, len(recs))
	defer func() {
		for _, b := range bufs {
			s.bodyBufs.Put(b)
		}
	}()
	for i := range recs {
		ev := &recs[i].Event
		at := ev.ReceivedAt
		if at.IsZero() {
			at = now
		}
		rows[i] = row{at: millis(at), rules: jsonList(ev.Rules), errors: jsonList(ev.Errors)}
		bufs[i] = s.bodyBuf()
		rows[i].body, rows[i].encoding = encodeBody(bufs[i], ev.Body)
	}
	out := make([]store.Outcome, len(recs))
	err := s.write(ctx, func(w *wtx) error {
		for i := range recs {
			ev := &recs[i].Event
			res, err := w.exec(s.st.insertEvent, ev.ID, ev.Name, ev.Action,
				rows[i].body, rows[i].encoding, rows[i].at, rows[i].rules, rows[i].errors)
			if err != nil {
				return fmt.Errorf("accept event %q: %w", ev.ID, err)
			}
			if n, err := res.RowsAffected(); err != nil || n == 0 {
				// The key is stored: the insert did nothing.
				if err != nil {
					return fmt.Errorf("accept event %q: %w", ev.ID, err)
				}
				out[i] = store.Outcome{Duplicate: true}
				continue
			}
			jobs, err := s.insertJobList(w, ev.ID, recs[i].Jobs, now)
			if err != nil {
				return fmt.Errorf("accept event %q: %w", ev.ID, err)
			}
			out[i] = store.Outcome{Jobs: jobs}
			if len(recs[i].Steps) == 0 && len(ev.Muted) == 0 {
				continue
			}
			steps, more, fired, probs, err := s.applySteps(w, &recs[i], now)
			if err != nil {
				return fmt.Errorf("accept event %q: %w", ev.ID, err)
			}
			out[i].Steps = steps
			out[i].Jobs = append(out[i].Jobs, more...)
			if len(fired) > 0 || len(probs) > 0 || len(ev.Muted) > 0 {
				rules := jsonList(append(append([]string(nil), ev.Rules...), fired...))
				errs := jsonList(append(append([]string(nil), ev.Errors...), probs...))
				if _, err := w.exec(s.sst.setOutcome, rules, errs, jsonList(ev.Muted), ev.ID); err != nil {
					return fmt.Errorf("accept event %q: %w", ev.ID, err)
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// insertJobList stores the jobs of a record whose event (eventID) is new,
// or of a swap (eventID "": each job names its own). A job stored
// already (its event was pruned while the job was kept, and is now sent
// again) is returned as stored when still pending, and skipped otherwise.
func (s *Store) insertJobList(w *wtx, eventID string, list []store.Job, now time.Time) ([]store.Job, error) {
	if len(list) == 0 {
		return nil, nil
	}
	jobs := make([]store.Job, 0, len(list))
	for _, in := range list {
		if eventID != "" {
			in.EventID = eventID
		}
		j := store.Job{
			EventID:   in.EventID,
			Rule:      in.Rule,
			Index:     in.Index,
			Type:      in.Type,
			Name:      in.Name,
			Params:    in.Params,
			Reference: in.Reference,
			State:     store.StatePending,
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
			return nil, fmt.Errorf("job %s: %w", j.Name, err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			if err != nil {
				return nil, fmt.Errorf("job %s: %w", j.Name, err)
			}
			old, err := scanJob(w.queryRow(s.st.jobByKey, j.EventID, j.Rule, j.Index))
			if err != nil {
				return nil, fmt.Errorf("job %s: %w", j.Name, err)
			}
			if old.State == store.StatePending {
				jobs = append(jobs, old)
			}
			continue
		}
		if j.ID, err = res.LastInsertId(); err != nil {
			return nil, fmt.Errorf("job %s: %w", j.Name, err)
		}
		jobs = append(jobs, j)
	}
	return jobs, nil
}

// Done records that a pending job's target accepted it after attempts
// attempts, with the target's (redacted) response.
func (s *Store) Done(ctx context.Context, jobID int64, attempts int, response string) error {
	return s.update(ctx, func(w *wtx) error {
		now := millis(s.now())
		res, err := w.exec(s.st.done, attempts, response, now, jobID)
		return s.attempted(w, res, err, jobID, attempts, now, store.AttemptDone, "", response)
	})
}

// Retry records a failed attempt of a pending job that will be tried again
// at next. reason is the short failure label, lastErr the redacted error.
func (s *Store) Retry(ctx context.Context, jobID int64, attempts int, next time.Time, reason, lastErr string) error {
	return s.update(ctx, func(w *wtx) error {
		now := millis(s.now())
		res, err := w.exec(s.st.retry, attempts, millis(next), reason, lastErr, now, jobID)
		return s.attempted(w, res, err, jobID, attempts, now, store.AttemptRetry, reason, lastErr)
	})
}

// Dead turns a pending job into a dead letter after its last attempt (or a
// permanent failure).
func (s *Store) Dead(ctx context.Context, jobID int64, attempts int, reason, lastErr string) error {
	return s.update(ctx, func(w *wtx) error {
		now := millis(s.now())
		res, err := w.exec(s.st.dead, attempts, reason, lastErr, now, jobID)
		return s.attempted(w, res, err, jobID, attempts, now, store.AttemptDead, reason, lastErr)
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
	err = w.queryRow(s.st.jobState, id).Scan(&state)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w %d: it was pruned, or belongs to another store", store.ErrNotFound, id)
	}
	if err != nil {
		return err
	}
	return fmt.Errorf("%w: job %d is %s", store.ErrNotPending, id, state)
}

// PendingPage returns the first limit pending jobs, by NextAt then ID:
// what the daemon loads at start-up and as its queue drains. It runs in
// the writer, after every write queued before it (lazy job updates
// included), so a job whose Done was queued before the call is never
// returned as pending.
func (s *Store) PendingPage(ctx context.Context, limit int) ([]store.Job, error) {
	var jobs []store.Job
	err := s.unsynced(ctx, func(w *wtx) error {
		rows, err := w.query(s.st.pendingPage, limit)
		if err != nil {
			return err
		}
		jobs, err = scanJobs(rows)
		return err
	})
	if err != nil {
		return nil, err
	}
	return jobs, nil
}

// Requeue turns dead letters back into pending jobs: attempts 0, due now,
// and flagged for TakeRequeued (the daemon may be another process). ids
// nil requeues every dead letter. When some ids are not dead letters it
// requeues nothing and returns a *store.NotDeadError naming them.
func (s *Store) Requeue(ctx context.Context, ids []int64) (int, error) {
	if ids != nil && len(ids) == 0 {
		return 0, s.readable()
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
			refused, unknown, rerr := refusedIDs(w, string(list), ids, `state = 'dead'`)
			if rerr != nil {
				return rerr
			}
			if len(refused) > 0 {
				return &store.NotDeadError{IDs: refused, Unknown: unknown}
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
// handed out once. A call that finds nothing does not write.
func (s *Store) TakeRequeued(ctx context.Context) ([]store.Job, error) {
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
	var jobs []store.Job
	err = s.unsynced(ctx, func(w *wtx) error {
		jobs = nil // set, not added to: the writer may run this again
		rows, err := w.query(s.st.takeRequeued)
		if err != nil {
			return err
		}
		all, err := scanJobs(rows)
		if err != nil {
			return err
		}
		for _, j := range all {
			if j.State == store.StatePending {
				jobs = append(jobs, j)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(jobs, func(a, b store.Job) int {
		if c := a.NextAt.Compare(b.NextAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return jobs, nil
}

// Prune deletes done and dead jobs last updated before olderThan, then
// the events received before olderThan that have no pending job, in small
// transactions so that it never holds the write lock for long. It returns
// how many events and jobs it deleted.
func (s *Store) Prune(ctx context.Context, olderThan time.Time) (events, jobs int, err error) {
	cut := millis(olderThan)
	if jobs, err = s.pruneAll(ctx, s.st.pruneJobs, cut); err != nil {
		return 0, jobs, err
	}
	events, err = s.pruneAll(ctx, s.st.pruneEvents, cut)
	return events, jobs, err
}

// pruneAll runs a chunked delete until it deletes less than a chunk.
func (s *Store) pruneAll(ctx context.Context, del *sql.Stmt, cut int64) (int, error) {
	total := 0
	for {
		var n int64
		err := s.unsynced(ctx, func(w *wtx) error {
			var err error
			n, err = w.execCount(del, cut, pruneChunk)
			return err
		})
		if err != nil {
			return total, err
		}
		total += int(n)
		if n < pruneChunk {
			return total, nil
		}
	}
}
