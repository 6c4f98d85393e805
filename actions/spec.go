package actions

import "sort"

// Kind says what value a field of an action takes.
type Kind int

// Field kinds.
const (
	// String is a template string.
	String Kind = iota
	// StringList is a list of template strings; a single string is a
	// list of one.
	StringList
	// StringMap is a map of names to template strings.
	StringMap
	// Any is any YAML value; every string inside it is a template, and a
	// string that is exactly one {{ expr }} keeps the expression's type
	// (a list stays a list).
	Any
	// Literal is a string fixed in the rules file: no templates allowed.
	Literal
)

// String names the kind for error messages.
func (k Kind) String() string {
	switch k {
	case String:
		return "a string"
	case StringList:
		return "a list of strings"
	case StringMap:
		return "a map of strings"
	case Literal:
		return "a string without templates"
	default:
		return "any value"
	}
}

// Field is one field of an action type.
type Field struct {
	Name     string
	Kind     Kind
	Required bool
	// Enum, when set, lists the allowed literal values (templates are
	// checked at run time).
	Enum []string
	// Doc is a one-line description for docs and the JSON Schema.
	Doc string
	// Shape, when set, is the JSON value the field takes, checked at
	// load where it is fixed in the rules file and again once rendered.
	Shape *Shape
	// Needs lists fields that must be set when this one is.
	Needs []string
}

// Spec describes an action type: its fields and the rules between them.
type Spec struct {
	Type string
	Doc  string
	// Connection names the connection the action uses ("" for none).
	Connection string
	Fields     []Field
	// OneOf lists groups of fields of which exactly one must be set.
	OneOf [][]string
	// AnyOf lists groups of fields of which at least one must be set.
	AnyOf [][]string
	// CheckConnection reports what is missing from the connections for an
	// action with the given fields set ("" when nothing is).
	CheckConnection func(c *Connections, set map[string]bool) string
}

// Field returns the named field and whether the type has it.
func (s *Spec) Field(name string) (Field, bool) {
	for _, f := range s.Fields {
		if f.Name == name {
			return f, true
		}
	}
	return Field{}, false
}

// FieldNames returns the names of the type's fields, sorted.
func (s *Spec) FieldNames() []string {
	names := make([]string, len(s.Fields))
	for i, f := range s.Fields {
		names[i] = f.Name
	}
	sort.Strings(names)
	return names
}

