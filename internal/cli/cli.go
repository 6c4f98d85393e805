// Package cli implements hookd's command line: one function per
// subcommand, writing to the given streams and returning an exit code, so
// that tests can run the commands in process.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"sort"
	"strings"
	"time"

	"github.com/hookd/hookd/internal/suggest"
)

// Streams are where a command reads and writes.
type Streams struct {
	Stdout io.Writer
	Stderr io.Writer
}

type command struct {
	summary string
	run     func(s Streams, args []string) int
}

// commands returns hookd's subcommands by name.
func commands() map[string]command {
	return map[string]command{
		"check":   {"validate a rules file; every problem as file:line:col", runCheck},
		"demo":    {"run the daemon on the built-in example rules, with local stand-ins for Wassenger, Slack and SMTP", runDemo},
		"dlq":     {"dead letters: `hookd dlq list`, `hookd dlq retry [ID...|--all]`", runDLQ},
		"dry-run": {"run rules over recorded events and print what would fire; sends nothing", runDryRun},
		"events":  {"recorded events: `hookd events export` writes them as JSONL for dry-run", runEvents},
		"explain": {"show every rule and why it did or did not fire for an event", runExplain},
		"funcs":   {"list the helper functions conditions and templates can call, with an example each", runFuncs},
		"fire":    {"send one rule's actions for real, for one event, and print what each target answered", runFire},
		"mute":    {"silence a rule (or one key of it) for a while: `hookd mute RULE --for 2h --reason ...`, `hookd mute list`, `hookd mute end ID`", runMute},
		"schema":  {"print the JSON Schema of rules files, for editors (yaml-language-server)", runSchema},
		"serve":   {"run the daemon: receive webhooks, store them, deliver actions", runServe},
		"test":    {"run rule tests: events with the rules expected to fire and their rendered actions", runTest},
		"version": {"print hookd's version: the module version and, in a build from a checkout, the commit", runVersion},
	}
}

// Run runs hookd with args (without the program name) and returns the
// exit code: 0 success, 1 a failure the command reports (invalid rules,
// failed tests), 2 a usage error.
func Run(args []string, s Streams) int {
	if len(args) == 0 {
		usage(s.Stderr)
		return 2
	}
	if args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(s.Stdout)
		return 0
	}
	cmd, ok := commands()[args[0]]
	if !ok {
		fmt.Fprintf(s.Stderr, "hookd: unknown command %q; run `hookd help` for the list\n", args[0])
		return 2
	}
	return cmd.run(s, args[1:])
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "hookd: rule-based automation for Wassenger (WhatsApp) webhooks")
	fmt.Fprintln(w, "\nUsage: hookd <command> [flags] [args]\n\nCommands:")
	cmds := commands()
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintln(w, "\nRun `hookd <command> -h` for a command's flags.")
}

// newFlags makes a FlagSet that reports errors on stderr.
func newFlags(s Streams, name, usageLine string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(s.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(s.Stderr, "Usage: hookd %s %s\n", name, usageLine)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses flags that may come before or after positional arguments.
// A flag error is reported as flagProblem words it, then the usage.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	out, usage := fs.Output(), fs.Usage
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	defer func() { fs.SetOutput(out); fs.Usage = usage }()
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			fs.SetOutput(out)
			if !errors.Is(err, flag.ErrHelp) {
				fmt.Fprintf(out, "hookd %s: %s\n", fs.Name(), flagProblem(fs, err))
			}
			usage()
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// flagProblem words err, an error of fs.Parse, for a user: an unknown
// flag with the nearest known one, a value of the wrong type with what
// the flag takes. The flag package's errors are not typed: their
// wording, fixed in its source, is all they carry.
func flagProblem(fs *flag.FlagSet, err error) string {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		var names []string
		fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
		hint := ""
		if best := suggest.Closest(name, names); best != "" {
			hint = " (did you mean --" + best + "?)"
		}
		return "unknown flag --" + name + hint
	}
	if name, ok := strings.CutPrefix(msg, "flag needs an argument: -"); ok {
		if f := fs.Lookup(name); f != nil {
			return "--" + name + " needs a value: " + f.Usage
		}
	}
	if rest, ok := strings.CutPrefix(msg, "invalid value "); ok {
		value, rest, _ := strings.Cut(rest, " for flag -")
		name, _, _ := strings.Cut(rest, ": ")
		if f := fs.Lookup(name); f != nil {
			if takes := flagTakes(f); takes != "" {
				return "invalid value " + value + " for --" + name + ": it takes " + takes
			}
		}
	}
	return msg
}

// flagTakes says what values f takes, from the type of its value; "" for
// a type without a description here.
func flagTakes(f *flag.Flag) string {
	g, ok := f.Value.(flag.Getter)
	if !ok {
		return ""
	}
	switch g.Get().(type) {
	case time.Duration:
		return "a duration such as 30s, 10m or 2h"
	case int, int64, uint, uint64:
		return "a whole number"
	case float64:
		return "a number"
	}
	return ""
}

// checkAddr returns a usage error for the value addr of the address flag
// name that no listener could take: not HOST:PORT, or a port that is not
// a number from 0 to 65535 (or a service name). Whether the host is this
// machine's, and the port free, is for listening to find out.
func checkAddr(name, addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err == nil {
		_, err = net.LookupPort("tcp", port)
	}
	if err != nil {
		return fmt.Errorf("--%s %q is not an address: write HOST:PORT with a port from 1 to 65535, e.g. 127.0.0.1:8080, or :8080 for every address of this machine", name, addr)
	}
	return nil
}

// exitUsage reports a usage error.
func exitUsage(s Streams, fs *flag.FlagSet, format string, args ...any) int {
	fmt.Fprintf(s.Stderr, "hookd %s: %s\n", fs.Name(), fmt.Sprintf(format, args...))
	fs.Usage()
	return 2
}

func flagErr(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	return 2
}

// indent prefixes every line after the first with pad.
func indent(s, pad string) string {
	return strings.ReplaceAll(s, "\n", "\n"+pad)
}
