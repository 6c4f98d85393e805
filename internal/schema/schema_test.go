package schema_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/hookd/hookd/actions"
	"github.com/hookd/hookd/engine"
	"github.com/hookd/hookd/internal/schema"
)

var update = flag.Bool("update", false, "rewrite docs/rules.schema.json")

var (
	repoRoot      = filepath.Join("..", "..")
	committedCopy = filepath.Join(repoRoot, "docs", "rules.schema.json")
)

// TestCommittedCopy fails when docs/rules.schema.json is not what
// `hookd schema` prints; go test ./internal/schema -update rewrites it.
func TestCommittedCopy(t *testing.T) {
	got, err := schema.JSON()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(committedCopy, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(committedCopy)
	if err != nil {
		t.Fatalf("%v; run go test ./internal/schema -update", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("docs/rules.schema.json is out of date with the loader; run go test ./internal/schema -update and commit it")
	}
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

func props(t *testing.T, s any, path string) map[string]any {
	t.Helper()
	m, ok := s.(map[string]any)["properties"].(map[string]any)
	if !ok {
		t.Fatalf("%s has no properties", path)
	}
	return m
}

// generated returns the schema as decoded JSON, as an editor sees it.
func generated(t *testing.T) map[string]any {
	t.Helper()
	data, err := schema.JSON()
	if err != nil {
		t.Fatal(err)
	}
	var s map[string]any
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestKeysMatchLoader checks the schema against the loader's own lists:
// top-level keys, rule keys, connection fields, action types and fields.
func TestKeysMatchLoader(t *testing.T) {
	s := generated(t)
	defs := s["definitions"].(map[string]any)
	checks := []struct {
		what      string
		got, want []string
	}{
		{"top-level keys", keys(props(t, s, "root")), sortedCopy(engine.TopLevelKeys())},
		{"rule keys", keys(props(t, defs["rule"], "rule")), sortedCopy(engine.RuleKeys())},
		{"action types", keys(props(t, defs["action"], "action")), actions.Types()},
		{"delivery keys", keys(props(t, props(t, s, "root")["delivery"], "delivery")), yamlTags(reflect.TypeOf(engine.Delivery{}))},
		{"connections", keys(props(t, props(t, s, "root")["connections"], "connections")), yamlTags(reflect.TypeOf(actions.Connections{}))},
	}
	conns := props(t, props(t, s, "root")["connections"], "connections")
	ct := reflect.TypeOf(actions.Connections{})
	for i := 0; i < ct.NumField(); i++ {
		name := strings.Split(ct.Field(i).Tag.Get("yaml"), ",")[0]
		checks = append(checks, struct {
			what      string
			got, want []string
		}{"connections." + name, keys(props(t, conns[name], name)), yamlTags(ct.Field(i).Type.Elem())})
	}
	for _, typ := range actions.Types() {
		spec, _ := actions.Lookup(typ)
		def := defs["action."+typ]
		checks = append(checks, struct {
			what      string
			got, want []string
		}{"fields of " + typ, keys(props(t, def, typ)), spec.FieldNames()})
		var required []string
		for _, f := range spec.Fields {
			if f.Required {
				required = append(required, f.Name)
			}
		}
		var got []string
		if r, ok := def.(map[string]any)["required"].([]any); ok {
			for _, x := range r {
				got = append(got, x.(string))
			}
		}
		checks = append(checks, struct {
			what      string
			got, want []string
		}{"required fields of " + typ, sortedCopy(got), sortedCopy(required)})
		for _, f := range spec.Fields {
			p := props(t, def, typ)[f.Name].(map[string]any)
			if d, _ := p["description"].(string); !strings.HasPrefix(d, f.Doc) || f.Doc == "" {
				t.Errorf("%s.%s: description %q, want the field's doc %q", typ, f.Name, d, f.Doc)
			}
		}
	}
	for _, c := range checks {
		if strings.Join(c.got, ",") != strings.Join(c.want, ",") {
			t.Errorf("%s: schema has %v, loader has %v", c.what, c.got, c.want)
		}
	}
}

func yamlTags(t reflect.Type) []string {
	var out []string
	for i := 0; i < t.NumField(); i++ {
		tag := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]
		if tag != "" && tag != "-" {
			out = append(out, tag)
		}
	}
	sort.Strings(out)
	return out
}

// TestDocsTablesAreCurrent fails on descriptions of fields that no
// longer exist.
func TestDocsTablesAreCurrent(t *testing.T) {
	s := generated(t)
	root := props(t, s, "root")
	lookup := func(start any, path string) bool {
		cur := start
		for _, part := range strings.Split(path, ".") {
			p, ok := cur.(map[string]any)["properties"].(map[string]any)
			if !ok {
				return false
			}
			if cur, ok = p[part]; !ok {
				return false
			}
		}
		return true
	}
	for k := range schema.ConnectionDocs() {
		if !lookup(root["connections"], k) {
			t.Errorf("ConnectionDocs has %q, which actions.Connections does not", k)
		}
	}
	for k := range schema.ConnectionEnums() {
		if !lookup(root["connections"], k) {
			t.Errorf("ConnectionEnums has %q, which actions.Connections does not", k)
		}
	}
	for k := range schema.DeliveryDocs() {
		if !lookup(root["delivery"], k) {
			t.Errorf("DeliveryDocs has %q, which engine.Delivery does not", k)
		}
	}
	for k := range schema.TopLevelDocs() {
		if _, ok := root[k]; !ok {
			t.Errorf("TopLevelDocs has %q, which is not a top-level key", k)
		}
	}
}

// TestValidate checks rules files against the generated schema with a
// small draft-07 validator (the keywords the schema uses): the example
// and the good test files pass, files with structural mistakes fail.
func TestValidate(t *testing.T) {
	s := generated(t)
	good, err := filepath.Glob(filepath.Join(repoRoot, "testdata", "rules", "good", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	good = append(good, filepath.Join(repoRoot, "rules.example.yaml"))
	for _, f := range good {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if errs := validateYAML(t, s, data); len(errs) > 0 {
			t.Errorf("%s does not match the schema:\n  %s", f, strings.Join(errs, "\n  "))
		}
	}
	const base = "version: 1\nrules:\n"
	bad := []struct {
		name, src, want string
	}{
		{"unknown top-level key", "version: 1\nrule: []\nrules: []\n", `/: unknown key "rule"`},
		{"wrong version", "version: 2\nrules: []\n", "/version: want 1"},
		{"no rules", "version: 1\n", `/: missing "rules"`},
		{"unknown rule key", base + "  - {name: a, on: x, when: y, do: [log: {message: m}]}\n", `/rules/0: unknown key "when"`},
		{"rule without on", base + "  - {name: a, do: [log: {message: m}]}\n", `/rules/0: missing "on"`},
		{"rule without do", base + "  - {name: a, on: x}\n", `/rules/0: missing "do"`},
		{"stop is not a boolean", base + "  - {name: a, on: x, stop: maybe, do: [log: {message: m}]}\n", "/rules/0/stop: want boolean"},
		{"unknown action type", base + "  - {name: a, on: x, do: [sms: {text: t}]}\n", `/rules/0/do/0: unknown key "sms"`},
		{"two actions in one item", base + "  - {name: a, on: x, do: [{log: {message: m}, slack: {text: t}}]}\n", "/rules/0/do/0: more than 1 key"},
		{"unknown action field", base + "  - {name: a, on: x, do: [slack: {txt: t}]}\n", `/rules/0/do/0/slack: unknown key "txt"`},
		{"missing required field", base + "  - {name: a, on: x, do: [email: {to: a@b.c, subject: s}]}\n", `/rules/0/do/0/email: missing "body"`},
		{"phone and group", base + "  - {name: a, on: x, do: [wassenger.message: {phone: p, group: g, message: m}]}\n", "/rules/0/do/0/wassenger.message: matches 2 of oneOf"},
		{"enum", base + "  - {name: a, on: x, do: [log: {message: m, level: loud}]}\n", "/rules/0/do/0/log/level: matches no anyOf"},
		{"message field type", base + "  - {name: a, on: x, do: [wassenger.message: {chat: c, message: m, sendReadAck: 'yes'}]}\n", "/rules/0/do/0/wassenger.message/sendReadAck: matches no anyOf"},
		{"message nested type", base + "  - {name: a, on: x, do: [wassenger.message: {chat: c, poll: {name: q, options: a}}]}\n", "/rules/0/do/0/wassenger.message/poll: matches no anyOf"},
		{"message unknown field", base + "  - {name: a, on: x, do: [wassenger.message: {chat: c, message: m, sendReadAk: true}]}\n", `/rules/0/do/0/wassenger.message: unknown key "sendReadAk"`},
		{"bad duration", "version: 1\ndelivery: {timeout: soon}\nrules: []\n", "/delivery/timeout: matches no anyOf"},
		{"unknown connection field", "version: 1\nconnections: {slack: {url: x}}\nrules: []\n", `/connections/slack: unknown key "url"`},
		{"email tls", "version: 1\nconnections: {email: {tls: ssl}}\nrules: []\n", "/connections/email/tls: matches no anyOf"},
	}
	for _, b := range bad {
		t.Run(b.name, func(t *testing.T) {
			errs := validateYAML(t, s, []byte(b.src))
			if !strings.Contains(strings.Join(errs, "\n"), b.want) {
				t.Errorf("errors %q, want one containing %q", errs, b.want)
			}
		})
	}
	ok := []string{
		"version: 1\nconnections: {email: {port: '${SMTP_PORT:-587}', tls: '${SMTP_TLS}'}}\nrules: []\n",
		base + "  - {name: a, on: x, stop: true}\n",
		base + "  - {name: a, on: [x, 'message:*'], do: [log: {message: m, level: '{{ vars.level }}'}]}\n",
		base + "  - {name: a, on: x, do: [email: {to: [a@b.c], subject: s, body: b}]}\n",
		base + "  - {name: a, on: x, do: [wassenger.message: {chat: 1@lid, poll: {name: q, options: [a, b]}, sendReadAck: true, deliveryOptions: {previewUrl: false, extra: 1}}]}\n",
		base + "  - {name: a, on: x, do: [wassenger.message: {group: g, poll: '{{ vars.poll }}', typing: '{{ vars.t }}', forward: m1}]}\n",
	}
	for _, src := range ok {
		if errs := validateYAML(t, s, []byte(src)); len(errs) > 0 {
			t.Errorf("%s\ndoes not match the schema: %v", src, errs)
		}
	}
}

func validateYAML(t *testing.T, s map[string]any, data []byte) []string {
	t.Helper()
	var doc any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	v := &validator{root: s}
	return v.check(s, doc, "")
}

// validator implements the draft-07 keywords the generated schema uses.
type validator struct{ root map[string]any }

func (v *validator) check(sch any, val any, at string) []string {
	s, ok := sch.(map[string]any)
	if !ok {
		return nil
	}
	where := at
	if where == "" {
		where = "/"
	}
	var errs []string
	fail := func(format string, args ...any) { errs = append(errs, where+": "+fmt.Sprintf(format, args...)) }
	if ref, ok := s["$ref"].(string); ok {
		target := any(v.root)
		for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
			target = target.(map[string]any)[part]
		}
		errs = append(errs, v.check(target, val, at)...)
	}
	if typ, ok := s["type"]; ok && !hasType(typ, val) {
		fail("want %v, found %T", typ, val)
		return errs
	}
	if c, ok := s["const"]; ok && fmt.Sprint(c) != fmt.Sprint(val) {
		fail("want %v, found %v", c, val)
	}
	if e, ok := s["enum"].([]any); ok {
		found := false
		for _, x := range e {
			found = found || fmt.Sprint(x) == fmt.Sprint(val)
		}
		if !found {
			fail("%v is not one of %v", val, e)
		}
	}
	if p, ok := s["pattern"].(string); ok {
		if str, isStr := val.(string); isStr && !regexp.MustCompile(p).MatchString(str) {
			fail("%q does not match %s", str, p)
		}
	}
	if n, ok := s["minLength"].(float64); ok {
		if str, isStr := val.(string); isStr && len(str) < int(n) {
			fail("shorter than %v", n)
		}
	}
	if m, isMap := val.(map[string]any); isMap {
		if r, ok := s["required"].([]any); ok {
			for _, k := range r {
				if _, has := m[k.(string)]; !has {
					fail("missing %q", k)
				}
			}
		}
		if n, ok := s["maxProperties"].(float64); ok && len(m) > int(n) {
			fail("more than %v key", n)
		}
		if n, ok := s["minProperties"].(float64); ok && len(m) < int(n) {
			fail("fewer than %v key", n)
		}
		p, _ := s["properties"].(map[string]any)
		for k, x := range m {
			if ps, ok := p[k]; ok {
				errs = append(errs, v.check(ps, x, at+"/"+k)...)
			} else if ap, ok := s["additionalProperties"]; ok {
				if ap == false {
					fail("unknown key %q", k)
				} else {
					errs = append(errs, v.check(ap, x, at+"/"+k)...)
				}
			}
		}
	}
	if list, isList := val.([]any); isList {
		if n, ok := s["minItems"].(float64); ok && len(list) < int(n) {
			fail("fewer than %v items", n)
		}
		if items, ok := s["items"]; ok {
			for i, x := range list {
				errs = append(errs, v.check(items, x, fmt.Sprintf("%s/%d", at, i))...)
			}
		}
	}
	if all, ok := s["allOf"].([]any); ok {
		for _, sub := range all {
			errs = append(errs, v.check(sub, val, at)...)
		}
	}
	if anyOf, ok := s["anyOf"].([]any); ok && v.matches(anyOf, val, at) == 0 {
		fail("matches no anyOf")
	}
	if oneOf, ok := s["oneOf"].([]any); ok {
		if n := v.matches(oneOf, val, at); n != 1 {
			fail("matches %d of oneOf", n)
		}
	}
	if not, ok := s["not"]; ok && len(v.check(not, val, at)) == 0 {
		fail("matches not")
	}
	if cond, ok := s["if"]; ok && len(v.check(cond, val, at)) == 0 {
		if then, ok := s["then"]; ok {
			errs = append(errs, v.check(then, val, at)...)
		}
	}
	return errs
}

func (v *validator) matches(alts []any, val any, at string) int {
	n := 0
	for _, alt := range alts {
		if len(v.check(alt, val, at)) == 0 {
			n++
		}
	}
	return n
}

func hasType(typ any, val any) bool {
	if list, ok := typ.([]any); ok {
		for _, t := range list {
			if hasType(t, val) {
				return true
			}
		}
		return false
	}
	switch typ {
	case "object":
		_, ok := val.(map[string]any)
		return ok
	case "array":
		_, ok := val.([]any)
		return ok
	case "string":
		_, ok := val.(string)
		return ok
	case "boolean":
		_, ok := val.(bool)
		return ok
	case "integer":
		_, ok := val.(int)
		return ok
	case "number":
		switch val.(type) {
		case int, float64:
			return true
		}
		return false
	}
	return true
}
