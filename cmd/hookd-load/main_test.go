package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain lets the test binary act as the harness's children (the floor
// servers and `hookd-load hookd`), which the smoke test starts from
// os.Executable().
func TestMain(m *testing.M) {
	if os.Getenv(selfEnv) == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}

var removeJSON = filepath.Join("..", "..", "testdata", "events", "group-update", "remove.json")

// TestSmoke runs the harness's smoke mode end to end: floor servers and
// hookd as child processes, the sink, every scenario and a reload, and
// checks that the report adds up. It asserts counts, never timings.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts servers; skipped with -short")
	}
	rep := runJSON(t, "--smoke", "--hookd", "self", "--pin=false", "--reload-rules", "150", "--payload", removeJSON)
	if len(rep.Failures) > 0 {
		t.Errorf("failures: %v", rep.Failures)
	}
	wantServers := []string{"floor", "floor+decode", "hookd", "hookd", "hookd"}
	if len(rep.Results) != len(wantServers) {
		t.Fatalf("%d results, want %d: %+v", len(rep.Results), len(wantServers), rep.Results)
	}
	if rep.Floor <= 0 {
		t.Errorf("no floor rate measured: %v", rep.Floor)
	}
	const events = 200
	fire := len(fireTypes)
	for i, r := range rep.Results {
		if r.Server != wantServers[i] {
			t.Errorf("result %d is %q on %q, want server %q", i, r.Scenario, r.Server, wantServers[i])
		}
		if r.Sent != events || r.OK != events || r.Non2xx != 0 || r.Transport != 0 {
			t.Errorf("%s: sent %d, 2xx %d, non-2xx %d, transport %d; want %d sent and answered 2xx", r.Scenario, r.Sent, r.OK, r.Non2xx, r.Transport, events)
		}
		if r.Reply.N != r.OK {
			t.Errorf("%s: %d reply latencies for %d answers", r.Scenario, r.Reply.N, r.OK)
		}
		if r.EventsPerSec <= 0 || r.Ratio <= 0 || math.IsInf(r.Ratio, 0) || math.IsNaN(r.Ratio) {
			t.Errorf("%s: rate %v, ratio to floor %v; want both positive and finite", r.Scenario, r.EventsPerSec, r.Ratio)
		}
		if r.PeakRSS <= 0 {
			t.Errorf("%s: no peak RSS", r.Scenario)
		}
		if r.Server != "hookd" {
			continue
		}
		a := r.Actions
		if a == nil {
			t.Errorf("%s: no action figures", r.Scenario)
			continue
		}
		if a.Expected != events*fire || a.Received != a.Expected || a.Missing != 0 || a.DeadLettered != 0 || a.Stray != 0 {
			t.Errorf("%s: actions %+v; want %d received, none missing", r.Scenario, *a, events*fire)
		}
		if r.StoreCommits <= 0 || a.Events != events {
			t.Errorf("%s: %d store commits, %d events; want commits read from /metrics and %d events", r.Scenario, r.StoreCommits, a.Events, events)
		}
		if a.Latency.N != a.Expected {
			t.Errorf("%s: %d event-to-action latencies for %d actions", r.Scenario, a.Latency.N, a.Expected)
		}
		for _, typ := range fireTypes {
			if a.ByType[typ].N != events {
				t.Errorf("%s: %d %s latencies, want %d", r.Scenario, a.ByType[typ].N, typ, events)
			}
		}
	}
	if rep.Results[0].Ratio != 1 {
		t.Errorf("floor's ratio to itself is %v", rep.Results[0].Ratio)
	}
	if full, half := rep.Results[2], rep.Results[3]; half.TargetRate != full.EventsPerSec/2 {
		t.Errorf("half scenario ran at %v/s, want half of %v/s", half.TargetRate, full.EventsPerSec)
	}
	if fixed := rep.Results[4]; fixed.TargetRate != 1000 || fixed.Mode != "open loop" {
		t.Errorf("fixed scenario: %s at %v/s, want open loop at 1000/s", fixed.Mode, fixed.TargetRate)
	}

	rl := rep.Reload
	if rl == nil {
		t.Fatal("no reload figures")
	}
	if rl.RulesBefore != 100 || rl.RulesAfter != 150 {
		t.Errorf("reload %d -> %d rules, want 100 -> 150", rl.RulesBefore, rl.RulesAfter)
	}
	if rl.ReloadMs <= 0 || rl.Sent == 0 || rl.Sent != rl.OK+rl.Non2xx+rl.Transport || rl.Non2xx+rl.Transport != 0 {
		t.Errorf("reload: %+v; want a reload time and every request answered 2xx", *rl)
	}
	if rl.Before.N+rl.During.N+rl.After.N != rl.OK {
		t.Errorf("reload: %d + %d + %d latencies before, during and after, for %d answers", rl.Before.N, rl.During.N, rl.After.N, rl.OK)
	}
	if a := rl.Actions; a == nil || a.Received != a.Expected || a.Expected != rl.OK*fire {
		t.Errorf("reload actions: %+v; want one per firing rule for each of %d events", a, rl.OK)
	}

	var table bytes.Buffer
	printReport(&table, &rep)
	for _, want := range []string{"floor+decode", "hookd@1000/s", "(half)", "x floor", "reload 100 -> 150 rules"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, &table)
		}
	}
}

