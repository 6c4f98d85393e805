package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/hookd/hookd/actions"
	"github.com/hookd/hookd/actions/router"
	"github.com/hookd/hookd/engine"
	"github.com/hookd/hookd/engine/requests"
	"github.com/hookd/hookd/engine/ruletest"
	"github.com/hookd/hookd/event"
)

func runFire(s Streams, args []string) int {
	fs := newFlags(s, "fire", "--rules RULES --rule NAME [--force] EVENT\n       hookd fire --rules RULES --rule TIMER-RULE [--at TIME]")
	rulesPath := fs.String("rules", "", "rules file (required)")
	ruleName := fs.String("rule", "", "the rule whose actions to send (required)")
	force := fs.Bool("force", false, "send even when the rule's on/if does not match the event")
	timeout := fs.Duration("timeout", 0, "time limit for each action (default: the rules file's delivery.timeout)")
	at := fs.String("at", "", "timer rules (on: schedule): the tick to send for, RFC 3339 such as 2026-03-02T09:00:00+01:00 (default: now)")
	pos, err := parse(fs, args)
	if err != nil {
		return flagErr(err)
	}
	if *rulesPath == "" || *ruleName == "" {
		return exitUsage(s, fs, "--rules and --rule are required")
	}
	// fire sends for real: every ${ENV} secret must be set.
	rs, code := reportLoad(s, *rulesPath, ruletest.LoadFile, engine.LoadOptions{}, "; fire sends for real, so every ${ENV} secret must be set")
	if rs == nil {
		return code
	}
	rule, ok := rs.Rule(*ruleName)
	if !ok {
		fmt.Fprintf(s.Stderr, "hookd fire: no rule named %q%s\n", *ruleName, rs.SuggestRule(*ruleName))
		return 1
	}
	var (
		eventKey string
		acts     []engine.Rendered
		errs     []engine.RuleError
	)
	if rule.Timer() {
		if len(pos) != 0 {
			return exitUsage(s, fs, "rule %q is a timer rule (on: schedule): it fires on its schedule, not on an event; drop %s (--at TIME sets the tick)", rule.Name, strings.Join(pos, " "))
		}
		if *force {
			return exitUsage(s, fs, "rule %q is a timer rule (on: schedule): it has no on or if to override; drop --force", rule.Name)
		}
		tick := time.Now()
		if *at != "" {
			if tick, err = engine.ParseTime(*at); err != nil {
				if errors.Is(err, engine.ErrNoTimeZone) {
					return exitUsage(s, fs, "--at %v", err)
				}
				return exitUsage(s, fs, "--at %q: write an RFC 3339 time such as 2026-03-02T09:00:00+01:00", *at)
			}
			if note := offTick(rule.Schedule, tick); note != "" {
				fmt.Fprintln(s.Stderr, note)
			}
		}
		// The daemon's rendering of a tick; the reference is a dry-run's.
		acts, errs = rs.Tick(rule, tick)
		eventKey = requests.TickEvent(&engine.Tick{Rule: rule, At: tick}).Key
	} else {
		if *at != "" {
			return exitUsage(s, fs, "--at is for timer rules (on: schedule); rule %q fires on events, at the time of its event", rule.Name)
		}
		if len(pos) != 1 {
			return exitUsage(s, fs, "name one event file (.json or .jsonl; its first event is used)")
		}
		events, err := event.ReadFile(pos[0])
		if err != nil {
			fmt.Fprintf(s.Stderr, "hookd fire: %v\n", err)
			return 1
		}
		if len(events) == 0 {
			fmt.Fprintf(s.Stderr, "hookd fire: %s holds no event\n", pos[0])
			return 1
		}
		ev := events[0]
		if !*force && !rule.Listens(ev.Name) {
			fmt.Fprintf(s.Stderr, "hookd fire: rule %q listens to %v, not %s; pass --force to send anyway\n", rule.Name, rule.On, ev.Name)
			return 1
		}
		res, err := rs.EvaluateRule(ev, rule.Name, *force)
		if err != nil {
			fmt.Fprintf(s.Stderr, "hookd fire: %v\n", err)
			return 1
		}
		if len(res.Fired) == 0 {
			for _, e := range res.Errors {
				fmt.Fprintf(s.Stderr, "error: %v\n", e)
			}
			if len(res.Errors) == 0 {
				fmt.Fprintf(s.Stderr, "hookd fire: the condition of %q is false for this event; pass --force to send anyway\n", rule.Name)
			}
			return 1
		}
		eventKey, acts, errs = ev.Key, res.Fired[0].Actions, res.Errors
	}
	return sendFired(s, rs, *rulesPath, rule, eventKey, acts, errs, *timeout)
}

