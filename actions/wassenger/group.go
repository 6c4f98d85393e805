package wassenger

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/hookd/hookd/actions"
)

// Group action types: participants and membership requests of a group
// chat, each one Wassenger endpoint under
// /devices/{device}/groups/{group}.
const (
	TypeGroupAdd     = "wassenger.group.add"
	TypeGroupRemove  = "wassenger.group.remove"
	TypeGroupPromote = "wassenger.group.promote"
	TypeGroupDemote  = "wassenger.group.demote"
	TypeGroupApprove = "wassenger.group.approve"
	TypeGroupReject  = "wassenger.group.reject"
)

// Types returns every action type the client handles.
func Types() []string {
	return []string{TypeMessage, TypeRequest,
		TypeGroupAdd, TypeGroupRemove, TypeGroupPromote, TypeGroupDemote, TypeGroupApprove, TypeGroupReject,
		TypeChatLabel, TypeChatAssign, TypeChatUnassign, TypeChatResolve, TypeChatNote, TypeMessageDelete}
}

// Ids that go into a path come from templates, so from event data: each
// is checked against its shape before it is put in a path.
var (
	deviceRe      = regexp.MustCompile(`^[0-9a-fA-F]{24}$`)
	groupRe       = regexp.MustCompile(`^[0-9]+(-[0-9]+)?@g\.us$`)
	participantRe = regexp.MustCompile(`^(\+?[0-9]{6,15}|[0-9]{6,20}@c\.us)$`)
)

// named is how a named action becomes a request: its method, path,
// query and body.
type named struct {
	method  string
	path    string
	query   url.Values
	body    any
	hasBody bool
}

// namedRequest builds the request of a group, chat or message.delete
// action from its rendered fields. The ids in the path are checked
// against their shapes, and the path as wassenger.request's is.
func namedRequest(call actions.Call) (named, error) {
	n, err := namedParts(call)
	if err != nil {
		return named{}, err
	}
	if _, err := CheckPath(n.path); err != nil {
		return named{}, err
	}
	return n, nil
}

func namedParts(call actions.Call) (named, error) {
	switch call.Type {
	case TypeGroupAdd, TypeGroupRemove, TypeGroupPromote, TypeGroupDemote, TypeGroupApprove, TypeGroupReject:
		return groupRequest(call.Type, call.Params)
	case TypeChatLabel, TypeChatAssign, TypeChatUnassign, TypeChatResolve, TypeChatNote:
		return chatRequest(call.Type, call.Params)
	case TypeMessageDelete:
		return messageDeleteRequest(call.Params)
	}
	return named{}, fmt.Errorf("action type %q is not a Wassenger action; use %s or %s", call.Type, TypeMessage, TypeRequest)
}

func groupRequest(typ string, p map[string]any) (named, error) {
	dev, g, err := deviceAnd(p, "group", groupRe, "a group chat id like 120363012345678901@g.us (e.g. {{ data.chat.id }})")
	if err != nil {
		return named{}, err
	}
	base := "/devices/" + dev + "/groups/" + g
	switch typ {
	case TypeGroupApprove, TypeGroupReject:
		method := http.MethodPost
		if typ == TypeGroupReject {
			method = http.MethodDelete
		}
		body, err := membersBody(p)
		if err != nil {
			return named{}, err
		}
		return named{method: method, path: base + "/members", body: body, hasBody: true}, nil
	}
	phones, err := participantList(p)
	if err != nil {
		return named{}, err
	}
	n := named{path: base + "/participants", hasBody: true}
	switch typ {
	case TypeGroupRemove:
		n.method, n.body = http.MethodDelete, phones
		return n, nil
	case TypeGroupAdd:
		n.method = http.MethodPost
		admin, err := boolField(p, "admin", false)
		if err != nil {
			return named{}, err
		}
		n.body = participantObjects(phones, admin)
	case TypeGroupPromote:
		n.method, n.body = http.MethodPatch, participantObjects(phones, true)
	case TypeGroupDemote:
		n.method, n.body = http.MethodPatch, participantObjects(phones, false)
	}
	return n, nil
}

// participantObjects is the participants body of add, promote and
// demote: {"participants": [{"phone": ..., "admin": ...}]}.
func participantObjects(phones []string, admin bool) map[string]any {
	list := make([]any, len(phones))
	for i, ph := range phones {
		list[i] = map[string]any{"phone": ph, "admin": admin}
	}
	return map[string]any{"participants": list}
}

// membersBody is the body of approve and reject: {"all": true} or
// {"phones": [...]}.
func membersBody(p map[string]any) (map[string]any, error) {
	all, err := boolField(p, "all", false)
	if err != nil {
		return nil, err
	}
	_, hasList := p["participants"]
	switch {
	case all && hasList:
		return nil, errors.New("all and participants are both set; set all: true for every pending request, or participants for some")
	case all:
		return map[string]any{"all": true}, nil
	case !hasList:
		return nil, errors.New("all is false and participants is not set; set participants (e.g. {{ participants }}) or all: true")
	}
	phones, err := participantList(p)
	if err != nil {
		return nil, err
	}
	return map[string]any{"phones": phones}, nil
}

