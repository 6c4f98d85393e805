package standin

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func do(t *testing.T, ctx context.Context, method, url string, header map[string]string, body string) (int, http.Header, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestRecorderFailures(t *testing.T) {
	rec := NewRecorder()
	defer rec.Close()
	ctx := ctxT(t)
	rec.FailNext(1, 429, http.Header{"Retry-After": {"2"}}, "slow down")
	rec.FailNext(1, 503, nil, "")
	statuses := []int{}
	for range 3 {
		code, h, _ := do(t, ctx, "POST", rec.URL()+"/hook?x=1", map[string]string{"X-A": "b"}, "payload")
		statuses = append(statuses, code)
		if code == 429 && h.Get("Retry-After") != "2" {
			t.Errorf("Retry-After = %q", h.Get("Retry-After"))
		}
	}
	if want := []int{429, 503, 200}; !equal(statuses, want) {
		t.Fatalf("statuses %v, want %v", statuses, want)
	}
	reqs := rec.Requests()
	if len(reqs) != 3 || rec.Count() != 3 {
		t.Fatalf("recorded %d", len(reqs))
	}
	for i, r := range reqs {
		if r.Method != "POST" || r.Path != "/hook" || r.Query.Get("x") != "1" || r.Header.Get("X-A") != "b" || string(r.Body) != "payload" {
			t.Errorf("request %d recorded as %+v", i, r)
		}
		if r.Failed != (i < 2) || r.Status != statuses[i] {
			t.Errorf("request %d: failed %v status %d", i, r.Failed, r.Status)
		}
		if i > 0 && r.Time.Before(reqs[i-1].Time) {
			t.Errorf("request %d recorded before %d", i, i-1)
		}
	}

	rec.FailAll(500, nil, "down")
	for range 2 {
		if code, _, _ := do(t, ctx, "GET", rec.URL(), nil, ""); code != 500 {
			t.Errorf("FailAll: status %d", code)
		}
	}
	rec.Heal()
	rec.Respond(202, http.Header{"X-R": {"1"}}, "accepted")
	if code, h, body := do(t, ctx, "GET", rec.URL(), nil, ""); code != 202 || body != "accepted" || h.Get("X-R") != "1" {
		t.Errorf("after Heal and Respond: %d %q", code, body)
	}
}

func TestHang(t *testing.T) {
	rec := NewRecorder()
	defer rec.Close()
	rec.HangNext(1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() {
		code, _, _ := do(t, ctx, "POST", rec.URL(), nil, "x")
		done <- code
	}()
	if err := rec.WaitCount(ctxT(t), 1); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
		t.Fatal("a held request was answered")
	default:
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("held request answered %d", code)
	}
	// The hang was consumed: the next request is answered.
	if err := rec.WaitFor(ctxT(t), func(r []Request) bool { return len(r) == 1 && r[0].Failed }); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := do(t, ctxT(t), "POST", rec.URL(), nil, "x"); code != 200 {
		t.Errorf("after the hang: %d", code)
	}

	// HangAll holds requests until Close releases them.
	rec.HangAll()
	go func() {
		code, _, _ := do(t, context.Background(), "POST", rec.URL(), nil, "x")
		done <- code
	}()
	if err := rec.WaitCount(ctxT(t), 3); err != nil {
		t.Fatal(err)
	}
	rec.Close()
	<-done
}

func TestWaitForDeadline(t *testing.T) {
	rec := NewRecorder()
	defer rec.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	err := rec.WaitCount(ctx, 1)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitCount with nothing arriving = %v", err)
	}
}

const token = "SENTINEL-TOKEN-5b1d"

