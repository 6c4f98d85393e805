package standin

import (
	"net/http"
	"regexp"
	"strings"
)

// NotOnWhatsApp is a phone number the Wassenger stand-in knows as not
// registered on WhatsApp: group participant operations report it as a
// failed participant (code 404) while the others succeed.
const NotOnWhatsApp = "+15550000000"

// messageIDRe is the shape of a WhatsApp message id in a path.
var messageIDRe = regexp.MustCompile(`^[A-Za-z0-9_@.:-]{6,128}$`)

// participantResult is the stand-in's answer for one participant of a
// group operation. Wassenger's reference does not publish this shape;
// the stand-in models an answer that reports each participant, which is
// what hookd's reader of these answers expects.
type participantResult struct {
	Phone   string `json:"phone"`
	Success bool   `json:"success"`
	Status  string `json:"status"`
	Code    int    `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
}

// participantsAnswer answers a participant operation: it checks the body
// with check, then reports each participant as done (status done) or,
// for NotOnWhatsApp, as failed.
func participantsAnswer(status int, done string, check func(any) (string, string), phones func(any) []string) func(*Wassenger, http.ResponseWriter, any) {
	return func(_ *Wassenger, w http.ResponseWriter, body any) {
		if msg, field := check(body); msg != "" {
			invalid(w, msg, field, "invalid")
			return
		}
		var out []participantResult
		for _, ph := range phones(body) {
			if strings.TrimPrefix(strings.TrimSuffix(ph, "@c.us"), "+") == strings.TrimPrefix(NotOnWhatsApp, "+") {
				out = append(out, participantResult{Phone: ph, Status: "failed", Code: http.StatusNotFound,
					Message: "Phone number is not registered on WhatsApp"})
				continue
			}
			out = append(out, participantResult{Phone: ph, Success: true, Status: done})
		}
		if out == nil {
			// {"all": true}: every pending request.
			writeJSON(w, status, map[string]any{"success": true, "all": true, "status": done})
			return
		}
		writeJSON(w, status, map[string]any{"participants": out})
	}
}

// objectPhones lists the phones of {"participants": [{"phone": ...}]}.
func objectPhones(b any) []string {
	m, _ := b.(map[string]any)
	list, _ := m["participants"].([]any)
	var out []string
	for _, p := range list {
		ph, _ := p.(string)
		if ph == "" {
			ph = str(p, "phone")
		}
		out = append(out, ph)
	}
	return out
}

// arrayPhones lists the phones of a bare JSON array.
func arrayPhones(b any) []string {
	list, _ := b.([]any)
	out := make([]string, 0, len(list))
	for _, p := range list {
		s, _ := p.(string)
		out = append(out, s)
	}
	return out
}

// memberPhones lists the phones of {"phones": [...]} (none for {"all": true}).
func memberPhones(b any) []string {
	m, _ := b.(map[string]any)
	return arrayPhones(m["phones"])
}