// participantList reads the participants field: phone numbers in E.164
// (with or without +) or user chat ids (digits@c.us); entries that
// rendered empty are dropped, and at least one must remain.
func participantList(p map[string]any) ([]string, error) {
	list, err := stringList(p["participants"], "participants")
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(list))
	for _, s := range list {
		s = strings.Join(strings.Fields(s), "")
		if !participantRe.MatchString(s) {
			return nil, fmt.Errorf("participant %q is not a phone number in E.164 (+1234567890) or a user chat id (1234567890@c.us)", s)
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, errors.New("no participants: the field is missing or rendered empty (the event may lack the field a template reads); set participants, e.g. {{ participants }}")
	}
	return out, nil
}

// deviceAnd reads and checks the device field, which every named path
// holds, and the id field name that follows it in the path (see idField).
func deviceAnd(p map[string]any, name string, re *regexp.Regexp, want string) (dev, id string, err error) {
	if dev, err = idField(p, "device", deviceRe, "a 24-hex device id (e.g. {{ device.id }})"); err != nil {
		return "", "", err
	}
	if id, err = idField(p, name, re, want); err != nil {
		return "", "", err
	}
	return dev, id, nil
}

// idField reads the string field name and checks it against re; want
// says what the field should hold.
func idField(p map[string]any, name string, re *regexp.Regexp, want string) (string, error) {
	v, ok := p[name]
	if !ok || v == nil {
		return "", fmt.Errorf("%s is not set; set it to %s", name, want)
	}
	s, isString := v.(string)
	if !isString {
		return "", fmt.Errorf("%s must be a string, got %T; set it to %s", name, v, want)
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return "", fmt.Errorf("%s rendered empty (the event may lack the field its template reads); set it to %s", name, want)
	}
	if !re.MatchString(s) {
		return "", fmt.Errorf("%s %q is not %s", name, s, want)
	}
	return s, nil
}

// boolField reads an optional true/false field (a YAML boolean, or the
// string "true" or "false" a template renders), def when absent or
// rendered empty.
func boolField(p map[string]any, name string, def bool) (bool, error) {
	switch v := p[name].(type) {
	case nil:
		return def, nil
	case bool:
		return v, nil
	case string:
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "":
			return def, nil
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return false, fmt.Errorf("%s must be true or false, got %q", name, v)
	default:
		return false, fmt.Errorf("%s must be true or false, got %T", name, v)
	}
}

// GroupChange is the change to a group's participants that an action
// asks Wassenger for: the group:update event Wassenger sends once the
// change is made has the same group, action and participants.
type GroupChange struct {
	// Group is the group chat id, e.g. 120363012345678901@g.us.
	Group string
	// Action is the group:update action the change causes: add,
	// remove, promote or demote.
	Action string
	// Participants are the members' phone numbers, digits only (no +,
	// no @c.us), as PhoneDigits gives them.
	Participants []string
}

// groupUpdateAction returns the group:update action of the change a
// participant action makes. Approving and rejecting membership requests
// are left out: the spec does not say which group:update Wassenger sends
// for them.
func groupUpdateAction(typ string) (string, bool) {
	switch typ {
	case TypeGroupAdd:
		return "add", true
	case TypeGroupRemove:
		return "remove", true
	case TypeGroupPromote:
		return "promote", true
	case TypeGroupDemote:
		return "demote", true
	}
	return "", false
}

// ChangesGroup reports whether actions of type typ change a group's
// participants (see ChangeOf).
func ChangesGroup(typ string) bool {
	_, ok := groupUpdateAction(typ)
	return ok
}

// ChangeOf returns the group change an action of type typ with the
// rendered params asks for, and false when it asks for none (another
// type, or params that would not make a request).
func ChangeOf(typ string, params map[string]any) (GroupChange, bool) {
	action, ok := groupUpdateAction(typ)
	if !ok {
		return GroupChange{}, false
	}
	g, err := idField(params, "group", groupRe, "a group chat id")
	if err != nil {
		return GroupChange{}, false
	}
	phones, err := participantList(params)
	if err != nil {
		return GroupChange{}, false
	}
	for i, ph := range phones {
		phones[i] = PhoneDigits(ph)
	}
	return GroupChange{Group: g, Action: action, Participants: phones}, true
}

// PhoneDigits returns a phone number or user chat id as its digits:
// "+34 600 000 001" and "34600000001@c.us" both give "34600000001".
func PhoneDigits(s string) string {
	s = strings.TrimSuffix(strings.TrimSpace(s), "@c.us")
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}
