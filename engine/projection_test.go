package engine_test

import (
	"path/filepath"
	"reflect"
	"testing"

	"github.com/hookd/hookd/engine"
	"github.com/hookd/hookd/event"
)

// TestProjectionGivesSameResults evaluates every recorded event twice,
// decoded in full and decoded with the rule set's projection (only the
// fields the rules read, as the daemon does), and requires the same rules,
// rendered actions and errors.
func TestProjectionGivesSameResults(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "testdata", "rules", "good", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, filepath.Join("..", "rules.example.yaml"))
	evs, err := event.ReadPaths([]string{filepath.Join("..", "testdata", "events")})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			rs, problems := loadFile(t, f, engine.LoadOptions{LookupEnv: envFrom(nil), AllowUnsetEnv: true})
			if rs == nil {
				t.Fatal(problems)
			}
			if rs.Projection() == nil {
				t.Fatal("no projection")
			}
			for _, ev := range evs {
				full, err := event.Parse(ev.Raw)
				if err != nil {
					t.Fatal(err)
				}
				proj, err := event.ParseProjected(ev.Raw, rs.Projection())
				if err != nil {
					t.Fatal(err)
				}
				if got, want := summarize(rs.Evaluate(proj[0])), summarize(rs.Evaluate(full[0])); !reflect.DeepEqual(got, want) {
					t.Errorf("%s: projected decode gives\n%v\nfull decode gives\n%v", ev.Source, got, want)
				}
			}
		})
	}
}

type outcome struct {
	Rules   []string
	Actions []map[string]any
	Errors  []string
}

func summarize(res *engine.Result) outcome {
	var o outcome
	for _, f := range res.Fired {
		o.Rules = append(o.Rules, f.Rule.Name)
		for _, a := range f.Actions {
			o.Actions = append(o.Actions, a.Params)
		}
	}
	for _, e := range res.Errors {
		o.Errors = append(o.Errors, e.Error())
	}
	return o
}

// TestProjectionKeepsWhatRulesRead checks that a projection decodes the
// fields read, whole objects used as values, and nothing else nested.
func TestProjectionKeepsWhatRulesRead(t *testing.T) {
	rs := loadRules(t, `version: 1
rules:
  - name: r
    on: group:update
    if: data.chat.name != "" && len($env.participants) > 0
    do:
      - log:
          message: "{{ device.phone }}"
          fields:
            group: "{{ data.chat.group }}"
`)
	evs, err := event.ParseProjected([]byte(`{"id":"1","event":"group:update","author":"+1","participants":["+2"],
		"device":{"id":"d","phone":"+3"},
		"data":{"body":"secret text","chat":{"name":"G","labels":["x"],"group":{"description":"D","totalParticipants":4}}}}`), rs.Projection())
	if err != nil {
		t.Fatal(err)
	}
	got := evs[0].Fields
	want := map[string]any{
		// author, which no rule reads, is left out.
		"id": "1", "event": "group:update", "participants": []any{"+2"},
		"device": map[string]any{"phone": "+3"},
		"data":   map[string]any{"chat": map[string]any{"name": "G", "group": map[string]any{"description": "D", "totalParticipants": int64(4)}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("projected fields\n%#v\nwant\n%#v", got, want)
	}
}

// An object read as a whole (passed to len, indexed by a computed key,
// rendered) is decoded whole, also when a rule reads one of its fields
// by name too: the named field does not stand for the object.
func TestProjectionKeepsObjectsReadWhole(t *testing.T) {
	body := []byte(`{"id":"1","event":"group:update","action":"add",
		"data":{"type":"text","chat":{"name":"G","id":"c"},"flow":"inbound"},
		"device":{"id":"d","phone":"+3","alias":"A"}}`)
	for _, tc := range []struct{ name, cond string }{
		{"len of the object", `data.chat.name == "G" && len(data) == 3`},
		{"len, fields first", `len(data) == 3 && data.chat.name == "G"`},
		{"optional chain beside", `data?.chat?.name == "G" && len(data.chat) == 2`},
		{"computed key", `device.id == "d" && device[vars.key] == "A"`},
		{"keys of the object", `data.type == "text" && "flow" in keys(data)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs := loadRules(t, `version: 1
vars:
  key: alias
rules:
  - name: r
    on: group:update
    if: '`+tc.cond+`'
    do:
      - log:
          message: "{{ id }}"
`)
			full, proj := decodeBoth(t, body, rs)
			want := summarize(rs.Evaluate(full))
			if len(want.Rules) != 1 {
				t.Fatalf("the full decode fires %v with errors %v: the test's condition is wrong", want.Rules, want.Errors)
			}
			if got := summarize(rs.Evaluate(proj)); !reflect.DeepEqual(got, want) {
				t.Errorf("projected decode gives\n%v\nfull decode gives\n%v", got, want)
			}
		})
	}
}

// A top-level field named like an expr function (date, the time of each
// batched message:out:failed item) is the field where it is not called,
// in conditions and templates, decoded in full or projected; date(...)
// stays the function.
func TestFieldNamedLikeFunction(t *testing.T) {
	src := `version: 1
rules:
  - name: failed-2018
    on: message:out:failed
    if: date startsWith "2018" && date(date) < date("2019-01-01T00:00:00Z")
    do:
      - log: { message: "{{ date[:10] }} {{ date | upper() }}" }
`
	rs, problems := engine.Load("r.yaml", []byte(src), engine.LoadOptions{})
	if rs == nil || len(problems) > 0 {
		t.Fatalf("load: %v", problems)
	}
	evs, err := event.ReadPaths([]string{filepath.Join("..", "testdata", "events", "spec", "message-out-failed.json")})
	if err != nil {
		t.Fatal(err)
	}
	if rs.Projection() == nil {
		t.Fatal("no projection")
	}
	for _, p := range []*event.Projection{nil, rs.Projection()} {
		parsed, err := event.ParseProjected(evs[0].Raw, p)
		if err != nil {
			t.Fatal(err)
		}
		got := summarize(rs.Evaluate(parsed[0]))
		want := []map[string]any{{"message": "2018-12-08 2018-12-08T15:01:48.518Z"}}
		if !reflect.DeepEqual(got.Rules, []string{"failed-2018"}) || !reflect.DeepEqual(got.Actions, want) {
			t.Errorf("projected %v: %+v, want failed-2018 to fire with %v", p != nil, got, want[0])
		}
	}
}
