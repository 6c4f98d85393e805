package ruletest

import (
	"fmt"
	"os"
	"strings"

	"github.com/hookd/hookd/engine"
)

// LoadFile reads a rules file and loads it like Load. It is how every
// command reads a rules file (check, dry-run, explain, fire, serve),
// so that a file whose examples fail is refused by all of them alike.
func LoadFile(name string, opts engine.LoadOptions) (*engine.RuleSet, engine.Problems) {
	return loadFile(name, opts, Load)
}

// LoadFileUntested reads a rules file and loads it without running its
// inline examples: for `hookd test`, which reports the cases of its test
// files, not the rules file's own examples (hookd check runs those).
func LoadFileUntested(name string, opts engine.LoadOptions) (*engine.RuleSet, engine.Problems) {
	return loadFile(name, opts, engine.Load)
}

func loadFile(name string, opts engine.LoadOptions, load func(string, []byte, engine.LoadOptions) (*engine.RuleSet, engine.Problems)) (*engine.RuleSet, engine.Problems) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, engine.Problems{{File: name, Line: 1, Col: 1, Msg: fmt.Sprintf("cannot read the rules file: %v", err)}}
	}
	return load(name, data, opts)
}

// Load loads a rules file and runs the inline examples of its rules: a
// file whose examples fail does not load, and each failure is a problem
// at the line and column of the expectation that did not hold. The daemon's reload,
// which has the file's bytes already, loads rules this way.
func Load(name string, data []byte, opts engine.LoadOptions) (*engine.RuleSet, engine.Problems) {
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
				failed = true
				msg := strings.ReplaceAll(f.Msg, "\n", "\n    ")
				problems = append(problems, engine.Problem{File: f.File, Line: f.Line, Col: f.Col, Msg: fmt.Sprintf("example %q failed: %s", c.Name, msg)})
			}
		}
	}
	if failed {
		return nil, problems
	}
	return rs, problems
}
