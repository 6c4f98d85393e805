package main

import "slices"

// Report is everything one run measured; --json prints it.
type Report struct {
	Machine Machine `json:"machine"`
	// Hookd is the revision hookd was built from.
	Hookd   string      `json:"hookd_revision"`
	Pinning pinning     `json:"pinning"`
	Payload PayloadInfo `json:"payload"`
	Args    []string    `json:"args"`
	Rules   int         `json:"rules"`
	Fire    []string    `json:"fire"`
	Sync    string      `json:"sync"`
	// IDs is how the event ids were made: sequential or scattered.
	IDs    string `json:"ids"`
	Warmup string `json:"warmup"`
	// Floor is the floor scenario's events/s, the median over the rounds.
	Floor   float64  `json:"floor_events_per_sec"`
	Results []Result `json:"results"`
	// Medians summarise each scenario over the rounds (--rounds above 1).
	Medians []Median      `json:"medians,omitempty"`
	Reload  *ReloadResult `json:"reload,omitempty"`
	Profile string        `json:"cpu_profile,omitempty"`
	// ClusterProfile is the CPU profile of the cluster's first node.
	ClusterProfile string `json:"cluster_cpu_profile,omitempty"`
	// StateProfile is the CPU profile of hookd in the state scenario.
	StateProfile string   `json:"state_cpu_profile,omitempty"`
	Trace        string   `json:"trace,omitempty"`
	Failures     []string `json:"failures,omitempty"`
}

// PayloadInfo describes the event sent.
type PayloadInfo struct {
	File   string `json:"file"`
	Bytes  int    `json:"bytes"`
	Event  string `json:"event"`
	Action string `json:"action,omitempty"`
}

// Result is one scenario's row.
type Result struct {
	Scenario string `json:"scenario"`
	// kind is the --scenarios name the result is of.
	kind       string
	Server     string  `json:"server"`
	Mode       string  `json:"mode"`
	Conns      int     `json:"conns"`
	TargetRate float64 `json:"target_rate,omitempty"`
	Rules      int     `json:"rules,omitempty"`
	// Sent, OK, Non2xx and Transport count the requests after the warm-up.
	Sent         int     `json:"sent"`
	OK           int     `json:"ok"`
	Non2xx       int     `json:"non_2xx"`
	Transport    int     `json:"transport_errors"`
	EventsPerSec float64 `json:"events_per_sec"`
	// Ratio is to the floor of the same round.
	Ratio float64 `json:"ratio_to_floor"`
	// Round numbers the round when there are several (--rounds).
	Round int `json:"round,omitempty"`
	// OverHookd is the state scenario's events/s over the hookd
	// scenario's of the same round (the same rules without state).
	OverHookd float64 `json:"over_hookd,omitempty"`
	Reply     Latency `json:"reply"`
	// Actions is what reached the sink (hookd scenarios).
	Actions *ActionStats `json:"actions,omitempty"`
	// PeakRSS is the server's peak RSS, the largest node's for a cluster.
	PeakRSS int64 `json:"peak_rss_bytes"`
	// Nodes counts a cluster's hookd processes (0: one SQLite node), and
	// NodePeakRSS is each one's peak RSS.
	Nodes       int     `json:"nodes,omitempty"`
	NodePeakRSS []int64 `json:"node_peak_rss_bytes,omitempty"`
	// CPU is the server's and the generator's CPU use.
	CPU CPUUse `json:"cpu"`
	// StoreCommits counts hookd's store transactions (group commits) from
	// the first request until every action was delivered.
	StoreCommits int `json:"store_commits,omitempty"`
	// FsyncPerSec is the disk's fsync rate measured just before a hookd
	// scenario: durable intake depends on it.
	FsyncPerSec float64 `json:"fsync_per_sec,omitempty"`
	// StartSeconds is from starting the server to its listening.
	StartSeconds   float64  `json:"start_seconds"`
	ServerWarnings int      `json:"server_warnings"`
	Notes          []string `json:"notes,omitempty"`
}

