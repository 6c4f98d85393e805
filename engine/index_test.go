package engine_test

import (
	"testing"

	"github.com/hookd/hookd/engine"
)

// TestActionIndexSkipsOtherActions checks that rules whose condition
// starts with an action test are not even considered for other actions,
// for each way of writing the test.
func TestActionIndexSkipsOtherActions(t *testing.T) {
	tests := []struct{ cond string }{
		{`action == "promote" && author != ""`},
		{`"promote" == action && author != ""`},
		{`action in ["promote", "demote"] && author != ""`},
		{`author != "" && action in ["demote", "promote"]`},
	}
	for _, tt := range tests {
		t.Run(tt.cond, func(t *testing.T) {
			rs := loadRules(t, "version: 1\nrules:\n  - name: r\n    on: group:update\n    if: '"+tt.cond+"'\n    do:\n      - log: {message: x}\n")
			add := mustEvent(t, `{"id":"a","event":"group:update","action":"add","author":"+1"}`)
			if got := rs.Explain(add)[0].Outcome; got != engine.OutcomeOtherAction {
				t.Errorf("add: outcome %v, want the action index to skip the rule", got)
			}
			promote := mustEvent(t, `{"id":"p","event":"group:update","action":"promote","author":"+1"}`)
			if fired := rs.Evaluate(promote).Fired; len(fired) != 1 {
				t.Errorf("promote: fired %d rules, want 1", len(fired))
			}
		})
	}
}
