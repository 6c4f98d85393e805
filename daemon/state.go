package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/hookd/hookd/engine"
	"github.com/hookd/hookd/internal/loop"
	"github.com/hookd/hookd/store"
)

// DefaultTickEvery is how often the daemon looks for due digests and
// timer rules (Config.TickEvery).
const DefaultTickEvery = time.Second

// dueBatch bounds the digests flushed per tick.
const dueBatch = 100

// jobsFor turns the rendered actions of a rule into jobs of the event (or
// digest or tick) eventID, and the errors to record with them. The jobs
// are due at once (the store's clock).
func jobsFor(eventID, rule string, acts []engine.Rendered, errs []engine.RuleError) ([]store.Job, []string) {
	var (
		jobs  []store.Job
		probs []string
	)
	for _, a := range acts {
		params, err := json.Marshal(a.Params)
		if err != nil {
			probs = append(probs, fmt.Sprintf("action %s: params: %v", a.Action.Name, err))
			continue
		}
		jobs = append(jobs, store.Job{
			EventID: eventID, Rule: rule, Index: a.Action.Index, Type: a.Action.Type, Name: a.Action.Name,
			Params: params, Reference: engine.Reference(eventID, rule, a.Action.Index),
		})
	}
	for _, e := range errs {
		probs = append(probs, e.Error())
	}
	return jobs, probs
}

// stateStep turns an engine step into a store step: the store applies
// it in the transaction that stores the event, only for a new event.
func stateStep(eventID string, st engine.StateStep, maxKeys int) store.Step {
	out := store.Step{
		Rule: st.Rule.Name, Scope: st.Rule.Scope(), Key: st.Key, At: st.At, Apply: st.Apply, MaxKeys: maxKeys,
		Jobs: func(state []byte) ([]store.Job, []string) {
			acts, errs := st.Render(state)
			return jobsFor(eventID, st.Rule.Name, acts, errs)
		},
	}
	if st.Rule.Digest != nil {
		out.Due = engine.DigestDue
	}
	return out
}

// muteSet is the mutes in force, by rule and key ("" for every key).
type muteSet map[string]map[string]time.Time

// muted reports whether rule (or its key) is muted at now.
func (m muteSet) muted(rule, key string, now time.Time) bool {
	_, _, ok := m.mute(rule, key, now)
	return ok
}

// mute returns the mute of rule (or its key) in force at now: when it
// ends and the key it mutes ("" for the whole rule, which comes first);
// ok is false when there is none.
func (m muteSet) mute(rule, key string, now time.Time) (until time.Time, mutedKey string, ok bool) {
	keys := m[rule]
	if keys == nil {
		return time.Time{}, "", false
	}
	if until, ok := keys[""]; ok && now.Before(until) {
		return until, "", true
	}
	if until, ok := keys[key]; key != "" && ok && now.Before(until) {
		return until, key, true
	}
	return time.Time{}, "", false
}

// refreshMutes reads the mutes in force from the store: those made by
// the API and by `hookd mute` in another process. Refreshes take turns,
// so the scheduler's, begun before an API change, cannot put back what
// the API's own refresh after the change replaced (a deleted mute held
// for one more tick, a new one missed for one).
func (d *Daemon) refreshMutes(ctx context.Context) {
	d.muteRefresh.Lock()
	defer d.muteRefresh.Unlock()
	now := d.now()
	list, err := d.store.Mutes(ctx, now, false)
	if err != nil {
		if ctx.Err() == nil {
			d.log.Warn("read mutes; the mutes read before stay in force", "err", err)
		}
		return
	}
	m := muteSet{}
	for _, mu := range list {
		if m[mu.Rule] == nil {
			m[mu.Rule] = map[string]time.Time{}
		}
		if mu.Until.After(m[mu.Rule][mu.Key]) {
			m[mu.Rule][mu.Key] = mu.Until
		}
	}
	d.mutes.Store(&m)
}

