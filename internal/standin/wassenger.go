package standin

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"sync"
)

// Wassenger stands in for the Wassenger REST API (its reference:
// https://app.wassenger.com/docs), served under /v1: it checks the API
// key, validates the documented request shapes of messages, groups and chats, and answers like the
// real API, with Wassenger's error body on failure.
type Wassenger struct {
	*Server
	token string

	mu       sync.Mutex
	refs     map[string]int
	messages []map[string]any
}

// NewWassenger starts a Wassenger stand-in on 127.0.0.1 that accepts the
// API key token (in the Token header, ?token= or Authorization: Bearer).
// Close it when done.
func NewWassenger(token string) *Wassenger {
	ws := &Wassenger{token: token, refs: map[string]int{}}
	ws.Server = NewServer(http.HandlerFunc(ws.handle))
	return ws
}

// BaseURL is the API's base URL, the server URL plus "/v1", to use as a
// connection's base_url.
func (ws *Wassenger) BaseURL() string { return ws.URL() + "/v1" }

// References returns how many messages were accepted per reference
// (messages without one are counted under "").
func (ws *Wassenger) References() map[string]int {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	out := make(map[string]int, len(ws.refs))
	for k, v := range ws.refs {
		out[k] = v
	}
	return out
}

// Messages returns the bodies of the accepted messages, in order.
func (ws *Wassenger) Messages() []map[string]any {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	out := make([]map[string]any, len(ws.messages))
	copy(out, ws.messages)
	return out
}

// apiError is Wassenger's error body.
type apiError struct {
	Status    int          `json:"status"`
	Message   string       `json:"message"`
	ErrorCode string       `json:"errorCode,omitempty"`
	Errors    []fieldError `json:"errors,omitempty"`
}

