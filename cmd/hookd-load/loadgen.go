package main

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// plan says how to send one scenario's events.
type plan struct {
	// Conns is the number of keep-alive connections, one sender each.
	Conns int
	// Rate is the open-loop rate in events/s; 0 is closed loop (each
	// connection sends its next event when the previous one is answered).
	Rate float64
	// Count bounds the events sent (0: no bound but the others).
	Count int64
	// Duration bounds the sending time (0: no bound but the others).
	Duration time.Duration
	// Stop, when not nil, ends sending when closed; requests in flight
	// finish.
	Stop <-chan struct{}
}

// sample is one request: when it was meant to go (open loop) or went
// (closed loop), when its answer was read, both in ns since the start of
// the run, and the status (0 for a transport error).
type sample struct {
	Seq    int64
	Start  int64
	End    int64
	Status int
}

// OK reports a 2xx answer.
func (s sample) OK() bool { return s.Status >= 200 && s.Status <= 299 }

// runData is what a plan produced.
type runData struct {
	// T0 is the start; sample times are relative to it.
	T0      time.Time
	Samples []sample
}

// generate sends events with plan p and returns every request's sample.
// Connection c goes to urls[c % len(urls)], as a balancer spreads
// keep-alive connections over a cluster's nodes. Event ids are
// ids.id(seq) for seq from 0.
func generate(ctx context.Context, urls []string, pl *payload, ids eventIDs, p plan) (runData, error) {
	conns := max(p.Conns, 1)
	limit := p.Count
	if p.Rate > 0 && p.Duration > 0 {
		byTime := int64(p.Rate * p.Duration.Seconds())
		if limit == 0 || byTime < limit {
			limit = byTime
		}
	}
	stop := p.Stop
	if stop == nil {
		stop = make(chan struct{}) // never closed
	}
	rcs := make([]*rawConn, conns)
	for c := range rcs {
		var err error
		if rcs[c], err = newRawConn(ctx, urls[c%len(urls)], pl); err != nil {
			return runData{}, err
		}
	}
	t0 := time.Now()
	var deadline time.Time
	if p.Duration > 0 {
		deadline = t0.Add(p.Duration)
	}
	var next atomic.Int64
	parts := make([][]sample, conns)
	var wg sync.WaitGroup
	for c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			parts[c] = sender(ctx, stop, rcs[c], ids, p.Rate, limit, t0, deadline, &next)
		}()
	}
	wg.Wait()
	var all []sample
	for _, part := range parts {
		all = append(all, part...)
	}
	return runData{T0: t0, Samples: all}, nil
}

// sender is one connection's loop. In open loop it takes the next slot
// of the schedule, waits for the slot's time and counts latency from it,
// so a stalled server is charged for the requests it held back
// (no coordinated omission). Closing stop ends the loop before the next
// request; the one in flight is answered and recorded.
func sender(ctx context.Context, stop <-chan struct{}, rc *rawConn, ids eventIDs, rate float64, limit int64, t0, deadline time.Time, next *atomic.Int64) []sample {
	defer rc.close()
	var out []sample
	var timer *time.Timer
	for ctx.Err() == nil {
		select {
		case <-stop:
			return out
		default:
		}
		seq := next.Add(1) - 1
		if limit > 0 && seq >= limit {
			break
		}
		var start time.Time
		if rate > 0 {
			start = t0.Add(time.Duration(float64(seq) * float64(time.Second) / rate))
			if d := time.Until(start); d > 0 {
				if timer == nil {
					timer = time.NewTimer(d)
				} else {
					timer.Reset(d)
				}
				select {
				case <-timer.C:
				case <-stop:
					return out
				case <-ctx.Done():
					return out
				}
			}
		} else {
			start = time.Now()
		}
		if !deadline.IsZero() && start.After(deadline) {
			break
		}
		status := rc.post(ids.id(seq))
		if status == 0 && ctx.Err() != nil {
			break // cut short by the end of the run, not the server's fault
		}
		out = append(out, sample{Seq: seq, Start: int64(start.Sub(t0)), End: int64(time.Since(t0)), Status: status})
	}
	return out
}
