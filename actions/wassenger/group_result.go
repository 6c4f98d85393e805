package wassenger

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/hookd/hookd/actions"
	"github.com/hookd/hookd/actions/httpx"
)

// ReasonPartial is the Result reason of a participant operation that
// Wassenger accepted (2xx) while reporting that some participants failed.
// It is a permanent failure: hookd does not retry it, since a retry
// repeats the participants that succeeded and the usual per-participant
// causes (not on WhatsApp, privacy settings, no pending request) do not
// pass.
const ReasonPartial = "partial"

// participantFailure is one participant an answer reports as failed.
type participantFailure struct {
	who    string
	code   int
	detail string
}

// participantOutcome reads the per-participant results of a 2xx answer to
// a participant operation. Wassenger's reference does not publish the
// shape of these answers, so it reads leniently: a JSON list of objects,
// or an object holding one under "participants", "results", "phones" or
// "data". An entry fails when it says "success": false, has a status of
// "failed", "error" or "rejected", a numeric code or status of 400 or
// more, or an error. A 409 entry (already a participant, already an
// admin) counts as done, so a retried call that finds its work done
// succeeds. An answer it cannot read counts as success.
func participantOutcome(body []byte) (total int, failed []participantFailure) {
	var v any
	if json.Unmarshal(body, &v) != nil {
		return 0, nil
	}
	entries, _ := v.([]any)
	if m, ok := v.(map[string]any); ok {
		for _, k := range []string{"participants", "results", "phones", "data"} {
			if list, ok := m[k].([]any); ok {
				entries = list
				break
			}
		}
	}
	for _, e := range entries {
		m, ok := e.(map[string]any)
		if !ok {
			continue
		}
		total++
		if f, bad := entryFailure(m); bad {
			failed = append(failed, f)
		}
	}
	return total, failed
}

func entryFailure(m map[string]any) (participantFailure, bool) {
	f := participantFailure{who: firstString(m, "phone", "wid", "id", "participant")}
	for _, k := range []string{"code", "status"} {
		if n, ok := m[k].(float64); ok {
			f.code = int(n)
			break
		}
	}
	f.detail = firstString(m, "message", "error", "reason", "errorCode")
	if e, ok := m["error"].(map[string]any); ok && f.detail == "" {
		f.detail = firstString(e, "message", "reason", "code")
	}
	if f.code == http.StatusConflict {
		return f, false
	}
	success, said := m["success"].(bool)
	switch {
	case said && !success:
		return f, true
	case said && success:
		return f, false
	case f.code >= 400:
		return f, true
	}
	switch strings.ToLower(firstString(m, "status")) {
	case "failed", "error", "rejected":
		return f, true
	}
	switch e := m["error"].(type) {
	case nil:
		return f, false
	case bool:
		return f, e
	case string:
		return f, strings.TrimSpace(e) != ""
	default:
		return f, true
	}
}

func firstString(m map[string]any, keys ...string) string {
	for _, k := range keys {
		if s, ok := m[k].(string); ok && strings.TrimSpace(s) != "" {
			return strings.TrimSpace(s)
		}
	}
	return ""
}

// partialResult is the Result of a 2xx answer to a participant
// operation: ok, or a permanent ReasonPartial failure naming each
// participant that failed and why.
func partialResult(op string, ans *httpx.Answer) actions.Result {
	ok := ans.Success(summary(ans))
	total, failed := participantOutcome(ans.Body)
	if len(failed) == 0 {
		return ok
	}
	items := make([]string, len(failed))
	for i, f := range failed {
		why := f.detail
		if f.code != 0 {
			why = strings.TrimSpace(fmt.Sprintf("%d %s", f.code, why))
		}
		who := f.who
		if who == "" {
			who = "(unnamed)"
		}
		if why != "" {
			who += " (" + why + ")"
		}
		items[i] = who
	}
	detail := httpx.Snippet([]byte(strings.Join(items, ", ")), 2*httpx.SnippetLen)
	ok.Err = fmt.Errorf("%s: %s, but %d of %d participants failed: %s; the others are done. Not retried: fix or drop the failed ones (a number not on WhatsApp, privacy settings that need an invite, no pending request)",
		op, ans.StatusText, len(failed), total, detail)
	ok.Reason = ReasonPartial
	ok.Retryable = false
	return ok
}

// reportsParticipants reports whether answers to typ list each
// participant's outcome.
func reportsParticipants(typ string) bool {
	switch typ {
	case TypeGroupAdd, TypeGroupRemove, TypeGroupPromote, TypeGroupDemote, TypeGroupApprove, TypeGroupReject:
		return true
	}
	return false
}
