package daemon

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/hookd/hookd/actions/httpx"
	"github.com/hookd/hookd/actions/secret"
	"github.com/hookd/hookd/internal/standin/slackd"
	"github.com/hookd/hookd/internal/testbackend"
	"github.com/hookd/hookd/store"
)

// Sentinel secrets: none of them may appear in any log line, error, dead
// letter or API answer.
const (
	sentWassenger = "SENTINEL-wassenger-token-7f3a"
	sentSlackURL  = "SENTINEL-slack-url-secret-9c2e"
	sentSlackBot  = "xoxb-SENTINEL-slack-bot-4d1b"
	sentSMTP      = "SENTINEL-smtp-password-2b8d"
	sentKey       = "SENTINEL-webhook-key-5e6f"
	sentHookQuery = "SENTINEL-hook-query-token-3a1c"
	sentHookAuth  = "SENTINEL-hook-bearer-8e2d"
	sentAdmin     = "SENTINEL-admin-key-6a7b"
)

var sentinels = []string{sentWassenger, sentSlackURL, sentSlackBot, sentSMTP, sentKey, sentHookQuery, sentHookAuth, sentAdmin}

// windows are the substrings of s that are n bytes long.
func windows(s string, n int) []string {
	var out []string
	for i := 0; i+n <= len(s); i++ {
		out = append(out, s[i:i+n])
	}
	return out
}

// secretRules use every secret: the Wassenger token, both Slack secrets,
// the SMTP password, and a webhook with a secret query value and header.
const secretRules = `rules:
  - name: everything
    on: group:update
    do:
      - wassenger.message:
          group: "{{ data.chat.id }}"
          message: "Hi {{ id }}"
      - email:
          to: ["ops@example.com"]
          subject: "Event {{ id }}"
          body: "{{ author }}"
      - webhook:
          url: "@HOOK@/hook?token=` + sentHookQuery + `"
          headers: {Authorization: "Bearer ` + sentHookAuth + `"}
          body: {id: "{{ id }}"}
      - slack:
          text: "Event {{ id }}"
      - slack:
          text: "Event {{ id }}"
          channel: C0123456789
`