func TestWassengerRoutes(t *testing.T) {
	ws := NewWassenger(token)
	defer ws.Close()
	ctx := ctxT(t)
	dev := "61b37a069cba0c15d6c89757"
	grp := "120363012345678901@g.us"
	auth := map[string]string{"Token": token, "Content-Type": "application/json"}
	tests := []struct {
		name   string
		method string
		path   string
		header map[string]string
		body   string
		status int
		code   string
	}{
		{"message to phone", "POST", "/messages", auth, `{"phone":"+1234567890","message":"Hi","reference":"r1"}`, 201, ""},
		{"message to group", "POST", "/messages", auth, `{"group":"` + grp + `","message":"Hi"}`, 201, ""},
		{"token in query", "POST", "/messages?token=" + token, map[string]string{"Content-Type": "application/json"}, `{"channel":"123@newsletter","message":"Hi"}`, 201, ""},
		{"bearer", "POST", "/messages", map[string]string{"Authorization": "Bearer " + token, "Content-Type": "application/json"}, `{"phone":"+1234567890","message":"Hi","reference":"r1"}`, 201, ""},
		{"wrong token", "POST", "/messages", map[string]string{"Token": "nope"}, `{}`, 401, "error:unauthorized"},
		{"no token", "GET", "/messages", nil, ``, 401, "error:unauthorized"},
		{"two targets", "POST", "/messages", auth, `{"phone":"+1234567890","group":"` + grp + `","message":"Hi"}`, 400, "error:invalid_target"},
		{"no target", "POST", "/messages", auth, `{"message":"Hi"}`, 400, "error:invalid_target"},
		{"bad phone", "POST", "/messages", auth, `{"phone":"call me","message":"Hi"}`, 400, "error:invalid_phone"},
		{"no content", "POST", "/messages", auth, `{"phone":"+1234567890"}`, 400, "error:missing_content"},
		{"array body", "POST", "/messages", auth, `[1]`, 400, "error:invalid_body"},
		{"broken json", "POST", "/messages", auth, `{`, 400, "error:invalid_json"},
		{"wrong content type", "POST", "/messages", map[string]string{"Token": token, "Content-Type": "text/plain"}, `{}`, 415, "error:unsupported_media_type"},
		{"add participants", "POST", "/devices/" + dev + "/groups/" + grp + "/participants", auth, `{"participants":[{"phone":"+1234567890","admin":false}]}`, 201, ""},
		{"promote", "PATCH", "/devices/" + dev + "/groups/" + grp + "/participants", auth, `{"participants":[{"phone":"+1234567890","admin":true}]}`, 200, ""},
		{"remove participants", "DELETE", "/devices/" + dev + "/groups/" + grp + "/participants", auth, `["+1234567890","1234@c.us"]`, 200, ""},
		{"remove needs an array", "DELETE", "/devices/" + dev + "/groups/" + grp + "/participants", auth, `{"participants":["+1"]}`, 400, "error:invalid_participants"},
		{"approve", "POST", "/devices/" + dev + "/groups/" + grp + "/members", auth, `{"phones":["+1234567890"]}`, 200, ""},
		{"reject all", "DELETE", "/devices/" + dev + "/groups/" + grp + "/members", auth, `{"all":true}`, 200, ""},
		{"members bad", "POST", "/devices/" + dev + "/groups/" + grp + "/members", auth, `{}`, 400, "error:invalid_phones"},
		{"group info", "GET", "/devices/" + dev + "/groups/" + grp, auth, ``, 200, ""},
		{"bad device", "GET", "/devices/xyz/groups/" + grp, auth, ``, 400, "error:invalid_path"},
		{"bad group", "GET", "/devices/" + dev + "/groups/123@c.us", auth, ``, 400, "error:invalid_path"},
		{"labels", "PATCH", "/chat/" + dev + "/chats/123@c.us/labels?upsert=true", auth, `["vip","sales"]`, 200, ""},
		{"labels object", "PATCH", "/chat/" + dev + "/chats/123@c.us/labels", auth, `{"labels":["vip"]}`, 400, "error:invalid_labels"},
		{"status", "PATCH", "/chat/" + dev + "/chats/123@c.us/status", auth, `{"status":"resolved"}`, 200, ""},
		{"bad status", "PATCH", "/chat/" + dev + "/chats/123@c.us/status", auth, `{"status":"done"}`, 400, "error:invalid_status"},
		{"assign", "PATCH", "/chat/" + dev + "/chats/123@c.us/owner", auth, `{"agent":"61b37a069cba0c15d6c89758"}`, 200, ""},
		{"unassign", "DELETE", "/chat/" + dev + "/chats/123@c.us/owner", auth, ``, 200, ""},
		{"note", "POST", "/chat/" + dev + "/chats/123@c.us/notes", auth, `{"message":"hi"}`, 201, ""},
		{"wrong method", "PUT", "/messages", auth, `{}`, 405, "error:method_not_allowed"},
		{"unknown route", "GET", "/nothing/here", auth, ``, 404, "error:not_found"},
		{"outside v1", "GET", "/../x", auth, ``, 404, "error:not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, h, body := do(t, ctx, tt.method, ws.BaseURL()+tt.path, tt.header, tt.body)
			if code != tt.status {
				t.Fatalf("status %d, want %d: %s", code, tt.status, body)
			}
			if !strings.HasPrefix(h.Get("Content-Type"), "application/json") {
				t.Errorf("Content-Type %q", h.Get("Content-Type"))
			}
			var e map[string]any
			if err := json.Unmarshal([]byte(body), &e); err != nil {
				t.Fatalf("answer is not a JSON object: %s", body)
			}
			if tt.code != "" && (e["errorCode"] != tt.code || e["status"] != float64(tt.status) || e["message"] == "") {
				t.Errorf("error body %s, want errorCode %s", body, tt.code)
			}
			if tt.code == "" && tt.status == 201 && tt.path == "/messages" && (e["status"] != "queued" || e["id"] == "") {
				t.Errorf("message answer %s, want an id and status queued", body)
			}
			if strings.Contains(body, token) {
				t.Errorf("answer echoes the token: %s", body)
			}
		})
	}
	refs := ws.References()
	if refs["r1"] != 2 || refs[""] != 2 {
		t.Errorf("References() = %v", refs)
	}
	if n := len(ws.Messages()); n != 4 {
		t.Errorf("%d accepted messages, want 4", n)
	}
	reqs := ws.Requests()
	if len(reqs) != len(tests) {
		t.Errorf("recorded %d requests, want %d", len(reqs), len(tests))
	}
}

func equal(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
