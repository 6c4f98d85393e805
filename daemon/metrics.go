package daemon

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/hookd/hookd/engine/eventschema"
	"github.com/hookd/hookd/store/sqlite"
)

// metrics are the daemon's Prometheus metrics, registered on a registry
// of its own so that several daemons can run in one process (tests).
type metrics struct {
	registry      *prometheus.Registry
	events        *prometheus.CounterVec
	duplicates    prometheus.Counter
	rejected      *prometheus.CounterVec
	intakeSeconds prometheus.Histogram
	ruleMatches   *prometheus.CounterVec
	ruleErrors    *prometheus.CounterVec
	attempts      *prometheus.CounterVec
	actionSeconds *prometheus.HistogramVec
	deadLetters   *prometheus.CounterVec
	reloads       *prometheus.CounterVec
	reloadOK      prometheus.Gauge
	reloadTime    prometheus.Gauge
	rulesLoaded   prometheus.Gauge
	storeCommits  prometheus.CounterFunc
	muted         *prometheus.CounterVec
	stateCapped   *prometheus.CounterVec
	digests       *prometheus.CounterVec
	ticks         *prometheus.CounterVec
}

func newMetrics(d *Daemon) *metrics {
	r := prometheus.NewRegistry()
	m := &metrics{
		registry: r,
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hookd_events_total", Help: "Events accepted and stored, by event name and group action.",
		}, []string{"event", "action"}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hookd_events_duplicate_total", Help: "Events received again (same id): acknowledged, nothing run.",
		}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hookd_intake_rejected_total", Help: "Webhook requests refused, by reason.",
		}, []string{"reason"}),
		intakeSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "hookd_intake_duration_seconds", Help: "Time from request to reply for accepted webhooks (includes the durable commit).",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 5},
		}),
		ruleMatches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hookd_rule_matches_total", Help: "Times a rule fired: events that fired it, digests it sent, ticks of a timer rule.",
		}, []string{"rule"}),
		ruleErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hookd_rule_errors_total", Help: "Conditions or templates that failed at run time, by rule.",
		}, []string{"rule"}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hookd_action_attempts_total", Help: "Action attempts by type, outcome (ok, retry, dead) and reason.",
		}, []string{"type", "outcome", "reason"}),
		actionSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "hookd_action_duration_seconds", Help: "Duration of one action attempt, by type.",
			Buckets: prometheus.DefBuckets,
		}, []string{"type"}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hookd_dead_letters_total", Help: "Actions dead-lettered after their last attempt or a permanent failure.",
		}, []string{"type", "reason"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hookd_rules_reloads_total", Help: "Rules file reloads by result (ok, error).",
		}, []string{"result"}),
		reloadOK: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "hookd_rules_last_reload_success", Help: "1 if the last reload of the rules file succeeded, 0 if the running rules are older than the file.",
		}),
		reloadTime: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "hookd_rules_last_reload_timestamp_seconds", Help: "When the rules file was last loaded successfully.",
		}),
		rulesLoaded: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "hookd_rules_loaded", Help: "Rules in the running rule set.",
		}),
		muted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hookd_rule_muted_total", Help: "Matches of a muted rule (recorded on the event, nothing run), and muted timer ticks, by rule.",
		}, []string{"rule"}),
		stateCapped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hookd_state_keys_capped_total", Help: "Events whose new state key a rule refused because it holds --max-state-keys keys already, by rule.",
		}, []string{"rule"}),
		digests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hookd_digests_sent_total", Help: "Digests flushed (their actions queued), by rule.",
		}, []string{"rule"}),
		ticks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hookd_schedule_ticks_total", Help: "Ticks of timer rules (on: schedule) that fired, by rule; once after downtime however many were missed.",
		}, []string{"rule"}),
	}
	m.storeCommits = prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "hookd_store_commits_total", Help: "Store transactions committed (group commits).",
	}, func() float64 {
		if c, ok := d.store.(interface{ Counters() sqlite.Counters }); ok {
			return float64(c.Counters().Commits)
		}
		return 0
	})
	storeWritable := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "hookd_store_writable", Help: "1 while the store accepts writes, 0 while they fail (intake then answers 503).",
	}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if d.store.Writable(ctx) != nil {
			return 0
		}
		return 1
	})
	disagree := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "hookd_cluster_nodes_other_rules", Help: "Nodes of the cluster that run another version of the rules than this node (0 when all agree, and for one node; -1 when the cluster cannot be asked).",
	}, func() float64 {
		// Short: a cluster that cannot answer must not hold up a scrape.
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		n, err := d.disagreeing(ctx)
		if err != nil {
			return -1
		}
		return float64(n)
	})
	deadHeld := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "hookd_dead_letters", Help: "Dead letters held in the store, as /healthz counts them (-1 when the store cannot be read).",
	}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		st, err := d.store.Stats(ctx)
		if err != nil {
			return -1
		}
		return float64(st.Dead)
	})
	queueDepth := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "hookd_queue_depth", Help: "Actions held in memory waiting to run (at most --max-queued; the rest wait in the store).",
	}, func() float64 { return float64(d.delivery.Depth()) })
	r.MustRegister(m.events, m.duplicates, m.rejected, m.intakeSeconds, m.ruleMatches, m.ruleErrors,
		m.attempts, m.actionSeconds, m.deadLetters, m.reloads, m.reloadOK, m.reloadTime, m.rulesLoaded,
		m.storeCommits, storeWritable, disagree, deadHeld, queueDepth, m.muted, m.stateCapped, m.digests, m.ticks,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// knownEvents and knownActions are the values the event and action
// labels may take; anything else counts as "other", so that a sender
// cannot grow the metrics without bound.
var (
	knownEvents  = setOf(eventschema.Events())
	knownActions = setOf(eventschema.GroupActions())
)

func setOf(list []string) map[string]bool {
	m := make(map[string]bool, len(list))
	for _, s := range list {
		m[s] = true
	}
	return m
}

// actionLabel is the action label of an event: "" for events without one.
func actionLabel(action string) string {
	if action == "" || knownActions[action] {
		return action
	}
	return "other"
}

// eventLabel is the event label of an event name.
func eventLabel(name string) string {
	if knownEvents[name] {
		return name
	}
	return "other"
}
