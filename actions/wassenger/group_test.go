package wassenger

import (
	"slices"
	"strings"
	"testing"

	"github.com/hookd/hookd/actions"
	"github.com/hookd/hookd/actions/httpx"
	"github.com/hookd/hookd/internal/standin"
)

// named builds a call of a named action type with params.
func namedCall(typ string, params map[string]any) actions.Call {
	return actions.Call{Type: typ, Name: "r/" + typ + "[0]", Params: params, Reference: "hookd:EV1:r:0"}
}

// withIDs adds the device and the group (or chat) to params.
func withIDs(params map[string]any, key, id string) map[string]any {
	out := map[string]any{"device": device, key: id}
	for k, v := range params {
		out[k] = v
	}
	return out
}

const chat = "34600111222@c.us"

// TestNamedActions sends each named group, chat and message action to
// the stand-in and checks the method, path, query and body it received,
// and the Result.
func TestNamedActions(t *testing.T) {
	gbase := "/v1/devices/" + device + "/groups/" + group
	cbase := "/v1/chat/" + device + "/chats/" + chat
	two := []any{"+34600111222", "34600333444@c.us"}
	tests := []struct {
		typ    string
		params map[string]any
		method string
		path   string
		query  string
		body   string // "" means no body
		status int
	}{
		{TypeGroupAdd, withIDs(map[string]any{"participants": two}, "group", group),
			"POST", gbase + "/participants", "", `{"participants":[{"admin":false,"phone":"+34600111222"},{"admin":false,"phone":"34600333444@c.us"}]}`, 201},
		{TypeGroupAdd, withIDs(map[string]any{"participants": "+34 600 111 222", "admin": "true"}, "group", group),
			"POST", gbase + "/participants", "", `{"participants":[{"admin":true,"phone":"+34600111222"}]}`, 201},
		{TypeGroupRemove, withIDs(map[string]any{"participants": two}, "group", group),
			"DELETE", gbase + "/participants", "", `["+34600111222","34600333444@c.us"]`, 200},
		{TypeGroupPromote, withIDs(map[string]any{"participants": []any{"+34600111222"}}, "group", group),
			"PATCH", gbase + "/participants", "", `{"participants":[{"admin":true,"phone":"+34600111222"}]}`, 200},
		{TypeGroupDemote, withIDs(map[string]any{"participants": []any{"+34600111222"}}, "group", group),
			"PATCH", gbase + "/participants", "", `{"participants":[{"admin":false,"phone":"+34600111222"}]}`, 200},
		{TypeGroupApprove, withIDs(map[string]any{"participants": []any{"+34600111222", ""}}, "group", group),
			"POST", gbase + "/members", "", `{"phones":["+34600111222"]}`, 200},
		{TypeGroupApprove, withIDs(map[string]any{"all": true}, "group", group),
			"POST", gbase + "/members", "", `{"all":true}`, 200},
		{TypeGroupReject, withIDs(map[string]any{"participants": two}, "group", group),
			"DELETE", gbase + "/members", "", `{"phones":["+34600111222","34600333444@c.us"]}`, 200},
		{TypeChatLabel, withIDs(map[string]any{"labels": []any{"vip", " ", "sales"}}, "chat", chat),
			"PATCH", cbase + "/labels", "upsert=true", `["vip","sales"]`, 200},
		{TypeChatLabel, withIDs(map[string]any{"labels": []any{"vip"}, "mode": "remove"}, "chat", chat),
			"PATCH", cbase + "/labels", "remove=true", `["vip"]`, 200},
		{TypeChatLabel, withIDs(map[string]any{"labels": []any{"vip"}, "mode": "replace"}, "chat", chat),
			"PATCH", cbase + "/labels", "", `["vip"]`, 200},
		{TypeChatAssign, withIDs(map[string]any{"agent": "5f71e36254800f533ab1c2d3", "email": ""}, "chat", chat),
			"PATCH", cbase + "/owner", "", `{"agent":"5f71e36254800f533ab1c2d3"}`, 200},
		{TypeChatAssign, withIDs(map[string]any{"department": "64b0e36254800f533ab1c2ff"}, "chat", chat),
			"PATCH", cbase + "/owner", "", `{"department":"64b0e36254800f533ab1c2ff"}`, 200},
		{TypeChatLabel, withIDs(map[string]any{"labels": "vip"}, "chat", "203456789012345@lid"),
			"PATCH", "/v1/chat/" + device + "/chats/203456789012345@lid/labels", "upsert=true", `["vip"]`, 200},
		{TypeChatUnassign, withIDs(nil, "chat", chat),
			"DELETE", cbase + "/owner", "", "", 200},
		{TypeChatResolve, withIDs(nil, "chat", group),
			"PATCH", "/v1/chat/" + device + "/chats/" + group + "/status", "", `{"status":"resolved"}`, 200},
		{TypeChatNote, withIDs(map[string]any{"message": "Asked for a refund <3", "quote": "3EB0C767D71D"}, "chat", chat),
			"POST", cbase + "/notes", "", `{"message":"Asked for a refund <3","quote":"3EB0C767D71D"}`, 201},
		{TypeMessageDelete, map[string]any{"device": device, "id": "3EB0C767D71D"},
			"DELETE", "/v1/chat/" + device + "/messages/3EB0C767D71D", "revoke=true", "", 200},
		{TypeMessageDelete, map[string]any{"device": device, "id": "3EB0C767D71D", "revoke": false, "force": "true"},
			"DELETE", "/v1/chat/" + device + "/messages/3EB0C767D71D", "force=true", "", 200},
	}
	for _, tt := range tests {
		t.Run(tt.typ, func(t *testing.T) {
			f := newFixture(t, actions.WassengerConfig{}, Options{})
			r := f.do(ctxT(t), namedCall(tt.typ, tt.params))
			if !r.OK() || r.Reason != httpx.ReasonOK {
				t.Fatalf("Do = %+v", r)
			}
			reqs := f.ws.Requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests, want 1", len(reqs))
			}
			got := reqs[0]
			if got.Method != tt.method || got.Path != tt.path || got.Query.Encode() != tt.query || got.Status != tt.status {
				t.Errorf("sent %s %s?%s (answered %d), want %s %s?%s (%d)",
					got.Method, got.Path, got.Query.Encode(), got.Status, tt.method, tt.path, tt.query, tt.status)
			}
			if string(got.Body) != tt.body {
				t.Errorf("body %s, want %s", got.Body, tt.body)
			}
			if (got.Header.Get("Content-Type") != "") != (tt.body != "") {
				t.Errorf("Content-Type %q with body %q", got.Header.Get("Content-Type"), got.Body)
			}
			if got.Header.Get("Token") != token || got.Header.Get(actions.ReferenceHeader) != "hookd:EV1:r:0" {
				t.Errorf("headers %v", got.Header)
			}
		})
	}
}

