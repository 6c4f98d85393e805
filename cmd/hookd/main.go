// Command hookd is a rule-based automation engine for Wassenger (WhatsApp
// API) webhooks: `hookd check` validates a rules file, `hookd dry-run`
// shows what rules would do with recorded events, and `hookd serve` runs
// the daemon. Run `hookd help` for every command.
package main

import (
	"os"

	"github.com/hookd/hookd/internal/cli"
)

func main() {
	os.Exit(cli.Run(os.Args[1:], cli.Streams{Stdout: os.Stdout, Stderr: os.Stderr}))
}
