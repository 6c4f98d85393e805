package eventschema

import (
	"slices"
	"strings"
	"testing"
)

// split turns "data.chat.labels.[]" into path steps.
func split(path string) []string {
	if path == "" {
		return nil
	}
	return strings.Split(path, ".")
}

func TestHas(t *testing.T) {
	tests := []struct {
		event string
		path  string
		want  bool
	}{
		// Fields the recorded payloads and the API notes show.
		{"message:in:new", "data.chat.name", true},
		{"message:in:new", "data.chat", true},
		{"message:in:new", "data.fromNumber", true},
		{"message:in:new", "device.phone", true},
		{"message:out:new", "data.toNumber", true},
		{"group:update", "participants", true},
		{"group:update", "value", true},
		{"group:update", "action", true},
		{"group:update", "data.chat.group.totalParticipants", true},
		{"group:update", "data.chat.meta.ephemeral", true},
		{"message:out:ack", "ack", true},
		{"message:out:ack", "data.ack", true},
		{"message:out:failed", "entityId", true},
		{"message:out:failed", "data.device.phone", true},
		{"message:out:failed", "data.retry.count", true},
		{"message:out:sent", "entityUrl", true},
		{"message:in:new", "data.media.links.download", true},
		{"message:in:new", "data.poll.options.[].name", true},
		{"message:in:new", "data.contacts.0.phones.[].number", true},

		// Fields of the spec's models and examples.
		{"message:in:new", "data.author", true},
		{"message:in:new", "data.chat.lid", true},
		{"message:in:new", "data.chat.contact.info.companyName", true},
		{"message:in:new", "data.chat.owner.department", true},
		{"message:in:new", "data.quoted.body", true},
		{"message:in:new", "data.media.links.resource", true},
		{"message:in:new", "data.media.preview.width", true},
		{"message:in:new", "data.meta.notifyName", true},
		{"message:in:new", "data.meta.via", true},
		{"message:in:new", "data.reactions", true},
		{"message:out:new", "data.agent", true},
		{"message:out:ack", "data.events.delivered.date", true},
		{"message:out:ack", "data.events.readed.reportedAt", true},
		{"message:in:new", "device.session.status", true},
		{"group:update", "data.chat.group.kind", true},
		{"message:out:sent", "data.device.links.scan.url", true},
		{"message:out:sent", "data.schedule.enabled", true},
		{"message:out:failed", "data.failureReason", true},

		// Lists: "[]" or an index walks into the element shape.
		{"message:in:new", "data.chat.labels", true},
		{"message:in:new", "data.chat.labels.[]", true},
		{"message:in:new", "data.chat.labels.0", true},
		{"message:in:new", "data.chat.labels.-1", true},
		{"message:in:new", "data.chat.contact.metadata.[].key", true},
		{"message:in:new", "data.chat.contact.metadata.2.value", true},
		{"message:in:new", "data.chat.labels.name", false},
		{"message:in:new", "data.chat.contact.metadata.[].kye", false},
		{"group:update", "participants.0", true},
		{"group:update", "participants.0.name", false},

		// Open objects accept any key below them.
		{"message:in:new", "data.meta.isGroup", true},
		{"message:in:new", "data.media.meta.width", true},
		{"message:in:new", "data.events.read.date", true},
		{"message:in:new", "data.events.read.dtae", false},
		{"message:out:failed", "data.reference", true},
		{"message:in:new", "data.chat.lastAutoReply.id", true},
		{"message:in:new", "data.author.id", true},
		{"message:in:new", "data.chat.links.self", true},
		{"message:in:new", "data.contacts.0.anything", true},
		{"message:in:new", "data.poll.options.[].votes", true},

		// Objects whose properties the spec publishes are closed.
		{"message:in:new", "data.meta.someNewFlag", false},
		{"message:in:new", "data.media.meta.fps", false},
		{"message:in:new", "data.chat.meta.isMuted", false},

		// Typos and fields these events never carry.
		{"message:in:new", "data.chat.nmae", false},
		{"message:in:new", "participants", false},
		{"message:in:new", "value", false},
		{"message:in:new", "ack", false},
		{"message:out:new", "ack", false},
		{"message:out:failed", "id", false},
		{"message:out:failed", "created", false},
		{"message:out:failed", "device", false},
		{"message:in:new", "data.media.captoin", false},
		{"message:in:new", "data.chat.stats.unread", false},
		{"message:in:new", "device.token", false},
		{"message:in:new", "data.chat.group.participants", false},

		// Scalars have no fields; a string can be indexed once.
		{"message:in:new", "data.body.length", false},
		{"message:in:new", "data.body.0", true},
		{"message:in:new", "data.body.0.x", false},
		{"message:in:new", "data.timestamp.0", false},

		// Events without a published shape, unknown events and empty
		// paths are never flagged.
		{"chat:update", "data.chat.nmae", true},
		{"contact:update", "anything.at.all", true},
		{"message:reaction", "reaction", true},
		{"device:status:update", "x", true},
		{"message:out:delivered", "x", true},
		{"message:in:new", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.event+"/"+tt.path, func(t *testing.T) {
			if got := Has(tt.event, split(tt.path)); got != tt.want {
				t.Errorf("Has(%q, %q) = %v, want %v", tt.event, tt.path, got, tt.want)
			}
		})
	}
}

