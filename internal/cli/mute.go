package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hookd/hookd/daemon"
	"github.com/hookd/hookd/engine"
	"github.com/hookd/hookd/engine/ruletest"
	"github.com/hookd/hookd/store"
)

const muteUsage = `Usage:
  hookd mute RULE --for 2h --reason "..." [--key KEY] [--by NAME] [--rules FILE] [--data DIR]
  hookd mute list [--all] [--json] [--data DIR]
  hookd mute end ID [--by NAME] [--data DIR]`

// runMute is `hookd mute`: it adds, lists and ends mutes in the store of
// a hookd serve, which applies them within a second.
func runMute(s Streams, args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(s.Stderr, muteUsage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	switch args[0] {
	case "list":
		return runMuteList(s, args[1:])
	case "end":
		return runMuteEnd(s, args[1:])
	}
	return runMuteAdd(s, args)
}

// whoami is the default --by: the user running the command, from the
// environment or, where it names none (docker exec), the account of the
// process's user id.
func whoami() string {
	for _, v := range []string{"USER", "USERNAME", "LOGNAME"} {
		if u := os.Getenv(v); u != "" {
			return u
		}
	}
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return "cli"
}

func runMuteAdd(s Streams, args []string) int {
	fs := newFlags(s, "mute", `RULE --for 2h --reason "..." [--key KEY] [--by NAME] [--rules FILE] [--data DIR]`)
	dir := fs.String("data", daemon.DefaultDataDir, "the daemon's data folder")
	cf := addClusterFlags(fs, false)
	key := fs.String("key", "", "mute one key of a rule that remembers (the rendered key, e.g. a group's chat id); default every key")
	period := fs.String("for", "", "how long: 30m, 2h, 7d (required)")
	reason := fs.String("reason", "", "why, recorded with the mute (required)")
	by := fs.String("by", whoami(), "who mutes, recorded with the mute")
	rulesPath := fs.String("rules", "", "check RULE (and --key) against this rules file first")
	pos, err := parse(fs, args)
	if err != nil {
		return flagErr(err)
	}
	switch {
	case len(pos) == 0:
		return exitUsage(s, fs, "name one rule to mute")
	case len(pos) > 1:
		return exitUsage(s, fs, "name one rule to mute, found %d words: %s; quote a value of several words, e.g. --reason \"group migration\"", len(pos), strings.Join(pos, " "))
	case *period == "":
		return exitUsage(s, fs, "--for is required: how long the rule stays muted, e.g. --for 2h")
	case *reason == "":
		return exitUsage(s, fs, `--reason is required: why, recorded with the mute for whoever wonders why the rule is quiet, e.g. --reason "group migration"`)
	}
	if d, err := engine.ParsePeriod(*period); err != nil || d <= 0 {
		return exitUsage(s, fs, "--for %q is not a period: write one such as 30m, 2h or 7d", *period)
	}
	var rules *engine.RuleSet
	if *rulesPath != "" {
		rs, problems := ruletest.LoadFileUntested(*rulesPath, engine.LoadOptions{AllowUnsetEnv: true})
		if rs == nil {
			fmt.Fprintf(s.Stderr, "hookd mute: %s has %s; hookd check %s shows them\n", *rulesPath, countProblems(problems), *rulesPath)
			return 1
		}
		rules = rs
	}
	// A request without --for or --reason is a usage error (2); a rule
	// or key that --rules refuses is a refused input (1).
	m, err := daemon.NewMute(daemon.MuteRequest{Rule: pos[0], Key: *key, For: *period, Reason: *reason, By: *by}, nil, time.Now())
	if err != nil {
		fmt.Fprintf(s.Stderr, "hookd mute: %v\n", err)
		return 2
	}
	if rules != nil {
		if err := daemon.CheckMuteRule(rules, m.Rule, m.Key); err != nil {
			fmt.Fprintf(s.Stderr, "hookd mute: %v\n", err)
			return 1
		}
	}
	st, done, ok := openStore(s, "mute", *dir, cf)
	if !ok {
		return 1
	}
	defer done()
	m, err = st.AddMute(context.Background(), m)
	if err != nil {
		fmt.Fprintf(s.Stderr, "hookd mute: %v\n", err)
		return 1
	}
	what := "rule " + m.Rule
	if m.Key != "" {
		what += " for key " + m.Key
	}
	fmt.Fprintf(s.Stdout, "mute %d: %s muted until %s (%s, by %s)\n", m.ID, what, m.Until.Local().Format(time.RFC3339), m.Reason, m.By)
	if rules == nil {
		fmt.Fprintf(s.Stderr, "note: the rule name was not checked (a misspelt one mutes nothing); pass --rules FILE to check it\n")
	}
	return 0
}

func runMuteList(s Streams, args []string) int {
	fs := newFlags(s, "mute list", "[--all] [--json] [--data DIR]")
	dir := fs.String("data", daemon.DefaultDataDir, "the daemon's data folder")
	cf := addClusterFlags(fs, false)
	all := fs.Bool("all", false, "also mutes that ended or expired (kept for the daemon's --retention)")
	asJSON := fs.Bool("json", false, "print a JSON object per mute, one per line")
	if pos, err := parse(fs, args); err != nil {
		return flagErr(err)
	} else if len(pos) > 0 {
		return exitUsage(s, fs, "unexpected argument %q", pos[0])
	}
	st, done, ok := openStore(s, "mute list", *dir, cf)
	if !ok {
		return 1
	}
	defer done()
	now := time.Now()
	list, err := st.Mutes(context.Background(), now, *all)
	if err != nil {
		fmt.Fprintf(s.Stderr, "hookd mute list: %v\n", err)
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(s.Stdout)
		for _, m := range list {
			if err := enc.Encode(daemon.MuteView(m, now)); err != nil {
				return 1
			}
		}
		return 0
	}
	if len(list) == 0 {
		fmt.Fprintln(s.Stdout, "no mutes")
		return 0
	}
	tw := tabwriter.NewWriter(s.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tRULE\tKEY\tUNTIL\tBY\tREASON\tSTATE")
	for _, m := range list {
		state := "active"
		switch {
		case !m.EndedAt.IsZero():
			state = "ended by " + m.EndedBy
		case !m.Active(now):
			state = "expired"
		}
		key := m.Key
		if key == "" {
			key = "*"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", m.ID, m.Rule, key, m.Until.Local().Format(time.RFC3339), m.By, m.Reason, state)
	}
	if err := tw.Flush(); err != nil {
		return 1
	}
	return 0
}

func runMuteEnd(s Streams, args []string) int {
	fs := newFlags(s, "mute end", "ID [--by NAME] [--data DIR]")
	dir := fs.String("data", daemon.DefaultDataDir, "the daemon's data folder")
	cf := addClusterFlags(fs, false)
	by := fs.String("by", whoami(), "who ends the mute, recorded with it")
	pos, err := parse(fs, args)
	if err != nil {
		return flagErr(err)
	}
	if len(pos) != 1 {
		return exitUsage(s, fs, "give the id of one mute (hookd mute list shows them)")
	}
	id, err := strconv.ParseInt(pos[0], 10, 64)
	if err != nil || id <= 0 {
		return exitUsage(s, fs, "mute id %q is not a positive number", pos[0])
	}
	st, done, ok := openStore(s, "mute end", *dir, cf)
	if !ok {
		return 1
	}
	defer done()
	m, err := st.EndMute(context.Background(), id, *by, time.Now())
	if errors.Is(err, store.ErrNoMute) {
		fmt.Fprintf(s.Stderr, "hookd mute end: no active mute with id %d: hookd mute list shows them\n", id)
		return 1
	}
	if err != nil {
		fmt.Fprintf(s.Stderr, "hookd mute end: %v\n", err)
		return 1
	}
	fmt.Fprintf(s.Stdout, "mute %d of rule %s ended\n", m.ID, m.Rule)
	return 0
}
