package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// printReport writes the report as a table with notes.
func printReport(w io.Writer, rep *Report) {
	fmt.Fprintf(w, "machine: %s\n", rep.Machine)
	fmt.Fprintf(w, "pinning: %s\n", rep.Pinning.Why)
	fmt.Fprintf(w, "hookd: built from %s\n", rep.Hookd)
	act := ""
	if rep.Payload.Action != "" {
		act = "/" + rep.Payload.Action
	}
	fmt.Fprintf(w, "payload: %s (%d bytes, %s%s), ids %s; %d rules, fire %s, --sync %s; warm-up %s left out\n\n",
		rep.Payload.File, rep.Payload.Bytes, rep.Payload.Event, act, rep.IDs, rep.Rules, strings.Join(rep.Fire, ","), rep.Sync, rep.Warmup)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	if len(rep.Medians) > 0 {
		fmt.Fprint(tw, "round\t")
	}
	fmt.Fprintln(tw, "scenario\tevents/s\tx floor\treply p50\tp99\tp99.9\te2a p50\te2a p99\terrors\tpeak RSS\tCPU µs/event\t")
	for _, r := range rep.Results {
		ratio := "-"
		if rep.Floor > 0 {
			ratio = fmt.Sprintf("%.2f", r.Ratio)
		}
		e50, e99 := "-", "-"
		if a := r.Actions; a != nil && a.Latency.N > 0 {
			e50, e99 = ms(a.Latency.P50), ms(a.Latency.P99)
		}
		if len(rep.Medians) > 0 {
			fmt.Fprintf(tw, "%d\t", r.Round)
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.0f\t\n", r.Scenario, r.EventsPerSec, ratio,
			ms(r.Reply.P50), ms(r.Reply.P99), ms(r.Reply.P999), e50, e99, errorsCell(&r), mb(r.PeakRSS), r.CPU.ServerPerEvent)
	}
	tw.Flush()
	printMedians(w, rep.Medians)

	fmt.Fprintln(w)
	for _, r := range rep.Results {
		if r.Round > 0 {
			fmt.Fprintf(w, "round %d, ", r.Round)
		}
		fmt.Fprintf(w, "%s: %s, %d conns, %d sent, %d 2xx, %d non-2xx, %d transport errors; server up in %.2fs; CPUs busy while sending: server %.2f, generator %.2f",
			r.Scenario, r.Mode, r.Conns, r.Sent, r.OK, r.Non2xx, r.Transport, r.StartSeconds, r.CPU.ServerBusy, r.CPU.GeneratorBusy)
		if r.FsyncPerSec > 0 {
			fmt.Fprintf(w, "; fsync %.0f/s", r.FsyncPerSec)
		}
		if r.StoreCommits > 0 && r.Actions != nil {
			ops := r.Actions.Events + r.Actions.Received
			fmt.Fprintf(w, "; %d store commits (about %.1f events and deliveries each)", r.StoreCommits, float64(ops)/float64(r.StoreCommits))
		}
		if a := r.Actions; a != nil {
			fmt.Fprintf(w, "; actions: %d expected, %d received, %d dead-lettered, %d missing", a.Expected, a.Received, a.DeadLettered, a.Missing)
			for _, typ := range rep.Fire {
				if l, ok := a.ByType[typ]; ok && l.N > 0 {
					fmt.Fprintf(w, "; %s e2a p50 %s p99 %s", typ, ms(l.P50), ms(l.P99))
				}
			}
		}
		if len(r.NodePeakRSS) > 0 {
			parts := make([]string, len(r.NodePeakRSS))
			for i, b := range r.NodePeakRSS {
				parts[i] = mb(b)
			}
			fmt.Fprintf(w, "; peak RSS per node %s", strings.Join(parts, " "))
		}
		if r.ServerWarnings > 0 {
			fmt.Fprintf(w, "; %d server warnings", r.ServerWarnings)
		}
		fmt.Fprintln(w)
		for _, n := range r.Notes {
			fmt.Fprintf(w, "  note: %s\n", n)
		}
	}
	if rl := rep.Reload; rl != nil {
		fmt.Fprintf(w, "\nreload %d -> %d rules (%d KB file) at %.0f events/s: %.0f ms from the write to \"rules reloaded\" (includes the watcher's %.0f ms debounce)\n",
			rl.RulesBefore, rl.RulesAfter, rl.FileBytes/1024, rl.Rate, rl.ReloadMs, rl.DebounceMs)
		fmt.Fprintf(w, "  reply p50/p99/max: before %s/%s/%s (n=%d), during %s/%s/%s (n=%d), after %s/%s/%s (n=%d)\n",
			ms(rl.Before.P50), ms(rl.Before.P99), ms(rl.Before.Max), rl.Before.N,
			ms(rl.During.P50), ms(rl.During.P99), ms(rl.During.Max), rl.During.N,
			ms(rl.After.P50), ms(rl.After.P99), ms(rl.After.Max), rl.After.N)
		fmt.Fprintf(w, "  %d sent, %d 2xx, %d non-2xx, %d transport errors; peak RSS %s; server up in %.2fs",
			rl.Sent, rl.OK, rl.Non2xx, rl.Transport, mb(rl.PeakRSS), rl.StartSeconds)
		if a := rl.Actions; a != nil {
			fmt.Fprintf(w, "; actions: %d expected, %d received, e2a p50 %s p99 %s", a.Expected, a.Received, ms(a.Latency.P50), ms(a.Latency.P99))
		}
		fmt.Fprintln(w)
		for _, n := range rl.Notes {
			fmt.Fprintf(w, "  note: %s\n", n)
		}
	}
	if rep.Profile != "" {
		fmt.Fprintf(w, "\nCPU profile of hookd at full speed: %s (go tool pprof -top %s)\n", rep.Profile, rep.Profile)
	}
	if rep.ClusterProfile != "" {
		fmt.Fprintf(w, "CPU profile of the cluster's first node: %s (go tool pprof -top %s)\n", rep.ClusterProfile, rep.ClusterProfile)
	}
	if rep.StateProfile != "" {
		fmt.Fprintf(w, "CPU profile of hookd with rules that remember: %s (go tool pprof -top %s)\n", rep.StateProfile, rep.StateProfile)
	}
	if rep.Trace != "" {
		fmt.Fprintf(w, "execution trace of hookd at full speed: %s (go tool trace -pprof=syscall %s > syscall.prof)\n", rep.Trace, rep.Trace)
	}
	for _, f := range rep.Failures {
		fmt.Fprintf(w, "\nFAILED %s\n", f)
	}
}

