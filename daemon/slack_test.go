package daemon

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/actions"
	"github.com/hookd/hookd/actions/router"
	"github.com/hookd/hookd/actions/secret"
	"github.com/hookd/hookd/internal/standin"
	"github.com/hookd/hookd/internal/standin/slackd"
	"github.com/hookd/hookd/internal/testbackend"
	"github.com/hookd/hookd/store"
)

// needSlack skips the test while the router has no Slack integration.
func needSlack(t *testing.T) {
	t.Helper()
	r := router.New(&actions.Connections{Slack: &actions.SlackConfig{WebhookURL: secret.New("http://127.0.0.1:1/services/T000/B000/x")}}, router.Options{Logger: discardLogger()})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res := r.Do(ctx, actions.Call{Type: "slack", Name: "probe/slack[0]", Params: map[string]any{"text": "probe"}})
	if res.Err != nil && strings.Contains(res.Err.Error(), "not built") {
		t.Skip("actions/slack is not built yet: the router answers every Slack action with \"not built\"")
	}
}

// slackRules post to Slack for group events (webhook, and
// chat.postMessage in a channel when the action is "promote"), and send a
// webhook and an email for message events.
const slackRules = `rules:
  - name: notify
    on: group:update
    if: action != "promote"
    do:
      - slack:
          text: "{{ author }} changed {{ data.chat.name }} ({{ id }})"
  - name: notify-channel
    on: group:update
    if: action == "promote"
    do:
      - slack:
          channel: C0GENERAL
          text: "{{ author }} promoted in {{ data.chat.name }} ({{ id }})"
  - name: forward
    on: message:in:new
    do:
      - webhook:
          url: "@HOOK@/hook"
          body: {id: "{{ id }}"}
      - email:
          to: ["ops@example.com"]
          subject: "Message {{ id }}"
          body: "{{ data.body }}"
`

// startSlack runs a daemon on backend with a Slack stand-in as its
// Slack connection.
func startSlack(t *testing.T, backend, delivery string) (*harness, *slackd.Server) {
	t.Helper()
	needSlack(t)
	sl := slackd.New(slackd.Options{})
	h := start(t, options{backend: backend, rules: delivery + slackRules, extraConnections: `  slack:
    webhook_url: "` + sl.WebhookURL() + `"
    token: "` + sl.Token() + `"
    api_url: "` + sl.APIURL() + `"
    rate: 500
    burst: 100
`})
	t.Cleanup(sl.Close) // before the daemon stops: held requests are released
	return h, sl
}

// Delivery 16: a hanging Slack holds back neither email nor webhook
// actions of other events.
func TestHangingSlackDoesNotHoldBackOthers(t *testing.T) {
	t.Parallel()
	testbackend.Each(t, func(t *testing.T, backend string) {
		h, sl := startSlack(t, backend, slowDelivery)
		sl.HangAll()
		for i := range 6 {
			h.accept(t, js(t, groupEvent(fmt.Sprint("SL-", i), "add")))
		}
		if err := sl.WaitFor(waitCtx(t), func(r []standin.Request) bool { return held(r) == 4 }); err != nil {
			t.Fatal(err)
		}
		h.accept(t, js(t, messageEvent("SL-FAST", "hello")))
		if err := h.hook.WaitCount(waitCtx(t), 1); err != nil {
			t.Fatalf("webhook held back by Slack: %v", err)
		}
		if _, err := h.smtp.WaitForN(waitLimit, 1); err != nil {
			t.Fatalf("email held back by Slack: %v", err)
		}
		if n := held(sl.Requests()); n != 4 {
			t.Errorf("Slack holds %d requests, want still 4: the test proves nothing", n)
		}
	})
}

// Delivery 14: Slack's permanent answers (400, 403, 404, 410, and
// chat.postMessage errors) are not retried and are dead-lettered.
func TestSlackPermanentFailuresDeadLettered(t *testing.T) {
	t.Parallel()
	testbackend.Each(t, func(t *testing.T, backend string) {
		h, sl := startSlack(t, backend, fastDelivery)
		for _, tc := range []struct {
			name   string
			action string
			fail   func()
		}{
			{"webhook 400 invalid_payload", "add", func() { sl.FailNext(1, http.StatusBadRequest, nil, "invalid_payload") }},
			{"webhook 403 action_prohibited", "add", func() { sl.FailNext(1, http.StatusForbidden, nil, "action_prohibited") }},
			{"webhook 404 no_service", "add", func() { sl.FailNext(1, http.StatusNotFound, nil, "no_service") }},
			{"webhook 410 channel_is_archived", "add", func() { sl.FailNext(1, http.StatusGone, nil, "channel_is_archived") }},
			{"chat.postMessage channel_not_found", "promote", func() { sl.FailNextAPI(1, "channel_not_found") }},
		} {
			t.Run(tc.name, func(t *testing.T) {
				id := "SLP-" + strings.ReplaceAll(tc.name, " ", "-")
				before := sl.Count()
				tc.fail()
				h.accept(t, js(t, groupEvent(id, tc.action)))
				eventually(t, "the dead letter", func() bool {
					jobs := jobsOf(h.jobs(t), id)
					return len(jobs) == 1 && jobs[0].State == store.StateDead
				})
				job := jobsOf(h.jobs(t), id)[0]
				if job.Attempts != 1 || job.LastError == "" {
					t.Errorf("dead letter: %d attempts, error %q; want 1 attempt and the reason", job.Attempts, job.LastError)
				}
				if n := sl.Count() - before; n != 1 {
					t.Errorf("Slack got %d requests, want 1", n)
				}
			})
		}
		if n := h.metric(t, "hookd_dead_letters_total", "type", "slack"); n != 5 {
			t.Errorf(`hookd_dead_letters_total{type="slack"} = %v, want 5`, n)
		}
	})
}

// Delivery 13: Slack's 429 with Retry-After delays the next attempt.
func TestSlackRateLimitHonoured(t *testing.T) {
	t.Parallel()
	testbackend.Each(t, func(t *testing.T, backend string) {
		h, sl := startSlack(t, backend, fastDelivery)
		sl.RateLimitNext(1, "1")
		h.accept(t, js(t, groupEvent("SLR-1", "add")))
		if _, err := sl.WaitPosts(waitCtx(t), 1); err != nil {
			t.Fatal(err)
		}
		reqs := sl.Requests()
		if len(reqs) != 2 {
			t.Fatalf("Slack got %d requests, want 2", len(reqs))
		}
		if gap := reqs[1].Time.Sub(reqs[0].Time); gap < time.Second {
			t.Errorf("retry came %v after a 429 asking for 1 s", gap)
		}
	})
}