// offTick is the note fire prints when --at is not a tick of the
// schedule (it still sends for that time): the ticks around it, in the
// schedule's zone. It is "" for a tick.
func offTick(sc *engine.Schedule, at time.Time) string {
	if sc.IsTick(at) {
		return ""
	}
	var around []string
	if prev := sc.Prev(at); !prev.IsZero() {
		around = append(around, "the previous is "+prev.In(sc.Location()).Format(time.RFC3339))
	}
	if next := sc.Next(at); !next.IsZero() {
		around = append(around, "the next is "+next.In(sc.Location()).Format(time.RFC3339))
	}
	note := fmt.Sprintf("note: --at %s is not a tick of %s", at.Format(time.RFC3339), sc)
	if len(around) > 0 {
		note += ": " + strings.Join(around, ", ")
	}
	return note + "; sending as if it were one"
}

// sendFired sends the rendered actions of a rule fired for the event (or
// tick) whose identity key is eventKey, prints what each target answered
// and returns fire's exit code: 1 when an action failed or did not render.
func sendFired(s Streams, rs *engine.RuleSet, rulesPath string, rule *engine.Rule, eventKey string, acts []engine.Rendered, errs []engine.RuleError, timeout time.Duration) int {
	for _, e := range errs {
		fmt.Fprintf(s.Stderr, "error: %v\n", e)
	}
	if len(acts) == 0 && len(errs) == 0 {
		fmt.Fprintf(s.Stdout, "rule %q has no actions: nothing sent\n", rule.Name)
		return 0
	}
	// Like serve, fire sends no placeholder secret to the real services:
	// of the connections this rule's actions use.
	used := usedConnections(&rs.Connections, acts)
	if err := placeholderError(rulesPath, "to send", placeholderCredentials(&used)); err != nil {
		fmt.Fprintf(s.Stderr, "hookd fire: %v\n", err)
		return 1
	}
	if timeout <= 0 {
		timeout = rs.Delivery.Timeout
	}
	rt := router.New(&rs.Connections, router.Options{Logger: newTextLogger(s)})
	failed := len(errs) > 0
	for _, a := range acts {
		call := actions.Call{Type: a.Action.Type, Name: a.Action.Name, Params: a.Params, Reference: engine.Reference(eventKey, rule.Name, a.Action.Index)}
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		start := time.Now()
		r := rt.Do(ctx, call)
		cancel()
		took := time.Since(start).Round(time.Millisecond)
		if r.OK() {
			fmt.Fprintf(s.Stdout, "ok    %s (%s): %s\n", a.Action.Name, took, r.Response)
			continue
		}
		failed = true
		retry := "permanent: the daemon would dead-letter it"
		if r.Retryable {
			retry = "temporary: the daemon would retry"
			if r.RetryAfter > 0 {
				retry += fmt.Sprintf(" after %s", r.RetryAfter)
			}
		}
		fmt.Fprintf(s.Stdout, "FAIL  %s (%s): %v\n      %s (%s)\n", a.Action.Name, took, r.Err, retry, r.Reason)
	}
	if failed {
		return 1
	}
	return 0
}

// newTextLogger logs to stdout, where fire's log actions belong.
func newTextLogger(s Streams) *slog.Logger {
	l, _ := newLogger(Streams{Stdout: s.Stdout, Stderr: s.Stdout}, "text", "info")
	return l
}
