package eventschema_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/hookd/hookd/engine"
	"github.com/hookd/hookd/engine/eventschema"
)

// model is the part of a Swagger 2.0 schema that the models of
// testdata/spec-models.json use. items is an object or, in a few models,
// a list of one object.
type model struct {
	Type       string            `json:"type"`
	Properties map[string]*model `json:"properties"`
	Items      json.RawMessage   `json:"items"`
}

// elem returns the shape of a list's elements, or nil.
func (m *model) elem() (*model, error) {
	if len(m.Items) == 0 {
		return nil, nil
	}
	var one model
	if err := json.Unmarshal(m.Items, &one); err == nil {
		return &one, nil
	}
	var list []*model
	if err := json.Unmarshal(m.Items, &list); err != nil || len(list) == 0 {
		return nil, fmt.Errorf("items: want an object or a list of one object: %v", err)
	}
	return list[0], nil
}

// modelPaths adds the path of every property under m, at prefix, to out.
// An object without properties is open, so a made-up key below it is
// added too: the schema must accept it. Objects at one of mounts are
// described by another model (ioMessage.chat is an ioChat).
func modelPaths(m *model, prefix []string, mounts []string, out *[][]string) error {
	switch {
	case len(m.Properties) > 0:
		for key, p := range m.Properties {
			path := append(slices.Clone(prefix), key)
			*out = append(*out, path)
			if err := modelPaths(p, path, mounts, out); err != nil {
				return fmt.Errorf("%s: %w", key, err)
			}
		}
	case m.Type == "object":
		if slices.Contains(mounts, strings.Join(prefix, ".")) {
			return nil
		}
		*out = append(*out, append(slices.Clone(prefix), "someKeyNoSourceShows"))
	case m.Type == "array":
		e, err := m.elem()
		if err != nil || e == nil {
			return err
		}
		path := append(slices.Clone(prefix), "0")
		*out = append(*out, path)
		return modelPaths(e, path, mounts, out)
	}
	return nil
}

// specModelFields returns, by event name, the field paths of the spec's
// models where webhook payloads carry them.
func specModelFields(t *testing.T) map[string][][]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "spec-models.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Definitions map[string]*model `json:"definitions"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatalf("testdata/spec-models.json: %v", err)
	}
	platform := []string{"message:in:new", "message:out:new", "message:out:ack", "group:update"}
	queued := []string{"message:out:sent", "message:out:failed"}
	mounts := []struct {
		model, at string
		events    []string
	}{
		{"ioMessage", "data", platform},
		{"ioChat", "data.chat", platform},
		{"ioContact", "data.chat.contact", platform},
		{"ioFile", "data.media", platform},
		{"chatGroup", "data.chat.group", platform},
		{"device", "device", platform},
		{"device", "data.device", queued},
		{"message", "data", queued},
	}
	var at []string
	for _, m := range mounts {
		at = append(at, m.at)
	}
	out := map[string][][]string{}
	for _, m := range mounts {
		def, ok := f.Definitions[m.model]
		if !ok {
			t.Fatalf("testdata/spec-models.json has no model %s", m.model)
		}
		var paths [][]string
		if err := modelPaths(def, strings.Split(m.at, "."), at, &paths); err != nil {
			t.Fatalf("model %s: %v", m.model, err)
		}
		if len(paths) == 0 {
			t.Fatalf("model %s: no properties", m.model)
		}
		for _, ev := range m.events {
			out[ev] = append(out[ev], paths...)
		}
	}
	return out
}

var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// reference writes path as an expression reading it from $env, the whole
// event (a top-level date would otherwise be the date() builtin).
func reference(path []string) string {
	var b strings.Builder
	b.WriteString("$env")
	for _, step := range path {
		if _, err := strconv.Atoi(step); err == nil {
			b.WriteString("[" + step + "]")
		} else if identifier.MatchString(step) {
			b.WriteString("." + step)
		} else {
			b.WriteString("[" + strconv.Quote(step) + "]")
		}
	}
	return b.String()
}

// rulesReading returns a rules file whose conditions read every test,
// by event: a few dozen tests a rule, joined with ||.
func rulesReading(tests map[string][]string) []byte {
	var b strings.Builder
	b.WriteString("version: 1\nrules:\n")
	names := slices.Sorted(func(yield func(string) bool) {
		for k := range tests {
			if !yield(k) {
				return
			}
		}
	})
	for _, ev := range names {
		list := tests[ev]
		for i := 0; i < len(list); i += 40 {
			cond := strings.Join(list[i:min(i+40, len(list))], " || ")
			fmt.Fprintf(&b, "  - name: %s-%d\n    on: %s\n    if: '%s'\n    do:\n      - log: {message: x}\n",
				strings.ReplaceAll(ev, ":", "-"), i, ev, strings.ReplaceAll(cond, "'", "''"))
		}
	}
	return []byte(b.String())
}

// TestEverySpecFieldIsKnown reads, through hookd's loader, every field of
// every recorded event (the spec's examples under spec/ among them) and
// every field of the spec's models where webhooks carry them, each in a
// rule on its event, and wants no warning: hookd check warns only about
// fields that are certainly absent. A string value of an enumerated field
// is compared with the recorded value, so the value check is held to the
// same standard.
func TestEverySpecFieldIsKnown(t *testing.T) {
	recorded, err := eventschema.RecordedFields(filepath.Join("..", "..", "testdata", "events"))
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string][]string{}
	seen := map[string]bool{}
	add := func(ev string, path []string, value any) {
		test := reference(path) + " != nil"
		if s, ok := value.(string); ok && eventschema.Values(ev, path) != nil {
			test = reference(path) + " == " + strconv.Quote(s)
		}
		if !seen[ev+" "+test] {
			seen[ev+" "+test] = true
			tests[ev] = append(tests[ev], test)
		}
	}
	for ev, fields := range recorded {
		if !eventschema.Known(ev) {
			continue
		}
		for _, f := range fields {
			add(ev, f.Path, f.Value)
		}
	}
	fromRecords := len(seen)
	for ev, paths := range specModelFields(t) {
		for _, p := range paths {
			add(ev, p, nil)
		}
	}
	for _, ev := range []string{"message:in:new", "message:out:new", "message:out:ack", "group:update", "message:out:sent", "message:out:failed"} {
		if len(tests[ev]) == 0 {
			t.Errorf("no field of %s was read; want the recorded events and the spec's models to give some", ev)
		}
	}

	rs, problems := engine.Load("spec-fields.yaml", rulesReading(tests), engine.LoadOptions{})
	if rs == nil {
		t.Fatalf("the generated rules file does not load:\n%v", problems)
	}
	for _, p := range problems {
		t.Errorf("%s", p.Msg)
	}
	t.Logf("%d field reads (%d from recorded events, the rest from the spec's models) in %d rules", len(seen), fromRecords, len(rs.Rules))

	// The same harness notices a field no event carries and a value an
	// enumerated field never has.
	tests = map[string][]string{
		"message:in:new": {reference([]string{"data", "chat", "nmae"}) + " != nil"},
		"group:update":   {`action == "remvoe"`},
	}
	_, problems = engine.Load("typos.yaml", rulesReading(tests), engine.LoadOptions{})
	if problems.Warnings() != 2 || !strings.Contains(problems.Error(), "data.chat.nmae") || !strings.Contains(problems.Error(), `did you mean "remove"`) {
		t.Errorf("a typo in a field and in a value: got %v, want two warnings", problems)
	}
}