func TestSuggest(t *testing.T) {
	tests := []struct {
		event string
		path  string
		want  string
	}{
		{"message:in:new", "data.chat.nmae", "name"},
		{"message:in:new", "data.chat.nmae.first", "name"},
		{"message:in:new", "data.fromnumber", "fromNumber"},
		{"message:in:new", "data.chat.contact.metdata", "metadata"},
		{"message:in:new", "data.chat.contact.metadata.[].kye", "key"},
		{"message:in:new", "data.tipo", "type"},
		{"message:in:new", "di", "id"},
		{"group:update", "partcipants", "participants"},
		{"group:update", "athor", "author"},
		{"message:out:failed", "entityID", "entityId"},
		{"message:out:failed", "data.retry.cont", "count"},

		// Nothing close enough.
		{"message:in:new", "xy", ""},
		{"message:in:new", "data.chat.xyzzy", ""},
		{"message:in:new", "participants", ""},
		// Known paths, unknown events, lists and scalars get no suggestion.
		{"message:in:new", "data.chat.name", ""},
		{"chat:update", "data.chat.nmae", ""},
		{"message:in:new", "data.chat.labels.name", ""},
		{"message:in:new", "data.body.lenght", ""},
	}
	for _, tt := range tests {
		t.Run(tt.event+"/"+tt.path, func(t *testing.T) {
			if got := Suggest(tt.event, split(tt.path)); got != tt.want {
				t.Errorf("Suggest(%q, %q) = %q, want %q", tt.event, tt.path, got, tt.want)
			}
		})
	}
}

// TestTopLevelFields: the schema knows the top-level fields of the events
// whose shape Wassenger publishes, and not others.
func TestTopLevelFields(t *testing.T) {
	tests := []struct {
		event      string
		known, not []string
	}{
		{"group:update", []string{"action", "author", "created", "data", "description", "device", "event", "id", "object", "participants", "value"}, []string{"ack", "entityId"}},
		{"message:in:new", []string{"created", "data", "device", "event", "id", "object"}, []string{"participants", "ack"}},
		{"message:out:ack", []string{"ack", "created", "data", "device", "event", "id", "object"}, []string{"participants"}},
		{"message:out:failed", []string{"data", "date", "entity", "entityId", "entityUrl", "event", "user"}, []string{"ack", "participants"}},
	}
	for _, tt := range tests {
		t.Run(tt.event, func(t *testing.T) {
			for _, f := range tt.known {
				if !Has(tt.event, []string{f}) {
					t.Errorf("Has(%q, %q) = false, want true", tt.event, f)
				}
			}
			for _, f := range tt.not {
				if Has(tt.event, []string{f}) {
					t.Errorf("Has(%q, %q) = true, want false", tt.event, f)
				}
			}
		})
	}
}

func TestKnownAndEvents(t *testing.T) {
	// The spec's list of events, then the names of its webhook log model.
	want := []string{
		"message:in:new", "message:out:new", "message:out:sent", "message:out:ack", "message:update",
		"message:reaction", "status:update", "channel:in", "message:out:failed", "number:session",
		"group:update", "chat:update", "contact:update",
		"message:out:retry", "message:out:removed", "message:out:expired", "device:status:update",
	}
	got := Events()
	if !slices.IsSorted(got) {
		t.Errorf("Events() = %q, want it sorted", got)
	}
	if !slices.Equal(got, slices.Sorted(slices.Values(want))) {
		t.Errorf("Events() = %q, want %q", got, want)
	}
	for _, e := range want {
		if !Known(e) {
			t.Errorf("Known(%q) = false, want true", e)
		}
	}
	got[0] = "changed"
	if Events()[0] == "changed" {
		t.Errorf("Events() returned the schema's own slice; want a copy")
	}
	for _, e := range []string{"message:out:delivered", "message:*", "*", "", "Group:Update"} {
		if Known(e) {
			t.Errorf("Known(%q) = true, want false", e)
		}
	}
}

