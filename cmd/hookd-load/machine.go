package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Machine describes where the figures were measured.
type Machine struct {
	CPU      string `json:"cpu"`
	CPUs     int    `json:"cpus"`
	MemoryMB int    `json:"memory_mb"`
	Kernel   string `json:"kernel"`
	Go       string `json:"go"`
	OSArch   string `json:"os_arch"`
	// LoadAvg is the 1-minute load average when the run started: other
	// work on the machine makes the figures noisy.
	LoadAvg float64 `json:"load_avg_1m"`
	// FsyncPerSec is how many 4 KB write+fsync rounds a second the temp
	// folder's disk takes: the ceiling of one commit per event.
	FsyncPerSec float64 `json:"fsync_per_sec"`
}

// probeMachine reads the machine's description from /proc and times
// fsync in dir (fewer rounds in smoke mode).
func probeMachine(dir string, smoke bool) Machine {
	m := Machine{CPUs: runtime.NumCPU(), Go: runtime.Version(), OSArch: runtime.GOOS + "/" + runtime.GOARCH}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		m.CPU = procField(data, "model name")
	}
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		if f := strings.Fields(procField(data, "MemTotal")); len(f) > 0 {
			kb, _ := strconv.Atoi(f[0])
			m.MemoryMB = kb / 1024
		}
	}
	if data, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(data)); len(f) > 0 {
			m.LoadAvg, _ = strconv.ParseFloat(f[0], 64)
		}
	}
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(data))
	}
	m.FsyncPerSec = fsyncRate(dir, fsyncRounds(smoke))
	return m
}

// fsyncRounds is how many fsyncs a probe times.
func fsyncRounds(smoke bool) int {
	if smoke {
		return 20
	}
	return 200
}

// procField returns the value of the first "key: value" line of a /proc
// file.
func procField(data []byte, key string) string {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// fsyncRate times rounds of a 4 KB write and fsync in dir; 0 when it
// cannot.
func fsyncRate(dir string, rounds int) float64 {
	f, err := os.Create(filepath.Join(dir, "fsync-probe"))
	if err != nil {
		return 0
	}
	defer os.Remove(f.Name())
	defer f.Close()
	block := bytes.Repeat([]byte{'x'}, 4096)
	start := time.Now()
	for range rounds {
		if _, err := f.Write(block); err != nil {
			return 0
		}
		if err := f.Sync(); err != nil {
			return 0
		}
	}
	return float64(rounds) / time.Since(start).Seconds()
}

// String is the machine on one line.
func (m Machine) String() string {
	return fmt.Sprintf("%d CPUs (%s), %d MB, Linux %s, %s %s; fsync %.0f/s; load average %.2f", m.CPUs, m.CPU, m.MemoryMB, m.Kernel, m.Go, m.OSArch, m.FsyncPerSec, m.LoadAvg)
}
