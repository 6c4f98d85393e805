// Package schema generates the JSON Schema (draft-07) of hookd rules
// files from the loader's own definitions: the top-level and rule keys
// the engine accepts, the connection and delivery structs it decodes, and
// every action type's fields from the actions package. Editors that run
// yaml-language-server use it to complete and check rules.yaml as the
// user types; `hookd schema` prints it and docs/rules.schema.json is the
// committed copy.
package schema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/hookd/hookd/actions"
	"github.com/hookd/hookd/actions/secret"
	"github.com/hookd/hookd/engine"
	"github.com/hookd/hookd/engine/eventschema"
)

// obj is a JSON Schema object.
type obj = map[string]any

// envPattern matches a ${ENV} reference, allowed in any scalar value: the
// loader expands it before it reads numbers, booleans and durations.
const envPattern = `\$\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\}`

// templatePattern matches a {{ expr }} template, checked at run time
// against enums.
const templatePattern = `\{\{.*\}\}`

// durationPattern matches a Go duration such as 500ms, 15s or 1h30m.
const durationPattern = `^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`

// TopLevelDocs describes the top-level keys of a rules file.
func TopLevelDocs() map[string]string {
	return map[string]string{
		"version":     "Format version of the rules file; this hookd reads 1.",
		"vars":        "Constants, visible as vars.NAME in conditions and templates.",
		"connections": "How to reach each integration. ${ENV} is expanded when the file loads; a missing variable is a load error.",
		"delivery":    "How the daemon retries actions: attempts, backoff, timeout.",
		"identity":    "Event identity overrides: event name -> key template, e.g. chat:update: \"{{ data.id }}/{{ data.status }}\". Events with equal keys are duplicates; see docs/daemon.md.",
		"rules":       "The rules, evaluated in file order.",
	}
}

// RuleDocs describes the keys of a rule. It may hold keys the loader does
// not accept yet; the schema only has the keys of engine.RuleKeys.
func RuleDocs() map[string]string {
	return map[string]string{
		"name":        "Unique name of the rule, used in logs, metrics and output.",
		"description": "What the rule is for.",
		"on":          "Event name, list of names, or glob (\"message:*\", \"*\") the rule listens to.",
		"if":          "Condition in expr-lang over the event's fields and vars; must be true or false. Optional.",
		"stop":        "When the rule fires, skip every later rule for this event.",
		"do":          "Actions to run when the rule fires, in order; each item is one action type with its fields.",
		"examples":    "Events with what the rule should do; `hookd check` runs them (see docs/testing.md).",
		"throttle":    "Fire at most once per key per period (per: 1h), or once per key (per: once, remembered for keep:, default 90d). See docs/rules.md, \"Rules that remember\".",
		"window":      "Fire when the at_least-th matching event for a key arrives within a period (each event counting as weight: says, default 1); then: reset (default) or continue. window.count and window.times are visible to templates.",
		"digest":      "Collect the matching events per key; the actions run once per period (every:) or schedule tick (schedule:, timezone:) with digest.events and digest.count.",
		"schedule":    "For timer rules (on: schedule): when the rule fires, as a cron expression and a time zone.",
		"self":        "Let events that hookd's own actions caused (a message:out:new whose data.reference starts with hookd:, the group:update of a participant change a wassenger.group action asked for) fire the rule; they do not by default.",
	}
}

