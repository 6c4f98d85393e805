package main

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"runtime/trace"
	"strings"

	"github.com/hookd/hookd/internal/cli"
	"github.com/hookd/hookd/store/sqlite"
)

// modulePath is hookd's module, built from its repository.
const modulePath = "github.com/hookd/hookd"

// runHookd is the hidden `hookd-load hookd [--cpuprofile FILE] [--trace FILE] ARGS...`:
// hookd's own command line (cli.Run, the same code as cmd/hookd) linked
// into the harness, so that a CPU profile of the daemon can be taken
// without a flag in the daemon. The profile is written when the command
// returns, e.g. after `serve` drains on SIGTERM.
func runHookd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("hookd-load hookd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cpu := fs.String("cpuprofile", "", "write a CPU profile of the command to this file")
	tr := fs.String("trace", "", "write an execution trace of the command to this file (go tool trace -pprof=syscall shows where it waits on the disk)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	for _, rec := range []struct {
		path, what string
		start      func(io.Writer) error
		stop       func()
	}{
		{*tr, "trace", trace.Start, trace.Stop},
		{*cpu, "CPU profile", pprof.StartCPUProfile, pprof.StopCPUProfile},
	} {
		if rec.path == "" {
			continue
		}
		stop, err := record(rec.path, rec.start, rec.stop)
		if err != nil {
			fmt.Fprintf(stderr, "hookd-load hookd: start %s: %v\n", rec.what, err)
			return 1
		}
		defer func() {
			if err := stop(); err != nil {
				fmt.Fprintf(stderr, "hookd-load hookd: write %s: %v\n", rec.what, err)
			}
		}()
	}
	sqlite.SyncWithFdatasync() // as cmd/hookd's main does
	return cli.Run(fs.Args(), cli.Streams{Stdout: stdout, Stderr: stderr})
}

// record creates path and starts a recording (the trace, or the CPU
// profile) into it; the returned function stops it and closes the file.
func record(path string, start func(io.Writer) error, stop func()) (func() error, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := start(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() error {
		stop()
		return f.Close()
	}, nil
}

// buildRevision describes the source a hookd binary was built from:
// its VCS revision, "+modified" when the working tree had changes, or
// "unknown" (e.g. a binary built by go test).
func buildRevision(bin string) string {
	var info *debug.BuildInfo
	var err error
	if bin == "self" {
		var ok bool
		if info, ok = debug.ReadBuildInfo(); !ok {
			err = errors.New("no build info")
		}
	} else {
		info, err = buildinfo.ReadFile(bin)
	}
	if err != nil {
		return "unknown"
	}
	rev, modified := "", false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if rev == "" {
		return "unknown"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if modified {
		rev += "+modified"
	}
	return rev
}

// moduleRoot finds the root of hookd's repository from the working
// folder, with `go env GOMOD`.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w (is the go command installed? or give --hookd PATH)", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("not inside a Go module: run hookd-load from hookd's repository, or give --hookd PATH")
	}
	data, err := os.ReadFile(gomod)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", gomod, err)
	}
	first, _, _ := bytes.Cut(data, []byte("\n"))
	if strings.TrimSpace(strings.TrimPrefix(string(first), "module")) != modulePath {
		return "", fmt.Errorf("%s is not hookd's (module %s): run hookd-load from hookd's repository, or give --hookd PATH", gomod, modulePath)
	}
	return filepath.Dir(gomod), nil
}

// buildHookd builds cmd/hookd from the repository into dir and returns
// the binary's path and the revision it was built from.
func buildHookd(ctx context.Context, dir string) (bin, rev string, err error) {
	root, err := moduleRoot(ctx)
	if err != nil {
		return "", "", err
	}
	bin = filepath.Join(dir, "hookd")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/hookd")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("go build ./cmd/hookd: %w\n%s", err, out)
	}
	rev = buildRevision(bin)
	if rev == "unknown" {
		// Built with -buildvcs=false: ask git.
		if out, err := exec.CommandContext(ctx, "git", "-C", root, "describe", "--always", "--dirty=+modified").Output(); err == nil {
			rev = strings.TrimSpace(string(out))
		}
	}
	return bin, rev, nil
}
