package daemon

import (
	"net/http/httptest"
	"strings"
	"testing"
)

// TestDecodeRequest: an admin API body that cannot be taken is answered
// in the request's terms, as a curl user or a script writes it: the field
// misspelt with the one meant, the field of another type with what it
// takes, broken JSON with where and what to fix; never encoding/json's
// "cannot unmarshal number into Go struct field MuteRequest.for".
func TestDecodeRequest(t *testing.T) {
	for _, tt := range []struct {
		name, body string
		into       func() any
		want       string
	}{
		{"a good mute", `{"rule": "welcome", "for": "2h", "reason": "migration"}`, mute, ""},
		{"misspelt field", `{"rule": "welcome", "fro": "2h", "reason": "x"}`, mute, `unknown field "fro" (did you mean "for"?); the fields are by, for, key, reason, rule`},
		{"unknown field", `{"rule": "welcome", "until": "2h"}`, mute, `unknown field "until"; the fields are by, for, key, reason, rule`},
		{"number for text", `{"rule": "welcome", "for": 120, "reason": "x"}`, mute, `field "for" holds a number where it takes text`},
		{"text for a list", `{"ids": "1,2"}`, bulk, `field "ids" holds text where it takes a list of whole numbers`},
		{"text in the list", `{"ids": ["1"]}`, bulk, `field "ids" holds text where it takes a whole number`},
		{"a fraction in the list", `{"ids": [1.5]}`, bulk, `field "ids" holds 1.5 where it takes a whole number`},
		{"a list for the body", `[1, 2]`, bulk, `a list where an object is expected`},
		{"broken JSON", `{"ids": [1],}`, bulk, `invalid JSON at line 1, column 13: a comma before } with no field after it: remove the trailing comma`},
		{"empty", "  ", bulk, `empty`},
		{"too big", `{"reason": "` + strings.Repeat("x", 70<<10) + `"}`, mute, `over 65536 bytes`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/api/mutes", strings.NewReader(tt.body))
			got := ""
			if err := decodeRequest(httptest.NewRecorder(), r, 64<<10, tt.into()); err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("decodeRequest(%.40q) = %q\nwant %q", tt.body, got, tt.want)
			}
		})
	}
}

func mute() any { return &MuteRequest{} }
func bulk() any { return &BulkRequest{} }

// TestCheckQuery: a query parameter an admin endpoint does not take is
// refused with the one meant, where it used to be ignored: ?limt=5
// answered 50 events, ?stat=dead every job.
func TestCheckQuery(t *testing.T) {
	for _, tt := range []struct{ url, want string }{
		{"/api/jobs?state=dead&limit=5", ""},
		{"/api/jobs?stat=dead", `unknown query parameter "stat" (did you mean "state"?); GET /api/jobs takes state, event, limit, cursor`},
		{"/api/jobs?limt=5&state=dead", `unknown query parameter "limt" (did you mean "limit"?); GET /api/jobs takes state, event, limit, cursor`},
		{"/api/jobs?page=2", `unknown query parameter "page"; GET /api/jobs takes state, event, limit, cursor`},
	} {
		got := ""
		if err := checkQuery(httptest.NewRequest("GET", tt.url, nil), "state", "event", "limit", "cursor"); err != nil {
			got = err.Error()
		}
		if got != tt.want {
			t.Errorf("checkQuery(%s) = %q\nwant %q", tt.url, got, tt.want)
		}
	}
}