// ConnectionDocs describes the fields of each connection, by
// "connection.field" (the yaml tags of actions.Connections).
func ConnectionDocs() map[string]string {
	return map[string]string{
		"wassenger":             "Wassenger REST API.",
		"wassenger.token":       "API key, sent in the Token header. Use ${ENV}.",
		"wassenger.base_url":    "API base URL (default " + actions.DefaultWassengerBaseURL + ").",
		"wassenger.rate":        "Most requests per second (default 5).",
		"wassenger.burst":       "Requests that may go at once above rate (default 1).",
		"wassenger.concurrency": "Most requests in flight (default 4).",
		"slack":                 "Slack: an incoming webhook, a bot token for chat.postMessage, or both.",
		"slack.webhook_url":     "Incoming webhook URL (https://hooks.slack.com/services/...). Use ${ENV}.",
		"slack.token":           "Bot token (xoxb-...) for chat.postMessage. Use ${ENV}.",
		"slack.api_url":         "Slack API base URL (default " + actions.DefaultSlackAPIURL + ").",
		"slack.rate":            "Most messages per second per webhook or channel (default 1).",
		"slack.burst":           "Messages that may go at once above rate (default 3).",
		"email":                 "SMTP server for the email action.",
		"email.host":            "SMTP host.",
		"email.port":            "SMTP port (default 587 for starttls, 465 for implicit, 25 for none).",
		"email.tls":             "starttls (default), implicit (port 465) or none (loopback test servers only).",
		"email.username":        "SMTP user name.",
		"email.password":        "SMTP password. Use ${ENV}.",
		"email.auth":            "plain (default when a username is set) or login.",
		"email.from":            "Sender, e.g. \"Group bot <bot@example.com>\".",
		"email.timeout":         "Bound on one send (default 15s).",
		"email.rate":            "Most messages per second (default 5).",
		"webhook":               "Tuning of the generic webhook action.",
		"webhook.rate":          "Most requests per second per target host (default 10).",
		"webhook.concurrency":   "Most requests in flight (default 8).",
	}
}

// ConnectionEnums returns the allowed values of connection fields that the
// loader checks.
func ConnectionEnums() map[string][]string {
	return map[string][]string{
		"email.tls":  {"starttls", "implicit", "none"},
		"email.auth": {"plain", "login"},
	}
}

// DeliveryDocs describes the fields of delivery, by path (the yaml tags
// of engine.Delivery).
func DeliveryDocs() map[string]string {
	return map[string]string{
		"attempts":    fmt.Sprintf("Attempts before an action is dead-lettered (default %d).", engine.DefaultDelivery().Attempts),
		"backoff":     "Range of the exponential wait between attempts, with jitter; a larger Retry-After wins.",
		"backoff.min": fmt.Sprintf("Shortest wait (default %s).", engine.DefaultDelivery().Backoff.Min),
		"backoff.max": fmt.Sprintf("Longest wait (default %s).", engine.DefaultDelivery().Backoff.Max),
		"timeout":     fmt.Sprintf("Bound on one attempt (default %s).", engine.DefaultDelivery().Timeout),
	}
}

// Rules returns the JSON Schema of a rules file, as JSON-ready values.
func Rules() map[string]any {
	defs := obj{}
	for _, t := range actions.Types() {
		spec, _ := actions.Lookup(t)
		defs["action."+t] = actionSchema(spec)
	}
	defs["action"] = actionItem()
	defs["rule"] = ruleSchema()
	defs["eventName"] = obj{
		"description": "A Wassenger event name, or a glob such as \"message:*\".",
		"anyOf":       []any{obj{"enum": eventschema.Events()}, obj{"type": "string", "minLength": 1}},
	}
	defs["period"] = periodSchema()
	defs["env"] = obj{"type": "string", "pattern": envPattern, "description": "A ${ENV} reference, expanded when the file loads."}

	props := obj{}
	for _, k := range engine.TopLevelKeys() {
		var p obj
		switch k {
		case "version":
			p = obj{"const": engine.Version}
		case "vars":
			p = obj{"type": "object"}
		case "connections":
			p = structSchema(reflect.TypeOf(actions.Connections{}), "", ConnectionDocs(), ConnectionEnums())
		case "delivery":
			p = structSchema(reflect.TypeOf(engine.Delivery{}), "", DeliveryDocs(), nil)
		case "identity":
			p = obj{
				"type":                 []string{"object", "null"},
				"propertyNames":        obj{"$ref": "#/definitions/eventName"},
				"additionalProperties": obj{"type": "string", "pattern": "\\{\\{"},
			}
		case "rules":
			p = obj{"type": "array", "items": obj{"$ref": "#/definitions/rule"}}
		default:
			panic(fmt.Sprintf("schema: no schema for the top-level key %q: add it to Rules", k))
		}
		if k == "vars" || k == "connections" || k == "delivery" {
			p["type"] = []string{"object", "null"} // an empty section loads
		}
		p["description"] = doc(TopLevelDocs(), k)
		props[k] = p
	}
	return obj{
		"$schema":              "http://json-schema.org/draft-07/schema#",
		"title":                "hookd rules file",
		"description":          "Rules that turn Wassenger (WhatsApp) webhook events into actions. Generated by `hookd schema`; see docs/testing.md.",
		"type":                 "object",
		"required":             []string{"version", "rules"},
		"additionalProperties": false,
		"properties":           props,
		"definitions":          defs,
	}
}

