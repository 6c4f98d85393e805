package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// defaultPayload is the seed's 3.5 KB group:update event, relative to
// the repository root.
const defaultPayload = "testdata/events/group-update/remove.json"

// Scenario keys of --scenarios.
const (
	scFloor  = "floor"
	scDecode = "decode"
	scFull   = "full"
	scHalf   = "half"
	scFixed  = "fixed"
	scReload = "reload"
	// scState is scFull with --state-rules of the rules remembering.
	scState = "state"
	// scCluster and scClusterFixed are scFull and scFixed against a
	// cluster of clusterNodes nodes.
	scCluster      = "cluster"
	scClusterFixed = "cluster-fixed"
)

// The values of --ids (see eventIDs).
const (
	idsSequential = "sequential"
	idsScattered  = "scattered"
)

var allScenarios = []string{scFloor, scDecode, scFull, scHalf, scFixed, scReload, scState, scCluster, scClusterFixed}

// options are the harness's flags.
type options struct {
	Smoke       bool
	Scenarios   []string
	Rounds      int
	Conns       int
	Rate        float64
	Count       int64
	Duration    time.Duration
	Warmup      time.Duration
	RulesCount  int
	StateRules  int
	ReloadRules int
	Hookd       string
	Payload     string
	Pad         int
	Fire        []string
	JSON        bool
	JSONOut     string
	Pin         bool
	CPUProfile  string
	ClusterProf string
	StateProf   string
	Trace       string
	Drain       time.Duration
	Sync        string
	// IDs is --ids: idsSequential or idsScattered.
	IDs  string
	Keep bool
	Args []string
}

