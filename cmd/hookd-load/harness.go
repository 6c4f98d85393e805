package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// harness runs the scenarios of one invocation.
type harness struct {
	opts    *options
	log     io.Writer // progress lines
	tmp     string
	self    string // this program, for the floor and `hookd` children
	hookd   string // hookd binary, or "self"
	payload *payload
	pin     pinning
	key     string
}

// runLoad is the harness: parse flags, prepare, run every scenario and
// print the report.
func runLoad(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	opts, err := parseOptions(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "hookd-load: %v\n", err)
		return 2
	}
	h, rep, err := newHarness(ctx, opts, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "hookd-load: %v\n", err)
		return 1
	}
	defer h.close()
	h.runAll(ctx, rep)
	js, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		fmt.Fprintf(stderr, "hookd-load: %v\n", err)
		return 1
	}
	js = append(js, '\n')
	if opts.JSONOut != "" {
		if err := os.WriteFile(opts.JSONOut, js, 0o644); err != nil {
			fmt.Fprintf(stderr, "hookd-load: %v\n", err)
			return 1
		}
	}
	if opts.JSON {
		_, _ = stdout.Write(js)
	} else {
		printReport(stdout, rep)
	}
	if len(rep.Failures) > 0 {
		return 1
	}
	return 0
}

// newHarness reads the payload, makes the temp folder, builds hookd (before
// pinning, so the build has every CPU) and pins the generator.
func newHarness(ctx context.Context, opts *options, log io.Writer) (*harness, *Report, error) {
	pl, err := readPayload(opts.Payload, opts.Pad)
	if err != nil {
		return nil, nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, nil, fmt.Errorf("find this program to start the floor servers: %w", err)
	}
	tmp, err := os.MkdirTemp("", "hookd-load-*")
	if err != nil {
		return nil, nil, fmt.Errorf("temp folder: %w", err)
	}
	h := &harness{opts: opts, log: log, tmp: tmp, self: self, hookd: opts.Hookd, payload: pl, key: randomHex(24)}
	for _, p := range []*string{&opts.CPUProfile, &opts.Trace, &opts.ClusterProf, &opts.StateProf} {
		if *p != "" {
			if *p, err = filepath.Abs(*p); err != nil {
				h.close()
				return nil, nil, err
			}
		}
	}
	rev := "not used"
	switch {
	case h.hookd == "" && needsHookd(opts.Scenarios):
		h.progress("building hookd (go build ./cmd/hookd)")
		if h.hookd, rev, err = buildHookd(ctx, tmp); err != nil {
			h.close()
			return nil, nil, err
		}
	case h.hookd != "":
		rev = buildRevision(h.hookd)
	}
	machine := probeMachine(tmp, opts.Smoke)
	if machine.LoadAvg > 0.5 {
		h.progress("the load average is %.2f: other work on this machine makes the figures noisy", machine.LoadAvg)
	}
	h.pin = setupPinning(opts.Pin)
	h.progress("pinning: %s", h.pin.Why)
	rep := &Report{
		Hookd:   rev,
		Machine: machine, Pinning: h.pin, Args: opts.Args, Rules: opts.RulesCount, Fire: opts.Fire, Sync: opts.Sync, IDs: opts.IDs,
		Warmup:         opts.Warmup.String(),
		Payload:        PayloadInfo{File: opts.Payload, Bytes: pl.Size, Event: pl.Event, Action: pl.Action},
		Profile:        opts.CPUProfile,
		ClusterProfile: opts.ClusterProf,
		StateProfile:   opts.StateProf,
		Trace:          opts.Trace,
	}
	return h, rep, nil
}

func needsHookd(scenarios []string) bool {
	for _, s := range scenarios {
		if s != scFloor && s != scDecode {
			return true
		}
	}
	return false
}

func (h *harness) close() {
	if h.opts.Keep {
		h.progress("kept the temp folder %s", h.tmp)
		return
	}
	_ = os.RemoveAll(h.tmp)
}

