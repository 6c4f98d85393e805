package engine_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hookd/hookd/engine"
	"github.com/hookd/hookd/engine/eventschema"
	"github.com/hookd/hookd/event"
)

// groupActions are the group:update actions.
var groupActions = eventschema.GroupActions()

var otherEvents = []string{"message:in:new", "message:out:new", "message:out:ack", "chat:update", "contact:update"}

// synthRules writes a rules file of n rules of which listening listen to
// group:update (with a condition that needs the event's fields) and the
// rest to other events. With byAction, the group:update rules are spread
// over the 31 actions with a top-level `action == "x"` conjunct.
func synthRules(n, listening int, byAction bool) []byte {
	var b strings.Builder
	b.WriteString("version: 1\nvars:\n  vips: [\"+34600000001\", \"+34600000002\"]\nrules:\n")
	for i := 0; i < n; i++ {
		on := otherEvents[i%len(otherEvents)]
		cond := `data.chat.name != "" && author not in vars.vips`
		if i < listening {
			on = "group:update"
			if byAction {
				cond = fmt.Sprintf(`action == %q && author not in vars.vips`, groupActions[i%len(groupActions)])
			}
		}
		fmt.Fprintf(&b, "  - name: rule-%d\n    on: %s\n    if: %s\n    do:\n      - log:\n          message: \"{{ author }} {{ action }} in {{ data.chat.name }} ({{ len(participants ?? []) }})\"\n", i, on, cond)
	}
	return []byte(b.String())
}

func loadBench(b *testing.B, data []byte) *engine.RuleSet {
	b.Helper()
	rs, problems := engine.Load("bench.yaml", data, engine.LoadOptions{})
	if rs == nil {
		b.Fatalf("load: %v", problems)
	}
	return rs
}

func readEvent(b *testing.B, name string) *event.Event {
	b.Helper()
	evs, err := event.ReadFile(filepath.Join("..", "testdata", "events", name))
	if err != nil {
		b.Fatal(err)
	}
	return evs[0]
}

// BenchmarkLoad1000 loads and compiles a 1,000-rule file.
func BenchmarkLoad1000(b *testing.B) {
	data := synthRules(1000, 100, false)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		loadBench(b, data)
	}
}

// BenchmarkEvaluate measures match and render per event as the file
// grows, with a fixed number of rules listening to the event's name.
func BenchmarkEvaluate(b *testing.B) {
	ev := readEvent(b, "group-update/remove.json")
	for _, tc := range []struct {
		name            string
		total, listened int
		byAction        bool
	}{
		{"rules=10/listening=10", 10, 10, false},
		{"rules=100/listening=10", 100, 10, false},
		{"rules=1000/listening=10", 1000, 10, false},
		{"rules=10000/listening=10", 10000, 10, false},
		{"rules=100/listening=5pct", 100, 5, false},
		{"rules=1000/listening=5pct", 1000, 50, false},
		{"rules=10000/listening=5pct", 10000, 500, false},
		{"rules=1000/group-update-by-action", 1000, 1000, true},
		{"rules=10000/group-update-by-action", 10000, 1000, true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			rs := loadBench(b, synthRules(tc.total, tc.listened, tc.byAction))
			var fired int
			for b.Loop() {
				fired = len(rs.Evaluate(ev).Fired)
			}
			b.ReportMetric(float64(fired), "fired/op")
		})
	}
}

