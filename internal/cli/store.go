package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hookd/hookd/daemon"
	"github.com/hookd/hookd/engine/funcs"
	"github.com/hookd/hookd/store"
	"github.com/hookd/hookd/store/sqlite"
)

// openStore opens the store of a hookd serve for the command cmd: the
// cluster's with --nats, else the one in dir. A folder without one is an
// error: opening it would create an empty store and answer "nothing
// there" about the wrong folder. Call the returned func when done.
func openStore(s Streams, cmd, dir string, cf *clusterFlags) (store.Store, func(), bool) {
	if cf.enabled() {
		st, done, err := openClusterStore(cf)
		if err != nil {
			fmt.Fprintf(s.Stderr, "hookd %s: %v\n", cmd, err)
			return nil, nil, false
		}
		return st, done, true
	}
	// The daemon may be running: SQLite lets both use the file, and a
	// folder without a store is refused, not created.
	st, err := sqlite.Open(dir, sqlite.Options{MustExist: true})
	if errors.Is(err, sqlite.ErrNoStore) {
		fmt.Fprintf(s.Stderr, "hookd %s: no hookd store in %s (no %s there): pass the --data folder of a hookd serve (default %s), or --nats for a cluster\n", cmd, dir, sqlite.FileName, daemon.DefaultDataDir)
		return nil, nil, false
	}
	if err != nil {
		fmt.Fprintf(s.Stderr, "hookd %s: %v\n", cmd, err)
		return nil, nil, false
	}
	return st, func() { st.Close() }, true
}

func runEvents(s Streams, args []string) int {
	if len(args) == 0 || args[0] != "export" {
		fmt.Fprintln(s.Stderr, "Usage: hookd events export [--data DIR] [--event NAME] [--since DURATION] [--limit N]")
		return 2
	}
	fs := newFlags(s, "events export", "[--data DIR] [--event NAME|GLOB] [--since 24h] [--limit N]")
	dir := fs.String("data", daemon.DefaultDataDir, "the daemon's data folder")
	cf := addClusterFlags(fs, false)
	name := fs.String("event", "", "only events with this name or glob, e.g. group:update or message:*")
	since := fs.Duration("since", 0, "only events received within this time, e.g. 24h (0: all)")
	limit := fs.Int("limit", 0, "at most this many events (0: all)")
	if _, err := parse(fs, args[1:]); err != nil {
		return flagErr(err)
	}
	st, done, ok := openStore(s, "events export", *dir, cf)
	if !ok {
		return 1
	}
	defer done()
	q := store.EventQuery{Name: *name, Limit: *limit, OldestFirst: true}
	if *since > 0 {
		q.Since = time.Now().Add(-*since)
	}
	n := 0
	err := st.Events(context.Background(), q, func(e store.Event) error {
		var b bytes.Buffer
		if err := json.Compact(&b, e.Body); err != nil {
			return fmt.Errorf("event %s: stored body is not JSON: %w", e.ID, err)
		}
		b.WriteByte('\n')
		n++
		_, err := s.Stdout.Write(b.Bytes())
		return err
	})
	if err != nil {
		fmt.Fprintf(s.Stderr, "hookd events export: %v\n", err)
		return 1
	}
	fmt.Fprintf(s.Stderr, "exported %s\n", funcs.Plural(n, "event", "events"))
	return 0
}

func runDLQ(s Streams, args []string) int {
	if len(args) == 0 || (args[0] != "list" && args[0] != "retry") {
		fmt.Fprintln(s.Stderr, "Usage: hookd dlq list [--data DIR] [--limit N] | hookd dlq retry [--data DIR] (ID... | --all)")
		return 2
	}
	sub := args[0]
	// Each subcommand has its own flags: a --limit given to retry must
	// not be taken for a bound on what it puts back.
	var (
		fs    *flag.FlagSet
		all   = new(bool)
		limit = new(int)
	)
	if sub == "list" {
		fs = newFlags(s, "dlq list", "[--data DIR] [--limit N]")
		limit = fs.Int("limit", 100, "list at most this many")
	} else {
		fs = newFlags(s, "dlq retry", "[--data DIR] (ID... | --all)")
		all = fs.Bool("all", false, "retry every dead letter")
	}
	dir := fs.String("data", daemon.DefaultDataDir, "the daemon's data folder")
	cf := addClusterFlags(fs, false)
	pos, err := parse(fs, args[1:])
	if err != nil {
		return flagErr(err)
	}
	if sub == "list" && len(pos) > 0 {
		return exitUsage(s, fs, "takes no ids (hookd dlq retry does)")
	}
	st, done, ok := openStore(s, "dlq "+sub, *dir, cf)
	if !ok {
		return 1
	}
	defer done()
	ctx := context.Background()
	if sub == "list" {
		jobs, err := st.DeadLetters(ctx, *limit)
		if err != nil {
			fmt.Fprintf(s.Stderr, "hookd dlq list: %v\n", err)
			return 1
		}
		if len(jobs) == 0 {
			fmt.Fprintln(s.Stdout, "no dead letters")
			return 0
		}
		tw := tabwriter.NewWriter(s.Stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tACTION\tEVENT\tATTEMPTS\tREASON\tWHEN\tLAST ERROR")
		for _, j := range jobs {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\t%s\t%s\n", j.ID, j.Name, j.EventID, j.Attempts, j.LastReason, j.UpdatedAt.Local().Format(time.DateTime), oneLine(j.LastError))
		}
		tw.Flush()
		return 0
	}
	var ids []int64
	for _, p := range pos {
		id, err := strconv.ParseInt(p, 10, 64)
		if err != nil {
			return exitUsage(s, fs, "%q is not a dead letter id (see hookd dlq list)", p)
		}
		ids = append(ids, id)
	}
	if len(ids) == 0 && !*all {
		return exitUsage(s, fs, "name the ids to retry, or --all")
	}
	if *all {
		ids = nil
	}
	n, err := st.Requeue(ctx, ids)
	var notDead *store.NotDeadError
	if errors.As(err, &notDead) {
		in, flag := cf.where(*dir)
		fmt.Fprintf(s.Stderr, "hookd dlq retry: %s %s; nothing was queued (hookd dlq list %s shows the ids)\n", notDead.Refusal(), in, flag)
		return 1
	}
	if err != nil {
		fmt.Fprintf(s.Stderr, "hookd dlq retry: %v\n", err)
		return 1
	}
	fmt.Fprintf(s.Stdout, "queued %s again; a running hookd serve picks them up within a second, or at its next start\n", funcs.Plural(n, "dead letter", "dead letters"))
	return 0
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return s
}