// mutedNow returns the mutes in force.
func (d *Daemon) mutedNow() muteSet {
	if m := d.mutes.Load(); m != nil {
		return *m
	}
	return nil
}

// scheduler flushes due digests, fires timer rules and reads the mutes,
// every TickEvery until ctx is done.
func (d *Daemon) scheduler(ctx context.Context) {
	next := map[string]time.Time{} // timer scope -> when to look again
	loop.Every(ctx, d.cfg.TickEvery, true, func() {
		d.refreshMutes(ctx)
		now := d.now()
		d.flushDigests(ctx, now)
		d.fireTimers(ctx, now, next)
	})
}

// FlushDigests sends the digests due now, as the next tick would, for a
// caller that has just posted events and wants their digests without
// waiting for it (hookd demo). It is safe with the ticks running: each
// digest is sent once (see flushDigests).
func (d *Daemon) FlushDigests(ctx context.Context) { d.flushDigests(ctx, d.now()) }

// flushDigests sends the digests due at now: each in one store
// transaction that deletes the digest only if it still holds what was
// read (else the next tick reads it again, with the events collected
// meanwhile) and queues its actions.
func (d *Daemon) flushDigests(ctx context.Context, now time.Time) {
	snap := d.snap.Load()
	mutes := d.mutedNow()
	var scopes []string
	byScope := map[string]*engine.Rule{}
	for _, r := range snap.rules.Rules {
		if r.Digest != nil && !mutes.muted(r.Name, "", now) {
			scopes = append(scopes, r.Scope())
			byScope[r.Scope()] = r
		}
	}
	if len(scopes) == 0 {
		return
	}
	due, err := d.store.DueStates(ctx, scopes, now, dueBatch)
	if err != nil {
		if ctx.Err() == nil {
			d.log.Warn("read due digests; trying again at the next tick", "err", err)
		}
		return
	}
	for _, st := range due {
		rule := byScope[st.Scope]
		if rule == nil || mutes.muted(rule.Name, st.Key, now) {
			continue // muted: sent once the mute ends
		}
		f := snap.rules.Flush(rule, st.Key, st.Value)
		jobs, probs := jobsFor(store.DigestEventID(st.Scope, st.Key, f.Due, st.Value), rule.Name, f.Actions, f.Errors)
		out, err := d.swapAndPush(ctx, store.Swap{Scope: st.Scope, Key: st.Key, At: now, Old: st.Value, Jobs: jobs})
		if err != nil {
			if ctx.Err() == nil {
				d.log.Warn("flush digest; trying again at the next tick", "rule", rule.Name, "key", st.Key, "err", err)
			}
			return
		}
		if !out.Swapped {
			continue // an event came in meanwhile: the next tick sends it too
		}
		d.metrics.digests.WithLabelValues(rule.Name).Inc()
		d.metrics.ruleMatches.WithLabelValues(rule.Name).Inc()
		for _, p := range probs {
			d.metrics.ruleErrors.WithLabelValues(rule.Name).Inc()
			d.log.Warn("digest action failed to render", "rule", rule.Name, "key", st.Key, "err", p)
		}
		d.log.Info("digest sent", "rule", rule.Name, "key", st.Key, "events", f.Count, "due", f.Due, "jobs", len(out.Jobs))
	}
}

