package event_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/valyala/fastjson"

	"github.com/hookd/hookd/event"
)

// FuzzParse decodes arbitrary bodies: Parse and ParseProjected must never
// panic, must agree on every event's name and identity key, and a key must
// not change when the same JSON is serialised again with other spacing,
// escapes and key order (a redelivery is recognised by its key). The seed
// corpus is in testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"id":"x","event":"group:update","action":"remove","participants":["+1"]}`))
	f.Add([]byte(`[{"event":"message:out:failed","entityId":"e1"},{"event":"message:out:failed","entityId":"e2"}]`))
	projection := event.NewProjection([][]string{{"data", "chat", "name"}, {"participants", "[]"}, {"ack"}})
	f.Fuzz(func(t *testing.T, body []byte) {
		evs, err := event.Parse(body)
		projected, perr := event.ParseProjected(body, projection)
		if (err == nil) != (perr == nil) {
			t.Fatalf("Parse error %v, ParseProjected error %v", err, perr)
		}
		if err != nil {
			return
		}
		if len(evs) != len(projected) {
			t.Fatalf("Parse: %d events, ParseProjected: %d", len(evs), len(projected))
		}
		for i, ev := range evs {
			if ev.Name == "" || ev.Key == "" || ev.ID == "" {
				t.Fatalf("event %d: empty name, key or id: %+v", i, ev)
			}
			if p := projected[i]; p.Name != ev.Name || p.Key != ev.Key || p.ID != ev.ID || p.Action != ev.Action {
				t.Fatalf("event %d: projected %q %q %q %q, whole %q %q %q %q", i, p.Name, p.Key, p.ID, p.Action, ev.Name, ev.Key, ev.ID, ev.Action)
			}
		}
		var p fastjson.Parser
		v, err := p.ParseBytes(body)
		if err != nil {
			t.Fatalf("Parse accepted what fastjson rejects: %v", err)
		}
		again, ok := respell(nil, v)
		if !ok {
			return // duplicate object keys: another order picks another value
		}
		evs2, err := event.Parse(again)
		if err != nil {
			t.Fatalf("re-encoded body does not parse: %v\n%s", err, again)
		}
		if len(evs2) != len(evs) {
			t.Fatalf("re-encoded body: %d events, want %d", len(evs2), len(evs))
		}
		for i := range evs {
			if evs2[i].Key != evs[i].Key {
				t.Fatalf("event %d: key %q after re-encoding, was %q\n%s", i, evs2[i].Key, evs[i].Key, again)
			}
		}
	})
}

// respell writes v as JSON with object keys in reverse order, newlines and
// indentation, and strings escaped differently from the usual encoders;
// false when an object repeats a key.
func respell(dst []byte, v *fastjson.Value) ([]byte, bool) {
	switch v.Type() {
	case fastjson.TypeObject:
		o, _ := v.Object()
		var keys []string
		o.Visit(func(k []byte, _ *fastjson.Value) { keys = append(keys, string(k)) })
		sorted := slices.Sorted(slices.Values(keys))
		if len(slices.Compact(sorted)) != len(keys) {
			return nil, false
		}
		dst = append(dst, "{\n"...)
		for i := len(keys) - 1; i >= 0; i-- {
			dst = append(dst, "  "...)
			dst = quote(dst, keys[i])
			dst = append(dst, " : "...)
			var ok bool
			if dst, ok = respell(dst, o.Get(keys[i])); !ok {
				return nil, false
			}
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, '\n')
		}
		return append(dst, '}'), true
	case fastjson.TypeArray:
		dst = append(dst, "[ "...)
		for i, x := range v.GetArray() {
			if i > 0 {
				dst = append(dst, " ,\n"...)
			}
			var ok bool
			if dst, ok = respell(dst, x); !ok {
				return nil, false
			}
		}
		return append(dst, " ]"...), true
	case fastjson.TypeString:
		return quote(dst, string(v.GetStringBytes())), true
	default:
		return v.MarshalTo(dst), true
	}
}

// quote writes s as a JSON string, escaping every ASCII letter as \u00XX
// and keeping other bytes as they are.
func quote(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c < 0x20 || c == '"' || c == '\\' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z'):
			dst = fmt.Appendf(dst, `\u%04x`, c)
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}