type fieldError struct {
	Code    string `json:"code"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func fail(w http.ResponseWriter, status int, code, msg string, errs ...fieldError) {
	writeJSON(w, status, apiError{Status: status, Message: msg, ErrorCode: code, Errors: errs})
}

func invalid(w http.ResponseWriter, msg, field, reason string) {
	fail(w, http.StatusBadRequest, "error:invalid_"+field, msg,
		fieldError{Code: field, Reason: reason, Message: msg})
}

func (ws *Wassenger) authorized(r *http.Request) bool {
	key := r.Header.Get("Token")
	if key == "" {
		key = r.URL.Query().Get("token")
	}
	if key == "" {
		if v, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
			key = v
		}
	}
	if ws.token == "" {
		return key != ""
	}
	return subtle.ConstantTimeCompare([]byte(key), []byte(ws.token)) == 1
}

var (
	deviceRe = regexp.MustCompile(`^[0-9a-fA-F]{24}$`)
	phoneRe  = regexp.MustCompile(`^\+?[0-9]{6,15}$`)
	groupRe  = regexp.MustCompile(`^[0-9-]+@g\.us$`)
	chatRe   = regexp.MustCompile(`^[0-9-]+@(c\.us|g\.us|newsletter|lid)$`)
)

// route is one endpoint: a path pattern with {device}, {group} and
// {chat} segments, and a handler per method.
type route struct {
	pattern string
	methods map[string]func(ws *Wassenger, w http.ResponseWriter, body any)
}

func ok200(v any) func(*Wassenger, http.ResponseWriter, any) {
	return func(_ *Wassenger, w http.ResponseWriter, _ any) { writeJSON(w, http.StatusOK, v) }
}

// check validates a body with fn and answers status with the body echoed.
func check(status int, fn func(body any) (msg, field string)) func(*Wassenger, http.ResponseWriter, any) {
	return func(_ *Wassenger, w http.ResponseWriter, body any) {
		if msg, field := fn(body); msg != "" {
			invalid(w, msg, field, "invalid")
			return
		}
		writeJSON(w, status, map[string]any{"success": true, "request": body})
	}
}

var routes = []route{
	{"/messages", map[string]func(*Wassenger, http.ResponseWriter, any){
		http.MethodPost: (*Wassenger).sendMessage,
		http.MethodGet:  ok200([]any{}),
	}},
	{"/devices/{device}/groups", map[string]func(*Wassenger, http.ResponseWriter, any){
		http.MethodGet: ok200([]any{}),
		http.MethodPut: check(http.StatusOK, func(b any) (string, string) {
			if !hasAny(b, "code", "url") {
				return "Join needs an invite code or url", "code"
			}
			return "", ""
		}),
		http.MethodDelete: check(http.StatusOK, func(b any) (string, string) {
			if !hasAny(b, "id") || !groupRe.MatchString(str(b, "id")) {
				return "Leave needs the group id (...@g.us)", "id"
			}
			return "", ""
		}),
	}},
	{"/devices/{device}/groups/{group}", map[string]func(*Wassenger, http.ResponseWriter, any){
		http.MethodGet: ok200(map[string]any{}),
		http.MethodPatch: check(http.StatusOK, func(b any) (string, string) {
			if !hasAny(b, "name", "description", "permissions", "ephemeral") {
				return "Nothing to update: give name, description, permissions or ephemeral", "body"
			}
			return "", ""
		}),
	}},
	{"/devices/{device}/groups/{group}/image", map[string]func(*Wassenger, http.ResponseWriter, any){
		http.MethodPut: check(http.StatusOK, func(b any) (string, string) {
			if !hasAny(b, "url", "image") {
				return "Image needs url or image", "image"
			}
			return "", ""
		}),
	}},
	{"/devices/{device}/groups/{group}/participants", map[string]func(*Wassenger, http.ResponseWriter, any){
		http.MethodPost:   participantsAnswer(http.StatusCreated, "added", participantsObject, objectPhones),
		http.MethodPatch:  participantsAnswer(http.StatusOK, "updated", participantsObject, objectPhones),
		http.MethodDelete: participantsAnswer(http.StatusOK, "removed", phoneArray, arrayPhones),
	}},
	{"/devices/{device}/groups/{group}/members", map[string]func(*Wassenger, http.ResponseWriter, any){
		http.MethodGet:    ok200([]any{}),
		http.MethodPost:   participantsAnswer(http.StatusOK, "approved", membersBody, memberPhones),
		http.MethodDelete: participantsAnswer(http.StatusOK, "rejected", membersBody, memberPhones),
	}},
	{"/devices/{device}/groups/{group}/invite", map[string]func(*Wassenger, http.ResponseWriter, any){
		http.MethodGet:    ok200(map[string]any{"url": "https://chat.whatsapp.com/standin"}),
		http.MethodDelete: ok200(map[string]any{"success": true}),
	}},
	{"/devices/{device}/labels", map[string]func(*Wassenger, http.ResponseWriter, any){
		http.MethodGet: ok200([]any{}),
		http.MethodPost: check(http.StatusCreated, func(b any) (string, string) {
			if n := str(b, "name"); n == "" || len([]rune(n)) > 30 {
				return "Label name must have 1 to 30 characters", "name"
			}
			return "", ""
		}),
		http.MethodPatch:  check(http.StatusOK, anyBody),
		http.MethodDelete: check(http.StatusOK, anyBody),
	}},
	{"/devices/{device}/team", map[string]func(*Wassenger, http.ResponseWriter, any){
		http.MethodGet: ok200([]any{}),
	}},
	{"/chat/{device}/chats", map[string]func(*Wassenger, http.ResponseWriter, any){
		http.MethodPatch: check(http.StatusOK, func(b any) (string, string) {
			if !hasAny(b, "action") || !hasAny(b, "chats") {
				return "Bulk update needs action and chats", "action"
			}
			return "", ""
		}),
	}},
	{"/chat/{device}/messages/{message}", map[string]func(*Wassenger, http.ResponseWriter, any){
		http.MethodDelete: ok200(map[string]any{"success": true}),
	}},
	{"/chat/{device}/chats/{chat}/participants", map[string]func(*Wassenger, http.ResponseWriter, any){
		http.MethodGet: ok200([]any{}),
	}},
	{"/chat/{device}/chats/{chat}/labels", map[string]func(*Wassenger, http.ResponseWriter, any){
		http.MethodPatch: check(http.StatusOK, func(b any) (string, string) {
			list, ok := b.([]any)
			if !ok {
				return "Labels must be a JSON array of label names", "labels"
			}
			for _, v := range list {
				if s, ok := v.(string); !ok || s == "" {
					return "Every label must be a non-empty string", "labels"
				}
			}
			return "", ""
		}),
	}},
	{"/chat/{device}/chats/{chat}/owner", map[string]func(*Wassenger, http.ResponseWriter, any){
		http.MethodPatch: check(http.StatusOK, func(b any) (string, string) {
			if !hasAny(b, "agent", "email", "department") {
				return "Assign needs agent, email or department", "agent"
			}
			return "", ""
		}),
		http.MethodDelete: ok200(map[string]any{"success": true}),
	}},
	{"/chat/{device}/chats/{chat}/status", map[string]func(*Wassenger, http.ResponseWriter, any){
		http.MethodPatch: check(http.StatusOK, func(b any) (string, string) {
			switch str(b, "status") {
			case "active", "pending", "resolved", "archived", "removed":
				return "", ""
			}
			return "Status must be active, pending, resolved, archived or removed", "status"
		}),
	}},
	{"/chat/{device}/chats/{chat}/notes", map[string]func(*Wassenger, http.ResponseWriter, any){
		http.MethodPost: check(http.StatusCreated, func(b any) (string, string) {
			if str(b, "message") == "" {
				return "Note needs a message", "message"
			}
			return "", ""
		}),
	}},
}

func (ws *Wassenger) handle(w http.ResponseWriter, r *http.Request) {
	if !ws.authorized(r) {
		fail(w, http.StatusUnauthorized, "error:unauthorized", "Invalid or missing API key")
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/v1")
	if !ok || rest == "" {
		fail(w, http.StatusNotFound, "error:not_found", "Resource not found: "+r.URL.Path)
		return
	}
	for _, rt := range routes {
		msg := matchRoute(rt.pattern, rest)
		if msg == "no" {
			continue
		}
		if msg != "" {
			fail(w, http.StatusBadRequest, "error:invalid_path", msg)
			return
		}
		h, ok := rt.methods[r.Method]
		if !ok {
			fail(w, http.StatusMethodNotAllowed, "error:method_not_allowed", "Method "+r.Method+" not allowed on "+r.URL.Path)
			return
		}
		var body any
		raw, _ := readBody(r)
		if len(bytes.TrimSpace(raw)) > 0 {
			if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				fail(w, http.StatusUnsupportedMediaType, "error:unsupported_media_type", "Content-Type must be application/json")
				return
			}
			if err := json.Unmarshal(raw, &body); err != nil {
				fail(w, http.StatusBadRequest, "error:invalid_json", "Invalid JSON body: "+err.Error())
				return
			}
		}
		h(ws, w, body)
		return
	}
	fail(w, http.StatusNotFound, "error:not_found", "Resource not found: "+r.URL.Path)
}

func readBody(r *http.Request) ([]byte, error) {
	var buf bytes.Buffer
	_, err := buf.ReadFrom(r.Body)
	return buf.Bytes(), err
}

// matchRoute returns "no" when path does not have pattern's shape, a
// message when a parameter segment is malformed, and "" on a match.
func matchRoute(pattern, path string) string {
	ps := strings.Split(strings.Trim(pattern, "/"), "/")
	xs := strings.Split(strings.Trim(path, "/"), "/")
	if len(ps) != len(xs) {
		return "no"
	}
	for i, p := range ps {
		if !strings.HasPrefix(p, "{") && p != xs[i] {
			return "no"
		}
	}
	for i, p := range ps {
		switch p {
		case "{device}":
			if !deviceRe.MatchString(xs[i]) {
				return "Invalid device ID: must be 24 hexadecimal characters"
			}
		case "{group}":
			if !groupRe.MatchString(xs[i]) {
				return "Invalid group ID: must end in @g.us"
			}
		case "{chat}":
			if !chatRe.MatchString(xs[i]) {
				return "Invalid chat ID: must end in @c.us, @g.us, @newsletter or @lid"
			}
		case "{message}":
			if !messageIDRe.MatchString(xs[i]) {
				return "Invalid message ID"
			}
		}
	}
	return ""
}

func (ws *Wassenger) sendMessage(w http.ResponseWriter, body any) {
	m, ok := body.(map[string]any)
	if !ok {
		fail(w, http.StatusBadRequest, "error:invalid_body", "Body must be a JSON object")
		return
	}
	e, target := checkMessage(m)
	if e != nil {
		writeJSON(w, e.Status, e)
		return
	}
	id := newID()
	ref := str(m, "reference")
	ws.mu.Lock()
	ws.refs[ref]++
	ws.messages = append(ws.messages, m)
	ws.mu.Unlock()
	out := map[string]any{"id": id, "status": "queued", "reference": ref, target: m[target]}
	writeJSON(w, http.StatusCreated, out)
}

func newID() string {
	b := make([]byte, 10)
	_, _ = rand.Read(b)
	return strings.ToUpper(hex.EncodeToString(b))
}

// str returns the string field k of a JSON object, or "".
func str(v any, k string) string {
	m, _ := v.(map[string]any)
	s, _ := m[k].(string)
	return s
}

// hasAny reports whether the JSON object v has one of keys with a value
// that is not null, "" or an empty list.
func hasAny(v any, keys ...string) bool {
	m, ok := v.(map[string]any)
	if !ok {
		return false
	}
	for _, k := range keys {
		switch x := m[k].(type) {
		case nil:
		case string:
			if x != "" {
				return true
			}
		case []any:
			if len(x) > 0 {
				return true
			}
		default:
			return true
		}
	}
	return false
}

func participantsObject(b any) (string, string) {
	m, ok := b.(map[string]any)
	list, _ := m["participants"].([]any)
	if !ok || len(list) == 0 {
		return `Body must be {"participants": [{"phone": "+1...", "admin": false}]}`, "participants"
	}
	for _, p := range list {
		phone, _ := p.(string)
		if phone == "" {
			phone = str(p, "phone")
		}
		if phone == "" {
			return "Every participant needs a phone", "participants"
		}
	}
	return "", ""
}

func phoneArray(b any) (string, string) {
	list, ok := b.([]any)
	if !ok || len(list) == 0 {
		return `Body must be a JSON array of phone numbers or chat ids, e.g. ["+1..."]`, "participants"
	}
	for _, p := range list {
		if s, ok := p.(string); !ok || s == "" {
			return "Every participant must be a phone number or chat id", "participants"
		}
	}
	return "", ""
}

func membersBody(b any) (string, string) {
	m, ok := b.(map[string]any)
	if all, _ := m["all"].(bool); ok && all {
		return "", ""
	}
	if list, _ := m["phones"].([]any); ok && len(list) > 0 {
		return "", ""
	}
	return `Body must be {"phones": ["+1..."]} or {"all": true}`, "phones"
}

func anyBody(any) (string, string) { return "", "" }