// fireTimers fires the timer rules whose tick passed. The last tick of
// each is kept in the store and claimed with a compare-and-set together
// with the tick's jobs, so a tick fires once, and after downtime a
// schedule fires once for all the ticks it missed. A rule seen for the
// first time starts counting from now. next remembers per rule when to
// look again.
func (d *Daemon) fireTimers(ctx context.Context, now time.Time, next map[string]time.Time) {
	snap := d.snap.Load()
	for _, r := range snap.rules.TimerRules() {
		scope := r.TimerScope()
		if at, ok := next[scope]; ok && now.Before(at) {
			continue
		}
		st, ok, err := d.store.GetState(ctx, scope, "", now)
		if err != nil {
			if ctx.Err() == nil {
				d.log.Warn("read the last tick of a timer rule; trying again at the next tick", "rule", r.Name, "err", err)
			}
			return
		}
		upcoming := r.Schedule.Next(now)
		sw := store.Swap{Scope: scope, At: now, Expires: upcoming.Add(engine.DefaultKeep)}
		if !ok {
			sw.New = []byte(strconv.FormatInt(now.UnixMilli(), 10))
			if _, err := d.store.Swap(ctx, sw); err != nil {
				d.log.Warn("record the start of a timer rule", "rule", r.Name, "err", err)
				return
			}
			next[scope] = upcoming
			continue
		}
		ms, _ := strconv.ParseInt(string(st.Value), 10, 64)
		last := time.UnixMilli(ms)
		fire, after := r.Schedule.Due(last, now)
		if !fire {
			next[scope] = after
			continue
		}
		tick := latestTick(r.Schedule, last, now)
		sw.Old, sw.New = st.Value, []byte(strconv.FormatInt(tick.UnixMilli(), 10))
		muted := d.mutedNow().muted(r.Name, "", now)
		var probs []string
		if !muted {
			acts, errs := snap.rules.Tick(r, tick)
			sw.Jobs, probs = jobsFor(store.TickEventID(scope, tick), r.Name, acts, errs)
		}
		out, err := d.swapAndPush(ctx, sw)
		if err != nil {
			if ctx.Err() == nil {
				d.log.Warn("fire a timer rule; trying again at the next tick", "rule", r.Name, "err", err)
			}
			return
		}
		next[scope] = after
		if !out.Swapped {
			continue
		}
		if muted {
			d.metrics.muted.WithLabelValues(r.Name).Inc()
			d.log.Info("timer rule muted at its tick", "rule", r.Name, "tick", tick)
			continue
		}
		d.metrics.ticks.WithLabelValues(r.Name).Inc()
		d.metrics.ruleMatches.WithLabelValues(r.Name).Inc()
		for _, p := range probs {
			d.metrics.ruleErrors.WithLabelValues(r.Name).Inc()
			d.log.Warn("timer action failed to render", "rule", r.Name, "err", p)
		}
		d.log.Info("timer rule fired", "rule", r.Name, "tick", tick, "jobs", len(out.Jobs))
	}
}

// swapAndPush swaps a state's value with sw and queues the jobs it
// stored, if it swapped; a refill of the queue waits for it (see
// delivery.Deliverer.Adding).
func (d *Daemon) swapAndPush(ctx context.Context, sw store.Swap) (store.SwapOutcome, error) {
	d.delivery.Adding()
	defer d.delivery.Added()
	out, err := d.store.Swap(ctx, sw)
	if err == nil && out.Swapped {
		d.delivery.Push(out.Jobs...)
	}
	return out, err
}

// maxTickSteps bounds the walk to the latest missed tick (a per-minute
// schedule after a week down is about 10,000 steps).
const maxTickSteps = 100_000

// latestTick is the last tick of s after last and at or before now.
func latestTick(s *engine.Schedule, last, now time.Time) time.Time {
	tick := s.Next(last)
	for range maxTickSteps {
		n := s.Next(tick)
		if n.IsZero() || n.After(now) {
			break
		}
		tick = n
	}
	return tick
}

// lateDelivery is how long after its expiry a state is kept: a sender
// may deliver an event late (Wassenger retries for about a day), and a
// state is judged expired at the event's own time.
const lateDelivery = 24 * time.Hour

// pruneState deletes the state that expired over lateDelivery ago and
// the mutes that ended over a retention ago.
func (d *Daemon) pruneState(ctx context.Context) {
	now := d.now()
	states, mutes, err := d.store.PruneState(ctx, now.Add(-lateDelivery), now.Add(-d.cfg.Retention))
	switch {
	case err != nil && ctx.Err() == nil:
		d.log.Warn("prune expired state", "err", err)
	case states+mutes > 0:
		d.log.Info("pruned expired state and ended mutes", "states", states, "mutes", mutes)
	}
}
