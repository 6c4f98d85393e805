package standin

import (
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"

	"github.com/hookd/hookd/actions"
)

// Targets of POST /messages as Wassenger's message model describes them:
// a group or channel id may leave out its suffix; a chat is a user
// (@c.us), group, channel or linked id (@lid).
var (
	msgGroupRe   = regexp.MustCompile(`^[0-9-]+(@g\.us)?$`)
	msgChannelRe = regexp.MustCompile(`^[0-9]+(@newsletter)?$`)
	msgChatRe    = regexp.MustCompile(`^[0-9-]+@(c\.us|g\.us|newsletter|lid)$`)
)

// checkMessage validates a POST /messages body against the message model
// of actions.Lookup("wassenger.message") (fields, their types, required
// keys of nested objects), then the targets and content like Wassenger.
// It returns the error body to answer 400 with, or nil and the target.
func checkMessage(m map[string]any) (*apiError, string) {
	spec, _ := actions.Lookup("wassenger.message")
	var errs []fieldError
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		f, known := spec.Field(k)
		if !known {
			errs = append(errs, fieldError{Code: k, Reason: "unknown", Message: fmt.Sprintf("%q is not allowed", k)})
			continue
		}
		for _, p := range f.Shape.Check(m[k], k) {
			if !p.Unknown {
				errs = append(errs, fieldError{Code: k, Reason: "invalid", Message: p.String()})
			}
		}
	}
	if len(errs) > 0 {
		return &apiError{Status: http.StatusBadRequest, ErrorCode: "error:invalid_body",
			Message: "Invalid message body: " + errs[0].Message, Errors: errs}, ""
	}
	var targets []string
	for _, k := range spec.OneOf[0] {
		if str(m, k) != "" {
			targets = append(targets, k)
		}
	}
	if len(targets) != 1 {
		return &apiError{Status: http.StatusBadRequest, ErrorCode: "error:invalid_target",
			Message: fmt.Sprintf("Exactly one of %s is required (got %d)", strings.Join(spec.OneOf[0], ", "), len(targets)),
			Errors:  []fieldError{{Code: "phone", Reason: "required", Message: "one target is required"}}}, ""
	}
	target := targets[0]
	re := map[string]*regexp.Regexp{"phone": phoneRe, "group": msgGroupRe, "channel": msgChannelRe, "chat": msgChatRe}[target]
	if !re.MatchString(str(m, target)) {
		return &apiError{Status: http.StatusBadRequest, ErrorCode: "error:invalid_" + target,
			Message: map[string]string{"phone": "Invalid phone number", "group": "Invalid group ID", "channel": "Invalid channel ID", "chat": "Invalid chat ID"}[target],
			Errors:  []fieldError{{Code: target, Reason: "invalid", Message: "invalid"}}}, ""
	}
	if !hasAny(m, spec.AnyOf[0]...) {
		return &apiError{Status: http.StatusBadRequest, ErrorCode: "error:missing_content",
			Message: "Message content is required: " + strings.Join(spec.AnyOf[0], ", "),
			Errors:  []fieldError{{Code: "message", Reason: "required", Message: "content is required"}}}, ""
	}
	if _, ok := m["selectId"]; ok && str(m, "quote") == "" {
		return &apiError{Status: http.StatusBadRequest, ErrorCode: "error:invalid_selectId",
			Message: "selectId requires quote", Errors: []fieldError{{Code: "quote", Reason: "required", Message: "required with selectId"}}}, ""
	}
	if d := str(m, "device"); d != "" && !deviceRe.MatchString(d) {
		return &apiError{Status: http.StatusBadRequest, ErrorCode: "error:invalid_device",
			Message: "Invalid device ID: must be 24 hexadecimal characters",
			Errors:  []fieldError{{Code: "device", Reason: "invalid", Message: "invalid"}}}, ""
	}
	return nil, target
}
