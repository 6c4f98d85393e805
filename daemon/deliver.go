package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"path"
	"slices"
	"time"

	"github.com/hookd/hookd/actions"
	"github.com/hookd/hookd/actions/httpx"
	"github.com/hookd/hookd/engine"
	"github.com/hookd/hookd/store"
)

// deliver runs one attempt of a job and records the outcome: done,
// retried later (backoff with jitter, Retry-After honoured), or
// dead-lettered. An attempt cut short by shutdown is not recorded; the
// job stays pending and runs again after restart, with the same
// reference.
func (d *Daemon) deliver(ctx context.Context, j *store.Job) {
	snap := d.snap.Load()
	delivery := snap.rules.Delivery
	attempt := j.Attempts + 1
	call := actions.Call{Type: j.Type, Name: j.Name, Reference: j.Reference}
	if err := decodeParams(j.Params, &call.Params); err != nil {
		d.finish(j, attempt, actions.Result{Err: fmt.Errorf("stored params unreadable: %w", err), Reason: "invalid"}, delivery)
		return
	}
	actx, cancel := context.WithTimeout(ctx, delivery.Timeout)
	start := time.Now()
	res := snap.router.Do(actx, call)
	cancel()
	d.metrics.actionSeconds.WithLabelValues(j.Type).Observe(time.Since(start).Seconds())
	res = scrubResult(res, snap.secrets)
	if ctx.Err() != nil && !res.OK() {
		d.log.Info("action interrupted by shutdown; it stays pending", "action", j.Name, "event", j.EventID)
		d.queue.forget(j.ID)
		return
	}
	d.finish(j, attempt, res, delivery)
}

func (d *Daemon) finish(j *store.Job, attempt int, res actions.Result, delivery engine.Delivery) {
	ctx := context.Background()
	log := d.log.With("action", j.Name, "event", j.EventID, "attempt", attempt)
	switch {
	case res.OK():
		d.metrics.attempts.WithLabelValues(j.Type, "ok", "ok").Inc()
		if err := d.store.Done(ctx, j.ID, attempt, res.Response); err != nil {
			log.Error("record action done", "err", err)
		}
		log.Debug("action done", "response", res.Response)
		d.queue.forget(j.ID)
	case !res.Retryable || attempt >= delivery.Attempts:
		d.metrics.attempts.WithLabelValues(j.Type, "dead", res.Reason).Inc()
		d.metrics.deadLetters.WithLabelValues(j.Type, res.Reason).Inc()
		why := "permanent failure"
		if res.Retryable {
			why = fmt.Sprintf("gave up after %d attempts", attempt)
		}
		if err := d.store.Dead(ctx, j.ID, attempt, res.Reason, res.Err.Error()); err != nil {
			log.Error("record dead letter", "err", err)
		}
		log.Warn("action dead-lettered: "+why, "reason", res.Reason, "err", res.Err.Error())
		d.queue.forget(j.ID)
	default:
		wait := backoff(attempt, delivery.Backoff)
		if res.RetryAfter > wait {
			wait = res.RetryAfter
		}
		next := time.Now().Add(wait)
		d.metrics.attempts.WithLabelValues(j.Type, "retry", res.Reason).Inc()
		if err := d.store.Retry(ctx, j.ID, attempt, next, res.Reason, res.Err.Error()); err != nil {
			log.Error("record retry", "err", err)
		}
		log.Info("action failed; will retry", "reason", res.Reason, "in", wait.Round(time.Millisecond), "err", res.Err.Error())
		j.Attempts, j.NextAt, j.LastReason, j.LastError = attempt, next, res.Reason, res.Err.Error()
		d.queue.forget(j.ID)
		d.queue.push(*j)
	}
}

// backoff is the wait after the attempt-th failure: exponential from
// b.Min, capped at b.Max, with "equal jitter" (half fixed, half random)
// so that retries of many jobs spread out.
func backoff(attempt int, b engine.Backoff) time.Duration {
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
	if res.Err != nil {
		if msg := res.Err.Error(); httpx.Scrub(msg, secrets...) != msg {
			res.Err = errors.New(httpx.Scrub(msg, secrets...))
		}
	}
	return res
}

// connectionSecrets lists the secret values of the connections: tokens,
// passwords, and the Slack webhook URL with its secret path. Values too
// short to be secrets are left out so that masking them cannot mangle
// messages.
func connectionSecrets(c *actions.Connections) []string {
	var out []string
	add := func(v string) {
		if len(v) >= 6 {
			out = append(out, v)
		}
	}
	if c.Wassenger != nil {
		add(c.Wassenger.Token.Reveal())
	}
	if c.Slack != nil {
		add(c.Slack.Token.Reveal())
		if raw := c.Slack.WebhookURL.Reveal(); raw != "" {
			add(raw)
			if u, err := url.Parse(raw); err == nil {
				add(u.Path)
				add(path.Base(u.Path))
			}
		}
	}
	if c.Email != nil {
		add(c.Email.Password.Reveal())
	}
	// Longest first, so that a secret holding another is masked whole.
	slices.SortFunc(out, func(a, b string) int { return len(b) - len(a) })
	return out
}