func (h *harness) progress(format string, args ...any) {
	fmt.Fprintf(h.log, "hookd-load: "+format+"\n", args...)
}

// runAll runs the scenarios in order, --rounds times, and fills rep.
// Each result's ratio is to the floor of its own round; with several
// rounds rep.Medians summarises them.
func (h *harness) runAll(ctx context.Context, rep *Report) {
	var floors []float64
	for round := 1; round <= h.opts.Rounds; round++ {
		if h.opts.Rounds > 1 {
			h.progress("round %d of %d", round, h.opts.Rounds)
		}
		results := h.runRound(ctx, rep)
		if floor := roundRatios(results); floor > 0 {
			floors = append(floors, floor)
		}
		if h.opts.Rounds > 1 {
			for i := range results {
				results[i].Round = round
			}
		}
		rep.Results = append(rep.Results, results...)
		if ctx.Err() != nil {
			break
		}
	}
	if len(floors) > 0 {
		rep.Floor = median(floors)
	}
	if h.opts.Rounds > 1 {
		rep.Medians = medians(rep.Results)
	}
}

// roundRatios sets the ratios within one round's results: each one's to
// the floor, and the state scenario's over the hookd scenario (the same
// rules without state), whichever ran first. It returns the floor's
// events/s, 0 without one.
func roundRatios(results []Result) float64 {
	var floor, full float64
	for _, r := range results {
		switch r.kind {
		case scFloor:
			floor = r.EventsPerSec
		case scFull:
			full = r.EventsPerSec
		}
	}
	for i := range results {
		r := &results[i]
		if floor > 0 {
			r.Ratio = r.EventsPerSec / floor
		}
		if r.kind == scState && full > 0 {
			r.OverHookd = r.EventsPerSec / full
			r.Notes = append(r.Notes, fmt.Sprintf("%.2fx the events/s of the hookd scenario of the same round (the same rules without state)", r.OverHookd))
		}
	}
	return floor
}

// runRound runs the scenarios once, adding failures to rep.
func (h *harness) runRound(ctx context.Context, rep *Report) []Result {
	o := h.opts
	closed := plan{Conns: o.Conns, Count: o.Count, Duration: o.Duration}
	var (
		full    *Result
		results []Result
	)
	for _, sc := range o.Scenarios {
		if ctx.Err() != nil {
			rep.Failures = append(rep.Failures, "interrupted")
			return results
		}
		var r *Result
		var err error
		switch sc {
		case scFloor:
			r, err = h.floor(ctx, "floor", false, closed)
		case scDecode:
			r, err = h.floor(ctx, "floor+decode", true, closed)
		case scFull:
			r, err = h.hookdRun(ctx, "hookd", 1, closed, profiling{cpu: o.CPUProfile, trace: o.Trace})
			full = r
		case scHalf:
			if full == nil || full.EventsPerSec <= 0 {
				err = errors.New("the full-speed scenario measured no rate to halve")
				break
			}
			rate := full.EventsPerSec / 2
			r, err = h.hookdRun(ctx, fmt.Sprintf("hookd@%.0f/s (half)", rate), 1, h.openPlan(rate), profiling{})
		case scState:
			r, err = h.hookdRunState(ctx, fmt.Sprintf("hookd, %d rules remember", o.StateRules), 1, o.StateRules, closed, profiling{cpu: o.StateProf})
		case scFixed:
			r, err = h.hookdRun(ctx, fmt.Sprintf("hookd@%.0f/s", o.Rate), 1, h.openPlan(o.Rate), profiling{})
		case scCluster:
			r, err = h.hookdRun(ctx, fmt.Sprintf("cluster of %d", clusterNodes), clusterNodes, closed, profiling{cpu: o.ClusterProf})
		case scClusterFixed:
			r, err = h.hookdRun(ctx, fmt.Sprintf("cluster of %d@%.0f/s", clusterNodes, o.Rate), clusterNodes, h.openPlan(o.Rate), profiling{})
		case scReload:
			rep.Reload, err = h.reload(ctx)
		}
		if err != nil {
			h.progress("%s: %v", sc, err)
			rep.Failures = append(rep.Failures, fmt.Sprintf("%s: %v", sc, err))
			continue
		}
		if r != nil {
			h.progress("%s: %.0f events/s, reply p99 %.2f ms, errors %d", r.Scenario, r.EventsPerSec, r.Reply.P99, r.Errors())
			r.kind = sc
			results = append(results, *r)
		}
	}
	return results
}

