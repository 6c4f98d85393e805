package cli

import (
	"fmt"
	"strings"

	"github.com/hookd/hookd/engine"
	"github.com/hookd/hookd/engine/funcs"
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
	rs, problems := ruletest.CheckFile(pos[0], engine.LoadOptions{})
	for _, p := range problems {
		fmt.Fprintln(s.Stderr, p)
	}
	if rs == nil {
		fmt.Fprintf(s.Stderr, "%s: %s\n", pos[0], countProblems(problems))
		return 1
	}
	fmt.Fprintf(s.Stdout, "%s: OK, %s", pos[0], funcs.Plural(len(rs.Rules), "rule", "rules"))
	if w := problems.Warnings(); w > 0 {
		fmt.Fprintf(s.Stdout, ", %s", funcs.Plural(w, "warning", "warnings"))
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
	out := funcs.Plural(ps.Errors(), "error", "errors")
	if w := ps.Warnings(); w > 0 {
		out += ", " + funcs.Plural(w, "warning", "warnings")
	}
	return out
}
