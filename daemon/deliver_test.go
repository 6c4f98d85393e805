package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/actions/httpx"
	"github.com/hookd/hookd/internal/standin"
	"github.com/hookd/hookd/internal/testbackend"
	"github.com/hookd/hookd/store"
)

// deliveryRules send a Wassenger message for group events, a webhook for
// message events and an email for message events whose body is "mail".
const deliveryRules = `rules:
  - name: greet
    on: group:update
    do:
      - wassenger.message:
          group: "{{ data.chat.id }}"
          message: "Hi {{ id }}"
  - name: forward
    on: message:in:new
    if: data.body != "mail"
    do:
      - webhook:
          url: "@HOOK@/hook"
          body: {id: "{{ id }}"}
  - name: mail
    on: message:in:new
    if: data.body == "mail"
    do:
      - email:
          to: ["ops@example.com"]
          subject: "Message {{ id }}"
          body: "{{ data.body }}"
`

// refOf is the reference a Wassenger request carried.
func refOf(t *testing.T, r standin.Request) string {
	t.Helper()
	var body struct {
		Reference string `json:"reference"`
	}
	if err := json.Unmarshal(r.Body, &body); err != nil {
		t.Fatalf("Wassenger request body %q: %v", r.Body, err)
	}
	return body.Reference
}

// backoffFloor is the least wait after the attempt-th failure with the
// fastDelivery backoff: half the capped exponential step.
func backoffFloor(attempt int) time.Duration {
	d := 50 * time.Millisecond << (attempt - 1)
	return min(d, 200*time.Millisecond) / 2
}

// Delivery 12: 5xx answers and timeouts are retried, each attempt no
// sooner than the backoff allows, with the same reference, until one
// succeeds.
func TestServerErrorsAndTimeoutsRetried(t *testing.T) {
	t.Parallel()
	testbackend.Each(t, func(t *testing.T, backend string) {
		for _, tc := range []struct {
			name   string
			fail   func(ws *standin.Wassenger)
			reason string
		}{
			{"500 three times", func(ws *standin.Wassenger) {
				ws.FailNext(3, http.StatusInternalServerError, nil, `{"status":500,"message":"Internal error"}`)
			}, "http_5xx"},
			{"502, 503, 504", func(ws *standin.Wassenger) {
				ws.FailNext(1, http.StatusBadGateway, nil, "bad gateway")
				ws.FailNext(1, http.StatusServiceUnavailable, nil, `{"status":503,"message":"temporarily unavailable - try again later"}`)
				ws.FailNext(1, http.StatusGatewayTimeout, nil, "")
			}, "http_5xx"},
			{"three timeouts", func(ws *standin.Wassenger) { ws.HangNext(3) }, "timeout"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				h := start(t, options{backend: backend, rules: deliveryRules})
				tc.fail(h.wa)
				h.accept(t, js(t, groupEvent("RETRY-1", "add")))
				eventually(t, "the action to succeed", func() bool { return allInState(h.jobs(t), 1, store.StateDone) })

				reqs := h.wa.Requests()
				if len(reqs) != 4 {
					t.Fatalf("Wassenger got %d requests, want 3 failures and 1 success", len(reqs))
				}
				want := refFor(t, groupEvent("RETRY-1", "add"), "greet", 0)
				for i, r := range reqs {
					if got := refOf(t, r); got != want {
						t.Errorf("attempt %d carried reference %q, want %q", i+1, got, want)
					}
					if i == 0 {
						continue
					}
					if gap, floor := r.Time.Sub(reqs[i-1].Time), backoffFloor(i); gap < floor {
						t.Errorf("attempt %d came %v after attempt %d, before the backoff of at least %v", i+1, gap, i, floor)
					}
				}
				if job := h.jobs(t)[0]; job.Attempts != 4 {
					t.Errorf("job recorded %d attempts, want 4", job.Attempts)
				}
				// /api/jobs shows no failure on the done job; its
				// history keeps the three.
				var page struct{ Jobs []JobJSON }
				h.apiCall(t, http.MethodGet, "/api/jobs?state=done", "", &page)
				if len(page.Jobs) != 1 || page.Jobs[0].Reason != "" || page.Jobs[0].LastError != "" {
					t.Errorf("/api/jobs?state=done = %+v, want one job without last_reason or last_error", page.Jobs)
				} else {
					var one JobJSON
					h.apiCall(t, http.MethodGet, fmt.Sprintf("/api/jobs/%d", page.Jobs[0].ID), "", &one)
					if len(one.History) != 4 || one.History[0].Reason != tc.reason || one.History[3].Outcome != "done" {
						t.Errorf("history of the done job = %+v, want 3 failures (%s) then done", one.History, tc.reason)
					}
				}
				m := h.metricsText(t)
				if n := metric(m, "hookd_action_attempts_total", "outcome", "retry", "reason", tc.reason); n != 3 {
					t.Errorf("retries with reason %s = %v, want 3", tc.reason, n)
				}
				if n := metric(m, "hookd_action_attempts_total", "outcome", "ok"); n != 1 {
					t.Errorf("successful attempts = %v, want 1", n)
				}
			})
		}
	})
}

