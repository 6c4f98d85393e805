package main

import (
	"fmt"
	"time"
)

// cpuMeter measures CPU use over a scenario: the sum over the server's
// processes (one, or a cluster's nodes) and the harness's own.
type cpuMeter struct {
	cs          []*child
	at          time.Time
	server, gen time.Duration
	busyServer  float64
	busyGen     float64
	errs        []error
}

// startCPU starts measuring before the first request.
func startCPU(cs ...*child) *cpuMeter {
	m := &cpuMeter{cs: cs, at: time.Now(), gen: selfCPU()}
	var err error
	if m.server, err = m.serverTime(); err != nil {
		m.errs = append(m.errs, err)
	}
	return m
}

// serverTime sums the servers' CPU time so far.
func (m *cpuMeter) serverTime() (time.Duration, error) {
	var sum time.Duration
	for _, c := range m.cs {
		t, err := c.cpuTime()
		if err != nil {
			return 0, err
		}
		sum += t
	}
	return sum, nil
}

// sent marks the end of sending.
func (m *cpuMeter) sent() {
	wall := time.Since(m.at).Seconds()
	if wall <= 0 {
		return
	}
	m.busyGen = (selfCPU() - m.gen).Seconds() / wall
	srv, err := m.serverTime()
	if err != nil {
		m.errs = append(m.errs, err)
		return
	}
	m.busyServer = (srv - m.server).Seconds() / wall
}

// done ends the measure once the server has finished the events' work.
func (m *cpuMeter) done(events int, notes *[]string) CPUUse {
	u := CPUUse{ServerBusy: m.busyServer, GeneratorBusy: m.busyGen}
	srv, err := m.serverTime()
	if err != nil {
		m.errs = append(m.errs, err)
	} else if events > 0 {
		u.ServerPerEvent = float64((srv - m.server).Microseconds()) / float64(events)
	}
	for _, err := range m.errs {
		*notes = append(*notes, err.Error())
	}
	if u.GeneratorBusy > 0.9 {
		*notes = append(*notes, fmt.Sprintf("the generator used %.0f%% of a CPU: the figures may be the generator's limit, not the server's", u.GeneratorBusy*100))
	}
	return u
}
