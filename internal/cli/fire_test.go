package cli_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/mail"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/hookd/hookd/engine"
	"github.com/hookd/hookd/event"
	"github.com/hookd/hookd/internal/cli"
	"github.com/hookd/hookd/internal/standin"
	"github.com/hookd/hookd/internal/standin/slackd"
	"github.com/hookd/hookd/internal/standin/smtpd"
)

// Sentinel secrets of the fire tests. Every one holds "sentinel", and no
// output of `hookd fire` may contain that word: not on success, not on
// failure, not when a target echoes a secret back.
const (
	fireWassengerToken = "sentinel-wassenger-token-7f3a"
	fireSlackBotToken  = "xoxb-sentinel-bot-token-91c2"
	fireSlackHookPath  = "sentinelhooksecret5d20"
	fireSMTPPassword   = "sentinel-smtp-password-44e1"
	fireCRMToken       = "sentinel-crm-token-0b9d"
	fireCRMKey         = "sentinel-crm-key-e6a1"
	fireSentinel       = "sentinel"
)

// fireEvent is a group:update "add" event, as Wassenger sends it.
const fireEvent = `{
  "id": "3EB0F12E5A7C9D1B3E4F",
  "object": "message",
  "event": "group:update",
  "action": "add",
  "created": 1721659753,
  "description": "Group participant(s) added",
  "author": "+34611111111",
  "participants": ["+1234567890", "+1987654321"],
  "device": {"id": "61b37a069cba0c15d6c89757", "phone": "+34911234567", "alias": "Ventas ES", "plan": "io-enterprise", "version": 1},
  "data": {
    "id": "3EB010C3B0DD9BF3028C",
    "type": "text",
    "flow": "inbound",
    "body": "Participants added",
    "chat": {"id": "120363098765432101@g.us", "name": "Ventas 🇪🇸 Madrid", "type": "group"}
  }
}
`

// fireRules has one rule per action type, each pointing at a stand-in
// through ${HOOKD_FIRE_*} variables, a rule without actions, and two
// rules that do not match fireEvent (one by its condition, one by its
// event name).
const fireRules = `version: 1
connections:
  wassenger:
    token: ${HOOKD_FIRE_WASSENGER_TOKEN}
    base_url: ${HOOKD_FIRE_WASSENGER_URL}
  slack:
    webhook_url: ${HOOKD_FIRE_SLACK_WEBHOOK_URL}
    token: ${HOOKD_FIRE_SLACK_TOKEN}
    api_url: ${HOOKD_FIRE_SLACK_API_URL}
  email:
    host: 127.0.0.1
    port: ${HOOKD_FIRE_SMTP_PORT}
    tls: none
    username: bot@example.com
    password: ${HOOKD_FIRE_SMTP_PASSWORD}
    from: "Group bot <bot@example.com>"
rules:
  - name: welcome
    on: group:update
    if: action == "add"
    do:
      - wassenger.message:
          group: "{{ data.chat.id }}"
          message: "Welcome {{ join(participants, ', ') }} to {{ data.chat.name }}!"
  - name: approve
    on: group:update
    do:
      - wassenger.request:
          method: POST
          path: "/devices/{{ device.id }}/groups/{{ data.chat.id }}/members"
          body:
            phones: "{{ participants }}"
  - name: notify-webhook
    on: group:update
    do:
      - slack:
          text: "{{ author }} added {{ len(participants) }} people to {{ data.chat.name }}"
          blocks:
            - type: section
              text:
                type: mrkdwn
                text: "*{{ data.chat.name }}*: {{ join(participants, ', ') }}"
  - name: notify-channel
    on: group:update
    do:
      - slack:
          channel: C0HOOKDOPS
          text: "{{ author }} added {{ len(participants) }} people to {{ data.chat.name }}"
  - name: mail-ops
    on: group:update
    do:
      - email:
          to: ["ops@example.com"]
          cc: ["Grupos <groups@example.com>"]
          subject: "Nuevos miembros en {{ data.chat.name }} ✅"
          body: "{{ author }} añadió a {{ join(participants, ', ') }}."
  - name: crm
    on: group:update
    do:
      - webhook:
          url: ${HOOKD_FIRE_CRM_BASE}/hooks/whatsapp?key=${HOOKD_FIRE_CRM_KEY}
          method: PUT
          headers:
            Authorization: "Bearer ${HOOKD_FIRE_CRM_TOKEN}"
            X-Group: "{{ data.chat.id }}"
          body:
            group: "{{ data.chat.name }}"
            participants: "{{ participants }}"
  - name: audit
    on: group:update
    do:
      - log:
          level: warn
          message: "{{ author }} added {{ len(participants) }} to {{ data.chat.name }}"
          fields:
            group: "{{ data.chat.id }}"
  - name: removals
    on: group:update
    if: action == "remove"
    do:
      - webhook:
          url: ${HOOKD_FIRE_CRM_BASE}/hooks/removals
          body:
            group: "{{ data.chat.id }}"
            removed: "{{ participants }}"
  - name: quiet
    on: group:update
    stop: true
  - name: on-message
    on: message:in:new
    do:
      - log:
          message: "message {{ data.id }} in {{ data.chat.id }}"
`

