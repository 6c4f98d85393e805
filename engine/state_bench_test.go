package engine_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hookd/hookd/engine"
	"github.com/hookd/hookd/event"
)

// stateBenchRules is 1,000 rules on group:update: 900 for one group each
// (the value index finds the one that matches), and 100 for every
// removal, which with state are 50 windows (5 in 10 minutes) and 50
// throttles (once an hour), keyed by group.
func stateBenchRules(withState bool) string {
	var b strings.Builder
	b.WriteString("version: 1\nrules:\n")
	for i := range 900 {
		fmt.Fprintf(&b, "  - name: group-%d\n    on: group:update\n    if: action == \"remove\" && data.chat.id == \"g%d@g.us\"\n    do: [log: {message: \"{{ author }} in {{ data.chat.name }}\"}]\n", i, i)
	}
	for i := range 100 {
		fmt.Fprintf(&b, "  - name: all-%d\n    on: group:update\n    if: action == \"remove\"\n", i)
		if withState && i%2 == 0 {
			b.WriteString("    window: { key: \"{{ data.chat.id }}\", within: 10m, at_least: 5 }\n")
		} else if withState {
			b.WriteString("    throttle: { key: \"{{ data.chat.id }}\", per: 1h }\n")
		}
		b.WriteString("    do: [log: {message: \"{{ author }} in {{ data.chat.name }}\"}]\n")
	}
	return b.String()
}

// stateBenchEvents are removals in 10,000 groups, one second apart.
func stateBenchEvents(b *testing.B) []*event.Event {
	evs := make([]*event.Event, 10000)
	for i := range evs {
		js := fmt.Sprintf(`{"id":"e%d","event":"group:update","action":"remove","created":%d,"author":"+34600000001","participants":["+34611000001"],"data":{"chat":{"id":"g%d@g.us","name":"Group %d"}}}`, i, 1772445600+i, i, i)
		parsed, err := event.Parse([]byte(js))
		if err != nil {
			b.Fatal(err)
		}
		evs[i] = parsed[0]
	}
	return evs
}

// BenchmarkStateEvaluate compares evaluating the 1,000 rules of
// stateBenchRules with and without state: with state, each event's 100
// steps are applied to a MemoryState over 10,000 keys (a window or a
// throttle decides, and actions render only when one fires); without,
// the same 100 rules fire for every event.
func BenchmarkStateEvaluate(b *testing.B) {
	evs := stateBenchEvents(b)
	for _, withState := range []bool{false, true} {
		name := "stateless"
		if withState {
			name = "stateful"
		}
		b.Run(name, func(b *testing.B) {
			rs, problems := engine.Load("rules.yaml", []byte(stateBenchRules(withState)), engine.LoadOptions{})
			if rs == nil {
				b.Fatal(problems)
			}
			m := engine.NewMemoryState()
			b.ReportAllocs()
			b.ResetTimer()
			fired := 0
			for i := 0; b.Loop(); i++ {
				res := rs.Evaluate(evs[i%len(evs)])
				m.Apply(res)
				fired += len(res.Fired)
			}
			b.ReportMetric(float64(fired)/float64(b.N), "fired/op")
		})
	}
}
