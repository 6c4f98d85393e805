package cli

import (
	"fmt"
	"strings"

	"github.com/hookd/hookd/engine"
	"github.com/hookd/hookd/engine/ruletest"
)

func runCheck(s Streams, args []string) int {
	fs := newFlags(s, "check", "RULES")
	pos, err := parse(fs, args)
	if err != nil {
		return flagErr(err)
	}
	if len(pos) != 1 {
		return exitUsage(s, fs, "name one rules file, e.g. hookd check rules.yaml")
	}
	rs, problems := ruletest.LoadFile(pos[0], engine.LoadOptions{})
	for _, p := range problems {
		fmt.Fprintln(s.Stderr, p)
	}
	if rs == nil {
		fmt.Fprintf(s.Stderr, "%s: %s\n", pos[0], countProblems(problems))
		return 1
	}
	fmt.Fprintf(s.Stdout, "%s: OK, %s", pos[0], plural(len(rs.Rules), "rule"))
	if w := problems.Warnings(); w > 0 {
		fmt.Fprintf(s.Stdout, ", %s", plural(w, "warning"))
	}
	fmt.Fprintln(s.Stdout)
	fmt.Fprintln(s.Stdout, "listening to:")
	for _, on := range rs.Listening() {
		var names []string
		for _, r := range rs.Rules {
			for _, o := range r.On {
				if o == on {
					names = append(names, r.Name)
				}
			}
		}
		fmt.Fprintf(s.Stdout, "  %-22s %s\n", on, strings.Join(names, ", "))
	}
	return 0
}

func countProblems(ps engine.Problems) string {
	out := plural(ps.Errors(), "error")
	if w := ps.Warnings(); w > 0 {
		out += ", " + plural(w, "warning")
	}
	return out
}

func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}
