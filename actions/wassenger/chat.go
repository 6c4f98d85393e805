package wassenger

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
)

// Chat action types: the team inbox's view of a chat, each one Wassenger
// endpoint under /chat/{device}/chats/{chat}; and deleting a message,
// under /chat/{device}/messages/{id}.
const (
	TypeChatLabel     = "wassenger.chat.label"
	TypeChatAssign    = "wassenger.chat.assign"
	TypeChatUnassign  = "wassenger.chat.unassign"
	TypeChatResolve   = "wassenger.chat.resolve"
	TypeChatNote      = "wassenger.chat.note"
	TypeMessageDelete = "wassenger.message.delete"
)

// Label modes of wassenger.chat.label and the query each one sends.
const (
	LabelAdd     = "add"
	LabelRemove  = "remove"
	LabelReplace = "replace"
)

var (
	chatRe      = regexp.MustCompile(`^[0-9]+(-[0-9]+)?@(c\.us|g\.us|newsletter|lid)$`)
	messageIDRe = regexp.MustCompile(`^[A-Za-z0-9_@.:-]{6,128}$`)
)

func chatRequest(typ string, p map[string]any) (named, error) {
	dev, chat, err := deviceAnd(p, "chat", chatRe, "a chat id like 1234567890@c.us, 120363012345678901@g.us or 203456789012345@lid (e.g. {{ data.chat.id }})")
	if err != nil {
		return named{}, err
	}
	base := "/chat/" + dev + "/chats/" + chat
	switch typ {
	case TypeChatLabel:
		return labelRequest(base, p)
	case TypeChatAssign:
		body := map[string]any{}
		for _, k := range []string{"agent", "email", "department"} {
			if s := strings.TrimSpace(stringField(p, k)); s != "" {
				body[k] = s
			}
		}
		if len(body) == 0 {
			return named{}, errors.New("nobody to assign to: agent, email and department are all missing or rendered empty; set one of them")
		}
		return named{method: http.MethodPatch, path: base + "/owner", body: body, hasBody: true}, nil
	case TypeChatUnassign:
		return named{method: http.MethodDelete, path: base + "/owner"}, nil
	case TypeChatResolve:
		return named{method: http.MethodPatch, path: base + "/status", body: map[string]any{"status": "resolved"}, hasBody: true}, nil
	case TypeChatNote:
		text := stringField(p, "message")
		if strings.TrimSpace(text) == "" {
			return named{}, errors.New("message is missing or rendered empty; a note needs text")
		}
		body := map[string]any{"message": text}
		if q := strings.TrimSpace(stringField(p, "quote")); q != "" {
			body["quote"] = q
		}
		return named{method: http.MethodPost, path: base + "/notes", body: body, hasBody: true}, nil
	}
	return named{}, fmt.Errorf("action type %q is not a chat action", typ)
}

// labelRequest is PATCH .../labels with the labels as a bare JSON list:
// ?upsert=true adds them, ?remove=true removes them, no query replaces
// the chat's labels with them.
func labelRequest(base string, p map[string]any) (named, error) {
	mode := strings.TrimSpace(stringField(p, "mode"))
	if mode == "" {
		mode = LabelAdd
	}
	q := url.Values{}
	switch mode {
	case LabelAdd:
		q.Set("upsert", "true")
	case LabelRemove:
		q.Set("remove", "true")
	case LabelReplace:
	default:
		return named{}, fmt.Errorf("mode %q is not add, remove or replace", mode)
	}
	labels, err := stringList(p["labels"], "labels")
	if err != nil {
		return named{}, err
	}
	if len(labels) == 0 && mode != LabelReplace {
		return named{}, fmt.Errorf("labels is missing or rendered empty; nothing to %s", mode)
	}
	return named{method: http.MethodPatch, path: base + "/labels", query: q, body: labels, hasBody: true}, nil
}

// messageDeleteRequest is DELETE /chat/{device}/messages/{id}, with
// ?revoke=true (the default) to delete it for everyone.
func messageDeleteRequest(p map[string]any) (named, error) {
	dev, id, err := deviceAnd(p, "id", messageIDRe, "the WhatsApp message id (e.g. {{ data.id }})")
	if err != nil {
		return named{}, err
	}
	revoke, err := boolField(p, "revoke", true)
	if err != nil {
		return named{}, err
	}
	force, err := boolField(p, "force", false)
	if err != nil {
		return named{}, err
	}
	q := url.Values{}
	if revoke {
		q.Set("revoke", "true")
	}
	if force {
		q.Set("force", "true")
	}
	return named{method: http.MethodDelete, path: "/chat/" + dev + "/messages/" + url.PathEscape(id), query: q}, nil
}

// stringField returns the string field k, or "" when it is absent or
// not a string.
func stringField(p map[string]any, k string) string {
	s, _ := p[k].(string)
	return s
}

// stringList reads a list-of-strings field, dropping entries that
// rendered empty.
func stringList(v any, name string) ([]string, error) {
	var raw []any
	switch x := v.(type) {
	case nil:
	case []any:
		raw = x
	case []string:
		for _, s := range x {
			raw = append(raw, s)
		}
	case string:
		raw = []any{x}
	default:
		return nil, fmt.Errorf("%s must be a string or a list of strings, got %T", name, v)
	}
	out := make([]string, 0, len(raw))
	for i, e := range raw {
		s, ok := e.(string)
		if !ok {
			return nil, fmt.Errorf("%s[%d] must be a string, got %T", name, i, e)
		}
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out, nil
}