func ms(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0fms", v)
	case v >= 10:
		return fmt.Sprintf("%.1fms", v)
	default:
		return fmt.Sprintf("%.2fms", v)
	}
}

func mb(b int64) string {
	if b <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.0fMB", float64(b)/(1<<20))
}

func errorsCell(r *Result) string {
	if r.Errors() == 0 {
		return "0"
	}
	var parts []string
	if r.Non2xx > 0 {
		parts = append(parts, fmt.Sprintf("%d non-2xx", r.Non2xx))
	}
	if r.Transport > 0 {
		parts = append(parts, fmt.Sprintf("%d transport", r.Transport))
	}
	if a := r.Actions; a != nil && a.Missing > 0 {
		parts = append(parts, fmt.Sprintf("%d actions missing", a.Missing))
	}
	if a := r.Actions; a != nil && a.SinkFailed > 0 {
		parts = append(parts, fmt.Sprintf("%d refused by the sink", a.SinkFailed))
	}
	return strings.Join(parts, ", ")
}

// printMedians writes the table of medians over the rounds, if any.
func printMedians(w io.Writer, meds []Median) {
	if len(meds) == 0 {
		return
	}
	fmt.Fprintf(w, "\nmedians over %d rounds (each ratio within its round):\n", meds[0].Rounds)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tevents/s\tx floor\t(range)\tx hookd\treply p99\tCPU µs/event\t")
	for _, m := range meds {
		over := "-"
		if m.OverHookd > 0 {
			over = fmt.Sprintf("%.2f", m.OverHookd)
		}
		ratio, rng := "-", "-"
		if m.RatioMax > 0 {
			ratio, rng = fmt.Sprintf("%.2f", m.Ratio), fmt.Sprintf("%.2f-%.2f", m.RatioMin, m.RatioMax)
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%s\t%s\t%s\t%s\t%.0f\t\n", m.Scenario, m.EventsPerSec, ratio, rng, over, ms(m.ReplyP99), m.CPUPerEvent)
	}
	tw.Flush()
}
