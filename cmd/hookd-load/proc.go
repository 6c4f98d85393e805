package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// pinning says whether servers and the generator run on their own CPUs.
type pinning struct {
	On bool `json:"on"`
	// Server and Generator are the CPUs when On.
	Server    int `json:"server_cpu"`
	Generator int `json:"generator_cpu"`
	// Why explains the choice, e.g. "taskset not found".
	Why string `json:"why"`
}

// setupPinning pins this process (the generator and the sink) to CPU 1
// and returns the pinning for the servers, or why there is none.
func setupPinning(want bool) pinning {
	if !want {
		return pinning{Why: "disabled (--pin=false): servers and generator share every CPU"}
	}
	if n := runtime.NumCPU(); n < 2 {
		return pinning{Why: fmt.Sprintf("only %d CPU: servers and generator share it", n)}
	}
	ts, err := exec.LookPath("taskset")
	if err != nil {
		return pinning{Why: "taskset not found (util-linux): servers and generator share every CPU"}
	}
	// -a: every thread of this process; threads started later inherit it.
	out, err := exec.Command(ts, "-a", "-p", "-c", "1", strconv.Itoa(os.Getpid())).CombinedOutput()
	if err != nil {
		return pinning{Why: fmt.Sprintf("taskset failed (%v: %s): servers and generator share every CPU", err, bytes.TrimSpace(out))}
	}
	runtime.GOMAXPROCS(1)
	return pinning{On: true, Server: 0, Generator: 1, Why: "taskset: server on CPU 0, generator and sink on CPU 1"}
}

// serverCPUs is the taskset CPU list of a server process, "" when
// servers are not pinned.
func (p pinning) serverCPUs() string {
	if !p.On {
		return ""
	}
	return strconv.Itoa(p.Server)
}

// everyCPU is the taskset CPU list that gives a child every CPU again
// (it would inherit the generator's CPU), "" when nothing is pinned.
func (p pinning) everyCPU() string {
	if !p.On {
		return ""
	}
	return fmt.Sprintf("0-%d", runtime.NumCPU()-1)
}

// logLine is one line a child wrote on stderr: its JSON log record when
// it is one, and when the harness read it.
type logLine struct {
	At    time.Time
	Msg   string
	Level string
	Attrs map[string]any
	Text  string
}

// child is a server process the harness started.
type child struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error // set before done is closed

	mu     sync.Mutex
	stdout []string
	lines  []logLine // kept: the first maxKept JSON records
	tail   []string  // the last lines of stderr
	// logFile, when not nil, receives every line of stderr.
	logFile *os.File
	warns   int // records at WARN or above
	dead    int // "action dead-lettered" records
	// warnMsgs counts the WARN and ERROR records by message, and
	// warnErrs keeps the err of each message's first record.
	warnMsgs map[string]int
	warnErrs map[string]string
	// firstDead is the action and error of the first dead letter.
	firstDead string
	changed   chan struct{}
}

const (
	maxKept = 10000
	maxTail = 20
)

// startChild starts argv with extra environment variables, on the CPUs
// of the taskset list cpus ("" for the harness's own). When logPath is
// not "", its stderr is written there too.
func startChild(name string, argv []string, env []string, cpus, logPath string) (*child, error) {
	if cpus != "" {
		argv = append([]string{"taskset", "-c", cpus}, argv...)
	}
	c := &child{name: name, done: make(chan struct{}), changed: make(chan struct{})}
	if logPath != "" {
		f, err := os.Create(logPath)
		if err != nil {
			return nil, fmt.Errorf("%s's log: %w", name, err)
		}
		c.logFile = f
	}
	c.cmd = exec.Command(argv[0], argv[1:]...)
	c.cmd.Env = append(append(os.Environ(), selfEnv+"=1"), env...)
	c.cmd.SysProcAttr = childAttr()
	c.cmd.Stdout = &lineWriter{fn: c.onStdout}
	c.cmd.Stderr = &lineWriter{fn: c.onStderr}
	if err := c.cmd.Start(); err != nil {
		if c.logFile != nil {
			_ = c.logFile.Close()
		}
		return nil, fmt.Errorf("start %s (%s): %w", name, argv[0], err)
	}
	go func() {
		c.err = c.cmd.Wait()
		if c.logFile != nil {
			_ = c.logFile.Close() // Wait returns after the last line was written
		}
		close(c.done)
		c.mu.Lock()
		c.notify()
		c.mu.Unlock()
	}()
	return c, nil
}

// notify wakes waiters; call with c.mu held.
func (c *child) notify() {
	close(c.changed)
	c.changed = make(chan struct{})
}

func (c *child) onStdout(line string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stdout = append(c.stdout, line)
	c.notify()
}

func (c *child) onStderr(line string) {
	if c.logFile != nil {
		_, _ = c.logFile.WriteString(line + "\n")
	}
	l := logLine{At: time.Now(), Text: line}
	var rec map[string]any
	if json.Unmarshal([]byte(line), &rec) == nil {
		l.Msg, _ = rec["msg"].(string)
		l.Level, _ = rec["level"].(string)
		l.Attrs = rec
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.tail) == maxTail {
		c.tail = c.tail[1:]
	}
	c.tail = append(c.tail, line)
	if l.Level == "WARN" || l.Level == "ERROR" {
		c.warns++
		if c.warnMsgs == nil {
			c.warnMsgs, c.warnErrs = map[string]int{}, map[string]string{}
		}
		if c.warnMsgs[l.Msg] == 0 {
			c.warnErrs[l.Msg], _ = l.Attrs["err"].(string)
		}
		c.warnMsgs[l.Msg]++
	}
	if strings.HasPrefix(l.Msg, "action dead-lettered") {
		c.dead++
		if c.firstDead == "" {
			c.firstDead = fmt.Sprintf("%v: %v", l.Attrs["action"], l.Attrs["err"])
		}
	}
	// Per-action records are counted, not kept: waiters scan c.lines.
	if l.Msg != "" && !strings.HasPrefix(l.Msg, "action ") && len(c.lines) < maxKept {
		c.lines = append(c.lines, l)
	}
	c.notify()
}

