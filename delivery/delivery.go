// Package delivery runs the actions of accepted events. The store holds
// every job durably; delivery keeps the jobs that are due soon in memory,
// one lane per integration so that a slow or failing target holds back
// only itself, attempts each with the running rules' policy (timeout,
// attempts, backoff), and records the outcome in the store: done, retried
// later (exponential backoff with jitter, Retry-After honoured when
// longer), or dead-lettered. An attempt cut short by shutdown is not
// recorded: the job stays pending and runs again after a restart, with
// the same reference.
package delivery

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hookd/hookd/actions"
	"github.com/hookd/hookd/actions/httpx"
	"github.com/hookd/hookd/engine"
	"github.com/hookd/hookd/internal/loop"
	"github.com/hookd/hookd/store"
)

// JobStore is the part of the store that delivery uses.
type JobStore interface {
	Done(ctx context.Context, jobID int64, attempts int, response string) error
	Retry(ctx context.Context, jobID int64, attempts int, next time.Time, reason, lastErr string) error
	Dead(ctx context.Context, jobID int64, attempts int, reason, lastErr string) error
	PendingPage(ctx context.Context, limit int) ([]store.Job, error)
	TakeRequeued(ctx context.Context) ([]store.Job, error)
}

// CancelledJobs is what a store shared by several nodes offers besides
// JobStore: this node's jobs cancelled since the last call, also through
// another node's admin API, each once. A Deliverer whose store has it
// drops those it holds queued, as Cancel does, within a second.
type CancelledJobs interface {
	TakeCancelled(ctx context.Context) ([]int64, error)
}

// Policy is how jobs are attempted now; it changes with the rules file.
type Policy struct {
	// Delivery is the rules file's timeout, attempts and backoff.
	Delivery engine.Delivery
	// Action runs a job's action (the router of the connections).
	Action actions.Action
	// Secrets are masked in every outcome that is logged or stored.
	Secrets []string
}

// Metrics are delivery's Prometheus metrics; nil ones are not recorded.
type Metrics struct {
	// Attempts counts attempts by type, outcome (ok, retry, dead) and
	// reason.
	Attempts *prometheus.CounterVec
	// ActionSeconds observes each attempt's time by type.
	ActionSeconds *prometheus.HistogramVec
	// DeadLetters counts dead-lettered jobs by type and reason.
	DeadLetters *prometheus.CounterVec
}

// Config sets up a Deliverer.
type Config struct {
	Store JobStore
	// Policy returns the policy of the running rules.
	Policy func() Policy
	// Workers run per lane; MaxQueued bounds the jobs held in memory (the
	// rest wait in the store and come in as the queue drains).
	Workers, MaxQueued int
	Logger             *slog.Logger
	Metrics            Metrics
}

// Deliverer attempts jobs until it is stopped. It is safe for concurrent
// use.
type Deliverer struct {
	cfg        Config
	log        *slog.Logger
	q          *queue
	stopTaking context.CancelFunc
	stopRuns   context.CancelFunc
	// adding is read-locked from storing jobs to pushing them (Adding,
	// Added); a read of the store locks it to wait for them.
	adding sync.RWMutex
}

// New returns a Deliverer that takes no job until Start.
func New(cfg Config) *Deliverer {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	takeCtx, stopTaking := context.WithCancel(context.Background())
	runCtx, stopRuns := context.WithCancel(context.Background())
	d := &Deliverer{cfg: cfg, log: cfg.Logger, stopTaking: stopTaking, stopRuns: stopRuns}
	d.q = newQueue(takeCtx, runCtx, cfg.Workers, cfg.MaxQueued, d.deliver)
	return d
}

// Load queues the pending jobs of the store (up to MaxQueued; the rest
// come in as the queue drains) and returns how many it queued.
func (d *Deliverer) Load(ctx context.Context) (int, error) {
	pending, err := d.fromStore(func() ([]store.Job, error) { return d.cfg.Store.PendingPage(ctx, d.cfg.MaxQueued) })
	if err != nil {
		return 0, fmt.Errorf("load pending jobs: %w", err)
	}
	if len(pending) == d.cfg.MaxQueued {
		d.q.setOverflow() // more wait in the store
	}
	return len(pending), nil
}