// fireTargets are the stand-ins one test fires at, and the files it
// fires from.
type fireTargets struct {
	rules, event string
	wassenger    *standin.Wassenger
	slack        *slackd.Server
	smtp         *smtpd.Server
	crm          *standin.Recorder
}

// startFireTargets starts every stand-in on 127.0.0.1, points the
// ${HOOKD_FIRE_*} variables of fireRules at them (as hookd demo does),
// and writes fireRules and fireEvent to a temporary folder.
func startFireTargets(t *testing.T) *fireTargets {
	t.Helper()
	sm, err := smtpd.Start(smtpd.Options{Username: "bot@example.com", Password: fireSMTPPassword})
	if err != nil {
		t.Fatal(err)
	}
	tg := &fireTargets{
		wassenger: standin.NewWassenger(fireWassengerToken),
		slack: slackd.New(slackd.Options{
			Token: fireSlackBotToken, WebhookSecret: fireSlackHookPath, Channels: []string{"C0HOOKDOPS"},
		}),
		smtp: sm,
		crm:  standin.NewRecorder(),
	}
	t.Cleanup(func() {
		tg.wassenger.Close()
		tg.slack.Close()
		tg.crm.Close()
		if err := tg.smtp.Close(); err != nil {
			t.Error(err)
		}
	})
	for k, v := range map[string]string{
		"HOOKD_FIRE_WASSENGER_TOKEN":   fireWassengerToken,
		"HOOKD_FIRE_WASSENGER_URL":     tg.wassenger.BaseURL(),
		"HOOKD_FIRE_SLACK_WEBHOOK_URL": tg.slack.WebhookURL(),
		"HOOKD_FIRE_SLACK_TOKEN":       fireSlackBotToken,
		"HOOKD_FIRE_SLACK_API_URL":     tg.slack.APIURL(),
		"HOOKD_FIRE_SMTP_PORT":         strconv.Itoa(sm.Port()),
		"HOOKD_FIRE_SMTP_PASSWORD":     fireSMTPPassword,
		"HOOKD_FIRE_CRM_BASE":          tg.crm.URL(),
		"HOOKD_FIRE_CRM_KEY":           fireCRMKey,
		"HOOKD_FIRE_CRM_TOKEN":         fireCRMToken,
	} {
		t.Setenv(k, v)
	}
	dir := t.TempDir()
	tg.rules = filepath.Join(dir, "rules.yaml")
	tg.event = filepath.Join(dir, "event.json")
	if err := os.WriteFile(tg.rules, []byte(fireRules), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tg.event, []byte(fireEvent), 0o644); err != nil {
		t.Fatal(err)
	}
	return tg
}

// attempts counts what reached any stand-in: HTTP requests, SMTP
// transactions and refused logins.
func (tg *fireTargets) attempts() int {
	return tg.wassenger.Count() + tg.slack.Count() + tg.crm.Count() + tg.smtp.Transactions() + tg.smtp.AuthFailures()
}

