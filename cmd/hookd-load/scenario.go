package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/hookd/hookd/internal/watch"
)

// hookdServer is a running hookd, one `hookd serve` or the nodes of a
// cluster, with its rules file and sink.
type hookdServer struct {
	nodes     []*hookdNode
	sink      *sink
	rulesPath string
	started   time.Duration // from starting the first node to the last one listening
	fsync     float64       // the disk's fsync rate before hookd started
	notes     []string      // what went wrong on the way, e.g. a cluster's failed start
}

// hookdNode is one `hookd serve` process.
type hookdNode struct {
	c    *child
	url  string // the webhook URL, key included
	base string // http://ADDR
}

func (s *hookdServer) close() {
	for _, n := range s.nodes {
		_ = n.c.stop(30 * time.Second)
	}
	s.sink.Close()
}

// children are the server's processes.
func (s *hookdServer) children() []*child {
	cs := make([]*child, len(s.nodes))
	for i, n := range s.nodes {
		cs[i] = n.c
	}
	return cs
}

// urls are the nodes' webhook URLs.
func (s *hookdServer) urls() []string {
	us := make([]string, len(s.nodes))
	for i, n := range s.nodes {
		us[i] = n.url
	}
	return us
}

// profiling says what to record of hookd while it runs.
type profiling struct {
	cpu, trace string // files, "" for none
}

// startHookd writes a rules file of n rules, starts a sink and hookd
// serve with a fresh store, and waits until hookd listens. With nodes
// above 1 it starts that many nodes of a cluster on embedded NATS
// servers (--cluster-peers), each with its own data folder, on every
// CPU, and records prof of the first only. To profile, hookd runs as
// `hookd-load hookd --cpuprofile FILE --trace FILE`.
func (h *harness) startHookd(ctx context.Context, name string, n, state, nodes int, prof profiling) (*hookdServer, error) {
	dir, err := os.MkdirTemp(h.tmp, "hookd-*")
	if err != nil {
		return nil, fmt.Errorf("temp folder: %w", err)
	}
	fsync := fsyncRate(dir, fsyncRounds(h.opts.Smoke))
	rulesPath := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(rulesPath, []byte(h.rules(n, state)), 0o644); err != nil {
		return nil, fmt.Errorf("write rules: %w", err)
	}
	s := newSink()
	srv := &hookdServer{sink: s, rulesPath: rulesPath, fsync: fsync}
	env := append(s.env(), "HOOKD_WEBHOOK_KEY="+h.key)
	serve := []string{"serve", "--rules", rulesPath, "--listen", "127.0.0.1:0", "--log-format", "json", "--sync", h.opts.Sync}
	if nodes == 1 {
		h.progress("%s: starting hookd with %d rules", name, n)
		argvs := [][]string{append(serve, "--data", filepath.Join(dir, "data"))}
		if err := h.launch(ctx, srv, name, argvs, env, h.pin.serverCPUs(), prof, startTimeout); err != nil {
			s.Close()
			return nil, err
		}
		return srv, nil
	}
	// A fresh cluster does not always form: try again, in a new folder
	// on new ports, and say so in the result.
	for attempt := 1; ; attempt++ {
		h.progress("%s: starting %d hookd nodes with %d rules (attempt %d)", name, nodes, n, attempt)
		argvs, err := clusterArgs(serve, filepath.Join(dir, fmt.Sprintf("attempt-%d", attempt)), nodes)
		if err == nil {
			err = h.launch(ctx, srv, name, argvs, env, h.pin.everyCPU(), prof, clusterStartTimeout)
		}
		if err == nil {
			// A forming cluster's NATS servers warn while they find
			// each other: count what comes after.
			for _, node := range srv.nodes {
				node.c.forgetWarnings()
			}
			return srv, nil
		}
		first, _, _ := strings.Cut(err.Error(), "\n")
		if attempt == clusterAttempts || ctx.Err() != nil {
			s.Close()
			return nil, fmt.Errorf("the cluster did not start in %d attempts; the last: %w", attempt, err)
		}
		h.progress("%s: %s", name, first)
		srv.notes = append(srv.notes, fmt.Sprintf("the cluster's start attempt %d failed: %s", attempt, first))
	}
}