// TestParticipantFailures: when Wassenger accepts a participant operation
// but reports that some participants failed, the Result is a permanent
// "partial" failure that names them; the others went through.
func TestParticipantFailures(t *testing.T) {
	for _, typ := range []string{TypeGroupAdd, TypeGroupRemove, TypeGroupPromote, TypeGroupDemote, TypeGroupApprove, TypeGroupReject} {
		t.Run(typ, func(t *testing.T) {
			f := newFixture(t, actions.WassengerConfig{}, Options{})
			r := f.do(ctxT(t), namedCall(typ, withIDs(map[string]any{
				"participants": []any{"+34600111222", standin.NotOnWhatsApp},
			}, "group", group)))
			if r.OK() || r.Retryable || r.Reason != ReasonPartial {
				t.Fatalf("Do = %+v, want a permanent %q failure", r, ReasonPartial)
			}
			msg := r.Err.Error()
			for _, want := range []string{"1 of 2 participants failed", standin.NotOnWhatsApp + " (404 Phone number is not registered on WhatsApp)", "the others are done"} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q lacks %q", msg, want)
				}
			}
			if strings.Contains(msg, "+34600111222") {
				t.Errorf("error %q names the participant that succeeded", msg)
			}
			if !strings.HasPrefix(r.Response, "20") {
				t.Errorf("Response = %q, want the 2xx status", r.Response)
			}
			if n := len(f.ws.Requests()); n != 1 {
				t.Errorf("%d requests, want 1", n)
			}
		})
	}
}