// Secrets 21: drive successes and failures of every integration, the
// webhook key and reloads of broken files, then look for the sentinels
// everywhere the daemon writes.
func TestSentinelSecretsNeverLeak(t *testing.T) {
	t.Parallel()
	testbackend.Each(t, func(t *testing.T, backend string) {
		slack := slackd.New(slackd.Options{Token: sentSlackBot, WebhookSecret: sentSlackURL, Channels: []string{"C0123456789"}})
		t.Cleanup(slack.Close)
		slackConn := `  slack:
    webhook_url: "` + slack.WebhookURL() + `"
    token: "` + sentSlackBot + `"
    api_url: "` + slack.APIURL() + `"
`
		h := start(t, options{backend: backend,
			rules: secretRules, extraConnections: slackConn,
			waToken: sentWassenger, smtpPassword: sentSMTP, key: sentKey, adminKey: sentAdmin,
		})
		var seen []string // everything the daemon answered
		keep := func(a answer) answer { seen = append(seen, a.body); return a }
		waitDone := func(id string) {
			t.Helper()
			eventually(t, "every action of "+id+" to finish", func() bool {
				jobs := jobsOf(h.jobs(t), id)
				return len(jobs) == 5 && !anyPending(jobs)
			})
		}

		// Successes.
		keep(h.post(t, js(t, groupEvent("SEC-OK", "add"))))
		waitDone("SEC-OK")
		if refs := h.wa.References(); len(refs) != 1 {
			t.Fatalf("Wassenger accepted %v, want the message: the token was not used", refs)
		}
		if r := h.hook.Requests(); len(r) != 1 || r[0].Query.Get("token") != sentHookQuery || r[0].Header.Get("Authorization") != "Bearer "+sentHookAuth {
			t.Fatalf("the webhook did not arrive with its secrets: %+v", r)
		}
		if m := h.smtp.Messages(); len(m) != 1 || m[0].Auth.Username != "hookd" {
			t.Fatalf("the email was not sent with the password: %+v", m)
		}
		if p := slack.Posts(); len(p) != 2 {
			t.Fatalf("Slack accepted %d posts, want the webhook's and chat.postMessage's", len(p))
		}

		// Permanent failures; each target echoes the secrets it was sent.
		waEcho := "Invalid API key " + sentWassenger
		hookEcho := "bad credentials token=" + sentHookQuery + " Authorization: Bearer " + sentHookAuth
		slackEcho := "no_service " + slack.WebhookURL() + " " + sentSlackBot
		h.wa.FailNext(1, http.StatusUnauthorized, nil, `{"status":401,"message":"`+waEcho+`"}`)
		h.hook.FailNext(1, http.StatusForbidden, nil, hookEcho)
		h.smtp.FailNext(1, 535, "authentication failed for "+sentSMTP)
		slack.FailNext(2, http.StatusNotFound, nil, slackEcho)
		keep(h.post(t, js(t, groupEvent("SEC-PERM", "add"))))
		waitDone("SEC-PERM")

		// Echoes that put a secret where an error's snippet is cut (200
		// bytes of a body, 400 of Wassenger's message), and an SMTP
		// server quoting AUTH PLAIN's base64 credentials.
		atCut := func(cut int, s string) string { return strings.Repeat(".", cut-len(s)/2) + s }
		h.wa.FailNext(1, http.StatusUnauthorized, nil, `{"status":401,"message":"`+atCut(2*httpx.SnippetLen, sentWassenger)+`"}`)
		h.hook.FailNext(1, http.StatusForbidden, nil, atCut(httpx.SnippetLen, sentHookAuth))
		h.smtp.FailNext(1, 535, "bad AUTH PLAIN "+base64.StdEncoding.EncodeToString([]byte("\x00hookd\x00"+sentSMTP)))
		slack.FailNext(1, http.StatusNotFound, nil, atCut(httpx.SnippetLen, sentSlackURL))
		slack.FailNext(1, http.StatusNotFound, nil, atCut(httpx.SnippetLen, sentSlackBot))
		keep(h.post(t, js(t, groupEvent("SEC-CUT", "add"))))
		waitDone("SEC-CUT")

		// Transient failures until the last attempt.
		h.wa.FailAll(http.StatusInternalServerError, nil, `{"status":500,"message":"`+waEcho+`"}`)
		h.hook.FailAll(http.StatusBadGateway, nil, hookEcho)
		h.smtp.FailNext(4, 451, "try later "+sentSMTP)
		slack.FailAll(http.StatusInternalServerError, nil, "rollup_error "+slackEcho)
		keep(h.post(t, js(t, groupEvent("SEC-DEAD", "add"))))
		waitDone("SEC-DEAD")
		h.wa.Heal()
		h.hook.Heal()
		slack.Heal()

		// Timeouts.
		h.wa.HangNext(4)
		h.hook.HangNext(4)
		keep(h.post(t, js(t, groupEvent("SEC-HANG", "add"))))
		waitDone("SEC-HANG")

		// Refused webhooks.
		keep(h.post(t, js(t, groupEvent("SEC-401", "add")), func(r *http.Request) { r.URL.RawQuery = "" }))
		keep(h.post(t, js(t, groupEvent("SEC-401", "add")), func(r *http.Request) { r.URL.RawQuery = "key=" + sentKey[:10] }))
		keep(h.post(t, "{broken", func(r *http.Request) {}))

		// Broken rules files that hold the secrets; the running file is the
		// good one to go back to.
		good, err := os.ReadFile(h.rulesPath)
		must(t, err)
		for _, broken := range []struct{ from, to, want string }{
			{`token: "` + sentWassenger + `"`, `token: "` + sentWassenger, "YAML syntax"},
			{`token: "` + sentWassenger + `"`, `token: ` + sentWassenger + `: oops`, "YAML syntax"},
			{`token: "` + sentWassenger + `"`, `tokn: "` + sentWassenger + `"`, `unknown key "tokn"`},
			{`token: "` + sentWassenger + `"`, `token: ["` + sentWassenger + `"]`, "must be a string"},
			{`password: "` + sentSMTP + `"`, `password: "` + sentSMTP + `" "`, "YAML syntax"},
			{`    token: "` + sentSlackBot + `"`, `    token: {{ "` + sentSlackBot + `" }}`, "must be a string"},
		} {
			text := strings.Replace(string(good), broken.from, broken.to, 1)
			if text == string(good) {
				t.Fatalf("broken variant %q: %q is not in the rules file", broken.to, broken.from)
			}
			h.writeRules(text)
			eventually(t, "the reload of "+broken.to+" to fail", func() bool {
				return strings.Contains(h.rulesStatus(t).LastError, broken.want)
			})
			keep(h.get(t, "/api/rules", true))
			h.writeRules(string(good))
			eventually(t, "the good file to be back", func() bool { return h.rulesStatus(t).LastError == "" })

			// The same file refused at start-up: New's error.
			path := filepath.Join(t.TempDir(), "rules.yaml")
			must(t, os.WriteFile(path, []byte(text), 0o600))
			d, err := New(Config{RulesPath: path, Listen: "127.0.0.1:0", DataDir: t.TempDir(), WebhookKey: secret.New(sentKey), Logger: h.cfg.Logger})
			if err == nil {
				d.ln.Close()
				d.store.Close()
				t.Fatalf("New accepted a broken rules file")
			}
			seen = append(seen, err.Error())
		}

		// Everything the daemon shows.
		for _, path := range []string{"/api/rules", "/api/events?limit=1000&body=true", "/api/jobs?limit=1000", "/healthz", "/metrics"} {
			keep(h.get(t, path, true))
		}
		for _, e := range h.events(t) {
			keep(h.get(t, "/api/events/"+url.PathEscape(e.Key), true))
		}
		for _, j := range h.jobs(t) {
			keep(h.get(t, "/api/jobs/"+strconv.FormatInt(j.ID, 10), true))
		}
		keep(h.admin(t, http.MethodPost, "/api/dry-run", js(t, groupEvent("SEC-DRY", "add"))))
		dead, err := h.d.store.DeadLetters(context.Background(), 0)
		must(t, err)
		if len(dead) < 10 {
			t.Errorf("only %d dead letters: the failures above were not all driven", len(dead))
		}
		for _, j := range h.jobs(t) {
			seen = append(seen, j.Name, j.LastError, j.LastReason, j.Response)
		}
		must(t, h.stop())
		seen = append(seen, h.logs.String())

		all := strings.Join(seen, "\n")
		for _, s := range sentinels {
			// A secret, 12 bytes of it in a row (its start cut short), or
			// its base64 (an SMTP server quoting AUTH).
			b64 := base64.StdEncoding.EncodeToString([]byte(s))
			for _, part := range append(windows(s, 12), b64[:len(b64)-4]) {
				if i := strings.Index(all, part); i >= 0 {
					t.Errorf("secret %s leaked (%s): ...%s...", s, part, all[max(0, i-200):min(len(all), i+len(part)+40)])
					break
				}
			}
		}
	})
}