// Bounds of a cluster's start: a fresh cluster that forms at all
// listens in about 1-12 s on the 2-core machine of BENCHMARKS.md.
const (
	clusterStartTimeout = 45 * time.Second
	clusterAttempts     = 3
)

// logPath is where a hookd started with args logs: next to its --data
// folder, so that --keep keeps it.
func logPath(args []string) string {
	for i, a := range args[:max(len(args)-1, 0)] {
		if a == "--data" {
			return args[i+1] + ".log"
		}
	}
	return ""
}

// launch starts one process per argvs on the taskset list cpus and waits
// until every one logs "hookd listening", at most timeout; on failure it
// stops them all. The first records prof.
func (h *harness) launch(ctx context.Context, srv *hookdServer, name string, argvs [][]string, env []string, cpus string, prof profiling, timeout time.Duration) error {
	began := time.Now()
	srv.nodes = nil
	fail := func(err error) error {
		for _, node := range srv.nodes {
			_ = node.c.stop(30 * time.Second)
		}
		srv.nodes = nil
		return err
	}
	for i, args := range argvs {
		var argv []string
		switch {
		case i == 0 && prof != profiling{}:
			argv = []string{h.self, "hookd", "--cpuprofile", prof.cpu, "--trace", prof.trace}
		case h.hookd == "self":
			argv = []string{h.self, "hookd"}
		default:
			argv = []string{h.hookd}
		}
		cname := name
		if len(argvs) > 1 {
			cname = fmt.Sprintf("%s node n%d", name, i)
		}
		c, err := startChild(cname, append(argv, args...), env, cpus, logPath(args))
		if err != nil {
			return fail(err)
		}
		srv.nodes = append(srv.nodes, &hookdNode{c: c})
	}
	// A node of a cluster listens once a quorum of its peers runs: wait
	// for each only after starting all.
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for _, node := range srv.nodes {
		line, err := node.c.waitMsg(wctx, time.Time{}, "hookd listening")
		if err != nil {
			return fail(err)
		}
		addr, _ := line.Attrs["addr"].(string)
		if addr == "" {
			return fail(fmt.Errorf("%s: its \"hookd listening\" log line has no addr", node.c.name))
		}
		node.base = "http://" + addr
		node.url = node.base + "/webhooks/wassenger?key=" + h.key
	}
	srv.started = time.Since(began)
	return nil
}

// metric reads an unlabelled metric from the node's /metrics.
func (s *hookdNode) metric(ctx context.Context, name string) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.base+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := (&http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}).Do(req)
	if err != nil {
		return 0, fmt.Errorf("read hookd's /metrics: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, fmt.Errorf("read hookd's /metrics: %w", err)
	}
	return parseMetric(body, name)
}

// parseMetric finds an unlabelled sample in the Prometheus text format.
func parseMetric(text []byte, name string) (float64, error) {
	for _, line := range strings.Split(string(text), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				return 0, fmt.Errorf("metric %s: %w", name, err)
			}
			return f, nil
		}
	}
	return 0, fmt.Errorf("hookd's /metrics has no %s", name)
}

// rules is the generated rules file of n rules for the payload, the
// first state of them remembering.
func (h *harness) rules(n, state int) string {
	return generateRules(rulesSpec{Count: n, Fire: h.opts.Fire, Event: h.payload.Event, Action: h.payload.Action, State: state})
}

// hookdRun runs one load scenario against a fresh hookd of nodes
// processes (1: one SQLite node; more: a cluster).
func (h *harness) hookdRun(ctx context.Context, name string, nodes int, p plan, prof profiling) (*Result, error) {
	return h.hookdRunState(ctx, name, nodes, 0, p, prof)
}