// JSON returns the schema as indented JSON with a final newline, the
// form of docs/rules.schema.json.
func JSON() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(Rules()); err != nil {
		return nil, fmt.Errorf("schema: encode: %w", err)
	}
	return buf.Bytes(), nil
}

func doc(docs map[string]string, key string) string {
	d, ok := docs[key]
	if !ok {
		panic(fmt.Sprintf("schema: no description for %q: add one to the docs tables of internal/schema", key))
	}
	return d
}

// ruleSchema is one rule: its keys from engine.RuleKeys.
func ruleSchema() obj {
	schemas := map[string]obj{
		"name":        {"type": "string", "minLength": 1},
		"description": {"type": "string"},
		"on": {"anyOf": []any{
			obj{"$ref": "#/definitions/eventName"},
			obj{"type": "array", "minItems": 1, "items": obj{"$ref": "#/definitions/eventName"}},
		}},
		"if":   {"type": "string", "minLength": 1},
		"stop": {"type": "boolean"},
		"do":   {"type": "array", "items": obj{"$ref": "#/definitions/action"}},
		"throttle": {"type": "object", "additionalProperties": false, "required": []string{"per"}, "properties": obj{
			"key":  keySchema(),
			"per":  obj{"description": "The period (10m, 1h, 7d), or once.", "anyOf": []any{obj{"$ref": "#/definitions/period"}, obj{"const": "once"}}},
			"keep": obj{"$ref": "#/definitions/period", "description": "With per: once, how long a key is remembered (default 90d)."},
		}},
		"window": {"type": "object", "additionalProperties": false, "required": []string{"within", "at_least"}, "properties": obj{
			"key":      keySchema(),
			"within":   obj{"$ref": "#/definitions/period", "description": "The sliding period the events must arrive within."},
			"at_least": obj{"type": "integer", "minimum": 1, "description": "The number of events within the period that fires the rule."},
			"then":     obj{"enum": []string{"reset", "continue"}, "description": "After firing: count again from zero (reset, the default), or let every further event within the period fire (continue)."},
			"weight":   obj{"type": []string{"string", "integer"}, "description": "An expression for how many each event counts for (default 1), e.g. len(participants ?? []) to count the members a group:update removes; a whole number from 0."},
		}},
		"digest": {"type": "object", "additionalProperties": false, "properties": obj{
			"key":        keySchema(),
			"every":      obj{"$ref": "#/definitions/period", "description": "Send once per period, periods counted from midnight UTC."},
			"schedule":   obj{"type": "string", "description": "Send at each tick of this cron expression (minute hour day-of-month month day-of-week)."},
			"timezone":   obj{"type": "string", "description": "IANA time zone of schedule (default UTC), e.g. Europe/Madrid."},
			"max_events": obj{"type": "integer", "minimum": 1, "description": "Events kept per key for digest.events (default 100); digest.count stays exact."},
			"keep":       obj{"$ref": "#/definitions/period", "description": "How long a digest that could not be sent is kept after it was due (default 90d)."},
		}, "oneOf": []any{obj{"required": []string{"every"}}, obj{"required": []string{"schedule"}}}},
		"schedule": {"type": "object", "additionalProperties": false, "required": []string{"cron"}, "properties": obj{
			"cron":     obj{"type": "string", "description": "Cron expression (minute hour day-of-month month day-of-week), or @daily, @hourly, ..."},
			"timezone": obj{"type": "string", "description": "IANA time zone of the expression (default UTC)."},
		}},
		"self": {"type": "boolean"},
		"examples": {"type": "array", "items": obj{
			"type":                 "object",
			"additionalProperties": false,
			"anyOf":                []any{obj{"required": []string{"event"}}, obj{"required": []string{"events"}}},
			"properties": obj{
				"name":        obj{"type": "string", "description": "Name of the example in failures (default: RULE example N)."},
				"event":       obj{"description": "Path of a recorded event (.json or .jsonl, relative to the rules file) or the event inline.", "type": []string{"string", "object"}},
				"event_index": obj{"type": "integer", "minimum": 0, "description": "Which event of a file holding several (0 is the first)."},
				"events":      obj{"type": "array", "description": "A sequence of events with times (at:, repeat:, every:) and what fires at each (fires:, not_fires:), replayed with fresh state; see docs/testing.md.", "items": obj{"type": "object"}},
				"fires":       obj{"description": "Whether the rule fires (default true), or a list of rules that must fire.", "type": []string{"boolean", "string", "array"}},
				"not_fires":   obj{"description": "Rules that must not fire.", "type": []string{"string", "array"}},
				"only":        obj{"type": "boolean", "description": "No rule outside fires may fire."},
				"actions":     obj{"type": "array", "description": "Expected rendered fields of the rule's actions.", "items": obj{"type": "object"}},
				"errors":      obj{"type": "integer", "minimum": 0, "description": "Expected number of run-time errors."},
			},
		}},
	}
	props := obj{}
	for _, k := range engine.RuleKeys() {
		s, ok := schemas[k]
		if !ok {
			panic(fmt.Sprintf("schema: no schema for the rule key %q: add it to ruleSchema", k))
		}
		p := obj{"description": doc(RuleDocs(), k)}
		for sk, sv := range s {
			p[sk] = sv
		}
		props[k] = p
	}
	rule := obj{
		"type":                 "object",
		"additionalProperties": false,
		"required":             []string{"name", "on"},
		"properties":           props,
	}
	if _, ok := props["do"]; ok {
		if _, ok := props["stop"]; ok {
			// do is required unless the rule only stops the chain.
			rule["if"] = obj{"not": obj{"required": []string{"stop"}, "properties": obj{"stop": obj{"const": true}}}}
			rule["then"] = obj{"required": []string{"do"}}
		}
	}
	return rule
}