// fromStore queues the pending jobs that read finds in the store, and
// returns them. A job can also come in by Push (its event's), and leave
// once run; so that none runs twice, it queues none that left the queue
// since the read began (the read may predate its last update), and it
// waits for the callers between Adding and Added (a job of theirs may be
// in the read: they push it first, and so it is either queued, or left,
// or dropped by a full queue and taken from the read).
func (d *Deliverer) fromStore(read func() ([]store.Job, error)) ([]store.Job, error) {
	r := d.q.startRead()
	jobs, err := read()
	if len(jobs) > 0 {
		d.waitForAdding()
	}
	d.q.endRead(r, jobs)
	return jobs, err
}

// waitForAdding returns once the callers between Adding and Added when
// it was called have called Added (new ones wait meanwhile).
func (d *Deliverer) waitForAdding() {
	d.adding.Lock()
	//lint:ignore SA2001 the empty section waits for the callers under way
	d.adding.Unlock()
}

// Adding is called before storing jobs that the caller will Push (an
// event's accept, a timer's or a digest's firing); Added is called after
// the Push, or once the jobs were not stored. A read of the store that
// brings jobs into the queue waits for the callers in between: otherwise
// it could queue and run one of their jobs before their Push queued it
// again, and it would run twice. Calls may not nest, and a caller in
// between must not call Cancel nor wait for anything that waits for a
// read of the store or a Cancel: those wait for the caller (a
// sync.RWMutex), and once one waits, so does every new Adding. The
// store call in between should be bounded by a deadline: until it
// returns, a read that found jobs, a Cancel and then every Adding wait.
func (d *Deliverer) Adding() { d.adding.RLock() }

// Added ends what Adding began.
func (d *Deliverer) Added() { d.adding.RUnlock() }

// Run refills the queue from the store as it drains and takes up dead
// letters that `hookd dlq retry` queued again, until ctx is done.
func (d *Deliverer) Run(ctx context.Context) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		d.pollRequeued(ctx)
	}()
	d.refill(ctx)
	<-done
}

// Push queues jobs the store has just accepted.
func (d *Deliverer) Push(jobs ...store.Job) { d.q.push(jobs...) }

// Depth counts the jobs held in memory.
func (d *Deliverer) Depth() int { return d.q.depth() }

// StopTaking starts no attempt from now on: jobs not yet started stay
// pending in the store.
func (d *Deliverer) StopTaking() { d.stopTaking() }

// Drain waits until the running attempts have finished, or until ctx is
// done; then it cuts them short (their jobs stay pending) and waits for
// them to return. It reports whether every attempt finished in time.
func (d *Deliverer) Drain(ctx context.Context) bool {
	d.stopTaking()
	drained := make(chan struct{})
	go func() {
		d.q.wait()
		close(drained)
	}()
	select {
	case <-drained:
		d.stopRuns()
		return true
	case <-ctx.Done():
		d.stopRuns()
		<-drained
		return false
	}
}

// deliver runs one attempt of a job and records the outcome.
func (d *Deliverer) deliver(ctx context.Context, j *store.Job) {
	policy := d.cfg.Policy()
	attempt := j.Attempts + 1
	call := actions.Call{Type: j.Type, Name: j.Name, Reference: j.Reference}
	if err := decodeParams(j.Params, &call.Params); err != nil {
		d.finish(j, attempt, actions.Result{Err: fmt.Errorf("stored params unreadable: %w", err), Reason: "invalid"}, policy.Delivery)
		return
	}
	actx, cancel := context.WithTimeout(ctx, policy.Delivery.Timeout)
	start := time.Now()
	res := policy.Action.Do(actx, call)
	cancel()
	if m := d.cfg.Metrics.ActionSeconds; m != nil {
		m.WithLabelValues(j.Type).Observe(time.Since(start).Seconds())
	}
	res = scrubResult(res, policy.Secrets)
	if ctx.Err() != nil && !res.OK() {
		d.log.Info("action interrupted by shutdown; it stays pending", "action", j.Name, "event", j.EventID)
		d.q.forget(j.ID)
		return
	}
	d.finish(j, attempt, res, policy.Delivery)
}

func (d *Deliverer) count(typ, outcome, reason string) {
	if m := d.cfg.Metrics.Attempts; m != nil {
		m.WithLabelValues(typ, outcome, reason).Inc()
	}
}

