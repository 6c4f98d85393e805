package main

import (
	"fmt"
	"time"
)

// cpuMeter measures CPU use over a scenario.
type cpuMeter struct {
	c           *child
	at          time.Time
	server, gen time.Duration
	busyServer  float64
	busyGen     float64
	errs        []error
}

// startCPU starts measuring before the first request.
func startCPU(c *child) *cpuMeter {
	m := &cpuMeter{c: c, at: time.Now(), gen: selfCPU()}
	var err error
	if m.server, err = c.cpuTime(); err != nil {
		m.errs = append(m.errs, err)
	}
	return m
}

// sent marks the end of sending.
func (m *cpuMeter) sent() {
	wall := time.Since(m.at).Seconds()
	if wall <= 0 {
		return
	}
	m.busyGen = (selfCPU() - m.gen).Seconds() / wall
	srv, err := m.c.cpuTime()
	if err != nil {
		m.errs = append(m.errs, err)
		return
	}
	m.busyServer = (srv - m.server).Seconds() / wall
}

// done ends the measure once the server has finished the events' work.
func (m *cpuMeter) done(events int, notes *[]string) CPUUse {
	u := CPUUse{ServerBusy: m.busyServer, GeneratorBusy: m.busyGen}
	srv, err := m.c.cpuTime()
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