// eventIDs names the events of a new scenario: a fresh prefix, and the
// digits in order or scattered (--ids).
func (h *harness) eventIDs() eventIDs {
	return eventIDs{prefix: "load" + randomHex(3), scatter: h.opts.IDs == idsScattered}
}

// openPlan sends at rate, for --count events or --duration.
func (h *harness) openPlan(rate float64) plan {
	return plan{Conns: h.opts.Conns, Rate: rate, Count: h.opts.Count, Duration: h.opts.Duration}
}

// startTimeout bounds a server's start (loading 10,000 rules included).
const startTimeout = 2 * time.Minute

// floor runs a closed-loop scenario against a floor server.
func (h *harness) floor(ctx context.Context, name string, decode bool, p plan) (*Result, error) {
	argv := []string{h.self, "floor", "--listen", "127.0.0.1:0"}
	if decode {
		argv = append(argv, "--decode")
	}
	h.progress("%s: starting", name)
	began := time.Now()
	c, err := startChild(name, argv, nil, h.pin.serverCPUs(), "")
	if err != nil {
		return nil, err
	}
	defer c.stop(10 * time.Second)
	var url string
	wctx, cancel := context.WithTimeout(ctx, startTimeout)
	err = c.waitFor(wctx, "listening line", func(stdout []string, _ []logLine) bool {
		for _, l := range stdout {
			if u, ok := strings.CutPrefix(l, "listening "); ok {
				url = u
				return true
			}
		}
		return false
	})
	cancel()
	if err != nil {
		return nil, err
	}
	started := time.Since(began)
	h.progress("%s: sending (%s)", name, describePlan(p))
	meter := startCPU(c)
	rn, err := generate(ctx, []string{url + "/webhooks/wassenger"}, h.payload, h.eventIDs(), p)
	if err != nil {
		return nil, err
	}
	meter.sent()
	r := h.result(name, name, p, rn)
	r.CPU = meter.done(okCount(rn.Samples), &r.Notes)
	r.StartSeconds = started.Seconds()
	if r.PeakRSS, err = c.peakRSS(); err != nil {
		r.Notes = append(r.Notes, err.Error())
	}
	r.ServerWarnings = c.warnings()
	if err := c.stop(10 * time.Second); err != nil {
		r.Notes = append(r.Notes, fmt.Sprintf("server exit: %v", err))
	}
	return r, nil
}

// result fills a row from a run's samples.
func (h *harness) result(name, server string, p plan, rn runData) *Result {
	c := measure(rn.Samples, int64(h.opts.Warmup), 0)
	r := &Result{
		Scenario: name, Server: server, Mode: "closed loop", Conns: p.Conns, TargetRate: p.Rate,
		Sent: c.Sent, OK: c.OK, Non2xx: c.Non2xx, Transport: c.Transport, EventsPerSec: c.Rate, Reply: c.Reply,
	}
	if p.Rate > 0 {
		r.Mode = "open loop"
	}
	return r
}

func describePlan(p plan) string {
	var parts []string
	if p.Rate > 0 {
		parts = append(parts, fmt.Sprintf("open loop at %.0f/s", p.Rate))
	} else {
		parts = append(parts, "closed loop")
	}
	parts = append(parts, fmt.Sprintf("%d conns", p.Conns))
	if p.Count > 0 {
		parts = append(parts, fmt.Sprintf("%d events", p.Count))
	}
	if p.Duration > 0 {
		parts = append(parts, fmt.Sprintf("at most %s", p.Duration))
	}
	return strings.Join(parts, ", ")
}