// fire runs `hookd fire --rules R --rule RULE [extra...] EVENT` in
// process and fails the test if any sentinel secret shows in its output.
func (tg *fireTargets) fire(t *testing.T, rule string, extra ...string) (int, string, string) {
	t.Helper()
	args := append([]string{"fire", "--rules", tg.rules, "--rule", rule}, extra...)
	args = append(args, tg.event)
	var stdout, stderr bytes.Buffer
	code := cli.Run(args, cli.Streams{Stdout: &stdout, Stderr: &stderr})
	t.Logf("hookd %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args[:5], " "), code, stdout.String(), stderr.String())
	for name, out := range map[string]string{"stdout": stdout.String(), "stderr": stderr.String()} {
		if strings.Contains(out, fireSentinel) {
			t.Errorf("hookd %s: a secret shows on %s:\n%s", strings.Join(args, " "), name, out)
		}
	}
	return code, stdout.String(), stderr.String()
}

// fireReference is the idempotency reference of a rule's first action on
// fireEvent.
func fireReference(rule string) string {
	evs, err := event.Parse([]byte(fireEvent))
	if err != nil {
		panic(err) // fireEvent is a literal of this file
	}
	return engine.Reference(evs[0].Key, rule, 0)
}

// jsonBody decodes a recorded JSON body.
func jsonBody(t *testing.T, body []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("body is not JSON (%v): %s", err, body)
	}
	return v
}

// oneRequest returns the only request a stand-in received.
func oneRequest(t *testing.T, what string, reqs []standin.Request) standin.Request {
	t.Helper()
	if len(reqs) != 1 {
		t.Fatalf("%s received %d requests, want 1: %+v", what, len(reqs), reqs)
	}
	return reqs[0]
}

