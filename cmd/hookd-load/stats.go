package main

import (
	"math"
	"slices"
	"time"
)

// percentile returns the nearest-rank p-th percentile (0 < p <= 100) of
// sorted values, or 0 when there are none.
func percentile(sorted []int64, p float64) int64 {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// Latency is a latency distribution in milliseconds.
type Latency struct {
	N    int     `json:"n"`
	P50  float64 `json:"p50_ms"`
	P99  float64 `json:"p99_ms"`
	P999 float64 `json:"p99_9_ms"`
	Max  float64 `json:"max_ms"`
}

// summarize sorts ns (in place) and returns its distribution.
func summarize(ns []int64) Latency {
	slices.Sort(ns)
	ms := func(v int64) float64 { return float64(v) / float64(time.Millisecond) }
	l := Latency{N: len(ns), P50: ms(percentile(ns, 50)), P99: ms(percentile(ns, 99)), P999: ms(percentile(ns, 99.9))}
	if len(ns) > 0 {
		l.Max = ms(ns[len(ns)-1])
	}
	return l
}

// counts is what happened to a run's requests in a window.
type counts struct {
	Sent, OK, Non2xx, Transport int
	// Rate is the 2xx answers per second over the window.
	Rate float64
	// Reply is the reply latency of the 2xx answers.
	Reply Latency
}

// measure counts the samples whose start is at or after from (ns since
// T0) and before to (0: no end), and the rate of 2xx answers from `from`
// to the last answer.
func measure(samples []sample, from, to int64) counts {
	var c counts
	var lat []int64
	var last int64
	for _, s := range samples {
		if s.Start < from || (to > 0 && s.Start >= to) {
			continue
		}
		c.Sent++
		switch {
		case s.OK():
			c.OK++
			lat = append(lat, s.End-s.Start)
			last = max(last, s.End)
		case s.Status == 0:
			c.Transport++
		default:
			c.Non2xx++
		}
	}
	if span := last - from; span > 0 {
		c.Rate = float64(c.OK) / (float64(span) / float64(time.Second))
	}
	c.Reply = summarize(lat)
	return c
}