func TestValues(t *testing.T) {
	tests := []struct {
		event, path string
		want        []string // nil: not enumerated
	}{
		{"message:out:ack", "ack", []string{"failed", "sent", "read", "played", "error", "pending", "delivered", "server"}},
		{"message:in:new", "data.ack", []string{"failed", "sent", "read", "played", "error", "pending", "delivered", "server"}},
		{"message:in:new", "data.flow", []string{"in", "out", "inbound", "outbound"}},
		{"group:update", "data.chat.status", []string{"removed", "banned", "archived", "muted", "pending", "active", "resolved"}},
		{"message:out:new", "data.chat.type", []string{"chat", "group", "channel", "broadcast", "community", "contact"}},
		{"message:out:failed", "data.status", []string{"invalid", "removed", "expired", "failed", "queued", "processing", "processed"}},
		{"message:out:sent", "data.device.session.status", []string{"online", "offline", "timeout", "timeout_sync", "conflict", "blocked", "error", "authorize", "authorizing", "new", "loading", "offline:panel", "offline:modal"}},
		// Not enumerated: no source lists every value.
		{"message:in:new", "data.type", nil},
		{"message:in:new", "data.status", nil},
		{"message:in:new", "data.chat.name", nil},
		// An object, a missing field, an open event, an unknown event.
		{"message:in:new", "data.chat", nil},
		{"message:in:new", "ack", nil},
		{"message:update", "data.ack", nil},
		{"no:such", "ack", nil},
	}
	for _, tt := range tests {
		t.Run(tt.event+"/"+tt.path, func(t *testing.T) {
			if got := Values(tt.event, split(tt.path)); !slices.Equal(got, tt.want) || (got == nil) != (tt.want == nil) {
				t.Errorf("Values(%q, %q) = %q, want %q", tt.event, tt.path, got, tt.want)
			}
		})
	}

	actions := Values("group:update", []string{"action"})
	if len(actions) != 32 || actions[0] != "create" || actions[31] != "allow_non_admin_sub_group_creation" {
		t.Errorf("group:update actions = %q, want the article's 32 in its order", actions)
	}
	if !slices.Equal(GroupActions(), actions) {
		t.Errorf("GroupActions() = %q, want Values(group:update, action) = %q", GroupActions(), actions)
	}
	actions[0] = "changed"
	if Values("group:update", []string{"action"})[0] != "create" {
		t.Errorf("Values returned the schema's own slice; want a copy")
	}
}

func TestType(t *testing.T) {
	tests := []struct {
		event, path string
		want        string // "": not fixed by the schema
	}{
		{"group:update", "action", "string"},
		{"group:update", "value", "bool"},
		{"group:update", "participants", "list"},
		{"group:update", "participants.0", "string"},
		{"group:update", "created", "number"},
		{"group:update", "data.chat", "object"},
		{"message:in:new", "data.meta.isGroup", "bool"},
		{"message:in:new", "data.chat.labels", "list"},
		{"message:in:new", "data.body.0", "string"}, // a character
		// Open values, missing fields, open and unknown events.
		{"message:in:new", "data.author", ""},
		{"message:in:new", "data.author.name", ""},
		{"message:in:new", "action", ""},
		{"message:in:new", "data.chat.nmae", ""},
		{"chat:update", "action", ""},
		{"no:such", "action", ""},
	}
	for _, tt := range tests {
		t.Run(tt.event+"/"+tt.path, func(t *testing.T) {
			if got := Type(tt.event, split(tt.path)); got != tt.want {
				t.Errorf("Type(%q, %q) = %q, want %q", tt.event, tt.path, got, tt.want)
			}
		})
	}
}

