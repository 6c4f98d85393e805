package main

import (
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
	modsqlite "modernc.org/sqlite"

	"github.com/hookd/hookd/internal/fstree"
	"github.com/hookd/hookd/store/sqlite"
)

var update = flag.Bool("update", false, "rewrite the expected output embedded in testdata/script/*.txtar")

// TestMain lets scripts run hookd in process: `exec hookd ...` re-runs
// this test binary as the hookd command, main's run.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"hookd": func() { os.Exit(run(os.Args[1:])) },
	})
}

// repoRoot is the repository root, relative to this package.
var repoRoot = filepath.Join("..", "..")

// TestScript runs the CLI scripts of testdata/script. Each script starts
// in a folder holding the repository's testdata/rules (broken files with
// their goldens, good files), testdata/events (the recorded events) and
// rules.example.yaml, so that `hookd check testdata/rules/broken/x.yaml`
// prints exactly x.golden and the README's commands run as written.
func TestScript(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 filepath.Join(repoRoot, "testdata", "script"),
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		UpdateScripts:       *update,
		Setup: func(env *testscript.Env) error {
			for _, dir := range []string{"rules", "events"} {
				if err := fstree.Copy(filepath.Join(repoRoot, "testdata", dir), filepath.Join(env.WorkDir, "testdata", dir)); err != nil {
					return err
				}
			}
			return fstree.Copy(filepath.Join(repoRoot, "rules.example.yaml"), filepath.Join(env.WorkDir, "rules.example.yaml"))
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"status":   cmdStatus,
			"newstore": cmdNewStore,
		},
	})
}

// cmdNewStore creates the empty store of a hookd serve in a folder, as
// its first start does: `newstore data`.
func cmdNewStore(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: newstore DIR")
	}
	st, err := sqlite.Open(ts.MkAbs(args[0]), sqlite.Options{})
	ts.Check(err)
	ts.Check(st.Close())
}

// cmdStatus runs a command and checks its exit code: `status 2 hookd`.
// Its stdout and stderr can be checked by the next script lines, as after
// exec.
func cmdStatus(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! status")
	}
	if len(args) < 2 {
		ts.Fatalf("usage: status CODE COMMAND [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("status: exit code %q is not a number", args[0])
	}
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			ts.Fatalf("status: %v", err)
		}
		got = exit.ExitCode()
	}
	if got != want {
		ts.Fatalf("%s exited with %d, want %d", args[1], got, want)
	}
}

// TestRunSyncsWithFdatasync: the hookd command (main's run, which the
// scripts run too) makes SQLite sync its commits with fdatasync on Linux.
func TestRunSyncsWithFdatasync(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("fdatasync is checked on Linux")
	}
	t.Cleanup(func() { modsqlite.Fdatasync(false) })
	if _, err := modsqlite.Fdatasync(false); err != nil {
		t.Fatal(err)
	}
	if code := run([]string{"version"}); code != 0 {
		t.Fatalf("hookd version: exit %d", code)
	}
	if !modsqlite.FdatasyncEnabled() {
		t.Error("after the hookd command, SQLite syncs with fsync, want fdatasync")
	}
}