// CPUUse is CPU time over a scenario, from /proc and getrusage.
type CPUUse struct {
	// ServerBusy and GeneratorBusy are the CPUs used while sending (1 is
	// one CPU fully busy); above about 0.9 the process is the bottleneck.
	// A cluster's figures are the sums over its nodes.
	ServerBusy    float64 `json:"server_busy"`
	GeneratorBusy float64 `json:"generator_busy"`
	// ServerPerEvent is the server's CPU time per accepted event in µs,
	// from the first request until every action was delivered: it does
	// not depend on the disk's fsync latency as the rate does.
	ServerPerEvent float64 `json:"server_us_per_event"`
}

// ActionStats is what the sink received for a hookd scenario.
type ActionStats struct {
	// Events counts the accepted events, warm-up included.
	Events int `json:"events"`
	// Expected is one action per firing rule for every accepted event.
	Expected int `json:"expected"`
	// Received counts distinct (event, action type) arrivals.
	Received     int `json:"received"`
	DeadLettered int `json:"dead_lettered"`
	Missing      int `json:"missing"`
	// SinkFailed counts requests the sink refused (non-2xx).
	SinkFailed int `json:"sink_failed"`
	// Stray counts requests without an event id of the run.
	Stray int `json:"stray"`
	// Latency is event-to-action: from the client reading the 2xx to the
	// sink receiving the action, for events after the warm-up.
	Latency Latency            `json:"event_to_action"`
	ByType  map[string]Latency `json:"event_to_action_by_type"`
}

// Errors sums what went wrong in the scenario.
func (r *Result) Errors() int {
	n := r.Non2xx + r.Transport
	if a := r.Actions; a != nil {
		n += a.Missing + a.SinkFailed
	}
	return n
}

// okCount counts the 2xx answers of a run, warm-up included.
func okCount(samples []sample) int {
	n := 0
	for _, s := range samples {
		if s.OK() {
			n++
		}
	}
	return n
}

// Median is one scenario's figures over the rounds: the median of each,
// and the range of its ratio to the floor.
type Median struct {
	Scenario     string  `json:"scenario"`
	Rounds       int     `json:"rounds"`
	EventsPerSec float64 `json:"events_per_sec"`
	Ratio        float64 `json:"ratio_to_floor"`
	RatioMin     float64 `json:"ratio_min"`
	RatioMax     float64 `json:"ratio_max"`
	OverHookd    float64 `json:"over_hookd,omitempty"`
	ReplyP99     float64 `json:"reply_p99_ms"`
	CPUPerEvent  float64 `json:"server_us_per_event"`
}

// medians summarises results by scenario, in the order they first ran.
func medians(results []Result) []Median {
	var out []Median
	for _, r := range results {
		if slices.ContainsFunc(out, func(m Median) bool { return m.Scenario == r.Scenario }) {
			continue
		}
		var rate, ratio, over, p99, cpu []float64
		for _, x := range results {
			if x.Scenario != r.Scenario {
				continue
			}
			rate = append(rate, x.EventsPerSec)
			ratio = append(ratio, x.Ratio)
			p99 = append(p99, x.Reply.P99)
			cpu = append(cpu, x.CPU.ServerPerEvent)
			if x.OverHookd > 0 {
				over = append(over, x.OverHookd)
			}
		}
		out = append(out, Median{
			Scenario: r.Scenario, Rounds: len(rate),
			EventsPerSec: median(rate), Ratio: median(ratio),
			RatioMin: slices.Min(ratio), RatioMax: slices.Max(ratio),
			OverHookd: median(over), ReplyP99: median(p99), CPUPerEvent: median(cpu),
		})
	}
	return out
}

// median returns the median of vs (the mean of the middle two for an
// even count), or 0 for none.
func median(vs []float64) float64 {
	if len(vs) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(vs))
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