// Delivery 13: 429 and 503 with Retry-After, in seconds or as an HTTP
// date: the next attempt does not come before that time.
func TestRetryAfterHonoured(t *testing.T) {
	t.Parallel()
	testbackend.Each(t, func(t *testing.T, backend string) {
		for _, tc := range []struct {
			name   string
			status int
			date   bool
		}{
			{"429 in seconds", http.StatusTooManyRequests, false},
			{"503 in seconds", http.StatusServiceUnavailable, false},
			{"429 as a date", http.StatusTooManyRequests, true},
			{"503 as a date", http.StatusServiceUnavailable, true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				h := start(t, options{backend: backend, rules: deliveryRules})
				// The backoff alone would wait at most 50 ms.
				value, notBefore := "1", time.Time{}
				if tc.date {
					notBefore = time.Now().Add(2 * time.Second).Truncate(time.Second)
					value = notBefore.UTC().Format(http.TimeFormat)
				}
				h.wa.FailNext(1, tc.status, http.Header{"Retry-After": {value}}, `{"status":`+strconv.Itoa(tc.status)+`,"message":"Too many requests - Try again later"}`)
				h.accept(t, js(t, groupEvent("RA-1", "add")))
				eventually(t, "the retry to succeed", func() bool { return allInState(h.jobs(t), 1, store.StateDone) })

				reqs := h.wa.Requests()
				if len(reqs) != 2 {
					t.Fatalf("Wassenger got %d requests, want 2", len(reqs))
				}
				if tc.date {
					if reqs[1].Time.Before(notBefore) {
						t.Errorf("retry at %v, before the Retry-After date %v", reqs[1].Time, notBefore)
					}
				} else if gap := reqs[1].Time.Sub(reqs[0].Time); gap < time.Second {
					t.Errorf("retry came %v after the answer asking for 1 s", gap)
				}
			})
		}
	})
}

// Delivery 13: an absurd Retry-After is clamped: the stored next attempt
// is within the clamp, yet no sooner than the clamp allows.
func TestRetryAfterClamped(t *testing.T) {
	t.Parallel()
	testbackend.Each(t, func(t *testing.T, backend string) {
		for _, value := range []string{"999999999", "99999999999999999999999", "Fri, 31 Dec 2999 23:59:59 GMT"} {
			t.Run(value, func(t *testing.T) {
				t.Parallel()
				h := start(t, options{backend: backend, rules: deliveryRules})
				h.wa.FailNext(1, http.StatusTooManyRequests, http.Header{"Retry-After": {value}}, "slow down")
				h.accept(t, js(t, groupEvent("CLAMP-1", "add")))
				var job store.Job
				eventually(t, "the retry to be scheduled", func() bool {
					jobs := h.jobs(t)
					if len(jobs) == 1 && jobs[0].Attempts == 1 {
						job = jobs[0]
						return true
					}
					return false
				})
				if job.State != store.StatePending || job.LastReason != "http_429" {
					t.Fatalf("job %s with reason %q, want pending after a 429", job.State, job.LastReason)
				}
				first := h.wa.Requests()[0].Time
				ms := time.Millisecond // stored times are in milliseconds
				if job.NextAt.After(job.UpdatedAt.Add(httpx.MaxRetryAfter + ms)) {
					t.Errorf("next attempt at %v, more than %v after the failure was stored (%v)", job.NextAt, httpx.MaxRetryAfter, job.UpdatedAt)
				}
				if job.NextAt.Before(first.Add(httpx.MaxRetryAfter - ms)) {
					t.Errorf("next attempt at %v, sooner than the clamped Retry-After (%v after %v)", job.NextAt, httpx.MaxRetryAfter, first)
				}
			})
		}
	})
}