// The ${ENV} values of a webhook's url and secret headers are secrets,
// and so is a variable named as one wherever it goes: a target echoing
// them shows none in the logs or the admin API.
func TestEnvSecretsOfRulesMasked(t *testing.T) {
	t.Parallel()
	const (
		pathToken = "SENTINEL-path-token-1c9e"
		tenant    = "SENTINEL-tenant-4b2a"
		apiKey    = "SENTINEL-api-key-7d3f"
	)
	rules := `rules:
  - name: chat
    on: group:update
    do:
      - webhook:
          url: "${CHAT_HOOK}"
          headers: {X-Tenant-Key: "${TENANT}"}
          body: {text: "key ${CRM_API_KEY} for ${TEAM}"}
`
	h := start(t, options{rules: rules, env: map[string]string{
		"CHAT_HOOK": "@HOOK@/api/webhooks/123/" + pathToken, "TENANT": tenant, "CRM_API_KEY": apiKey, "TEAM": "Ventas",
	}})
	h.hook.FailNext(1, http.StatusForbidden, nil, "refused "+pathToken+" tenant "+tenant+" body key "+apiKey)
	h.accept(t, js(t, groupEvent("ENV-SEC", "add")))
	eventually(t, "the webhook to be a dead letter", func() bool {
		jobs := jobsOf(h.jobs(t), "ENV-SEC")
		return len(jobs) == 1 && jobs[0].State == store.StateDead
	})
	if r := h.hook.Requests(); len(r) != 1 || r[0].Header.Get("X-Tenant-Key") != tenant || !strings.Contains(r[0].Path, pathToken) {
		t.Fatalf("the webhook was not sent with its real values: %+v", r)
	}
	seen := []string{h.logs.String()}
	for _, path := range []string{"/api/jobs?limit=100", "/api/events?limit=100&body=true"} {
		seen = append(seen, h.get(t, path, true).body)
	}
	for _, j := range h.jobs(t) {
		seen = append(seen, h.get(t, "/api/jobs/"+strconv.FormatInt(j.ID, 10), true).body)
	}
	for _, text := range seen {
		for _, s := range []string{pathToken, tenant, apiKey} {
			if strings.Contains(text, s) {
				t.Errorf("%s shown:\n%s", s, text)
			}
		}
	}
	if !strings.Contains(strings.Join(seen, ""), "Ventas") {
		t.Error("the value of TEAM, no secret, is masked too")
	}
}
