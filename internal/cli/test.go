package cli

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/hookd/hookd/engine"
	"github.com/hookd/hookd/engine/funcs"
	"github.com/hookd/hookd/engine/ruletest"
)

func runTest(s Streams, args []string) int {
	fs := newFlags(s, "test", "[-v] [-run REGEXP] [--rules RULES] FILE...")
	verbose := fs.Bool("v", false, "show what each passing case fired")
	filter := fs.String("run", "", "run only the cases whose name matches this regular expression")
	rulesOverride := fs.String("rules", "", "test this rules file instead of the one the test file names")
	pos, err := parse(fs, args)
	if err != nil {
		return flagErr(err)
	}
	if len(pos) == 0 {
		return exitUsage(s, fs, "name at least one test file, e.g. hookd test rules_test.yaml")
	}
	var match *regexp.Regexp
	if *filter != "" {
		if match, err = regexp.Compile(*filter); err != nil {
			return exitUsage(s, fs, "-run: %v", err)
		}
	}
	loaded := map[string]*engine.RuleSet{}
	passed, failed, invalid := 0, 0, false
	for _, file := range pos {
		suite, problems := ruletest.DecodeFile(file)
		if suite == nil {
			for _, p := range problems {
				fmt.Fprintln(s.Stderr, p)
			}
			fmt.Fprintf(s.Stderr, "%s: %s; fix the test file and run again\n", file, funcs.Plural(problems.Errors(), "error", "errors"))
			invalid = true
			continue
		}
		rulesPath := suite.Rules
		if *rulesOverride != "" {
			rulesPath = *rulesOverride
		}
		if rulesPath == "" {
			fmt.Fprintf(s.Stderr, "%s:1:1: no `rules:`: name the rules file to test (relative to the test file), or pass --rules\n", file)
			invalid = true
			continue
		}
		if *rulesOverride == "" {
			if err := readableFile(rulesPath); err != nil {
				// The test file names it: the error is the test file's.
				fmt.Fprintf(s.Stderr, "%s:%d:%d: rules: %v: name the rules file relative to the test file, or pass --rules\n", file, suite.RulesAt.Line, suite.RulesAt.Col, err)
				invalid = true
				continue
			}
		}
		rs, ok := loaded[rulesPath]
		if !ok {
			rs, _ = reportLoad(s, rulesPath, ruletest.LoadFileUntested, engine.LoadOptions{AllowUnsetEnv: true}, "")
			loaded[rulesPath] = rs
		}
		if rs == nil {
			invalid = true
			continue
		}
		for _, c := range suite.Cases {
			if match != nil && !match.MatchString(c.Name) {
				continue
			}
			failures := c.Run(rs)
			if len(failures) == 0 {
				passed++
				fmt.Fprintf(s.Stdout, "--- PASS: %s\n", c.Name)
				if *verbose {
					writeCaseDetail(s, rs, c)
				}
				continue
			}
			failed++
			fmt.Fprintf(s.Stdout, "--- FAIL: %s (%s:%d)\n", c.Name, c.File, c.Line)
			for _, f := range failures {
				fmt.Fprintf(s.Stdout, "    %s\n", indent(f.String(), "    "))
			}
		}
	}
	if invalid {
		if passed+failed > 0 {
			fmt.Fprintf(s.Stdout, "%d passed, %d failed\n", passed, failed)
		}
		return 1
	}
	if passed+failed == 0 {
		if match != nil {
			fmt.Fprintf(s.Stderr, "hookd test: no case matches -run %q\n", *filter)
		} else {
			fmt.Fprintf(s.Stderr, "hookd test: no cases to run in %s: add cases under `tests:`, each with a name, an event and what should fire\n", strings.Join(pos, ", "))
		}
		return 1
	}
	fmt.Fprintf(s.Stdout, "%d passed, %d failed\n", passed, failed)
	if failed > 0 {
		return 1
	}
	return 0
}

// readableFile returns why path cannot be read as a file: it does not
// exist, is a folder, or may not be read; nil when it can.
func readableFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.IsDir() {
		return fmt.Errorf("%s is a folder, not a file", path)
	}
	return nil
}

// writeCaseDetail prints, for -v, the event of a passing case and what
// it fired, one firing a line: a digest or timer tick of a sequence says
// which and when it was sent.
func writeCaseDetail(s Streams, rs *engine.RuleSet, c *ruletest.Case) {
	fmt.Fprintf(s.Stdout, "    %s:%d: %s\n", c.File, c.Line, eventTitle(c.Event))
	if n := len(c.Sequence); n > 0 {
		fmt.Fprintf(s.Stdout, "    (the last of %d events, %s to %s)\n", n, c.Sequence[0].At.Format(time.RFC3339), c.Sequence[n-1].At.Format(time.RFC3339))
	}
	firings := c.Firings(rs)
	if len(firings) == 0 {
		fmt.Fprintln(s.Stdout, "    fired: nothing")
		return
	}
	for i, f := range firings {
		var acts []string
		for _, a := range f.Actions {
			acts = append(acts, fmt.Sprintf("%s[%d]", a.Action.Type, a.Action.Index))
		}
		lead := "    fired: "
		if i > 0 {
			lead = "           "
		}
		by := ""
		if f.By != "" {
			by = ": " + f.By
		}
		fmt.Fprintf(s.Stdout, "%s%s (%s)%s\n", lead, f.Rule.Name, strings.Join(acts, ", "), by)
	}
}
