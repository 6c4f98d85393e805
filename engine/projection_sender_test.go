package engine_test

import (
	"reflect"
	"testing"

	"github.com/hookd/hookd/engine"
	"github.com/hookd/hookd/event"
)

// TestProjectionOfSenderHelpers checks that sender(data) and
// senderPhone(data) decode only the message fields they read, that they
// give the same results as a full decode, and that data is decoded whole
// when another part of the rules reads it whole.
func TestProjectionOfSenderHelpers(t *testing.T) {
	body := []byte(`{"id":"1","event":"message:in:new","device":{"phone":"+34911234567"},
		"data":{"id":"m","flow":"inbound","from":"120363041234567890@g.us","author":"203456789012345@lid",
		"fromNumber":"+34655443322","body":"secret text","chat":{"id":"120363041234567890@g.us","name":"G"}}}`)
	const helpers = `sender: "{{ sender(data) }}"
            phone: "{{ senderPhone(data) }}"`
	for _, tc := range []struct {
		name, fields string
		wantData     map[string]any // nil: the whole data
	}{
		{"helpers only", helpers, map[string]any{
			"flow": "inbound", "from": "120363041234567890@g.us", "author": "203456789012345@lid", "fromNumber": "+34655443322",
		}},
		{"helpers and a field", helpers + `
            chat: "{{ data.chat.name }}"`, map[string]any{
			"flow": "inbound", "from": "120363041234567890@g.us", "author": "203456789012345@lid", "fromNumber": "+34655443322",
			"chat": map[string]any{"name": "G"},
		}},
		{"helpers and data whole", helpers + `
            n: "{{ len(data) }}"`, nil},
		{"data whole first", `n: "{{ len(data) }}"
            ` + helpers, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs := loadRules(t, `version: 1
rules:
  - name: r
    on: message:in:new
    do:
      - log:
          message: "{{ id }}"
          fields:
            `+tc.fields+`
`)
			full, proj := decodeBoth(t, body, rs)
			want := tc.wantData
			if want == nil {
				want = full.Fields["data"].(map[string]any)
			}
			if got := proj.Fields["data"]; !reflect.DeepEqual(got, want) {
				t.Errorf("projected data\n%#v\nwant\n%#v", got, want)
			}
			wantRes := summarize(rs.Evaluate(full))
			if len(wantRes.Rules) != 1 || wantRes.Actions[0]["fields"].(map[string]any)["sender"] != "203456789012345@lid" {
				t.Fatalf("the full decode gives %v: the test's rules are wrong", wantRes)
			}
			if got := summarize(rs.Evaluate(proj)); !reflect.DeepEqual(got, wantRes) {
				t.Errorf("projected decode gives\n%v\nfull decode gives\n%v", got, wantRes)
			}
		})
	}
}

// decodeBoth decodes one event body in full and with the rule set's
// projection.
func decodeBoth(t *testing.T, body []byte, rs *engine.RuleSet) (full, projected *event.Event) {
	t.Helper()
	f, err := event.Parse(body)
	if err != nil {
		t.Fatal(err)
	}
	p, err := event.ParseProjected(body, rs.Projection())
	if err != nil {
		t.Fatal(err)
	}
	return f[0], p[0]
}