// Delivery 14: 400, 401, 403, 404 and 410 are not retried: one attempt,
// then a dead letter with the reason; a permanent SMTP failure likewise.
func TestPermanentFailuresDeadLettered(t *testing.T) {
	t.Parallel()
	testbackend.Each(t, func(t *testing.T, backend string) {
		h := start(t, options{backend: backend, rules: deliveryRules})
		codes := []int{400, 401, 403, 404, 410}
		for _, target := range []string{"wassenger", "webhook"} {
			for _, code := range codes {
				t.Run(fmt.Sprintf("%s %d", target, code), func(t *testing.T) {
					id := fmt.Sprintf("PERM-%s-%d", target, code)
					body := fmt.Sprintf(`{"status":%d,"message":"no way"}`, code)
					var ev map[string]any
					var srv *standin.Server
					if target == "wassenger" {
						srv = h.wa.Server
						ev = groupEvent(id, "add")
					} else {
						srv = h.hook.Server
						ev = messageEvent(id, "hello")
					}
					before := srv.Count()
					srv.FailNext(1, code, nil, body)
					h.accept(t, js(t, ev))
					var job store.Job
					eventually(t, "the dead letter", func() bool {
						jobs := jobsOf(h.jobs(t), id)
						if len(jobs) == 1 && jobs[0].State == store.StateDead {
							job = jobs[0]
							return true
						}
						return false
					})
					if job.Attempts != 1 || job.LastReason != "http_4xx" || !strings.Contains(job.LastError, strconv.Itoa(code)) {
						t.Errorf("dead letter: attempts %d, reason %q, error %q; want 1 attempt, http_4xx and the status", job.Attempts, job.LastReason, job.LastError)
					}
					if n := srv.Count() - before; n != 1 {
						t.Errorf("the target got %d requests, want 1", n)
					}
				})
			}
		}
		t.Run("smtp 550", func(t *testing.T) {
			h.smtp.FailNext(1, 550, "mailbox unavailable")
			h.accept(t, js(t, messageEvent("PERM-smtp", "mail")))
			eventually(t, "the dead letter", func() bool {
				jobs := jobsOf(h.jobs(t), "PERM-smtp")
				return len(jobs) == 1 && jobs[0].State == store.StateDead
			})
			job := jobsOf(h.jobs(t), "PERM-smtp")[0]
			if job.Attempts != 1 || job.LastReason != "smtp_permanent" || !strings.Contains(job.LastError, "550") {
				t.Errorf("dead letter: attempts %d, reason %q, error %q; want 1 attempt, smtp_permanent and 550", job.Attempts, job.LastReason, job.LastError)
			}
			if n := h.smtp.Transactions(); n != 1 {
				t.Errorf("the SMTP server saw %d transactions, want 1", n)
			}
		})
		dead, err := h.d.store.DeadLetters(context.Background(), 0)
		if err != nil {
			t.Fatal(err)
		}
		if want := 2*len(codes) + 1; len(dead) != want {
			t.Errorf("store lists %d dead letters, want %d", len(dead), want)
		}
		m := h.metricsText(t)
		for typ, want := range map[string]float64{"wassenger.message": 5, "webhook": 5, "email": 1} {
			if n := metric(m, "hookd_dead_letters_total", "type", typ); n != want {
				t.Errorf("hookd_dead_letters_total{type=%q} = %v, want %v", typ, n, want)
			}
		}
	})
}

