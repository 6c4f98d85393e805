package wassenger

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/hookd/hookd/actions"
)

// TestMessageModel sends a body with each field of Wassenger's message
// model beyond text to the stand-in, which checks it against the same
// model and answers 400 for anything it does not take.
func TestMessageModel(t *testing.T) {
	const phone = "+1234567890"
	tests := []struct {
		name   string
		params map[string]any
	}{
		{"forward by id", map[string]any{"phone": phone, "forward": "3EB0C431C26A1916E1E2"}},
		{"forward from a chat", map[string]any{"group": group, "forward": map[string]any{"message": "3EB0C431C26A1916E1E2", "chat": "1234567890@c.us"}}},
		{"template", map[string]any{"phone": phone, "template": map[string]any{"name": "order_ready", "language": "en_US",
			"body": []any{map[string]any{"name": "1", "value": "Ada"}}}}},
		{"event", map[string]any{"group": group, "event": map[string]any{"name": "Standup", "date": "2026-12-05T09:00:00Z",
			"description": "daily", "location": "Room 1", "latitude": 41.38, "longitude": 2.17, "call": "video"}}},
		{"attend", map[string]any{"phone": phone, "attend": map[string]any{"event": "3EB0C431C26A1916E1E2", "confirm": true}}},
		{"poll", map[string]any{"group": group, "poll": map[string]any{"name": "Lunch?", "options": []any{"yes", "no"}, "multiple": false}}},
		{"vote", map[string]any{"group": group, "vote": map[string]any{"poll": "3EB0C431C26A1916E1E2", "options": []any{"yes"}}}},
		{"list", map[string]any{"phone": phone, "message": "Pick one", "list": map[string]any{"title": "Menu", "button": "Open",
			"sections": []any{map[string]any{"title": "Drinks", "rows": []any{map[string]any{"id": "tea", "title": "Tea"}}}}}}},
		{"product", map[string]any{"phone": phone, "product": "7488208514556845"}},
		{"header and footer", map[string]any{"phone": phone, "message": "Body", "header": "Hello", "footer": "hookd"}},
		{"sendReadAck", map[string]any{"phone": phone, "message": "Hi", "sendReadAck": true}},
		{"deliveryOptions", map[string]any{"phone": phone, "message": "https://example.com", "deliveryOptions": map[string]any{"previewUrl": false}}},
		{"label", map[string]any{"phone": phone, "message": "Hi", "label": "vip"}},
		{"chat target with @lid", map[string]any{"chat": "58392017465012@lid", "message": "Hi"}},
		{"chat target user", map[string]any{"chat": "1234567890@c.us", "message": "Hi"}},
		{"select an option", map[string]any{"phone": phone, "quote": "3EB0C431C26A1916E1E2", "selectId": "tea"}},
		{"location by coordinates", map[string]any{"phone": phone, "location": map[string]any{"coordinates": []any{41.38, 2.17}, "name": "Office"}}},
		{"contacts", map[string]any{"phone": phone, "contacts": []any{map[string]any{"phone": "+1987654321", "name": "Bo"}}}},
		{"delivery tuning", map[string]any{"phone": phone, "message": "Hi", "live": true, "order": true, "retries": 3, "typing": 2,
			"retentionPolicy": "short", "expiration": map[string]any{"duration": "1h"}, "media": map[string]any{"url": "https://x/y.ogg", "format": "ptt"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, actions.WassengerConfig{}, Options{})
			r := f.do(ctxT(t), msg(tt.params))
			if !r.OK() {
				t.Fatalf("Do = %+v", r)
			}
			reqs := f.ws.Requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests", len(reqs))
			}
			var body map[string]any
			if err := json.Unmarshal(reqs[0].Body, &body); err != nil {
				t.Fatal(err)
			}
			want := map[string]any{"reference": "hookd:EV1:r:0"}
			for k, v := range tt.params {
				want[k] = v
			}
			if !jsonEqual(body, want) {
				t.Errorf("body %s, want %v", reqs[0].Body, want)
			}
		})
	}
}

// TestMessageModelRejected: values of the wrong type (as a template may
// render them) fail as invalid before sending, and the stand-in rejects
// bodies hookd would not send.
func TestMessageModelRejected(t *testing.T) {
	tests := []struct {
		name   string
		params map[string]any
		errHas string
	}{
		{"boolean as text", map[string]any{"phone": "+1234567890", "message": "Hi", "sendReadAck": "yes"}, "sendReadAck: must be a boolean, got string"},
		{"enum rendered wrong", map[string]any{"phone": "+1234567890", "message": "Hi", "priority": "HIGH"}, "priority: must be one of low, normal, high, urgent"},
		{"nested type", map[string]any{"phone": "+1234567890", "poll": map[string]any{"name": "Q", "options": "a,b"}}, "poll.options: must be a list"},
		{"nested required", map[string]any{"phone": "+1234567890", "vote": map[string]any{"options": []any{"a"}}}, `vote: needs the key "poll"`},
		{"selectId without quote", map[string]any{"phone": "+1234567890", "selectId": "tea"}, "selectId needs quote"},
		{"two targets with chat", map[string]any{"chat": "1@lid", "phone": "+1234567890", "message": "Hi"}, "phone and chat are all set"},
		{"unknown field", map[string]any{"phone": "+1234567890", "message": "Hi", "mesage": "x"}, "mesage is not a field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, actions.WassengerConfig{}, Options{})
			r := f.do(ctxT(t), msg(tt.params))
			if r.OK() || r.Reason != "invalid" || r.Err == nil || !strings.Contains(r.Err.Error(), tt.errHas) {
				t.Fatalf("Do = %+v, want invalid with %q", r, tt.errHas)
			}
			if n := f.ws.Count(); n != 0 {
				t.Errorf("%d requests sent", n)
			}
		})
	}
}

// TestStandinRejectsUnknownFields: the stand-in answers Wassenger's 400
// for a body outside the model, so the tests above prove something.
func TestStandinRejectsUnknownFields(t *testing.T) {
	f := newFixture(t, actions.WassengerConfig{}, Options{})
	r := f.do(ctxT(t), req("POST", "/messages", map[string]any{"phone": "+1234567890", "message": "Hi", "buttons": []any{"a"}}, nil))
	if r.OK() || r.Reason != "http_4xx" || !strings.Contains(r.Err.Error(), `buttons: "buttons" is not allowed`) {
		t.Fatalf("Do = %+v", r)
	}
	r = f.do(ctxT(t), req("POST", "/messages", map[string]any{"chat": "1234567890@c.us", "message": "Hi", "sendReadAck": "true"}, nil))
	if r.OK() || !strings.Contains(r.Err.Error(), "sendReadAck: must be a boolean") {
		t.Fatalf("Do = %+v", r)
	}
}