// TestParticipantOutcome reads per-participant answers of other shapes.
func TestParticipantOutcome(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		total  int
		failed []string
	}{
		{"not JSON", `ok`, 0, nil},
		{"no list", `{"success":true}`, 0, nil},
		{"bare list, success flags", `[{"phone":"+1","success":true},{"phone":"+2","success":false,"message":"privacy"}]`, 2, []string{"+2"}},
		{"results with codes", `{"results":[{"wid":"1@c.us","code":200},{"wid":"2@c.us","code":403}]}`, 2, []string{"2@c.us"}},
		{"409 is done", `{"participants":[{"phone":"+1","code":409,"message":"already a participant"}]}`, 1, nil},
		{"status words", `{"data":[{"id":"+1","status":"failed"},{"id":"+2","status":"added"}]}`, 2, []string{"+1"}},
		{"error field", `{"participants":[{"phone":"+1","error":{"message":"not found"}},{"phone":"+2","error":null}]}`, 2, []string{"+1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			total, failed := participantOutcome([]byte(tt.body))
			var who []string
			for _, f := range failed {
				who = append(who, f.who)
			}
			if total != tt.total || !slices.Equal(who, tt.failed) {
				t.Errorf("participantOutcome = %d, %v; want %d, %v", total, who, tt.total, tt.failed)
			}
		})
	}
}

// TestNamedInvalid: fields that cannot make a request fail as invalid,
// before anything is sent, and say what to set.
func TestNamedInvalid(t *testing.T) {
	tests := []struct {
		typ    string
		params map[string]any
		want   string
	}{
		{TypeGroupAdd, map[string]any{"group": group, "participants": "+34600111222"}, "device is not set"},
		{TypeGroupAdd, map[string]any{"device": "abc", "group": group, "participants": "+34600111222"}, `device "abc" is not a 24-hex device id`},
		{TypeGroupAdd, map[string]any{"device": device, "group": "../../messages", "participants": "+34600111222"}, "is not a group chat id"},
		{TypeGroupRemove, withIDs(map[string]any{"participants": []any{"", " "}}, "group", group), "no participants"},
		{TypeGroupRemove, withIDs(map[string]any{"participants": []any{"bob"}}, "group", group), `participant "bob" is not a phone number`},
		{TypeGroupAdd, withIDs(map[string]any{"participants": "+34600111222", "admin": "yes"}, "group", group), "admin must be true or false"},
		{TypeGroupApprove, withIDs(map[string]any{"all": false}, "group", group), "set participants"},
		{TypeGroupApprove, withIDs(map[string]any{"all": true, "participants": "+34600111222"}, "group", group), "both set"},
		{TypeChatLabel, withIDs(map[string]any{"labels": []any{""}}, "chat", chat), "nothing to add"},
		{TypeChatLabel, withIDs(map[string]any{"labels": "vip", "mode": "toggle"}, "chat", chat), `mode "toggle"`},
		{TypeChatAssign, withIDs(map[string]any{"agent": " "}, "chat", chat), "nobody to assign to"},
		{TypeChatNote, withIDs(map[string]any{"message": ""}, "chat", chat), "a note needs text"},
		{TypeChatResolve, map[string]any{"device": device, "chat": ""}, "chat rendered empty"},
		{TypeMessageDelete, map[string]any{"device": device, "id": "a/../b"}, "is not the WhatsApp message id"},
	}
	for _, tt := range tests {
		t.Run(tt.typ, func(t *testing.T) {
			f := newFixture(t, actions.WassengerConfig{}, Options{})
			r := f.do(ctxT(t), namedCall(tt.typ, tt.params))
			if r.OK() || r.Reason != httpx.ReasonInvalid || r.Retryable {
				t.Fatalf("Do = %+v, want invalid", r)
			}
			if !strings.Contains(r.Err.Error(), tt.want) || !strings.HasPrefix(r.Err.Error(), tt.typ+": ") {
				t.Errorf("error %q, want %q after the type", r.Err, tt.want)
			}
			if n := len(f.ws.Requests()); n != 0 {
				t.Errorf("%d requests sent", n)
			}
		})
	}
}

// TestTypesHaveSpecs ties the client's types to the action specs: every
// Wassenger spec is handled, and every handled type has a spec.
func TestTypesHaveSpecs(t *testing.T) {
	for _, typ := range Types() {
		s, ok := actions.Lookup(typ)
		if !ok || s.Connection != "wassenger" {
			t.Errorf("%s: no spec with the wassenger connection", typ)
		}
	}
	for _, typ := range actions.Types() {
		if s, _ := actions.Lookup(typ); s.Connection == "wassenger" && !slices.Contains(Types(), typ) {
			t.Errorf("%s uses the wassenger connection but the client does not handle it", typ)
		}
	}
}