// hookdRunState is hookdRun with the first state rules remembering.
func (h *harness) hookdRunState(ctx context.Context, name string, nodes, state int, p plan, prof profiling) (*Result, error) {
	srv, err := h.startHookd(ctx, name, h.opts.RulesCount, state, nodes, prof)
	if err != nil {
		return nil, err
	}
	defer srv.close()
	ids := h.eventIDs()
	h.progress("%s: sending (%s)", name, describePlan(p))
	commits0, err0 := srv.nodes[0].metric(ctx, "hookd_store_commits_total")
	meter := startCPU(srv.children()...)
	rn, err := generate(ctx, srv.urls(), h.payload, ids, p)
	if err != nil {
		return nil, err
	}
	meter.sent()
	r := h.result(name, "hookd", p, rn)
	r.Rules = h.opts.RulesCount
	r.StartSeconds = srv.started.Seconds()
	r.FsyncPerSec = srv.fsync
	r.Notes = append(r.Notes, srv.notes...)
	r.Actions = h.actions(ctx, srv, rn, ids, int64(h.opts.Warmup), &r.Notes)
	r.CPU = meter.done(okCount(rn.Samples), &r.Notes)
	commits1, err1 := srv.nodes[0].metric(ctx, "hookd_store_commits_total")
	switch err := errors.Join(err0, err1); {
	case err != nil:
		r.Notes = append(r.Notes, err.Error())
	case nodes == 1:
		r.StoreCommits = int(commits1 - commits0)
	}
	if nodes > 1 {
		r.Server = "hookd cluster"
		r.Nodes = nodes
		r.Notes = append(r.Notes, fmt.Sprintf("%d nodes on CPUs %s, connection i to node i mod %d; CPU is the sum over the nodes", nodes, orAll(h.pin.everyCPU()), nodes))
	}
	for _, node := range srv.nodes {
		rss, err := node.c.peakRSS()
		if err != nil {
			r.Notes = append(r.Notes, err.Error())
		}
		r.NodePeakRSS = append(r.NodePeakRSS, rss)
		r.PeakRSS = max(r.PeakRSS, rss)
		r.ServerWarnings += node.c.warnings()
	}
	if nodes == 1 {
		r.NodePeakRSS = nil
	}
	for _, node := range srv.nodes {
		if err := node.c.stop(30 * time.Second); err != nil {
			r.Notes = append(r.Notes, fmt.Sprintf("%s exit: %v", node.c.name, err))
		}
		if w := node.c.warningSummary(); w != "" {
			r.Notes = append(r.Notes, node.c.name+" logged "+w)
		}
	}
	if prof != (profiling{}) {
		r.Notes = append(r.Notes, "hookd (the first node) ran as `hookd-load hookd` to be profiled; profiling and tracing cost some speed")
	}
	return r, nil
}

// orAll names a taskset CPU list, "" as every CPU.
func orAll(cpus string) string {
	if cpus == "" {
		return "all"
	}
	return cpus
}

// deadLetters counts the actions the nodes dead-lettered so far, and
// describes the first of the first node that has one.
func (s *hookdServer) deadLetters() (int, string) {
	sum, first := 0, ""
	for _, n := range s.nodes {
		d, f := n.c.deadLetters()
		sum += d
		if first == "" {
			first = f
		}
	}
	return sum, first
}

// drainQuiet ends the wait for actions when none arrived for this long.
const drainQuiet = 10 * time.Second