func TestParse(t *testing.T) {
	const good = `{
		"comment": ["a test schema"],
		"types": {"dev": {"id": "string"}, "unused": {"x": "number"}},
		"events": {
			"a": {"device": "#dev", "data": {"meta": {"*": "any"}, "tags": ["string"], "kind": {"$type": "string", "$enum": ["x", "y"]}}},
			"b": "#dev"
		}
	}`
	s, err := parse([]byte(good))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	checks := []struct {
		event, path string
		want        bool
	}{
		{"a", "device.id", true},
		{"a", "device.phone", false},
		{"a", "data.meta.anything.below", true},
		{"a", "data.tags.[]", true},
		{"a", "data.tags.x", false},
		{"b", "id", true},
		{"b", "device", false},
		{"c", "whatever", true},
	}
	for _, c := range checks {
		if got := s.has(c.event, split(c.path)); got != c.want {
			t.Errorf("has(%q, %q) = %v, want %v", c.event, c.path, got, c.want)
		}
	}
	if got := s.values("a", split("data.kind")); !slices.Equal(got, []string{"x", "y"}) {
		t.Errorf("values(a, data.kind) = %q, want [x y]", got)
	}
	if !s.has("a", split("data.kind")) || s.has("a", split("data.kind.x")) {
		t.Errorf("an enumerated field is a string: has(data.kind) must be true, has(data.kind.x) false")
	}
	if s.events["a"].fields["device"] != s.events["b"] {
		t.Errorf("two references to types.dev resolved to different nodes, want one shared node")
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name   string
		schema string
		want   string
	}{
		{"not json", `{"events": `, "decode schema"},
		{"unknown top-level key", `{"evnts": {"a": {}}}`, "decode schema"},
		{"no events", `{"events": {}}`, "names no events"},
		{"event not an object", `{"events": {"a": ["string"]}}`, "events.a: the shape of an event must be an object"},
		{"scalar event", `{"events": {"a": "string"}}`, "must be an object"},
		{"unknown type", `{"events": {"a": {"id": "strng"}}}`, `events.a.id: unknown type "strng"`},
		{"missing reference", `{"events": {"a": {"d": "#dev"}}}`, `"#dev" refers to no entry of types`},
		{"self reference", `{"types": {"t": {"next": "#t"}}, "events": {"a": "#t"}}`, "types.t refers back to itself"},
		{"cycle", `{"types": {"t": {"u": "#u"}, "u": ["#t"]}, "events": {"a": "#t"}}`, "refers back to itself"},
		{"two element shapes", `{"events": {"a": {"l": ["string", "number"]}}}`, "exactly one element shape, found 2"},
		{"empty list shape", `{"events": {"a": {"l": []}}}`, "found 0"},
		{"number as shape", `{"events": {"a": {"n": 3}}}`, "events.a.n: a shape is a type name"},
		{"bad nested", `{"events": {"a": {"l": [{"x": "bool", "y": "nope"}]}}}`, `events.a.l[].y: unknown type "nope"`},
		{"bad type entry", `{"types": {"t": {"x": true}}, "events": {"a": {"t": "#t"}}}`, "types.t.x: a shape is"},
		{"reserved key", `{"events": {"a": {"$enum": ["x"]}}}`, `events.a: key "$enum": keys starting with $ are reserved`},
		{"enum of numbers", `{"events": {"a": {"k": {"$type": "number", "$enum": ["1"]}}}}`, `events.a.k: $type "number": only string fields`},
		{"empty enum", `{"events": {"a": {"k": {"$type": "string", "$enum": []}}}}`, "events.a.k: $enum lists no values"},
		{"no enum", `{"events": {"a": {"k": {"$type": "string"}}}}`, "events.a.k: $enum lists no values"},
		{"enum twice", `{"events": {"a": {"k": {"$type": "string", "$enum": ["x", "x"]}}}}`, `$enum lists "x" twice`},
		{"enum not strings", `{"events": {"a": {"k": {"$type": "string", "$enum": [1]}}}}`, "events.a.k: json"},
		{"key beside $type", `{"events": {"a": {"k": {"$type": "string", "$enum": ["x"], "other": "y"}}}}`, `unknown key "other" beside $type`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parse([]byte(tt.schema))
			if err == nil {
				t.Fatalf("parse succeeded, want an error containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("parse error = %q, want it to contain %q", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "eventschema: ") {
				t.Errorf("parse error = %q, want the prefix %q", err, "eventschema: ")
			}
		})
	}
}

func TestMustParsePanicsOnBrokenSchema(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Errorf("mustParse accepted a broken schema, want a panic")
		}
	}()
	mustParse([]byte(`{"events": {}}`))
}