// actionItem is one item of a do list: exactly one action type.
func actionItem() obj {
	props := obj{}
	var oneOf []any
	for _, t := range actions.Types() {
		spec, _ := actions.Lookup(t)
		props[t] = obj{"$ref": "#/definitions/action." + t, "description": spec.Doc}
		oneOf = append(oneOf, obj{"required": []string{t}})
	}
	return obj{
		"type":                 "object",
		"description":          "One action: its type as the only key, its fields below it, e.g. `- slack: {text: ...}`.",
		"minProperties":        1,
		"maxProperties":        1,
		"additionalProperties": false,
		"properties":           props,
		"oneOf":                oneOf,
	}
}

// actionSchema is the fields of one action type.
func actionSchema(spec *actions.Spec) obj {
	props := obj{}
	var required []string
	for _, f := range spec.Fields {
		props[f.Name] = fieldSchema(f)
		if f.Required {
			required = append(required, f.Name)
		}
	}
	s := obj{
		"type":                 "object",
		"description":          spec.Doc,
		"additionalProperties": false,
		"properties":           props,
	}
	if len(required) > 0 {
		s["required"] = required
	}
	var all []any
	for _, group := range spec.OneOf {
		var alts []any
		for _, name := range group {
			alts = append(alts, obj{"required": []string{name}})
		}
		all = append(all, obj{"oneOf": alts, "description": "Set exactly one of " + strings.Join(group, ", ") + "."})
	}
	for _, group := range spec.AnyOf {
		var alts []any
		for _, name := range group {
			alts = append(alts, obj{"required": []string{name}})
		}
		all = append(all, obj{"anyOf": alts, "description": "Set at least one of " + strings.Join(group, ", ") + "."})
	}
	if len(all) > 0 {
		s["allOf"] = all
	}
	deps := obj{}
	for _, f := range spec.Fields {
		if len(f.Needs) > 0 {
			deps[f.Name] = f.Needs
		}
	}
	if len(deps) > 0 {
		s["dependencies"] = deps
	}
	return s
}

