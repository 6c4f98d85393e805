// Command hookd is a rule-based automation engine for Wassenger (WhatsApp
// API) webhooks: `hookd check` validates a rules file, `hookd dry-run`
// shows what rules would do with recorded events, and `hookd serve` runs
// the daemon. Run `hookd help` for every command.
package main

import (
	"os"
	// The zone data of Go's release, used when the machine has none (a
	// scratch or distroless container), so that a rule's timezone loads
	// wherever hookd runs; about 450 KB of the binary.
	_ "time/tzdata"

	"github.com/hookd/hookd/internal/cli"
	"github.com/hookd/hookd/store/sqlite"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

// run is the hookd command, as main and the CLI scripts run it.
func run(args []string) int {
	// Commits are synced with fdatasync, as SQLite's own Linux builds
	// do: as durable as fsync, and cheaper (see BENCHMARKS.md, round 11).
	sqlite.SyncWithFdatasync()
	return cli.Run(args, cli.Streams{Stdout: os.Stdout, Stderr: os.Stderr})
}
