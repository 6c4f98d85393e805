package ruletest

import (
	"fmt"
	"os"
	"strings"

	"github.com/hookd/hookd/engine"
)

// LoadFile reads a rules file and loads it like Load.
func LoadFile(name string, opts engine.LoadOptions) (*engine.RuleSet, engine.Problems) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, engine.Problems{{File: name, Line: 1, Col: 1, Msg: fmt.Sprintf("cannot read the rules file: %v", err)}}
	}
	return Load(name, data, opts)
}

// Load loads a rules file and runs the inline examples of its rules: a
// file whose examples fail does not load, and each failure is a problem
// at the line of the expectation that did not hold. `hookd check` and
// the daemon's reload load rules this way.
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
				problems = append(problems, engine.Problem{File: f.File, Line: f.Line, Col: 1, Msg: fmt.Sprintf("example %q failed: %s", c.Name, msg)})
			}
		}
	}
	if failed {
		return nil, problems
	}
	return rs, problems
}