// fieldSchema is one action field by its kind. Strings are templates,
// so enums also accept {{ }} and ${ENV}.
func fieldSchema(f actions.Field) obj {
	desc := f.Doc
	var s obj
	switch f.Kind {
	case actions.String, actions.Literal:
		s = obj{"type": "string"}
		if f.Enum != nil {
			s = obj{"anyOf": []any{
				obj{"enum": f.Enum},
				obj{"type": "string", "pattern": templatePattern},
				obj{"$ref": "#/definitions/env"},
			}}
		}
		if f.Kind == actions.Literal {
			desc += " (fixed in the rules file: no {{ }} templates)"
		}
	case actions.StringList:
		s = obj{"anyOf": []any{obj{"type": "string"}, obj{"type": "array", "items": obj{"type": "string"}}}}
	case actions.StringMap:
		s = obj{"type": "object", "additionalProperties": obj{"type": "string"}}
	default:
		s = obj{}
	}
	if f.Shape != nil && f.Kind == actions.Any {
		s = shapeSchema(f.Shape)
	}
	s["description"] = desc
	return s
}

// shapeSchema is the JSON Schema of a field's shape. Any value may also
// be a {{ }} template, checked when rendered; objects stay open, as in
// the API they describe.
func shapeSchema(sh *actions.Shape) obj {
	if sh == nil || len(sh.Types) == 0 {
		return obj{}
	}
	s := obj{"type": sh.Types}
	if sh.Enum != nil {
		s = obj{"enum": sh.Enum}
	}
	if len(sh.Keys) > 0 {
		props := obj{}
		for _, k := range sh.Keys {
			p := shapeSchema(k.Shape)
			p["description"] = k.Doc
			props[k.Name] = p
		}
		s["properties"] = props
	}
	if len(sh.Required) > 0 {
		s["required"] = sh.Required
	}
	if sh.Items != nil {
		s["items"] = shapeSchema(sh.Items)
	}
	if sh.Only(actions.TypeString) && sh.Enum == nil {
		return s
	}
	return obj{"anyOf": []any{s, obj{"type": "string", "pattern": templatePattern}}}
}

var (
	durationType = reflect.TypeOf(time.Duration(0))
	secretType   = reflect.TypeOf(secret.String{})
)

// structSchema describes a struct the loader decodes by yaml tags:
// pointers to structs become nested objects, scalars their JSON type,
// and every non-string scalar also accepts a ${ENV} reference.
func structSchema(t reflect.Type, prefix string, docs map[string]string, enums map[string][]string) obj {
	props := obj{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
		if tag == "" || tag == "-" {
			continue
		}
		path := tag
		if prefix != "" {
			path = prefix + "." + tag
		}
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		var s obj
		switch {
		case ft == secretType:
			s = obj{"type": "string"}
		case ft == durationType:
			s = obj{"anyOf": []any{obj{"type": "string", "pattern": durationPattern}, obj{"$ref": "#/definitions/env"}}}
		case ft.Kind() == reflect.Struct:
			s = structSchema(ft, path, docs, enums)
		case ft.Kind() == reflect.String:
			s = obj{"type": "string"}
			if e, ok := enums[path]; ok {
				s = obj{"anyOf": []any{obj{"enum": e}, obj{"$ref": "#/definitions/env"}}}
			}
		case ft.Kind() == reflect.Int:
			s = obj{"anyOf": []any{obj{"type": "integer"}, obj{"$ref": "#/definitions/env"}}}
		case ft.Kind() == reflect.Float64:
			s = obj{"anyOf": []any{obj{"type": "number"}, obj{"$ref": "#/definitions/env"}}}
		case ft.Kind() == reflect.Bool:
			s = obj{"anyOf": []any{obj{"type": "boolean"}, obj{"$ref": "#/definitions/env"}}}
		default:
			panic(fmt.Sprintf("schema: %s: unsupported field type %s", path, ft))
		}
		s["description"] = doc(docs, path)
		props[tag] = s
	}
	return obj{"type": "object", "additionalProperties": false, "properties": props}
}

// periodSchema is a period of the state keys: 90s, 10m, 1h30m, 7d, 2w.
func periodSchema() obj {
	return obj{"type": "string", "pattern": `^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$|^[0-9]+[dw]$`, "description": "A period such as 90s, 10m, 1h, 7d or 2w."}
}

// keySchema is the key template of a throttle, window or digest.
func keySchema() obj {
	return obj{"type": "string", "pattern": `\{\{`, "description": "Template naming what is counted separately, e.g. \"{{ data.chat.id }}\" (one state per group); leave it out for one state for the whole rule."}
}