// actions waits for the sink to receive every action of the run's
// accepted events (or hookd to dead-letter it), then computes the
// event-to-action latency of the events sent after warm (ns since T0).
func (h *harness) actions(ctx context.Context, srv *hookdServer, rn runData, ids eventIDs, warm int64, notes *[]string) *ActionStats {
	fire := h.opts.Fire
	ends := map[int64]int64{}
	ok := 0
	for _, s := range rn.Samples {
		if s.OK() {
			ok++
			if s.Start >= warm {
				ends[s.Seq] = s.End
			}
		}
	}
	a := &ActionStats{Events: ok, Expected: ok * len(fire), ByType: map[string]Latency{}}
	dctx, cancel := context.WithTimeout(ctx, h.opts.Drain)
	waitProgress(dctx, func() int {
		dead, _ := srv.deadLetters()
		return srv.sink.count(fire) + dead
	}, a.Expected, drainQuiet)
	cancel()
	arr, stray := srv.sink.arrivals(fire, ids)
	a.Stray = stray
	var all []int64
	for _, typ := range fire {
		seen := map[int64]bool{}
		var lat []int64
		for _, x := range arr[typ] {
			if x.Fail {
				a.SinkFailed++
				continue
			}
			if seen[x.Seq] {
				continue
			}
			seen[x.Seq] = true
			a.Received++
			if end, ok := ends[x.Seq]; ok {
				// The daemon may send before the 2xx reaches the client.
				lat = append(lat, max(int64(x.At.Sub(rn.T0))-end, 0))
			}
		}
		all = append(all, lat...)
		a.ByType[typ] = summarize(lat)
	}
	a.Latency = summarize(all)
	a.Missing = max(a.Expected-a.Received, 0)
	var first string
	if a.DeadLettered, first = srv.deadLetters(); a.DeadLettered > 0 {
		*notes = append(*notes, fmt.Sprintf("hookd dead-lettered %d actions; the first: %s", a.DeadLettered, first))
	}
	if a.Missing > a.DeadLettered {
		*notes = append(*notes, fmt.Sprintf("%d actions neither reached the sink nor were dead-lettered within --drain %s", a.Missing-a.DeadLettered, h.opts.Drain))
	}
	if stray > 0 {
		*notes = append(*notes, fmt.Sprintf("the sink received %d requests without an event id of the run", stray))
	}
	return a
}

// ReloadResult is the reload measurement: a bigger rules file written
// while events arrive at a fixed rate.
type ReloadResult struct {
	RulesBefore int     `json:"rules_before"`
	RulesAfter  int     `json:"rules_after"`
	FileBytes   int     `json:"file_bytes"`
	Rate        float64 `json:"rate"`
	Conns       int     `json:"conns"`
	// ReloadMs is from starting to write the file to hookd logging
	// "rules reloaded"; it includes the watcher's debounce, DebounceMs.
	ReloadMs   float64 `json:"reload_ms"`
	DebounceMs float64 `json:"debounce_ms"`
	// Before, During and After are the reply latencies of the events
	// sent before the write, between the write and the reload, and
	// after it.
	Before    Latency      `json:"reply_before"`
	During    Latency      `json:"reply_during"`
	After     Latency      `json:"reply_after"`
	Sent      int          `json:"sent"`
	OK        int          `json:"ok"`
	Non2xx    int          `json:"non_2xx"`
	Transport int          `json:"transport_errors"`
	Actions   *ActionStats `json:"actions,omitempty"`
	PeakRSS   int64        `json:"peak_rss_bytes"`
	// StartSeconds is from starting hookd to its listening.
	StartSeconds float64  `json:"start_seconds"`
	Notes        []string `json:"notes,omitempty"`
}

