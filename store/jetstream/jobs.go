package jetstream

import (
	"context"
	"sync"
	"time"
)

const (
	// kindJobs records outcomes of jobs (Done, Retry, Dead) in one
	// command: one, or those queued with LazyJobUpdates.
	kindJobs = "jobs"
	// The kinds of a job's outcome.
	kindDone  = "done"
	kindRetry = "retry"
	kindDead  = "dead"
	// maxBatchUpdates bounds the job outcomes of one command.
	maxBatchUpdates = 512
	// flushTimeout bounds how long Close waits for queued outcomes.
	flushTimeout = 5 * time.Second
)

// jobUpdate is one Done, Retry or Dead.
type jobUpdate struct {
	Kind     string    `json:"kind"`
	JobID    int64     `json:"job"`
	Attempts int       `json:"attempts"`
	Next     time.Time `json:"next,omitzero"`
	Reason   string    `json:"reason,omitempty"`
	Detail   string    `json:"detail,omitempty"`
	// flushed, set on a marker that is no update, is closed once the
	// outcomes queued before the marker are applied (or failed).
	flushed chan struct{}
}

// update records a job's outcome: at once, or with LazyJobUpdates queued
// for a command shared with the outcomes queued meanwhile.
func (s *Store) update(ctx context.Context, u jobUpdate) error {
	if !s.opts.LazyJobUpdates {
		_, err := s.run(ctx, command{Kind: kindJobs, Jobs: []jobUpdate{u}})
		return err
	}
	if err := s.guard(); err != nil {
		return err
	}
	select {
	case s.jobQ <- u:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-s.stopped:
		return s.stoppedErr()
	}
}

// jobWorker logs queued job outcomes, as many in one command as are
// queued, until stop is closed and the queue is empty.
func (s *Store) jobWorker(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	for {
		var batch []jobUpdate
		select {
		case u := <-s.jobQ:
			batch = append(batch, u)
		case <-stop:
			select {
			case u := <-s.jobQ:
				batch = append(batch, u)
			default:
				return
			}
		}
	gather:
		for len(batch) < maxBatchUpdates {
			select {
			case u := <-s.jobQ:
				batch = append(batch, u)
			default:
				break gather
			}
		}
		updates, flushes := batch[:0:0], []chan struct{}(nil)
		for _, u := range batch {
			if u.flushed != nil {
				flushes = append(flushes, u.flushed)
			} else {
				updates = append(updates, u)
			}
		}
		if len(updates) > 0 {
			ctx, cancel := context.WithTimeout(context.Background(), s.opts.Timeout)
			if _, err := s.send(ctx, command{Kind: kindJobs, Jobs: updates}); err != nil {
				// At least once: a job whose outcome is lost runs again.
				s.log.Warn("jetstream store: record the outcomes of jobs", "jobs", len(updates), "err", err)
			}
			cancel()
		}
		for _, f := range flushes {
			close(f)
		}
	}
}

// flushJobs waits until the job outcomes queued (LazyJobUpdates) before
// it was called are applied to the model, so that a read that follows
// sees them: without it, delivery's refill could read a job that it
// has just recorded done as still pending, and run it again.
func (s *Store) flushJobs(ctx context.Context) error {
	if !s.opts.LazyJobUpdates {
		return nil
	}
	flushed := make(chan struct{})
	select {
	case s.jobQ <- jobUpdate{flushed: flushed}:
	case <-ctx.Done():
		return s.unavailable("log the queued job outcomes", ctx.Err())
	case <-s.jobDone:
		return s.stoppedErr()
	}
	select {
	case <-flushed:
		return nil
	case <-ctx.Done():
		return s.unavailable("log the queued job outcomes", ctx.Err())
	case <-s.jobDone:
		return s.stoppedErr()
	}
}

// applyJobs applies job outcomes: each job's in order, different jobs'
// at once, so that the model commits them together.
func (s *Store) applyJobs(ctx context.Context, c command) result {
	byJob := make(map[int64][]jobUpdate)
	var order []int64
	for _, u := range c.Jobs {
		if _, ok := byJob[u.JobID]; !ok {
			order = append(order, u.JobID)
		}
		byJob[u.JobID] = append(byJob[u.JobID], u)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for _, id := range order {
		wg.Go(func() {
			for _, u := range byJob[id] {
				if err := s.applyUpdate(ctx, u); err != nil {
					// Not pending any more (done elsewhere, cancelled):
					// the caller of a single update gets it; a lazy
					// update's error is logged.
					s.log.Debug("jetstream store: a job's outcome was not recorded", "job", u.JobID, "kind", u.Kind, "err", err)
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	return result{err: first}
}

// applyUpdate records one job's outcome in the model.
func (s *Store) applyUpdate(ctx context.Context, u jobUpdate) error {
	switch u.Kind {
	case kindDone:
		err := s.model.Done(ctx, u.JobID, u.Attempts, u.Detail)
		if err == nil {
			s.setOwner(u.JobID, "") // done: nobody delivers it again
		}
		return err
	case kindRetry:
		return s.model.Retry(ctx, u.JobID, u.Attempts, u.Next, u.Reason, u.Detail)
	case kindDead:
		return s.model.Dead(ctx, u.JobID, u.Attempts, u.Reason, u.Detail)
	}
	s.log.Error("jetstream store: a job outcome of an unknown kind was skipped: is a newer hookd writing to this stream?", "kind", u.Kind)
	return nil
}
