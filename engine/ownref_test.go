package engine_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hookd/hookd/engine"
)

// A wassenger.message that sets a reference of its own not starting
// with hookd: is not recognised as hookd's own send when its
// message:out:new comes back, so a rule listening to those without
// self: true fires on it: check warns at the reference, when such a rule
// is in the file.
func TestOwnReferenceWarning(t *testing.T) {
	const sender = `version: 1
connections:
  wassenger: { token: t }
rules:
  - name: reply
    on: message:in:new
    do:
      - wassenger.message: { phone: "{{ data.fromNumber }}", message: hi, reference: %s }
`
	tests := []struct {
		name      string
		reference string
		listener  string // a second rule, "" for none
		want      string // "line:col: text" of the warning, "" for none
	}{
		{"a listener without self", `"crm-{{ id }}"`, "  - name: audit\n    on: message:out:new\n    do: [ { log: { message: x } } ]\n",
			`8:86: rule "reply": do[0].wassenger.message.reference: a reference that does not start with hookd: hides the message from the loop guard: its message:out:new fires rule "audit" as if someone else sent it`},
		{"a glob listener", `"{{ id }}"`, "  - name: audit\n    on: \"message:*\"\n    do: [ { log: { message: x } } ]\n",
			`fires rule "audit"`},
		{"hookd's prefix kept", `"hookd:crm-{{ id }}"`, "  - name: audit\n    on: message:out:new\n    do: [ { log: { message: x } } ]\n", ""},
		{"a listener with self: true", `"crm-{{ id }}"`, "  - name: audit\n    on: message:out:new\n    self: true\n    do: [ { log: { message: x } } ]\n", ""},
		{"no listener", `"crm-{{ id }}"`, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := fmt.Sprintf(sender, tt.reference) + tt.listener
			rs, problems := engine.Load("rules.yaml", []byte(src), engine.LoadOptions{})
			if rs == nil {
				t.Fatalf("refused: %v", problems)
			}
			var got []string
			for _, p := range rs.Warnings {
				if strings.Contains(p.Msg, "loop guard") {
					got = append(got, fmt.Sprintf("%d:%d: %s", p.Line, p.Col, p.Msg))
				}
			}
			switch {
			case tt.want == "" && len(got) > 0:
				t.Errorf("warned %q, want nothing", got)
			case tt.want != "" && (len(got) != 1 || !strings.Contains(got[0], tt.want)):
				t.Errorf("warnings %q, want one with %q", got, tt.want)
			}
		})
	}
}
