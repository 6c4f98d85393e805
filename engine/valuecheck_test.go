package engine_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hookd/hookd/engine"
)

// TestFieldAndValueWarnings loads one rule per case and compares its
// warnings, with their columns, to the expected ones. The condition, in
// single quotes, starts on line 5 at column 10; a template's expression
// on line 8 at column 28. A field warning points at the unknown step.
func TestFieldAndValueWarnings(t *testing.T) {
	tests := []struct {
		name     string
		on       string
		cond     string
		template string   // inside {{ }}; "" for none
		want     []string // "col: text" of each warning, in order
	}{
		{"known field and value", "group:update", `action == "remove"`, "", nil},
		{"typo in a value", "group:update", `action == "remvoe"`, "",
			[]string{`5:20: action is never "remvoe" in group:update events (did you mean "remove"?); this test is always false`}},
		{"literal on the left", "group:update", `"remvoe" == action`, "",
			[]string{`5:10: action is never "remvoe" in group:update events (did you mean "remove"?)`}},
		{"not equal", "message:out:ack", `ack != "reed"`, "",
			[]string{`5:17: ack is never "reed" in message:out:ack events (did you mean "read"?); this test is always true`}},
		{"in a list, each element", "message:out:ack", `data.ack in ["read", "delivred", "sent", "payed"]`, "",
			[]string{
				`5:31: data.ack is never "delivred" in message:out:ack events (did you mean "delivered"?); this element of the list never matches`,
				`5:51: data.ack is never "payed" in message:out:ack events (did you mean "played"?)`,
			}},
		{"under not and ||", "message:in:new", `data.type == "text" || not (data.chat.status in ["resolvd"])`, "",
			[]string{`5:59: data.chat.status is never "resolvd" in message:in:new events (did you mean "resolved"?)`}},
		{"no close value lists them", "message:in:new", `data.meta.source == "whatsapp"`, "",
			[]string{`5:30: data.meta.source is never "whatsapp" in message:in:new events (its values: "android", "ios", "web", "desktop", "api", "chat", "autoreply"); this test is always false`}},
		{"a long list of values is cut", "group:update", `action == "kick"`, "",
			[]string{`(its values: "create", "delete", "leave", "subject", "picture", "description", "add", "remove", ... (32 in all))`}},
		{"optional chaining and $env", "message:in:new", `data?.chat?.type == "grup" && $env.data.flow == "incoming"`, "",
			[]string{
				`5:30: data.chat.type is never "grup" in message:in:new events (did you mean "group"?)`,
				`5:58: data.flow is never "incoming" in message:in:new events (its values: "in", "out", "inbound", "outbound")`,
			}},
		{"in a template", "group:update", "", `action == 'promte' ? 'yes' : 'no'`,
			[]string{`8:38: action is never "promte" in group:update events (did you mean "promote"?)`}},
		{"a value of any listened event passes", "[message:in:new, group:update]", `data.chat.type == "channel" && data.flow == "outbound"`, "", nil},
		{"the union of the listened events' values", "[message:out:ack, message:in:new]", `data.ack == "server"`, "", nil},
		{"an event without a published shape", "[message:in:new, message:reaction]", `data.chat.type == "grup" && data.chat.nmae != ""`, "", nil},
		{"every event", `"*"`, `action == "remvoe"`, "", nil},
		{"a glob of message events", `"message:*"`, `data.flow == "inboud"`, "", nil},
		{"an unknown event name", "group:updates", `action == "remvoe"`, "", []string{`on: "group:updates" is not a Wassenger event name`}},
		{"the empty string tests a missing field", "group:update", `action == ""`, "", nil},
		{"a field without values", "message:in:new", `data.type == "txt" && data.chat.name == "x"`, "", nil},
		{"vars are not event fields", "group:update", `vars.action == "remvoe"`, "", nil},
		{"a field typo", "message:in:new", `data.chat.nmae == "x" && $env.data.fromnumber != nil`, "",
			[]string{
				`5:20: field data.chat.nmae is not in message:in:new events (did you mean data.chat.name?)`,
				`5:45: field $env.data.fromnumber is not in message:in:new events (did you mean $env.data.fromNumber?)`,
			}},
		{"fields of the spec's models", "message:in:new", `data.author != nil && data.chat.lid != nil && data.quoted.body != nil && device.session.status == "online"`, "", nil},
		{"a closed object of the spec", "message:in:new", `data.meta.isSpam == true`, "",
			[]string{`5:20: field data.meta.isSpam is not in message:in:new events`}},
		// A lone field as the condition passes unless the schema knows it
		// is not boolean in every listened event that carries it.
		{"a string field as the condition", "group:update", `action`, "",
			[]string{`5:10: action is a string in group:update events, not true or false, so the condition never matches and the rule never fires; compare it, e.g. action != ""`}},
		{"a list field through ?.", "group:update", `(data?.chat?.labels)`, "",
			[]string{`5:11: data.chat.labels is a list in group:update events, not true or false, so the condition never matches and the rule never fires; compare it, e.g. len(data.chat.labels ?? []) > 0`}},
		{"a field of $env", "[message:in:new, group:update]", `$env.created`, "",
			[]string{`5:10: $env.created is a number in message:in:new, group:update events`}},
		{"a boolean field as the condition", "group:update", `value`, "", nil},
		{"a boolean field of a message", "message:in:new", `data.meta.isGroup`, "", nil},
		{"a field the spec leaves open", "message:in:new", `data.author`, "", nil},
		{"a field of an event without a published shape", "[group:update, message:reaction]", `action`, "", nil},
		{"a field of every event", `"*"`, `action`, "", nil},
		{"a field the events do not carry", "message:in:new", `action`, "",
			[]string{`5:10: field action is not in message:in:new events`}},
		// A bare word where a quoted text was meant reads as a field: the
		// warning says which field's value it is.
		{"an unquoted value", "group:update", `action == remove`, "",
			[]string{`5:20: field remove is not in group:update events (did you mean the text "remove", a value of action? quote it)`}},
		{"unquoted values in a list", "message:out:ack", `data.ack in ["read", delivered]`, "",
			[]string{`5:31: field delivered is not in message:out:ack events (did you mean the text "delivered", a value of data.ack? quote it)`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cond, tmpl := "true", "x"
			if tt.cond != "" {
				cond = tt.cond
			}
			if tt.template != "" {
				tmpl = "{{ " + tt.template + " }}"
			}
			src := fmt.Sprintf("version: 1\nvars: {action: add}\nrules:\n  - name: r\n    if: '%s'\n    on: %s\n    do:\n      - log: {message: \"%s\"}\n",
				strings.ReplaceAll(cond, "'", "''"), tt.on, tmpl)
			rs, problems := engine.Load("r.yaml", []byte(src), engine.LoadOptions{})
			if rs == nil {
				t.Fatalf("load failed:\n%v\n%s", problems, src)
			}
			if len(problems) != len(tt.want) {
				t.Fatalf("got %d warnings, want %d:\n%v", len(problems), len(tt.want), problems)
			}
			for i, p := range problems {
				got := fmt.Sprintf("%d:%d: %s", p.Line, p.Col, p.Msg)
				if !strings.Contains(got, tt.want[i]) {
					t.Errorf("warning %d = %q, want it to contain %q", i, got, tt.want[i])
				}
			}
		})
	}
}
