package ruletest

import (
	"fmt"
	"os"
	"strings"

	"github.com/hookd/hookd/engine"
)

// LoadFile reads a rules file and loads it like Load. It is how every
// command reads a rules file (dry-run, explain, fire, serve; check with
// CheckFile), so that a file whose examples fail is refused by all of
// them alike.
func LoadFile(name string, opts engine.LoadOptions) (*engine.RuleSet, engine.Problems) {
	return loadFile(name, opts, Load)
}

// CheckFile reads a rules file and loads it as `hookd check` does: like
// LoadFile, but an example that fires an action whose request cannot be
// built is an error, which the daemon and the other commands load with a
// warning (see Load).
func CheckFile(name string, opts engine.LoadOptions) (*engine.RuleSet, engine.Problems) {
	return loadFile(name, opts, func(name string, data []byte, opts engine.LoadOptions) (*engine.RuleSet, engine.Problems) {
		return load(name, data, opts, engine.Error)
	})
}

// LoadFileUntested reads a rules file and loads it without running its
// inline examples: for `hookd test`, which reports the cases of its test
// files, not the rules file's own examples (hookd check runs those).
func LoadFileUntested(name string, opts engine.LoadOptions) (*engine.RuleSet, engine.Problems) {
	return loadFile(name, opts, engine.Load)
}

func loadFile(name string, opts engine.LoadOptions, load func(string, []byte, engine.LoadOptions) (*engine.RuleSet, engine.Problems)) (*engine.RuleSet, engine.Problems) {
	data, problems := readFile(name, "rules file")
	if problems != nil {
		return nil, problems
	}
	return load(name, data, opts)
}

// readFile reads the file name, a what ("rules file", "test file"); the
// problem when it cannot says so, and what to do about a folder.
func readFile(name, what string) ([]byte, engine.Problems) {
	data, err := os.ReadFile(name)
	if err == nil {
		return data, nil
	}
	msg := fmt.Sprintf("cannot read the %s: %v", what, err)
	if fi, serr := os.Stat(name); serr == nil && fi.IsDir() {
		msg = fmt.Sprintf("%s is a folder: name the %s in it", name, what)
	}
	return nil, engine.Problems{{File: name, Line: 1, Col: 1, Msg: msg}}
}

// Load loads a rules file and runs the inline examples of its rules: a
// file whose examples fail does not load, and each failure is a problem
// at the line and column of the expectation that did not hold. The daemon's reload,
// which has the file's bytes already, loads rules this way.
//
// An example that fires an action whose request cannot be built is a
// warning here, not an error: dry-run counts such an action as an error
// of its event, and the daemon dead-letters it, but neither refuses the
// file for it. `hookd check` makes it an error (see CheckFile).
func Load(name string, data []byte, opts engine.LoadOptions) (*engine.RuleSet, engine.Problems) {
	return load(name, data, opts, engine.Warning)
}

// load is Load, with unbuildable the severity of an example's action
// whose request cannot be built.
func load(name string, data []byte, opts engine.LoadOptions, unbuildable engine.Severity) (*engine.RuleSet, engine.Problems) {
	rs, problems := engine.Load(name, data, opts)
	if rs == nil {
		return nil, problems
	}
	failed := false
	for _, r := range rs.Rules {
		if r.Examples == nil {
			continue
		}
		cases, ps := DecodeExamples(name, r.Name, r.Examples)
		if len(ps) > 0 {
			problems = append(problems, ps...)
			failed = true
			continue
		}
		for _, c := range cases {
			for _, f := range c.Run(rs) {
				sev := engine.Error
				if f.Unbuildable {
					sev = unbuildable
				}
				failed = failed || sev == engine.Error
				msg := strings.ReplaceAll(f.Msg, "\n", "\n    ")
				problems = append(problems, engine.Problem{File: f.File, Line: f.Line, Col: f.Col, Severity: sev, Msg: fmt.Sprintf("example %q failed: %s", c.Name, msg)})
			}
		}
	}
	if failed {
		return nil, problems
	}
	return rs, problems
}