// BenchmarkDryRun measures decode plus evaluation of the recorded events
// with rules.example.yaml, as `hookd dry-run` does.
func BenchmarkDryRun(b *testing.B) {
	rs, problems := loadFile(b, filepath.Join("..", "rules.example.yaml"), engine.LoadOptions{AllowUnsetEnv: true})
	if rs == nil {
		b.Fatal(problems)
	}
	var raws [][]byte
	evs, err := event.ReadPaths([]string{filepath.Join("..", "testdata", "events")})
	if err != nil {
		b.Fatal(err)
	}
	for _, ev := range evs {
		raws = append(raws, ev.Raw)
	}
	if len(raws) == 0 {
		b.Skip("no events")
	}
	b.ResetTimer()
	n := 0
	for b.Loop() {
		parsed, err := event.Parse(raws[n%len(raws)])
		if err != nil {
			b.Fatal(err)
		}
		for _, ev := range parsed {
			rs.Evaluate(ev)
		}
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}

// synthMatchRules writes n group:update rules spread over the 32
// group:update actions, whose conditions are false for the benchmark's
// event after the action test: it measures matching alone. Each rule
// tests the group's name against a constant, which the value index
// looks up, or (with byValue false) with a test it cannot.
func synthMatchRules(n int, byAction, byValue bool) []byte {
	var b strings.Builder
	b.WriteString("version: 1\nvars:\n  vips: [\"+34600000001\", \"+34600000002\"]\nrules:\n")
	for i := 0; i < n; i++ {
		name := fmt.Sprintf(`data.chat.name == "group %d"`, i)
		if !byValue {
			name = fmt.Sprintf(`data.chat.name startsWith "group %d:"`, i)
		}
		cond := "author in vars.vips && " + name
		if byAction {
			cond = fmt.Sprintf(`action == %q && %s`, groupActions[i%len(groupActions)], cond)
		}
		fmt.Fprintf(&b, "  - name: rule-%d\n    on: group:update\n    if: %s\n    do:\n      - log:\n          message: \"{{ author }} in {{ data.chat.name }}\"\n", i, cond)
	}
	return []byte(b.String())
}

// BenchmarkMatch measures the cost of finding that no rule fires, for a
// file whose rules all listen to group:update: with the action index,
// only the rules of the event's action are evaluated; with the value
// index (by-value=true), only those whose group name is the event's.
func BenchmarkMatch(b *testing.B) {
	ev := readEvent(b, "group-update/remove.json")
	for _, tc := range []struct {
		rules             int
		byAction, byValue bool
	}{
		{35, false, false}, {1000, true, false}, {1000, false, false}, {10000, true, false},
		{1000, true, true}, {10000, true, true},
	} {
		name := fmt.Sprintf("rules=%d/by-action=%v/by-value=%v", tc.rules, tc.byAction, tc.byValue)
		b.Run(name, func(b *testing.B) {
			rs := loadBench(b, synthMatchRules(tc.rules, tc.byAction, tc.byValue))
			for b.Loop() {
				if res := rs.Evaluate(ev); len(res.Fired) != 0 {
					b.Fatal("a rule fired")
				}
			}
		})
	}
}

// BenchmarkLoad1000Distinct loads 1,000 rules whose expressions all
// differ, so that no compiled program is shared.
func BenchmarkLoad1000Distinct(b *testing.B) {
	data := synthMatchRules(1000, true, true)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		loadBench(b, data)
	}
}

// BenchmarkReload10000 reloads a 10,000-rule file after a one-rule edit,
// with and without the previous rule set's compiled expressions.
func BenchmarkReload10000(b *testing.B) {
	data := synthMatchRules(10000, true, true)
	edited := []byte(strings.Replace(string(data), `"group 5000"`, `"group 5000 edited"`, 1))
	prev := loadBench(b, data)
	for _, reuse := range []bool{false, true} {
		b.Run(fmt.Sprintf("reuse=%v", reuse), func(b *testing.B) {
			opts := engine.LoadOptions{}
			if reuse {
				opts.Previous = prev
			}
			for b.Loop() {
				if rs, problems := engine.Load("bench.yaml", edited, opts); rs == nil {
					b.Fatal(problems)
				}
			}
		})
	}
}

// BenchmarkParseProjected measures decoding the seed's group:update event
// into the fields 1,000 rules read (the daemon's intake decode), against
// a full decode.
func BenchmarkParseProjected(b *testing.B) {
	body, err := os.ReadFile(filepath.Join("..", "testdata", "events", "group-update", "remove.json"))
	if err != nil {
		b.Fatal(err)
	}
	rs := loadBench(b, synthMatchRules(1000, true, true))
	for _, tc := range []struct {
		name string
		p    *event.Projection
	}{{"projected", rs.Projection()}, {"full", nil}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, err := event.ParseProjected(body, tc.p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