// TestSmokeRounds runs the scenarios twice and checks that each ratio is
// taken within its round and that the medians summarise them.
func TestSmokeRounds(t *testing.T) {
	if testing.Short() {
		t.Skip("starts servers; skipped with -short")
	}
	rep := runJSON(t, "--smoke", "--hookd", "self", "--pin=false", "--rounds", "2",
		"--scenarios", "floor,full,state", "--fire", "none", "--payload", removeJSON)
	if len(rep.Results) != 6 {
		t.Fatalf("%d results, want 3 scenarios x 2 rounds: %+v", len(rep.Results), rep.Results)
	}
	var floors []float64
	for i, r := range rep.Results {
		round := i/3 + 1
		if r.Round != round {
			t.Errorf("result %d (%s) is of round %d, want %d", i, r.Scenario, r.Round, round)
		}
		floor := rep.Results[(round-1)*3]
		if i%3 == 0 {
			floors = append(floors, r.EventsPerSec)
		}
		if want := r.EventsPerSec / floor.EventsPerSec; math.Abs(r.Ratio-want) > 1e-9 {
			t.Errorf("%s, round %d: ratio %v, want %v (to its round's floor)", r.Scenario, round, r.Ratio, want)
		}
		if i%3 == 2 {
			full := rep.Results[i-1]
			if want := r.EventsPerSec / full.EventsPerSec; math.Abs(r.OverHookd-want) > 1e-9 {
				t.Errorf("state, round %d: over hookd %v, want %v", round, r.OverHookd, want)
			}
		}
	}
	if want := median(floors); rep.Floor != want {
		t.Errorf("floor %v, want the median of the rounds' floors %v", rep.Floor, want)
	}
	if len(rep.Medians) != 3 || rep.Medians[2].Rounds != 2 || rep.Medians[2].OverHookd <= 0 {
		t.Errorf("medians %+v, want three scenarios over 2 rounds, the state one over hookd", rep.Medians)
	}
}

// TestSmokeScatteredIDs: with --ids scattered every action is still
// matched to the event that caused it (the sink reads the sequence
// number back from the scattered id), so each has its latency.
func TestSmokeScatteredIDs(t *testing.T) {
	if testing.Short() {
		t.Skip("starts servers; skipped with -short")
	}
	rep := runJSON(t, "--smoke", "--hookd", "self", "--pin=false", "--scenarios", "full", "--ids", "scattered", "--payload", removeJSON)
	if rep.IDs != "scattered" || len(rep.Results) != 1 {
		t.Fatalf("ids %q, %d results; want scattered ids and one result", rep.IDs, len(rep.Results))
	}
	a := rep.Results[0].Actions
	if a == nil || a.Expected != 200*len(fireTypes) || a.Received != a.Expected || a.Stray != 0 || a.Latency.N != a.Expected {
		t.Errorf("actions %+v; want every action received and matched to its event", a)
	}
}

// runJSON runs hookd-load with args and --json, and returns its report.
func runJSON(t *testing.T, args ...string) Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	args = append(args, "--json")
	if code := run(ctx, args, &stdout, &stderr); code != 0 {
		t.Fatalf("hookd-load %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, &stdout, &stderr)
	}
	var rep Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("output is not the JSON report: %v\n%s", err, &stdout)
	}
	return rep
}