// waitFor waits until cond holds for the child's output, the child
// exits, or ctx ends.
func (c *child) waitFor(ctx context.Context, what string, cond func(stdout []string, lines []logLine) bool) error {
	for {
		c.mu.Lock()
		ok := cond(c.stdout, c.lines)
		changed := c.changed
		c.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-changed:
		case <-c.done:
			return fmt.Errorf("%s exited (%v) before %s; its last output:\n%s", c.name, c.err, what, c.tailText())
		case <-ctx.Done():
			return fmt.Errorf("%s: no %s after waiting: %w; its last output:\n%s", c.name, what, ctx.Err(), c.tailText())
		}
	}
}

// waitMsg waits for a JSON log record with one of msgs as its message,
// read at or after since, and returns it.
func (c *child) waitMsg(ctx context.Context, since time.Time, msgs ...string) (logLine, error) {
	var found logLine
	err := c.waitFor(ctx, fmt.Sprintf("log line %q", msgs[0]), func(_ []string, lines []logLine) bool {
		for _, l := range lines {
			if slices.Contains(msgs, l.Msg) && !l.At.Before(since) {
				found = l
				return true
			}
		}
		return false
	})
	return found, err
}

// warnings counts the log records at WARN or ERROR so far.
func (c *child) warnings() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.warns
}

// forgetWarnings drops the WARN and ERROR records counted so far.
func (c *child) forgetWarnings() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.warns, c.warnMsgs, c.warnErrs = 0, nil, nil
}

// warningSummary describes the WARN and ERROR records by message, most
// frequent first, with the first one's err ("" when there are none).
func (c *child) warningSummary() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	msgs := make([]string, 0, len(c.warnMsgs))
	for m := range c.warnMsgs {
		msgs = append(msgs, m)
	}
	slices.SortFunc(msgs, func(a, b string) int { return c.warnMsgs[b] - c.warnMsgs[a] })
	parts := make([]string, len(msgs))
	for i, m := range msgs {
		parts[i] = fmt.Sprintf("%dx %q", c.warnMsgs[m], m)
		if e := c.warnErrs[m]; e != "" {
			parts[i] += fmt.Sprintf(" (first: %s)", e)
		}
	}
	return strings.Join(parts, ", ")
}

// deadLetters counts the actions hookd dead-lettered so far, and
// describes the first.
func (c *child) deadLetters() (int, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dead, c.firstDead
}

func (c *child) tailText() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return "  " + strings.Join(c.tail, "\n  ")
}

// pid is the process id (taskset execs the server, keeping its pid).
func (c *child) pid() int { return c.cmd.Process.Pid }

// peakRSS returns the child's peak resident set size in bytes, from
// /proc/PID/status (VmHWM); call it before stop.
func (c *child) peakRSS() (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.pid()))
	if err != nil {
		return 0, fmt.Errorf("peak RSS of %s: %w (is /proc mounted?)", c.name, err)
	}
	return parseVmHWM(data)
}

// cpuTime returns the child's CPU time so far (user and system, every
// thread), from /proc/PID/stat.
func (c *child) cpuTime() (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", c.pid()))
	if err != nil {
		return 0, fmt.Errorf("CPU time of %s: %w (is /proc mounted?)", c.name, err)
	}
	return parseStatCPU(data)
}

// userHZ is the unit of the CPU times in /proc/PID/stat (USER_HZ, 100 on
// every Linux ABI Go supports).
const userHZ = 100

// parseStatCPU reads utime and stime (fields 14 and 15) of a
// /proc/PID/stat line. The command name (field 2) may hold spaces and
// parentheses, so fields are counted after its last ')'.
func parseStatCPU(stat []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("process stat: no command name")
	}
	f := strings.Fields(string(stat[i+1:]))
	// f[0] is field 3 (state), so utime (14) is f[11] and stime (15) f[12].
	if len(f) < 13 {
		return 0, fmt.Errorf("process stat: %d fields after the name, want at least 13", len(f))
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("process stat: CPU time %q: %w", s, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}

// selfCPU returns this process's CPU time so far (user and system).
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// parseVmHWM reads the VmHWM line of a /proc/PID/status file.
func parseVmHWM(status []byte) (int64, error) {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("VmHWM line %q: want a number of kB", sc.Text())
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("VmHWM line %q: %w", sc.Text(), err)
		}
		return kb * 1024, nil
	}
	return 0, errors.New("no VmHWM line in the process status")
}

// stop sends SIGTERM and waits for the child to exit, killing it after
// grace. It returns the exit error, nil for a clean exit.
func (c *child) stop(grace time.Duration) error {
	select {
	case <-c.done:
		return c.err
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-c.done:
		return c.err
	case <-t.C:
		_ = c.cmd.Process.Kill()
		<-c.done
		return fmt.Errorf("%s did not exit within %s of SIGTERM and was killed", c.name, grace)
	}
}

// lineWriter calls fn with every complete line written to it.
type lineWriter struct {
	fn  func(string)
	buf []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.fn(string(w.buf[:i]))
		w.buf = w.buf[i+1:]
	}
	return len(p), nil
}
