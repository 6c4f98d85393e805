// Package e2e holds hookd's end-to-end tests of the real binary: each test
// runs `hookd serve` as a child process with a real data folder and a
// rules file pointing at stand-ins on 127.0.0.1, and kills it (-9),
// stops it (SIGTERM), reloads it (SIGHUP) and restarts it, asserting on
// what the stand-ins received and what the store holds. The package has
// only tests; docs/reliability.md lists the promises they hold hookd to.
package e2e

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// hookdBin is the binary under test, built once by TestMain; it is ""
// when the tests are skipped (see skipReason).
var hookdBin string

// skipReason says why every test of the package skips, or is "".
var skipReason string

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	if testing.Short() {
		skipReason = "end-to-end tests build and run the hookd binary; skipped with -short"
		return m.Run()
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		skipReason = "end-to-end tests need the go command in PATH to build hookd: " + err.Error()
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "hookd-e2e-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: make a folder for the hookd binary: %v\n", err)
		return 1
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "hookd")
	build := exec.Command(goBin, "build", "-o", bin, "github.com/hookd/hookd/cmd/hookd")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: go build of cmd/hookd failed: %v\n%s", err, out)
		return 1
	}
	hookdBin = bin
	return m.Run()
}