// Delivery 15: after the last attempt the job is a dead letter with the
// redacted last error and the attempt count; the store lists it, Requeue
// (from another process) replays it with the same reference, and a
// metric counts it.
func TestDeadLetterListedAndReplayed(t *testing.T) {
	t.Parallel()
	testbackend.Each(t, func(t *testing.T, backend string) {
		h := start(t, options{backend: backend, rules: deliveryRules, waToken: "tok-DEADLETTER-9f8e7d"})
		h.wa.FailAll(http.StatusInternalServerError, nil, `{"status":500,"message":"broken for token tok-DEADLETTER-9f8e7d"}`)
		h.accept(t, js(t, groupEvent("DL-1", "add")))
		eventually(t, "the dead letter", func() bool { return allInState(h.jobs(t), 1, store.StateDead) })

		dead, err := h.d.store.DeadLetters(context.Background(), 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(dead) != 1 {
			t.Fatalf("store lists %d dead letters, want 1", len(dead))
		}
		dl := dead[0]
		if dl.Attempts != 4 || dl.LastReason != "http_5xx" || !strings.Contains(dl.LastError, "500") {
			t.Errorf("dead letter: attempts %d, reason %q, error %q; want 4 attempts, http_5xx and the status", dl.Attempts, dl.LastReason, dl.LastError)
		}
		if strings.Contains(dl.LastError, "tok-DEADLETTER-9f8e7d") {
			t.Errorf("the dead letter's error holds the API token: %q", dl.LastError)
		}
		if n := h.wa.Count(); n != 4 {
			t.Errorf("Wassenger got %d requests, want 4", n)
		}
		m := h.metricsText(t)
		if n := metric(m, "hookd_dead_letters_total", "type", "wassenger.message", "reason", "http_5xx"); n != 1 {
			t.Errorf("hookd_dead_letters_total = %v, want 1", n)
		}
		// The gauge an alert reads: the counter's series only appears at
		// the first dead letter after a start, which rate() and increase()
		// do not count.
		if !strings.Contains(m, "\nhookd_dead_letters 1\n") {
			t.Errorf("/metrics has no hookd_dead_letters 1 with one dead letter in the store")
		}
		var health map[string]any
		h.getJSON(t, "/healthz", &health)
		if health["dead_letters"] != float64(1) {
			t.Errorf("/healthz dead_letters = %v, want 1", health["dead_letters"])
		}

		// `hookd dlq retry` runs in another process: a store of its own.
		h.wa.Heal()
		other := h.otherStore(t)
		n, err := other.Requeue(context.Background(), []int64{dl.ID})
		if cerr := other.Close(); cerr != nil {
			t.Fatal(cerr)
		}
		if err != nil || n != 1 {
			t.Fatalf("Requeue = %d, %v; want 1", n, err)
		}
		eventually(t, "the replayed job to succeed", func() bool { return allInState(h.jobs(t), 1, store.StateDone) })
		if m := h.metricsText(t); !strings.Contains(m, "\nhookd_dead_letters 0\n") {
			t.Errorf("/metrics has no hookd_dead_letters 0 once the dead letter was replayed")
		}
		ref := refFor(t, groupEvent("DL-1", "add"), "greet", 0)
		if refs := h.wa.References(); refs[ref] != 1 || len(refs) != 1 {
			t.Errorf("Wassenger accepted %v, want one message with reference %s", refs, ref)
		}
		for _, r := range h.wa.Requests() {
			if got := refOf(t, r); got != ref {
				t.Errorf("an attempt carried reference %q, want %q", got, ref)
			}
		}
	})
}

// Delivery 16: a hanging integration holds back only its own lane: email
// and webhook actions of other events go on.
func TestHangingWassengerDoesNotHoldBackOthers(t *testing.T) {
	t.Parallel()
	testbackend.Each(t, func(t *testing.T, backend string) {
		h := start(t, options{backend: backend, rules: slowDelivery + deliveryRules, workers: 4})
		h.wa.HangAll()
		// More Wassenger actions than the lane has workers.
		for i := range 6 {
			h.accept(t, js(t, groupEvent(fmt.Sprint("SLOW-", i), "add")))
		}
		if err := h.wa.WaitFor(waitCtx(t), func(r []standin.Request) bool { return held(r) == 4 }); err != nil {
			t.Fatal(err)
		}
		h.accept(t, js(t, messageEvent("FAST-1", "hello")))
		h.accept(t, js(t, messageEvent("FAST-2", "mail")))
		if err := h.hook.WaitCount(waitCtx(t), 1); err != nil {
			t.Fatalf("webhook held back by Wassenger: %v", err)
		}
		if _, err := h.smtp.WaitForN(waitLimit, 1); err != nil {
			t.Fatalf("email held back by Wassenger: %v", err)
		}
		if n := held(h.wa.Requests()); n != 4 {
			t.Errorf("Wassenger holds %d requests, want still 4: the test proves nothing", n)
		}
	})
}