var specs = map[string]*Spec{
	"wassenger.message": {
		Type:            "wassenger.message",
		Doc:             "Send a WhatsApp message: POST {base_url}/messages.",
		Connection:      "wassenger",
		Fields:          wassengerMessageFields,
		OneOf:           [][]string{msgTargets},
		AnyOf:           [][]string{msgContent},
		CheckConnection: wassengerToken,
	},
	"wassenger.request": {
		Type:       "wassenger.request",
		Doc:        "Call any Wassenger API endpoint, relative to base_url.",
		Connection: "wassenger",
		Fields: []Field{
			{Name: "method", Kind: String, Required: true, Enum: []string{"GET", "POST", "PUT", "PATCH", "DELETE"}, Doc: "HTTP method"},
			{Name: "path", Kind: String, Required: true, Doc: "path relative to base_url, e.g. /devices/{{ device.id }}/groups/{{ data.chat.id }}/members"},
			{Name: "body", Kind: Any, Doc: "JSON body: any value, also a bare list"},
			{Name: "query", Kind: StringMap, Doc: "query parameters"},
		},
		CheckConnection: wassengerToken,
	},
	"wassenger.group.add": groupSpec("wassenger.group.add",
		"Add participants to a group: POST {base_url}/devices/{device}/groups/{group}/participants.",
		Field{Name: "participants", Kind: StringList, Required: true, Doc: "phone numbers in E.164 (+1234567890) or user chat ids (...@c.us) to add"},
		Field{Name: "admin", Kind: Any, Doc: "add them as admins (true/false, default false)"}),
	"wassenger.group.remove": groupSpec("wassenger.group.remove",
		"Remove participants from a group: DELETE {base_url}/devices/{device}/groups/{group}/participants.",
		Field{Name: "participants", Kind: StringList, Required: true, Doc: "phone numbers or user chat ids to remove"}),
	"wassenger.group.promote": groupSpec("wassenger.group.promote",
		"Make participants group admins: PATCH {base_url}/devices/{device}/groups/{group}/participants with admin true.",
		Field{Name: "participants", Kind: StringList, Required: true, Doc: "phone numbers or user chat ids to promote"}),
	"wassenger.group.demote": groupSpec("wassenger.group.demote",
		"Take group admin rights away: PATCH {base_url}/devices/{device}/groups/{group}/participants with admin false.",
		Field{Name: "participants", Kind: StringList, Required: true, Doc: "phone numbers or user chat ids to demote"}),
	"wassenger.group.approve": membersSpec("wassenger.group.approve",
		"Approve pending requests to join a group: POST {base_url}/devices/{device}/groups/{group}/members."),
	"wassenger.group.reject": membersSpec("wassenger.group.reject",
		"Reject pending requests to join a group: DELETE {base_url}/devices/{device}/groups/{group}/members."),
	"wassenger.chat.label": chatSpec("wassenger.chat.label",
		"Add, remove or replace a chat's labels: PATCH {base_url}/chat/{device}/chats/{chat}/labels.",
		Field{Name: "labels", Kind: StringList, Required: true, Doc: "label names (the labels must exist on the number)"},
		Field{Name: "mode", Kind: String, Enum: []string{"add", "remove", "replace"}, Doc: "add (default), remove, or replace every label of the chat"}),
	"wassenger.chat.assign": func() *Spec {
		s := chatSpec("wassenger.chat.assign",
			"Assign a chat to a team agent or department: PATCH {base_url}/chat/{device}/chats/{chat}/owner.",
			Field{Name: "agent", Kind: String, Doc: "24-hex user id of the agent"},
			Field{Name: "email", Kind: String, Doc: "email of the agent"},
			Field{Name: "department", Kind: String, Doc: "24-hex department id"})
		s.AnyOf = [][]string{{"agent", "email", "department"}}
		return s
	}(),
	"wassenger.chat.unassign": chatSpec("wassenger.chat.unassign",
		"Take a chat's agent away: DELETE {base_url}/chat/{device}/chats/{chat}/owner."),
	"wassenger.chat.resolve": chatSpec("wassenger.chat.resolve",
		"Mark a chat resolved: PATCH {base_url}/chat/{device}/chats/{chat}/status with status resolved."),
	"wassenger.chat.note": chatSpec("wassenger.chat.note",
		"Post a private note in a chat, seen by the team only: POST {base_url}/chat/{device}/chats/{chat}/notes.",
		Field{Name: "message", Kind: String, Required: true, Doc: "note text"},
		Field{Name: "quote", Kind: String, Doc: "message id the note refers to"}),
	"wassenger.message.delete": {
		Type:       "wassenger.message.delete",
		Doc:        "Delete a message, for everyone by default: DELETE {base_url}/chat/{device}/messages/{id}?revoke=true.",
		Connection: "wassenger",
		Fields: []Field{
			deviceField,
			{Name: "id", Kind: String, Required: true, Doc: "WhatsApp message id, e.g. {{ data.id }}"},
			{Name: "revoke", Kind: Any, Doc: "delete it for everyone (true, the default; WhatsApp allows it for a limited time after sending) or only on the number (false)"},
			{Name: "force", Kind: Any, Doc: "delete it on the number even when it cannot be revoked for everyone (true/false)"},
		},
		CheckConnection: wassengerToken,
	},
	"slack": {
		Type:       "slack",
		Doc:        "Post to Slack: an incoming webhook, or chat.postMessage when channel is set.",
		Connection: "slack",
		Fields: []Field{
			{Name: "text", Kind: String, Required: true, Doc: "message text; the notification fallback when blocks are set"},
			{Name: "blocks", Kind: Any, Doc: "Block Kit blocks"},
			{Name: "channel", Kind: String, Doc: "channel id for chat.postMessage (needs connections.slack.token)"},
			{Name: "thread_ts", Kind: String, Doc: "reply in this thread (chat.postMessage)"},
		},
		CheckConnection: func(c *Connections, set map[string]bool) string {
			if set["channel"] {
				if c.Slack == nil || c.Slack.Token.IsZero() {
					return "channel needs connections.slack.token (a bot token for chat.postMessage)"
				}
				return ""
			}
			if c.Slack == nil || c.Slack.WebhookURL.IsZero() {
				return "needs connections.slack.webhook_url (or a channel and connections.slack.token)"
			}
			return ""
		},
	},
	"email": {
		Type:       "email",
		Doc:        "Send an email through the SMTP connection.",
		Connection: "email",
		Fields: []Field{
			{Name: "to", Kind: StringList, Required: true, Doc: "recipients"},
			{Name: "cc", Kind: StringList, Doc: "copy recipients"},
			{Name: "bcc", Kind: StringList, Doc: "blind copy recipients"},
			{Name: "reply_to", Kind: String, Doc: "Reply-To address"},
			{Name: "subject", Kind: String, Required: true, Doc: "subject (UTF-8)"},
			{Name: "body", Kind: String, Required: true, Doc: "plain-text body (UTF-8)"},
			{Name: "html", Kind: String, Doc: "optional HTML alternative of the body"},
		},
		CheckConnection: func(c *Connections, _ map[string]bool) string {
			if c.Email == nil || c.Email.Host == "" {
				return "needs connections.email.host"
			}
			if c.Email.From == "" {
				return "needs connections.email.from"
			}
			return ""
		},
	},
	"webhook": {
		Type: "webhook",
		Doc:  "Call any HTTP endpoint. The URL is fixed in the rules file, never taken from event data.",
		Fields: []Field{
			{Name: "url", Kind: Literal, Required: true, Doc: "target URL (http or https); ${ENV} allowed, templates not"},
			{Name: "method", Kind: String, Enum: []string{"GET", "POST", "PUT", "PATCH", "DELETE"}, Doc: "HTTP method (default POST)"},
			{Name: "headers", Kind: StringMap, Doc: "request headers"},
			{Name: "body", Kind: Any, Doc: "JSON body (a string is sent as is)"},
		},
	},
	"log": {
		Type: "log",
		Doc:  "Write a structured log line.",
		Fields: []Field{
			{Name: "message", Kind: String, Required: true, Doc: "the log message"},
			{Name: "level", Kind: String, Enum: []string{"debug", "info", "warn", "error"}, Doc: "log level (default info)"},
			{Name: "fields", Kind: StringMap, Doc: "extra attributes"},
		},
	},
}