// reload starts hookd with --rules-count rules, sends at --rate, rewrites
// the rules file with --reload-rules rules and measures how long the
// reload takes and what it does to reply latency.
func (h *harness) reload(ctx context.Context) (*ReloadResult, error) {
	o := h.opts
	name := fmt.Sprintf("reload %d->%d rules", o.RulesCount, o.ReloadRules)
	srv, err := h.startHookd(ctx, name, o.RulesCount, 0, 1, profiling{})
	if err != nil {
		return nil, err
	}
	defer srv.close()
	node := srv.nodes[0]
	pre, tail := 2*time.Second, 2*time.Second
	if o.Smoke {
		pre, tail = 300*time.Millisecond, 300*time.Millisecond
	}
	ids := h.eventIDs()
	stop := make(chan struct{})
	type result struct {
		rn  runData
		err error
	}
	done := make(chan result, 1)
	h.progress("%s: sending at %.0f/s; the new file is written after %s", name, o.Rate, pre)
	go func() {
		rn, err := generate(ctx, srv.urls(), h.payload, ids, plan{Conns: o.Conns, Rate: o.Rate, Duration: 10 * time.Minute, Stop: stop})
		done <- result{rn, err}
	}()
	stopped := false
	finish := func() (runData, error) {
		if !stopped {
			stopped = true
			close(stop)
		}
		r := <-done
		return r.rn, r.err
	}
	if !pause(ctx, pre) {
		_, _ = finish()
		return nil, ctx.Err()
	}
	data := h.rules(o.ReloadRules, 0)
	writeAt := time.Now()
	if err := writeAtomic(srv.rulesPath, []byte(data)); err != nil {
		_, _ = finish()
		return nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, startTimeout)
	line, err := node.c.waitMsg(wctx, writeAt, "rules reloaded", "rules reload failed; the previous rules keep running")
	cancel()
	if err != nil {
		_, _ = finish()
		return nil, err
	}
	if line.Msg != "rules reloaded" {
		_, _ = finish()
		return nil, fmt.Errorf("hookd refused the %d-rule file: %v", o.ReloadRules, line.Attrs["first"])
	}
	pause(ctx, tail)
	rn, err := finish()
	if err != nil {
		return nil, err
	}

	w, rl := int64(writeAt.Sub(rn.T0)), int64(line.At.Sub(rn.T0))
	warm := min(int64(o.Warmup), w)
	total, before, during, after := measure(rn.Samples, 0, 0), measure(rn.Samples, warm, w), measure(rn.Samples, w, rl+1), measure(rn.Samples, rl+1, 0)
	r := &ReloadResult{
		RulesBefore: o.RulesCount, FileBytes: len(data), Rate: o.Rate, Conns: o.Conns,
		ReloadMs:   float64(line.At.Sub(writeAt)) / float64(time.Millisecond),
		DebounceMs: float64(watch.DefaultDebounce) / float64(time.Millisecond),
		Before:     before.Reply, During: during.Reply, After: after.Reply,
		Sent: total.Sent, OK: total.OK, Non2xx: total.Non2xx, Transport: total.Transport,
		StartSeconds: srv.started.Seconds(),
	}
	if n, ok := line.Attrs["rules"].(float64); ok {
		r.RulesAfter = int(n)
	}
	if r.RulesAfter != o.ReloadRules {
		r.Notes = append(r.Notes, fmt.Sprintf("hookd reports %d rules after the reload, want %d", r.RulesAfter, o.ReloadRules))
	}
	r.Actions = h.actions(ctx, srv, rn, ids, 0, &r.Notes)
	if r.PeakRSS, err = node.c.peakRSS(); err != nil {
		r.Notes = append(r.Notes, err.Error())
	}
	if err := node.c.stop(30 * time.Second); err != nil {
		r.Notes = append(r.Notes, fmt.Sprintf("hookd exit: %v", err))
	}
	if w := node.c.warningSummary(); w != "" {
		r.Notes = append(r.Notes, "hookd logged "+w)
	}
	h.progress("%s: %.0f ms, reply p99 before %.2f ms, during %.2f ms", name, r.ReloadMs, r.Before.P99, r.During.P99)
	return r, nil
}

// pause waits d, or until ctx ends; it reports whether d passed.
func pause(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// writeAtomic replaces path with data the way editors and deploy tools
// do: write a temp file beside it, then rename it over the old one.
func writeAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("write new rules: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("replace rules: %w", err)
	}
	return nil
}