// checkHeaders compares the named headers of a request with want.
func checkHeaders(t *testing.T, r standin.Request, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got := r.Header.Get(k); got != v {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
}

var (
	fireParticipants = []any{"+1234567890", "+1987654321"}
	fireGroup        = "120363098765432101@g.us"
	fireSlackText    = "+34611111111 added 2 people to Ventas 🇪🇸 Madrid"
)

// TestFireEachActionType fires each rule of fireRules at its stand-in and
// checks the "ok" line, the target's answer, and the exact request the
// target received.
func TestFireEachActionType(t *testing.T) {
	tests := []struct {
		rule, typ string
		// answer matches what fire prints after "ok    rule/type[0] (took): ".
		answer string
		// attempts is how many requests or SMTP transactions reach the
		// stand-ins.
		attempts int
		check    func(t *testing.T, tg *fireTargets, stdout string)
	}{
		{
			rule: "welcome", typ: "wassenger.message",
			answer: `201 Created \{"id":"[0-9A-F]{20}","status":"queued"\}`, attempts: 1,
			check: func(t *testing.T, tg *fireTargets, _ string) {
				r := oneRequest(t, "Wassenger", tg.wassenger.Requests())
				if r.Method != http.MethodPost || r.Path != "/v1/messages" || len(r.Query) != 0 {
					t.Errorf("request %s %s?%s, want POST /v1/messages", r.Method, r.Path, r.Query.Encode())
				}
				checkHeaders(t, r, map[string]string{"Token": fireWassengerToken, "Content-Type": "application/json", "Authorization": ""})
				want := map[string]any{
					"group":     fireGroup,
					"message":   "Welcome +1234567890, +1987654321 to Ventas 🇪🇸 Madrid!",
					"reference": fireReference("welcome"),
				}
				if got := jsonBody(t, r.Body); !reflect.DeepEqual(got, want) {
					t.Errorf("body %v, want %v", got, want)
				}
				if refs := tg.wassenger.References(); len(refs) != 1 || refs[fireReference("welcome")] != 1 {
					t.Errorf("Wassenger accepted messages by reference %v, want one with %s", refs, fireReference("welcome"))
				}
			},
		},
		{
			rule: "approve", typ: "wassenger.request",
			answer: `200 OK`, attempts: 1,
			check: func(t *testing.T, tg *fireTargets, _ string) {
				r := oneRequest(t, "Wassenger", tg.wassenger.Requests())
				path := "/v1/devices/61b37a069cba0c15d6c89757/groups/" + fireGroup + "/members"
				if r.Method != http.MethodPost || r.Path != path {
					t.Errorf("request %s %s, want POST %s", r.Method, r.Path, path)
				}
				checkHeaders(t, r, map[string]string{"Token": fireWassengerToken, "Content-Type": "application/json"})
				want := map[string]any{"phones": fireParticipants}
				if got := jsonBody(t, r.Body); !reflect.DeepEqual(got, want) {
					t.Errorf("body %v, want %v", got, want)
				}
			},
		},
		{
			rule: "notify-webhook", typ: "slack",
			answer: `200 OK ok`, attempts: 1,
			check: func(t *testing.T, tg *fireTargets, _ string) {
				r := oneRequest(t, "Slack", tg.slack.Requests())
				if r.Method != http.MethodPost || r.Path != slackd.WebhookPathPrefix+fireSlackHookPath {
					t.Errorf("request %s %s, want POST to the incoming webhook", r.Method, r.Path)
				}
				checkHeaders(t, r, map[string]string{"Content-Type": "application/json", "Authorization": ""})
				want := map[string]any{
					"text": fireSlackText,
					"blocks": []any{map[string]any{"type": "section", "text": map[string]any{
						"type": "mrkdwn", "text": "*Ventas 🇪🇸 Madrid*: +1234567890, +1987654321",
					}}},
				}
				if got := jsonBody(t, r.Body); !reflect.DeepEqual(got, want) {
					t.Errorf("body %v, want %v", got, want)
				}
				if posts := tg.slack.Posts(); len(posts) != 1 || posts[0].Via != "webhook" {
					t.Errorf("Slack accepted %+v, want one webhook post", posts)
				}
			},
		},
		{
			rule: "notify-channel", typ: "slack",
			answer: `200 OK ok channel=C0HOOKDOPS ts=1700000000\.000001`, attempts: 1,
			check: func(t *testing.T, tg *fireTargets, _ string) {
				r := oneRequest(t, "Slack", tg.slack.Requests())
				if r.Method != http.MethodPost || r.Path != "/api/chat.postMessage" {
					t.Errorf("request %s %s, want POST /api/chat.postMessage", r.Method, r.Path)
				}
				checkHeaders(t, r, map[string]string{
					"Authorization": "Bearer " + fireSlackBotToken,
					"Content-Type":  "application/json; charset=utf-8",
				})
				want := map[string]any{"channel": "C0HOOKDOPS", "text": fireSlackText}
				if got := jsonBody(t, r.Body); !reflect.DeepEqual(got, want) {
					t.Errorf("body %v, want %v", got, want)
				}
				if posts := tg.slack.Posts(); len(posts) != 1 || posts[0].Via != "chat.postMessage" || posts[0].Channel != "C0HOOKDOPS" {
					t.Errorf("Slack accepted %+v, want one chat.postMessage to C0HOOKDOPS", posts)
				}
			},
		},
		{
			rule: "mail-ops", typ: "email",
			answer: `250 .+`, attempts: 1,
			check: func(t *testing.T, tg *fireTargets, _ string) {
				msgs := tg.smtp.Messages()
				if len(msgs) != 1 {
					t.Fatalf("SMTP accepted %d messages, want 1", len(msgs))
				}
				m := msgs[0]
				if m.ParseErr != nil {
					t.Fatalf("message does not parse: %v\n%s", m.ParseErr, m.Raw)
				}
				if m.MailFrom != "bot@example.com" {
					t.Errorf("MAIL FROM %q, want bot@example.com", m.MailFrom)
				}
				if want := []string{"ops@example.com", "groups@example.com"}; !reflect.DeepEqual(m.RcptTo, want) {
					t.Errorf("RCPT TO %v, want %v", m.RcptTo, want)
				}
				if m.Auth != (smtpd.Auth{Mechanism: "PLAIN", Username: "bot@example.com"}) {
					t.Errorf("AUTH %+v, want PLAIN as bot@example.com", m.Auth)
				}
				if want := "Nuevos miembros en Ventas 🇪🇸 Madrid ✅"; m.Subject != want {
					t.Errorf("Subject %q, want %q", m.Subject, want)
				}
				if raw := m.Header.Get("Subject"); !strings.HasPrefix(raw, "=?UTF-8?") {
					t.Errorf("raw Subject %q, want RFC 2047 encoded words", raw)
				}
				if want := "+34611111111 añadió a +1234567890, +1987654321."; strings.TrimRight(m.Text, "\n") != want {
					t.Errorf("body %q, want %q", m.Text, want)
				}
				for header, want := range map[string]string{
					"From": "bot@example.com", "To": "ops@example.com", "Cc": "groups@example.com",
				} {
					a, err := mail.ParseAddress(m.HeaderDecoded(header))
					if err != nil || a.Address != want {
						t.Errorf("%s: %q, want %s", header, m.HeaderDecoded(header), want)
					}
				}
				if got := m.Header.Get("X-Hookd-Reference"); got != fireReference("mail-ops") {
					t.Errorf("X-Hookd-Reference %q, want %q", got, fireReference("mail-ops"))
				}
				if id := m.Header.Get("Message-Id"); !regexp.MustCompile(`^<hookd\.[0-9a-f]{32}@example\.com>$`).MatchString(id) {
					t.Errorf("Message-ID %q, want one derived from the reference", id)
				}
			},
		},
		{
			rule: "crm", typ: "webhook",
			answer: `202 Accepted \{"received":true\}`, attempts: 1,
			check: func(t *testing.T, tg *fireTargets, _ string) {
				r := oneRequest(t, "CRM", tg.crm.Requests())
				if r.Method != http.MethodPut || r.Path != "/hooks/whatsapp" || r.Query.Get("key") != fireCRMKey {
					t.Errorf("request %s %s?%s, want PUT /hooks/whatsapp with the key", r.Method, r.Path, r.Query.Encode())
				}
				checkHeaders(t, r, map[string]string{
					"Authorization": "Bearer " + fireCRMToken, "X-Group": fireGroup,
					"Content-Type": "application/json", "User-Agent": "hookd",
				})
				want := map[string]any{"group": "Ventas 🇪🇸 Madrid", "participants": fireParticipants}
				if got := jsonBody(t, r.Body); !reflect.DeepEqual(got, want) {
					t.Errorf("body %v, want %v", got, want)
				}
			},
		},
		{
			rule: "audit", typ: "log",
			answer: `logged`, attempts: 0,
			check: func(t *testing.T, _ *fireTargets, stdout string) {
				for _, want := range []string{
					`level=WARN msg="+34611111111 added 2 to Ventas 🇪🇸 Madrid" action=audit/log[0]`,
					" reference=" + fireReference("audit") + " fields.group=" + fireGroup + "\n",
				} {
					if !strings.Contains(stdout, want) {
						t.Errorf("stdout:\n%s\nwant the log line to contain %q", stdout, want)
					}
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.rule, func(t *testing.T) {
			tg := startFireTargets(t)
			tg.crm.Respond(http.StatusAccepted, http.Header{"Content-Type": {"application/json"}}, `{"received":true}`)
			code, stdout, stderr := tg.fire(t, tt.rule)
			if code != 0 || stderr != "" {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
			}
			line := regexp.MustCompile(`(?m)^ok    ` + regexp.QuoteMeta(tt.rule+"/"+tt.typ+"[0]") + ` \([^)\n]+\): ` + tt.answer + `$`)
			if !line.MatchString(stdout) {
				t.Errorf("stdout:\n%s\nwant a line matching %s", stdout, line)
			}
			if strings.Contains(stdout, "FAIL") {
				t.Errorf("stdout reports a failure:\n%s", stdout)
			}
			if n := tg.attempts(); n != tt.attempts {
				t.Errorf("the stand-ins saw %d requests, want %d", n, tt.attempts)
			}
			tt.check(t, tg, stdout)
		})
	}
}

// TestFireFailures programs the stand-ins to fail and checks that fire
// exits 1, names the action, shows the target's answer without secrets,
// and says what the daemon would do about it.
func TestFireFailures(t *testing.T) {
	tests := []struct {
		name, rule string
		setup      func(t *testing.T, tg *fireTargets)
		want       []string
		// attempts is how many requests or SMTP transactions reach the
		// stand-ins: fire sends once, never retries.
		attempts int
	}{
		{
			name: "wassenger 429 with Retry-After", rule: "welcome",
			setup: func(_ *testing.T, tg *fireTargets) {
				tg.wassenger.FailNext(1, http.StatusTooManyRequests, http.Header{"Retry-After": {"2"}},
					`{"status":429,"message":"Too many requests - Try again later"}`)
			},
			want: []string{
				"FAIL  welcome/wassenger.message[0] (",
				"wassenger: POST /messages: 429 Too Many Requests: Too many requests - Try again later",
				"\n      temporary: the daemon would retry after 2s (http_429)\n",
			},
			attempts: 1,
		},
		{
			name: "wassenger 404", rule: "approve",
			setup: func(_ *testing.T, tg *fireTargets) {
				tg.wassenger.FailNext(1, http.StatusNotFound, nil,
					`{"status":404,"message":"Group not found","errorCode":"error:not_found"}`)
			},
			want: []string{
				"FAIL  approve/wassenger.request[0] (",
				"404 Not Found: Group not found (errorCode error:not_found); check the path and the ids in it",
				"\n      permanent: the daemon would dead-letter it (http_4xx)\n",
			},
			attempts: 1,
		},
		{
			name: "wassenger 401 echoing the token", rule: "welcome",
			setup: func(_ *testing.T, tg *fireTargets) {
				tg.wassenger.FailNext(1, http.StatusUnauthorized, nil,
					`{"status":401,"message":"Invalid API key `+fireWassengerToken+`"}`)
			},
			want: []string{
				"FAIL  welcome/wassenger.message[0] (",
				"401 Unauthorized: Invalid API key <secret>; check connections.wassenger.token",
				"permanent: the daemon would dead-letter it (http_4xx)",
			},
			attempts: 1,
		},
		{
			name: "wassenger unreachable", rule: "welcome",
			setup: func(_ *testing.T, tg *fireTargets) { tg.wassenger.Close() },
			want: []string{
				"FAIL  welcome/wassenger.message[0] (",
				"could not reach the target; retryable",
				"temporary: the daemon would retry (network)",
			},
			attempts: 0,
		},
		{
			name: "slack webhook revoked", rule: "notify-webhook",
			setup: func(t *testing.T, tg *fireTargets) {
				t.Setenv("HOOKD_FIRE_SLACK_WEBHOOK_URL", tg.slack.URL()+slackd.WebhookPathPrefix+"sentinelrevokedhook")
			},
			want: []string{
				"FAIL  notify-webhook/slack[0] (",
				"/services/<secret>: 404 Not Found: no_service; the webhook was revoked or disabled",
				"permanent: the daemon would dead-letter it (http_4xx)",
			},
			attempts: 1,
		},
		{
			name: "slack invalid_auth", rule: "notify-channel",
			setup: func(t *testing.T, _ *fireTargets) {
				t.Setenv("HOOKD_FIRE_SLACK_TOKEN", "xoxb-sentinel-revoked-token")
			},
			want: []string{
				"FAIL  notify-channel/slack[0] (",
				"/api/chat.postMessage: channel C0HOOKDOPS: invalid_auth; the bot token was refused",
				"permanent: the daemon would dead-letter it (slack_error)",
			},
			attempts: 1,
		},
		{
			name: "slack 429 with Retry-After", rule: "notify-channel",
			setup: func(_ *testing.T, tg *fireTargets) { tg.slack.RateLimitNext(1, "2") },
			want: []string{
				"FAIL  notify-channel/slack[0] (",
				"429 Too Many Requests",
				"temporary: the daemon would retry after 2s (http_429)",
			},
			attempts: 1,
		},
		{
			name: "smtp 451", rule: "mail-ops",
			setup: func(_ *testing.T, tg *fireTargets) { tg.smtp.FailNext(1, 451, "Try again later") },
			want: []string{
				"FAIL  mail-ops/email[0] (",
				"temporary SMTP failure",
				"temporary: the daemon would retry (smtp_temporary)",
			},
			attempts: 1,
		},
		{
			name: "smtp 550 at RCPT", rule: "mail-ops",
			setup: func(_ *testing.T, tg *fireTargets) {
				tg.smtp.FailNextAt(smtpd.StageRcpt, 1, 550, "No such user here")
			},
			want: []string{
				"FAIL  mail-ops/email[0] (",
				"permanent SMTP failure",
				"the server refused the sender or a recipient",
				"permanent: the daemon would dead-letter it (smtp_permanent)",
			},
			attempts: 1,
		},
		{
			name: "smtp wrong password", rule: "mail-ops",
			setup: func(t *testing.T, _ *fireTargets) {
				t.Setenv("HOOKD_FIRE_SMTP_PASSWORD", "sentinel-wrong-password")
			},
			want: []string{
				"FAIL  mail-ops/email[0] (",
				`the server refused the credentials: check connections.email.username ("bot@example.com") and password`,
				"permanent: the daemon would dead-letter it (smtp_permanent)",
			},
			attempts: 1,
		},
		{
			name: "slack webhook echoing its secret", rule: "notify-webhook",
			setup: func(_ *testing.T, tg *fireTargets) {
				tg.slack.FailNext(1, http.StatusNotFound, nil, "no_service for "+fireSlackHookPath)
			},
			want: []string{
				"FAIL  notify-webhook/slack[0] (",
				"404 Not Found: no_service for <secret>",
			},
			attempts: 1,
		},
		{
			name: "smtp echoing the password", rule: "mail-ops",
			setup: func(_ *testing.T, tg *fireTargets) {
				tg.smtp.FailNext(1, 554, "authentication failed for "+fireSMTPPassword)
			},
			want: []string{
				"FAIL  mail-ops/email[0] (",
				"authentication failed for <secret>",
			},
			attempts: 1,
		},
		{
			name: "smtp echoing AUTH PLAIN", rule: "mail-ops",
			setup: func(_ *testing.T, tg *fireTargets) {
				tg.smtp.FailNext(1, 554, "bad AUTH PLAIN "+base64.StdEncoding.EncodeToString([]byte("\x00bot@example.com\x00"+fireSMTPPassword)))
			},
			want: []string{
				"FAIL  mail-ops/email[0] (",
				"bad AUTH PLAIN <secret>",
			},
			attempts: 1,
		},
		{
			name: "webhook 503", rule: "crm",
			setup: func(_ *testing.T, tg *fireTargets) {
				tg.crm.FailNext(1, http.StatusServiceUnavailable, nil, "down for maintenance")
			},
			want: []string{
				"FAIL  crm/webhook[0] (",
				"webhook: PUT http://127.0.0.1:",
				"/hooks/whatsapp?key=<secret>: 503 Service Unavailable: down for maintenance",
				"\n      temporary: the daemon would retry (http_5xx)\n",
			},
			attempts: 1,
		},
		{
			name: "webhook 401 echoing the credentials", rule: "crm",
			setup: func(_ *testing.T, tg *fireTargets) {
				tg.crm.FailNext(1, http.StatusUnauthorized, nil,
					"bad credentials: Bearer "+fireCRMToken+" with key "+fireCRMKey)
			},
			want: []string{
				"FAIL  crm/webhook[0] (",
				"401 Unauthorized: bad credentials: <secret> with key <secret>",
				"permanent: the daemon would dead-letter it (http_4xx)",
			},
			attempts: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tg := startFireTargets(t)
			tt.setup(t, tg)
			code, stdout, stderr := tg.fire(t, tt.rule)
			if code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			for _, want := range tt.want {
				if !strings.Contains(stdout, want) {
					t.Errorf("stdout:\n%s\nwant it to contain %q", stdout, want)
				}
			}
			if strings.Contains(stdout, "ok    ") {
				t.Errorf("stdout reports a success:\n%s", stdout)
			}
			if stderr != "" {
				t.Errorf("stderr: %s", stderr)
			}
			if n := tg.attempts(); n != tt.attempts {
				t.Errorf("the stand-ins saw %d attempts, want %d (fire sends once)", n, tt.attempts)
			}
		})
	}
}

// TestFireRefusals checks what fire does when the rule does not match the
// event, when the rule does not exist, and when a secret is not set: it
// sends nothing and says what to do.
func TestFireRefusals(t *testing.T) {
	tests := []struct {
		name, rule string
		setup      func(t *testing.T)
		stderr     []string
	}{
		{
			name: "condition false", rule: "removals",
			stderr: []string{`hookd fire: the condition of "removals" is false for this event; pass --force to send anyway` + "\n"},
		},
		{
			name: "other event", rule: "on-message",
			stderr: []string{`hookd fire: rule "on-message" listens to [message:in:new], not group:update; pass --force to send anyway` + "\n"},
		},
		{
			name: "unknown rule", rule: "welcom",
			stderr: []string{`hookd fire: no rule named "welcom" (did you mean "welcome"?)` + "\n"},
		},
		{
			name: "unset secret", rule: "welcome",
			setup: func(t *testing.T) {
				if err := os.Unsetenv("HOOKD_FIRE_SMTP_PASSWORD"); err != nil {
					t.Fatal(err)
				}
			},
			stderr: []string{
				"rules.yaml:",
				"environment variable HOOKD_FIRE_SMTP_PASSWORD is not set",
				"fire sends for real, so every ${ENV} secret must be set\n",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tg := startFireTargets(t)
			if tt.setup != nil {
				tt.setup(t)
			}
			code, stdout, stderr := tg.fire(t, tt.rule)
			if code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			for _, want := range tt.stderr {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr:\n%s\nwant it to contain %q", stderr, want)
				}
			}
			if stdout != "" {
				t.Errorf("stdout: %s", stdout)
			}
			if n := tg.attempts(); n != 0 {
				t.Errorf("the stand-ins saw %d requests, want none", n)
			}
		})
	}
}

// TestFireNoActions fires a rule that has no actions: nothing is sent,
// and fire says so.
func TestFireNoActions(t *testing.T) {
	tg := startFireTargets(t)
	code, stdout, stderr := tg.fire(t, "quiet")
	if code != 0 || stderr != "" {
		t.Errorf("exit %d, stderr: %s", code, stderr)
	}
	if want := "rule \"quiet\" has no actions: nothing sent\n"; stdout != want {
		t.Errorf("stdout %q, want %q", stdout, want)
	}
	if n := tg.attempts(); n != 0 {
		t.Errorf("the stand-ins saw %d requests, want none", n)
	}
}

// TestFireForce sends the actions of rules that do not match the event.
func TestFireForce(t *testing.T) {
	t.Run("condition false", func(t *testing.T) {
		tg := startFireTargets(t)
		code, stdout, stderr := tg.fire(t, "removals", "--force")
		if code != 0 || stderr != "" {
			t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
		}
		if !regexp.MustCompile(`(?m)^ok    removals/webhook\[0\] \([^)\n]+\): 200 OK ok$`).MatchString(stdout) {
			t.Errorf("stdout:\n%s\nwant an ok line for removals/webhook[0]", stdout)
		}
		r := oneRequest(t, "CRM", tg.crm.Requests())
		if r.Method != http.MethodPost || r.Path != "/hooks/removals" {
			t.Errorf("request %s %s, want POST /hooks/removals", r.Method, r.Path)
		}
		want := map[string]any{"group": fireGroup, "removed": fireParticipants}
		if got := jsonBody(t, r.Body); !reflect.DeepEqual(got, want) {
			t.Errorf("body %v, want %v", got, want)
		}
		if n := tg.attempts(); n != 1 {
			t.Errorf("the stand-ins saw %d requests, want 1", n)
		}
	})
	t.Run("other event", func(t *testing.T) {
		tg := startFireTargets(t)
		code, stdout, stderr := tg.fire(t, "on-message", "--force")
		if code != 0 || stderr != "" {
			t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
		}
		for _, want := range []string{
			`msg="message 3EB010C3B0DD9BF3028C in ` + fireGroup + `" action=on-message/log[0] reference=` + fireReference("on-message"),
			"\nok    on-message/log[0] (",
		} {
			if !strings.Contains(stdout, want) {
				t.Errorf("stdout:\n%s\nwant it to contain %q", stdout, want)
			}
		}
	})
}