// finish records the outcome of an attempt.
func (d *Deliverer) finish(j *store.Job, attempt int, res actions.Result, policy engine.Delivery) {
	ctx := context.Background()
	log := d.log.With("action", j.Name, "event", j.EventID, "attempt", attempt)
	switch {
	case res.OK():
		d.count(j.Type, "ok", "ok")
		if err := d.cfg.Store.Done(ctx, j.ID, attempt, res.Response); err != nil {
			log.Error("record action done", "err", err)
		}
		log.Debug("action done", "response", res.Response)
		d.q.forget(j.ID)
	case !res.Retryable || attempt >= policy.Attempts:
		d.count(j.Type, "dead", res.Reason)
		if m := d.cfg.Metrics.DeadLetters; m != nil {
			m.WithLabelValues(j.Type, res.Reason).Inc()
		}
		why := "permanent failure"
		if res.Retryable {
			why = fmt.Sprintf("gave up after %d attempts", attempt)
		}
		if err := d.cfg.Store.Dead(ctx, j.ID, attempt, res.Reason, res.Err.Error()); err != nil {
			log.Error("record dead letter", "err", err)
		}
		log.Warn("action dead-lettered: "+why, "reason", res.Reason, "err", res.Err.Error())
		d.q.forget(j.ID)
	default:
		wait := Backoff(attempt, policy.Backoff)
		if res.RetryAfter > wait {
			wait = res.RetryAfter
		}
		next := time.Now().Add(wait)
		d.count(j.Type, "retry", res.Reason)
		if err := d.cfg.Store.Retry(ctx, j.ID, attempt, next, res.Reason, res.Err.Error()); err != nil {
			log.Error("record retry", "err", err)
		}
		log.Info("action failed; will retry", "reason", res.Reason, "in", wait.Round(time.Millisecond), "err", res.Err.Error())
		j.Attempts, j.NextAt, j.LastReason, j.LastError = attempt, next, res.Reason, res.Err.Error()
		d.q.again(*j)
	}
}

// Backoff is the wait after the attempt-th failure: exponential from
// b.Min, capped at b.Max, with "equal jitter" (half fixed, half random)
// so that retries of many jobs spread out.
func Backoff(attempt int, b engine.Backoff) time.Duration {
	d := b.Min
	for i := 1; i < attempt && d < b.Max; i++ {
		d *= 2
	}
	if d > b.Max {
		d = b.Max
	}
	half := d / 2
	return half + time.Duration(rand.Int64N(int64(half)+1))
}

func decodeParams(data []byte, dst *map[string]any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return dec.Decode(dst)
}

// scrubResult masks the connections' secrets in what an integration
// reported, in case a target echoed one back (e.g. an SMTP server quoting
// the password in its error) and the integration did not mask it.
func scrubResult(res actions.Result, secrets []string) actions.Result {
	res.Response = httpx.Scrub(res.Response, secrets...)
	res.Err = httpx.ScrubError(res.Err, secrets...)
	return res
}

// refill brings jobs that wait in the store only (the in-memory queue was
// full) into the queue as it drains. It runs once at most half the
// queue is taken, and reads MaxQueued jobs: at most the queued ones are
// among them, so the rest fill the room.
func (d *Deliverer) refill(ctx context.Context) {
	loop.Every(ctx, 100*time.Millisecond, false, func() {
		if !d.q.claimRefill() {
			return
		}
		jobs, err := d.fromStore(func() ([]store.Job, error) { return d.cfg.Store.PendingPage(ctx, d.cfg.MaxQueued) })
		if err != nil {
			d.q.setOverflow()
			if ctx.Err() == nil {
				d.log.Warn("refill the action queue from the store", "err", err)
			}
			return
		}
		if len(jobs) == d.cfg.MaxQueued {
			d.q.setOverflow() // there may be more
		}
	})
}

// pollRequeued picks up dead letters that `hookd dlq retry` put back,
// possibly from another process, and, when the store has them
// (CancelledJobs), jobs cancelled by another node, first: a job
// cancelled and then requeued runs.
func (d *Deliverer) pollRequeued(ctx context.Context) {
	cancels, _ := d.cfg.Store.(CancelledJobs)
	loop.Every(ctx, time.Second, false, func() {
		if cancels != nil {
			ids, err := cancels.TakeCancelled(ctx)
			if err != nil && ctx.Err() == nil {
				d.log.Warn("check for jobs cancelled by another node", "err", err)
			}
			d.Cancel(ids...)
		}
		jobs, err := d.fromStore(func() ([]store.Job, error) { return d.cfg.Store.TakeRequeued(ctx) })
		if err != nil {
			if ctx.Err() == nil {
				d.log.Warn("check for retried dead letters", "err", err)
			}
			return
		}
		if len(jobs) > 0 {
			d.log.Info("dead letters queued again", "jobs", len(jobs))
		}
	})
}