// parseOptions reads the harness's flags; --smoke changes the defaults
// of the flags not given.
func parseOptions(args []string, stderr io.Writer) (*options, error) {
	o := &options{Args: args}
	fs := flag.NewFlagSet("hookd-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: go run ./cmd/hookd-load [flags]\n       go run ./cmd/hookd-load rules [--count N] > rules.yaml\n\nFlags:")
		fs.PrintDefaults()
	}
	scenarios := fs.String("scenarios", "floor,decode,full,half,fixed", "scenarios to run, in order: "+strings.Join(allScenarios, ", ")+" (half needs full; reload is added by --reload-rules; cluster and cluster-fixed are full and fixed against three nodes of a cluster)")
	fire := fs.String("fire", strings.Join(fireTypes, ","), "action types the firing rules send to the sink, one rule each (none: intake alone)")
	fs.BoolVar(&o.Smoke, "smoke", false, "a run of a few seconds that checks the harness works (200 events per scenario, 100 rules, 4 connections)")
	fs.IntVar(&o.Conns, "conns", 32, "keep-alive connections (one sender each)")
	fs.Float64Var(&o.Rate, "rate", 1000, "events/s of the fixed-rate scenario and of the reload measurement")
	fs.Int64Var(&o.Count, "count", 0, "events per scenario (0: bounded by --duration)")
	fs.DurationVar(&o.Duration, "duration", 8*time.Second, "sending time per scenario")
	fs.DurationVar(&o.Warmup, "warmup", time.Second, "first part of each scenario left out of the figures")
	fs.IntVar(&o.RulesCount, "rules-count", 1000, "rules in the generated rules file")
	fs.IntVar(&o.StateRules, "state-rules", 0, "in the state scenario, how many of the rules remember, windows and throttles in turn, over 10,000 keys: the last four digits of the event id (0: a tenth of --rules-count)")
	fs.IntVar(&o.ReloadRules, "reload-rules", 0, "also measure a reload to a file of this many rules while sending at --rate (0: no)")
	fs.StringVar(&o.Hookd, "hookd", "", `hookd binary (default: go build ./cmd/hookd into a temp folder; "self": hookd's code linked into hookd-load)`)
	fs.StringVar(&o.Payload, "payload", defaultPayload, "recorded event to send (one JSON object); its id is rewritten per request")
	fs.IntVar(&o.Pad, "pad", 0, "add a string field of this many bytes to the payload (event-size scaling)")
	fs.BoolVar(&o.JSON, "json", false, "print the results as JSON instead of a table")
	fs.StringVar(&o.JSONOut, "json-out", "", "also write the results as JSON to this file")
	fs.BoolVar(&o.Pin, "pin", true, "pin the server to CPU 0 and the generator to CPU 1 with taskset, when available")
	fs.StringVar(&o.CPUProfile, "cpuprofile", "", "write a CPU profile of hookd during the full-speed scenario to this file (hookd then runs as `hookd-load hookd`)")
	fs.StringVar(&o.ClusterProf, "cluster-cpuprofile", "", "write a CPU profile of the cluster's first node during the cluster scenario to this file (it then runs as `hookd-load hookd`)")
	fs.StringVar(&o.StateProf, "state-cpuprofile", "", "write a CPU profile of hookd during the state scenario to this file (hookd then runs as `hookd-load hookd`)")
	fs.StringVar(&o.Trace, "trace", "", "write an execution trace of hookd during the full-speed scenario to this file (go tool trace -pprof=syscall FILE: time spent waiting in syscalls such as fsync)")
	fs.DurationVar(&o.Drain, "drain", 60*time.Second, "longest wait, after sending, for the sink to receive every action")
	fs.StringVar(&o.Sync, "sync", "full", "hookd's store durability (--sync of hookd serve): full or normal")
	fs.StringVar(&o.IDs, "ids", idsSequential, "event ids: sequential (each id's ten digits one above the last), or scattered over the ten-digit space, as Wassenger's random message ids are (the store's index of ids then changes a page an event)")
	fs.IntVar(&o.Rounds, "rounds", 1, "run the scenarios this many times in turn and add the median of each over the rounds (each ratio is taken within its round)")
	fs.BoolVar(&o.Keep, "keep", false, "keep the temp folder (rules, store, logs) and print its path")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q; see --help", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if o.Smoke {
		if !set["count"] {
			o.Count = 200
		}
		if !set["duration"] {
			o.Duration = 30 * time.Second
		}
		if !set["warmup"] {
			o.Warmup = 0
		}
		if !set["rules-count"] {
			o.RulesCount = 100
		}
		if !set["conns"] {
			o.Conns = 4
		}
		if !set["drain"] {
			o.Drain = 30 * time.Second
		}
	}
	if !set["state-rules"] {
		o.StateRules = o.RulesCount / 10
	}
	var err error
	if o.Fire, err = parseFire(*fire); err != nil {
		return nil, err
	}
	for _, s := range strings.Split(*scenarios, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !slices.Contains(allScenarios, s) {
			return nil, fmt.Errorf("--scenarios: unknown scenario %q; use %s", s, strings.Join(allScenarios, ", "))
		}
		o.Scenarios = append(o.Scenarios, s)
	}
	if o.ReloadRules > 0 && !slices.Contains(o.Scenarios, scReload) {
		o.Scenarios = append(o.Scenarios, scReload)
	}
	switch {
	case len(o.Scenarios) == 0:
		return nil, errors.New("--scenarios: nothing to run")
	case slices.Contains(o.Scenarios, scHalf) && (!slices.Contains(o.Scenarios, scFull) || slices.Index(o.Scenarios, scHalf) < slices.Index(o.Scenarios, scFull)):
		return nil, errors.New("--scenarios: half runs at half the rate full measured, so full must come before it")
	case slices.Contains(o.Scenarios, scReload) && o.ReloadRules <= 0:
		return nil, errors.New("--scenarios reload needs --reload-rules N")
	case o.Conns < 1:
		return nil, errors.New("--conns must be at least 1")
	case o.Rate <= 0:
		return nil, errors.New("--rate must be above 0")
	case o.Count <= 0 && o.Duration <= 0:
		return nil, errors.New("give --count or --duration, or the scenarios never end")
	case o.RulesCount < len(o.Fire):
		return nil, fmt.Errorf("--rules-count %d is less than the %d firing rules (--fire)", o.RulesCount, len(o.Fire))
	case o.StateRules < 0 || o.StateRules > o.RulesCount-len(o.Fire):
		return nil, fmt.Errorf("--state-rules %d: give 0 to %d (the rules that do not fire)", o.StateRules, o.RulesCount-len(o.Fire))
	case o.ReloadRules > 0 && o.ReloadRules < len(o.Fire):
		return nil, fmt.Errorf("--reload-rules %d is less than the %d firing rules (--fire)", o.ReloadRules, len(o.Fire))
	case o.Sync != "full" && o.Sync != "normal":
		return nil, fmt.Errorf("--sync %q: use full or normal", o.Sync)
	case o.IDs != idsSequential && o.IDs != idsScattered:
		return nil, fmt.Errorf("--ids %q: use %s or %s", o.IDs, idsSequential, idsScattered)
	case o.Rounds < 1:
		return nil, errors.New("--rounds must be at least 1")
	case o.Rounds > 1 && (o.CPUProfile != "" || o.Trace != "" || o.ClusterProf != "" || o.StateProf != ""):
		return nil, errors.New("--rounds: profile or trace one round only (leave out --rounds, or the profile and trace flags)")
	}
	for _, p := range []struct{ flag, file, scenario string }{
		{"cpuprofile", o.CPUProfile, scFull},
		{"trace", o.Trace, scFull},
		{"cluster-cpuprofile", o.ClusterProf, scCluster},
		{"state-cpuprofile", o.StateProf, scState},
	} {
		if p.file != "" && !slices.Contains(o.Scenarios, p.scenario) {
			return nil, fmt.Errorf("--%s profiles the %s scenario, which --scenarios leaves out: add %s to --scenarios", p.flag, p.scenario, p.scenario)
		}
	}
	return o, nil
}
