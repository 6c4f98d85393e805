package wassenger

import (
	"fmt"
	"strings"

	"github.com/hookd/hookd/actions"
)

// messageBody is the JSON object of POST /messages: the call's fields
// with empty strings left out (a template that rendered empty), each
// rendered value checked against Wassenger's message model (see
// actions.Lookup(TypeMessage)), exactly one recipient, some content, and
// reference defaulting to the call's Reference.
func messageBody(call actions.Call) (map[string]any, error) {
	spec, _ := actions.Lookup(TypeMessage)
	body := make(map[string]any, len(call.Params)+1)
	for k, v := range call.Params {
		if s, ok := v.(string); ok && strings.TrimSpace(s) == "" {
			continue
		}
		if v == nil {
			continue
		}
		f, known := spec.Field(k)
		if !known {
			return nil, fmt.Errorf("%s is not a field of a Wassenger message; fields: %s", k, strings.Join(spec.FieldNames(), ", "))
		}
		if err := checkRendered(f, v); err != nil {
			return nil, err
		}
		body[k] = v
	}
	targets := spec.OneOf[0]
	var set []string
	for _, k := range targets {
		if s, ok := body[k].(string); ok {
			body[k] = strings.TrimSpace(s)
			set = append(set, k)
		}
	}
	switch len(set) {
	case 0:
		return nil, fmt.Errorf("no recipient: %s are all missing or rendered empty "+
			"(the event may lack the field a template reads); set exactly one of them", strings.Join(targets, ", "))
	case 1:
	default:
		return nil, fmt.Errorf("%s are all set; a message goes to exactly one of %s, remove the others",
			strings.Join(set, " and "), strings.Join(targets, ", "))
	}
	content := spec.AnyOf[0]
	if !hasAny(body, content) {
		return nil, fmt.Errorf("nothing to send: %s are all missing or rendered empty; set message (or media, poll, ...)",
			strings.Join(content, ", "))
	}
	for _, f := range spec.Fields {
		for _, need := range f.Needs {
			if _, ok := body[f.Name]; ok && !hasAny(body, []string{need}) {
				return nil, fmt.Errorf("%s needs %s, which is missing or rendered empty", f.Name, need)
			}
		}
	}
	if _, ok := body["reference"]; !ok && call.Reference != "" {
		body["reference"] = call.Reference
	}
	return body, nil
}

func hasAny(body map[string]any, keys []string) bool {
	for _, k := range keys {
		if _, ok := body[k]; ok {
			return true
		}
	}
	return false
}

// checkRendered checks a rendered field against its shape. Keys the
// model does not know are sent as written (Wassenger's objects are open).
func checkRendered(f actions.Field, v any) error {
	var msgs []string
	for _, p := range f.Shape.Check(v, f.Name) {
		if !p.Unknown {
			msgs = append(msgs, p.String())
		}
	}
	if len(msgs) == 0 {
		return nil
	}
	return fmt.Errorf("%s (a template may have rendered a value of the wrong type)", strings.Join(msgs, "; "))
}