// deviceField is the device of the group and chat actions: their paths
// name it.
var deviceField = Field{Name: "device", Kind: String, Required: true, Doc: "24-hex id of the WhatsApp number, e.g. {{ device.id }}"}

// wassengerToken is the CheckConnection of every Wassenger action.
func wassengerToken(c *Connections, _ map[string]bool) string {
	if c.Wassenger == nil || c.Wassenger.Token.IsZero() {
		return "needs connections.wassenger.token"
	}
	return ""
}

// groupSpec is the spec of a group action: device and group, then more.
func groupSpec(typ, doc string, more ...Field) *Spec {
	fields := append([]Field{deviceField,
		{Name: "group", Kind: String, Required: true, Doc: "group chat id (...@g.us), e.g. {{ data.chat.id }}"}}, more...)
	return &Spec{Type: typ, Doc: doc, Connection: "wassenger", Fields: fields, CheckConnection: wassengerToken}
}

// membersSpec is the spec of approve and reject: the requests of some
// participants, or all of them.
func membersSpec(typ, doc string) *Spec {
	s := groupSpec(typ, doc,
		Field{Name: "participants", Kind: StringList, Doc: "phone numbers or user chat ids whose requests to answer, e.g. {{ participants }}"},
		Field{Name: "all", Kind: Any, Doc: "true answers every pending request"})
	s.OneOf = [][]string{{"participants", "all"}}
	return s
}

// chatSpec is the spec of a chat action: device and chat, then more.
func chatSpec(typ, doc string, more ...Field) *Spec {
	fields := append([]Field{deviceField,
		{Name: "chat", Kind: String, Required: true, Doc: "chat id (...@c.us, ...@g.us or ...@lid), e.g. {{ data.chat.id }}"}}, more...)
	return &Spec{Type: typ, Doc: doc, Connection: "wassenger", Fields: fields, CheckConnection: wassengerToken}
}

// Lookup returns the spec of an action type.
func Lookup(typ string) (*Spec, bool) {
	s, ok := specs[typ]
	return s, ok
}

// Types returns every action type, sorted.
func Types() []string {
	names := make([]string, 0, len(specs))
	for n := range specs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
