package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/engine"
	"github.com/hookd/hookd/engine/requests"
	"github.com/hookd/hookd/internal/standin"
	"github.com/hookd/hookd/internal/testbackend"
	"github.com/hookd/hookd/store"
)

// inChat is a group:update event with id, in chat, created at.
func inChat(id, action, chat string, at time.Time) map[string]any {
	ev := groupEvent(id, action)
	ev["created"] = at.Unix()
	ev["data"].(map[string]any)["chat"].(map[string]any)["id"] = chat
	return ev
}

// jobsOfRule keeps the jobs of rule.
func jobsOfRule(jobs []store.Job, rule string) []store.Job {
	var out []store.Job
	for _, j := range jobs {
		if j.Rule == rule {
			out = append(out, j)
		}
	}
	return out
}

// hookBodies are the JSON bodies the webhook stand-in received, decoded.
func hookBodies(t *testing.T, reqs []standin.Request) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, r := range reqs {
		var m map[string]any
		if err := json.Unmarshal(r.Body, &m); err != nil {
			t.Fatalf("webhook body %q: %v", r.Body, err)
		}
		out = append(out, m)
	}
	return out
}

// waitHooks waits until the webhook stand-in received n requests and
// returns their bodies.
func (h *harness) waitHooks(t *testing.T, n int) []map[string]any {
	t.Helper()
	if err := h.hook.WaitCount(waitCtx(t), n); err != nil {
		t.Fatalf("waiting for %d webhook requests (got %d): %v", n, h.hook.Count(), err)
	}
	return hookBodies(t, h.hook.Requests())
}

// eventRules returns the rules and muted rules /api/events shows for the
// event with Wassenger id id.
func (h *harness) eventRules(t *testing.T, id string) (rules, muted []string) {
	t.Helper()
	for _, e := range h.events(t) {
		if e.ID == id {
			return e.Rules, e.Muted
		}
	}
	t.Fatalf("event %s not in /api/events", id)
	return nil, nil
}

const throttleRules = `rules:
  - name: removal-alert
    on: group:update
    if: action == "remove"
    throttle: { key: "{{ data.chat.id }}", per: 1h }
    do:
      - webhook: { url: "@HOOK@/hook", body: { event: "{{ id }}", next: "{{ throttle.next }}" } }
`

// A throttle fires once per key per period, in the daemon as in a
// replay; the state is in the store, so a restart keeps the throttle
// closed.
func TestThrottleFiresOncePerKeyPerPeriod(t *testing.T) {
	t.Parallel()
	testbackend.Each(t, func(t *testing.T, backend string) {
		h := start(t, options{backend: backend, rules: throttleRules})
		now := time.Now()
		h.accept(t, js(t, inChat("t1", "remove", "g1@g.us", now)))
		h.accept(t, js(t, inChat("t2", "remove", "g1@g.us", now.Add(time.Minute))))
		h.accept(t, js(t, inChat("t3", "remove", "g2@g.us", now.Add(time.Minute))))
		got := h.waitHooks(t, 2)
		if len(got) != 2 || got[0]["event"] != "t1" || got[1]["event"] != "t3" {
			t.Fatalf("webhooks %v, want t1 (first of g1) and t3 (first of g2)", got)
		}
		if rules, _ := h.eventRules(t, "t2"); len(rules) != 0 {
			t.Fatalf("throttled t2 lists rules %v, want none", rules)
		}
		if rules, _ := h.eventRules(t, "t1"); !slices.Equal(rules, []string{"removal-alert"}) {
			t.Fatalf("t1 lists rules %v, want [removal-alert]", rules)
		}

		must(t, h.stop())
		h.restart(t)
		h.accept(t, js(t, inChat("t4", "remove", "g1@g.us", now.Add(2*time.Minute))))
		h.accept(t, js(t, inChat("t5", "remove", "g1@g.us", now.Add(61*time.Minute))))
		got = h.waitHooks(t, 3)
		if len(got) != 3 || got[2]["event"] != "t5" {
			t.Fatalf("webhooks after restart %v, want only t5 more (t4 is still throttled)", got)
		}
		if n := len(jobsOfRule(h.jobs(t), "removal-alert")); n != 3 {
			t.Fatalf("%d jobs, want 3", n)
		}
	})
}

const windowRules = `rules:
  - name: mass-removal
    on: group:update
    if: action == "remove"
    window: { key: "{{ data.chat.id }}", within: 10m, at_least: 3 }
    do:
      - webhook: { url: "@HOOK@/hook", body: { event: "{{ id }}", count: "{{ window.count }}" } }
`

// A window fires on the Nth event of a key within its period; a
// duplicate delivery of an event does not count.
func TestWindowFiresOnNthEventAndDuplicatesDoNotCount(t *testing.T) {
	t.Parallel()
	testbackend.Each(t, func(t *testing.T, backend string) {
		h := start(t, options{backend: backend, rules: windowRules})
		now := time.Now()
		h.accept(t, js(t, inChat("w1", "remove", "g1@g.us", now)))
		if got := h.accept(t, js(t, inChat("w1", "remove", "g1@g.us", now))); got.Duplicates != 1 {
			t.Fatalf("second delivery of w1: %+v, want a duplicate", got)
		}
		h.accept(t, js(t, inChat("w2", "remove", "g1@g.us", now.Add(time.Minute))))
		h.accept(t, js(t, inChat("x1", "remove", "g2@g.us", now.Add(time.Minute))))
		if n := len(h.jobs(t)); n != 0 {
			t.Fatalf("%d jobs after 2 events of g1 (and a duplicate) and 1 of g2, want none", n)
		}
		h.accept(t, js(t, inChat("w3", "remove", "g1@g.us", now.Add(2*time.Minute))))
		got := h.waitHooks(t, 1)
		if got[0]["event"] != "w3" || fmt.Sprint(got[0]["count"]) != "3" {
			t.Fatalf("webhook %v, want w3 with count 3", got[0])
		}
		if rules, _ := h.eventRules(t, "w3"); !slices.Equal(rules, []string{"mass-removal"}) {
			t.Fatalf("w3 lists rules %v", rules)
		}
		// The window started again: 2 more events do not fire.
		h.accept(t, js(t, inChat("w4", "remove", "g1@g.us", now.Add(3*time.Minute))))
		h.accept(t, js(t, inChat("w5", "remove", "g1@g.us", now.Add(4*time.Minute))))
		if n := len(h.jobs(t)); n != 1 {
			t.Fatalf("%d jobs, want 1", n)
		}
	})
}

// A window with weight: counts the members each removal names (the
// field is read only by the weight, so intake's projection must keep
// it), and a duplicate delivery does not count them twice.
func TestWindowWeightCountsRemovedMembers(t *testing.T) {
	t.Parallel()
	rules := strings.Replace(windowRules, "at_least: 3 }", `at_least: 5, weight: "len(participants ?? [])" }`, 1)
	testbackend.Each(t, func(t *testing.T, backend string) {
		h := start(t, options{backend: backend, rules: rules})
		now := time.Now()
		removal := func(id string, members int, at time.Time) string {
			ev := inChat(id, "remove", "g1@g.us", at)
			ps := make([]any, members)
			for i := range ps {
				ps[i] = fmt.Sprintf("+3460000%04d", i)
			}
			ev["participants"] = ps
			return js(t, ev)
		}
		h.accept(t, removal("m1", 3, now))
		if got := h.accept(t, removal("m1", 3, now)); got.Duplicates != 1 {
			t.Fatalf("second delivery of m1: %+v, want a duplicate", got)
		}
		h.accept(t, removal("m2", 1, now.Add(time.Minute)))
		if n := len(h.jobs(t)); n != 0 {
			t.Fatalf("%d jobs after 4 members removed (and a duplicate of 3), want none", n)
		}
		h.accept(t, removal("m3", 2, now.Add(2*time.Minute)))
		got := h.waitHooks(t, 1)
		if got[0]["event"] != "m3" || fmt.Sprint(got[0]["count"]) != "6" {
			t.Fatalf("webhook %v, want m3 with count 6 (3 + 1 + 2 members)", got[0])
		}
	})
}

// A reload keeps the state of a rule whose name and key are unchanged
// (its period may change), and starts afresh when the key changes.
func TestReloadKeepsStateOfUnchangedKey(t *testing.T) {
	t.Parallel()
	testbackend.Each(t, func(t *testing.T, backend string) {
		h := start(t, options{backend: backend, rules: windowRules})
		now := time.Now()
		h.accept(t, js(t, inChat("r1", "remove", "g1@g.us", now)))
		h.accept(t, js(t, inChat("r2", "remove", "g1@g.us", now)))
		reload := func(rules string) {
			t.Helper()
			before := h.rulesStatus(t).Version
			h.writeRules(h.file("", rules))
			eventually(t, "the reload", func() bool { return h.rulesStatus(t).Version != before })
		}
		reload(strings.Replace(windowRules, "within: 10m", "within: 20m", 1))
		h.accept(t, js(t, inChat("r3", "remove", "g1@g.us", now)))
		if got := h.waitHooks(t, 1); got[0]["event"] != "r3" {
			t.Fatalf("webhook %v, want r3: the reload kept the count", got[0])
		}
		h.accept(t, js(t, inChat("r4", "remove", "g1@g.us", now)))
		h.accept(t, js(t, inChat("r5", "remove", "g1@g.us", now)))
		reload(strings.Replace(windowRules, "{{ data.chat.id }}", "{{ data.chat.id + '/' }}", 1))
		h.accept(t, js(t, inChat("r6", "remove", "g1@g.us", now)))
		if n := len(h.jobs(t)); n != 1 {
			t.Fatalf("%d jobs after a reload that changed the key, want 1: its state starts afresh", n)
		}
	})
}

const digestRules = `rules:
  - name: hourly-joins
    on: group:update
    if: action == "add"
    digest: { key: "{{ data.chat.id }}", every: 1h }
    do:
      - webhook:
          url: "@HOOK@/hook"
          body: { count: "{{ digest.count }}", ids: "{{ join(map(digest.events, .id), ',') }}", chat: "{{ key }}" }
`

// A digest collects its key's events and is sent by the scheduler when
// its period ends, once, with every event collected; an event after it
// starts the next digest.
func TestDigestSentBySchedulerWithCollectedEvents(t *testing.T) {
	t.Parallel()
	testbackend.Each(t, func(t *testing.T, backend string) {
		t0 := time.Date(2026, 3, 2, 10, 5, 0, 0, time.UTC)
		c := newClock(t0)
		h := start(t, options{backend: backend, rules: digestRules, clock: c})
		for i, id := range []string{"d1", "d2", "d3"} {
			h.accept(t, js(t, inChat(id, "add", "g1@g.us", t0.Add(time.Duration(i)*time.Minute))))
		}
		h.accept(t, js(t, inChat("e1", "add", "g2@g.us", t0)))
		if n := len(h.jobs(t)); n != 0 {
			t.Fatalf("%d jobs before the hour ends, want none", n)
		}
		c.set(time.Date(2026, 3, 2, 11, 0, 1, 0, time.UTC))
		got := h.waitHooks(t, 2)
		slices.SortFunc(got, func(a, b map[string]any) int { return strings.Compare(a["chat"].(string), b["chat"].(string)) })
		want := []map[string]string{{"count": "3", "ids": "d1,d2,d3", "chat": "g1@g.us"}, {"count": "1", "ids": "e1", "chat": "g2@g.us"}}
		for i := range want {
			for k, v := range want[i] {
				if fmt.Sprint(got[i][k]) != v {
					t.Fatalf("digest %d = %v, want %v", i, got[i], want[i])
				}
			}
		}
		h.accept(t, js(t, inChat("d4", "add", "g1@g.us", time.Date(2026, 3, 2, 11, 10, 0, 0, time.UTC))))
		c.set(time.Date(2026, 3, 2, 12, 0, 1, 0, time.UTC))
		got = h.waitHooks(t, 3)
		if got[2]["ids"] != "d4" {
			t.Fatalf("next digest %v, want d4 alone", got[2])
		}
		if n := h.metric(t, "hookd_digests_sent_total", "rule", "hourly-joins"); n != 3 {
			t.Fatalf("hookd_digests_sent_total = %v, want 3", n)
		}
	})
}

// An event of a period whose digest was already sent (it arrived late:
// a Wassenger retry, or created just before the hour) is sent in a
// digest of its own, not dropped as a repeat of the first.
func TestDigestOfLateEventIsSent(t *testing.T) {
	t.Parallel()
	testbackend.Each(t, func(t *testing.T, backend string) {
		t0 := time.Date(2026, 3, 2, 10, 5, 0, 0, time.UTC)
		c := newClock(t0)
		h := start(t, options{backend: backend, rules: digestRules, clock: c})
		h.accept(t, js(t, inChat("d1", "add", "g1@g.us", t0)))
		c.set(time.Date(2026, 3, 2, 11, 0, 1, 0, time.UTC))
		h.waitHooks(t, 1)
		h.accept(t, js(t, inChat("late", "add", "g1@g.us", t0.Add(time.Minute))))
		got := h.waitHooks(t, 2)
		if got[1]["ids"] != "late" {
			t.Fatalf("second digest %v, want the late event", got[1])
		}
		if n := len(jobsOfRule(h.jobs(t), "hourly-joins")); n != 2 {
			t.Fatalf("%d digest jobs, want 2", n)
		}
	})
}

// The digest of an event whose period ended longer ago than keep (90
// days by default: a replayed recording) is sent at the next tick, not
// forgotten on arrival.
func TestDigestOfOldEventIsSent(t *testing.T) {
	t.Parallel()
	testbackend.Each(t, func(t *testing.T, backend string) {
		now := time.Date(2026, 3, 2, 10, 5, 0, 0, time.UTC)
		h := start(t, options{backend: backend, rules: digestRules, clock: newClock(now)})
		h.accept(t, js(t, inChat("old", "add", "g1@g.us", now.AddDate(0, 0, -100))))
		if got := h.waitHooks(t, 1); got[0]["ids"] != "old" {
			t.Fatalf("digest %v, want the old event", got[0])
		}
	})
}

const timerRules = `rules:
  - name: hourly-report
    on: schedule
    schedule: { cron: "0 * * * *" }
    do:
      - webhook: { url: "@HOOK@/hook", body: { at: "{{ schedule.time }}" } }
`

// A timer rule fires at its ticks; after downtime it fires once, not
// once per missed tick.
func TestTimerRuleFiresOnceAfterDowntime(t *testing.T) {
	t.Parallel()
	testbackend.Each(t, func(t *testing.T, backend string) {
		at := func(h, m int) time.Time { return time.Date(2026, 3, 2, h, m, 0, 0, time.UTC) }
		c := newClock(at(8, 59))
		h := start(t, options{backend: backend, rules: timerRules, clock: c})
		eventually(t, "the timer's start recorded", func() bool {
			_, ok, err := h.d.store.GetState(context.Background(), h.d.snap.Load().rules.Rules[0].TimerScope(), "", c.Now())
			return err == nil && ok
		})
		c.set(at(9, 0).Add(5 * time.Second))
		h.waitHooks(t, 1)
		// The reference the daemon sends is the one dry-run and fire show
		// for the same tick.
		rule := h.d.snap.Load().rules.Rules[0]
		ref := engine.Reference(requests.TickEvent(&engine.Tick{Rule: rule, At: at(9, 0)}).Key, rule.Name, 0)
		if jobs := h.jobs(t); len(jobs) != 1 || jobs[0].Reference != ref {
			t.Fatalf("jobs of the 9:00 tick %+v, want one with reference %q", jobs, ref)
		}
		must(t, h.stop())
		c.set(at(12, 30)) // 10:00, 11:00 and 12:00 missed
		h.restart(t)
		h.waitHooks(t, 2)
		c.set(at(13, 0).Add(time.Second))
		got := h.waitHooks(t, 3)
		var times []string
		for _, b := range got {
			times = append(times, b["at"].(string))
		}
		want := []string{"2026-03-02T09:00:00Z", "2026-03-02T12:00:00Z", "2026-03-02T13:00:00Z"}
		if !slices.Equal(times, want) {
			t.Fatalf("ticks fired %v, want %v", times, want)
		}
	})
}

const muteRules = `rules:
  - name: welcome
    on: group:update
    if: action == "add"
    do:
      - webhook: { url: "@HOOK@/hook", body: { event: "{{ id }}" } }
  - name: removal-alert
    on: group:update
    if: action == "remove"
    throttle: { key: "{{ data.chat.id }}", per: 1m }
    do:
      - webhook: { url: "@HOOK@/hook", body: { event: "{{ id }}" } }
`

// apiCall sends an API request with the admin key and decodes the answer.
func (h *harness) apiCall(t *testing.T, method, path, body string, v any) int {
	t.Helper()
	req, err := http.NewRequest(method, h.base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(AdminKeyHeader, h.adminKey)
	req.Header.Set("Content-Type", "application/json")
	a := do(t, req)
	if v != nil {
		if err := json.Unmarshal([]byte(a.body), v); err != nil {
			t.Fatalf("%s %s: %d %q: %v", method, path, a.status, a.body, err)
		}
	}
	return a.status
}

// Mutes through the API: a muted rule's matches are stored on the event
// as muted, run nothing and are counted; a key mute silences one key;
// a mute is listed, ends by DELETE or by expiring, and is refused for an
// unknown rule.
func TestMutesThroughTheAPI(t *testing.T) {
	t.Parallel()
	testbackend.Each(t, func(t *testing.T, backend string) {
		t0 := time.Now().Truncate(time.Second)
		c := newClock(t0)
		h := start(t, options{backend: backend, rules: muteRules, clock: c})
		var m MuteJSON
		if st := h.apiCall(t, "POST", "/api/mutes", `{"rule":"welcome","for":"2h","reason":"migration","by":"ana"}`, &m); st != http.StatusCreated {
			t.Fatalf("POST /api/mutes: %d %+v", st, m)
		}
		if m.ID <= 0 || m.By != "ana" || m.Reason != "migration" || !m.Until.Equal(t0.Add(2*time.Hour)) || !m.Active {
			t.Fatalf("mute %+v", m)
		}
		var key MuteJSON
		if st := h.apiCall(t, "POST", "/api/mutes", `{"rule":"removal-alert","key":"g1@g.us","for":"30m","reason":"noisy group"}`, &key); st != http.StatusCreated || key.By != "api" {
			t.Fatalf("POST key mute: %d %+v", st, key)
		}
		var bad problem
		if st := h.apiCall(t, "POST", "/api/mutes", `{"rule":"welcom","for":"2h","reason":"x"}`, &bad); st != http.StatusBadRequest || !strings.Contains(bad.Error, `"welcome"`) {
			t.Fatalf("mute of an unknown rule: %d %q, want 400 suggesting welcome", st, bad.Error)
		}
		if st := h.apiCall(t, "POST", "/api/mutes", `{"rule":"welcome","key":"x","for":"2h","reason":"x"}`, &bad); st != http.StatusBadRequest {
			t.Fatalf("key mute of a rule without keys: %d, want 400", st)
		}
		var list struct{ Mutes []MuteJSON }
		h.apiCall(t, "GET", "/api/mutes", "", &list)
		if len(list.Mutes) != 2 {
			t.Fatalf("GET /api/mutes: %+v, want 2", list)
		}

		h.accept(t, js(t, inChat("m1", "add", "g1@g.us", t0)))
		h.accept(t, js(t, inChat("m2", "remove", "g1@g.us", t0)))
		h.accept(t, js(t, inChat("m3", "remove", "g2@g.us", t0)))
		if got := h.waitHooks(t, 1); got[0]["event"] != "m3" {
			t.Fatalf("webhook %v, want m3 only (the other chat)", got)
		}
		for id, want := range map[string]string{"m1": "welcome", "m2": "removal-alert"} {
			rules, muted := h.eventRules(t, id)
			if len(rules) != 0 || !slices.Equal(muted, []string{want}) {
				t.Fatalf("%s: rules %v muted %v, want muted [%s]", id, rules, muted, want)
			}
		}
		if n := h.metric(t, "hookd_rule_muted_total", "rule", "welcome"); n != 1 {
			t.Fatalf("hookd_rule_muted_total{welcome} = %v, want 1", n)
		}
		// The debug line counts the rule the event fired apart from the
		// one it matched muted, as /api/events does.
		if logs := h.logs.String(); !regexp.MustCompile(`"event accepted"[^\n]*/m1/[^\n]*"rules":0,"muted":1,`).MatchString(logs) {
			t.Fatalf("no debug line of m1 with rules 0 and muted 1; logs:\n%s", logs)
		}

		var ended MuteJSON
		if st := h.apiCall(t, "DELETE", "/api/mutes/"+itoa(m.ID)+"?by=bo", "", &ended); st != http.StatusOK || ended.EndedBy != "bo" || ended.Active {
			t.Fatalf("DELETE: %d %+v", st, ended)
		}
		if st := h.apiCall(t, "DELETE", "/api/mutes/"+itoa(m.ID), "", &bad); st != http.StatusNotFound {
			t.Fatalf("DELETE again: %d, want 404", st)
		}
		h.accept(t, js(t, inChat("m4", "add", "g1@g.us", t0)))
		c.set(t0.Add(31 * time.Minute)) // the key mute expired
		h.accept(t, js(t, inChat("m5", "remove", "g1@g.us", t0.Add(31*time.Minute))))
		// m4 and m5 are delivered by two workers, in either order.
		got := h.waitHooks(t, 3)
		if later := []any{got[1]["event"], got[2]["event"]}; !slices.Contains(later, "m4") || !slices.Contains(later, "m5") {
			t.Fatalf("webhooks %v, want m3, then m4 and m5", got)
		}
		h.apiCall(t, "GET", "/api/mutes?all=true", "", &list)
		if len(list.Mutes) != 2 || list.Mutes[0].Active || list.Mutes[1].Active {
			t.Fatalf("all mutes %+v, want both, inactive", list.Mutes)
		}
		if st := h.apiCall(t, "GET", "/api/mutes", "", nil); st != http.StatusOK {
			t.Fatal(st)
		}
		req, _ := http.NewRequest("GET", h.base+"/api/mutes", nil)
		if a := do(t, req); a.status != http.StatusUnauthorized {
			t.Fatalf("GET /api/mutes without the key: %d, want 401", a.status)
		}
	})
}

// A mute made in another process (hookd mute writes to the store) is
// picked up by the running daemon.
func TestMuteFromAnotherProcessApplies(t *testing.T) {
	t.Parallel()
	testbackend.Each(t, func(t *testing.T, backend string) {
		h := start(t, options{backend: backend, rules: muteRules})
		other := h.otherStore(t)
		_, err := other.AddMute(context.Background(), store.Mute{Rule: "welcome", Reason: "x", By: "cli", Until: time.Now().Add(time.Hour)})
		must(t, err)
		must(t, other.Close())
		eventually(t, "the daemon to read the mute", func() bool { return h.d.mutedNow().muted("welcome", "", time.Now()) })
		h.accept(t, js(t, inChat("p1", "add", "g1@g.us", time.Now())))
		if _, muted := h.eventRules(t, "p1"); !slices.Equal(muted, []string{"welcome"}) {
			t.Fatalf("muted %v", muted)
		}
	})
}

const loopRules = `rules:
  - name: answer-out
    on: message:out:new
    do:
      - webhook: { url: "@HOOK@/hook", body: { rule: "answer-out", event: "{{ id }}" } }
  - name: audit-own
    on: message:out:new
    self: true
    do:
      - webhook: { url: "@HOOK@/hook", body: { rule: "audit-own", event: "{{ id }}" } }
`

// outMessage is a message:out:new event with reference ref.
func outMessage(id, ref string) map[string]any {
	ev := messageEvent(id, "hello")
	ev["event"] = "message:out:new"
	data := ev["data"].(map[string]any)
	data["flow"] = "outbound"
	if ref != "" {
		data["reference"] = ref
	}
	return ev
}

// The loop guard: a message hookd sent (its reference starts with
// hookd:) fires only rules with self: true; other outgoing messages fire
// every rule.
func TestOwnSendFiresOnlySelfRules(t *testing.T) {
	t.Parallel()
	testbackend.Each(t, func(t *testing.T, backend string) {
		h := start(t, options{backend: backend, rules: loopRules})
		h.accept(t, js(t, outMessage("own", engine.Reference("message:out:new/x", "welcome", 0))))
		h.accept(t, js(t, outMessage("human", "")))
		got := h.waitHooks(t, 3)
		var seen []string
		for _, b := range got {
			seen = append(seen, b["rule"].(string)+"/"+b["event"].(string))
		}
		slices.Sort(seen)
		want := []string{"answer-out/human", "audit-own/human", "audit-own/own"}
		if !slices.Equal(seen, want) {
			t.Fatalf("fired %v, want %v", seen, want)
		}
	})
}

const groupLoopRules = `rules:
  - name: kick-links
    on: message:in:new
    if: data.body contains "http"
    do:
      - wassenger.group.remove: { device: "{{ device.id }}", group: "{{ data.chat.id }}", participants: ["{{ data.fromNumber }}"] }
  - name: removal-alert
    on: group:update
    if: action == "remove"
    do:
      - webhook: { url: "@HOOK@/hook", body: { rule: "removal-alert", event: "{{ id }}" } }
  - name: removal-audit
    on: group:update
    if: action == "remove"
    self: true
    do:
      - webhook: { url: "@HOOK@/hook", body: { rule: "removal-audit", event: "{{ id }}" } }
`

// The loop guard knows the group:update of a participant change hookd
// asked Wassenger for: after kick-links removes the sender of a link,
// Wassenger's removal event, made by the number itself, fires only the
// rule with self: true. Another admin's removal fires both, and so does
// the number's removal of someone hookd did not remove.
func TestOwnGroupChangeFiresOnlySelfRules(t *testing.T) {
	t.Parallel()
	testbackend.Each(t, func(t *testing.T, backend string) {
		h := start(t, options{backend: backend, rules: groupLoopRules})
		kickLink(t, h, "link")
		removal := func(id, author string, who ...any) string { return groupRemoval(t, id, author, who...) }
		// A removal that cannot be built (the sender is known by a linked
		// id, no phone) is an error of the API's dry-run, as the daemon
		// would dead-letter it.
		lid := messageEvent("lid", "cheap http://spam.example")
		lid["data"].(map[string]any)["chat"] = map[string]any{"id": groupID, "name": "Ops", "type": "group"}
		lid["data"].(map[string]any)["fromNumber"] = "203456789012345@lid"
		type dryRule struct {
			Rule, Outcome string
			Errors        []string
		}
		var lidDry struct{ Rules []dryRule }
		decode(t, h.admin(t, "POST", "/api/dry-run", js(t, lid)), &lidDry)
		if i := slices.IndexFunc(lidDry.Rules, func(r dryRule) bool { return r.Rule == "kick-links" }); i < 0 || lidDry.Rules[i].Outcome != "fired" || len(lidDry.Rules[i].Errors) != 1 ||
			!strings.Contains(lidDry.Rules[i].Errors[0], "cannot build the request (the daemon would dead-letter it)") {
			t.Fatalf("dry-run of a removal of a linked id: %+v, want kick-links fired with one error that it cannot be built", lidDry.Rules)
		}
		const number = ownNumber
		// The API's dry-run judges the echo as intake will.
		var dry struct {
			Rules []struct{ Rule, Outcome string }
		}
		decode(t, h.admin(t, "POST", "/api/dry-run", removal("echo", number, "+34600000002")), &dry)
		outcomes := map[string]string{}
		for _, r := range dry.Rules {
			outcomes[r.Rule] = r.Outcome
		}
		if outcomes["removal-alert"] != "own-send" || outcomes["removal-audit"] != "fired" {
			t.Fatalf("dry-run of the echo: %v, want removal-alert own-send and removal-audit fired", outcomes)
		}
		h.accept(t, removal("echo", number, "+34600000002"))
		h.accept(t, removal("admin", "+34600000001", "+34600000002"))
		h.accept(t, removal("other", number, "+34600000003"))
		want := []string{"kick-links/link", "removal-alert/admin", "removal-alert/other", "removal-audit/admin", "removal-audit/echo", "removal-audit/other"}
		if fired := firedJobs(t, h); !slices.Equal(fired, want) {
			t.Fatalf("jobs %v, want %v", fired, want)
		}
		h.waitHooks(t, 5)
	})
}

// ownNumber is device.phone of groupEvent: the number's own changes.
const ownNumber = "+4412345678"

// kickLink posts a message with a link to groupID from +34600000002,
// which kick-links of groupLoopRules answers by asking Wassenger to
// remove the sender, and waits until Wassenger gets that request.
func kickLink(t *testing.T, h *harness, id string) {
	t.Helper()
	link := messageEvent(id, "cheap http://spam.example")
	link["data"].(map[string]any)["chat"] = map[string]any{"id": groupID, "name": "Ops", "type": "group"}
	h.accept(t, js(t, link))
	err := h.wa.WaitFor(waitCtx(t), func(reqs []standin.Request) bool {
		for _, r := range reqs {
			if r.Method == http.MethodDelete && strings.HasSuffix(r.Path, "/groups/"+groupID+"/participants") {
				return true
			}
		}
		return false
	})
	if err != nil {
		t.Fatalf("Wassenger got no removal of the sender: %v", err)
	}
}

// groupRemoval is the group:update, id, of author's removal of who from
// groupID.
func groupRemoval(t *testing.T, id, author string, who ...any) string {
	ev := groupEvent(id, "remove")
	ev["author"], ev["participants"] = author, who
	return js(t, ev)
}

// firedJobs lists the jobs of h's store as rule/event id, sorted.
func firedJobs(t *testing.T, h *harness) []string {
	var fired []string
	for _, j := range h.jobs(t) {
		fired = append(fired, j.Rule+"/"+strings.Split(j.EventID, "/")[1]) // the key: event/id/...
	}
	slices.Sort(fired)
	return fired
}

// The loop guard keeps the changes hookd asked for in the store too: a
// daemon started again on it (as another node of a cluster reading the
// same store) still knows the group:update of a removal asked for before
// for hookd's own, which fires only the rule with self: true.
func TestOwnGroupChangeKnownAfterRestart(t *testing.T) {
	t.Parallel()
	testbackend.Each(t, func(t *testing.T, backend string) {
		h := start(t, options{backend: backend, rules: groupLoopRules})
		kickLink(t, h, "link")
		must(t, h.stop())
		h.restart(t)
		h.accept(t, groupRemoval(t, "echo", ownNumber, "+34600000002"))
		h.accept(t, groupRemoval(t, "other", ownNumber, "+34600000003"))
		want := []string{"kick-links/link", "removal-alert/other", "removal-audit/echo", "removal-audit/other"}
		if fired := firedJobs(t, h); !slices.Equal(fired, want) {
			t.Fatalf("jobs %v, want %v", fired, want)
		}
	})
}

// Bounded state: a rule holding the cap of keys refuses a new key,
// counts it in a metric and logs it; its keys held still count.
func TestStateKeyCapRefusesNewKeys(t *testing.T) {
	t.Parallel()
	testbackend.Each(t, func(t *testing.T, backend string) {
		h := start(t, options{backend: backend, rules: windowRules, maxStateKeys: 2})
		now := time.Now()
		h.accept(t, js(t, inChat("c1", "remove", "g1@g.us", now)))
		h.accept(t, js(t, inChat("c2", "remove", "g2@g.us", now)))
		h.accept(t, js(t, inChat("c3", "remove", "g3@g.us", now)))
		if n := h.metric(t, "hookd_state_keys_capped_total", "rule", "mass-removal"); n != 1 {
			t.Fatalf("hookd_state_keys_capped_total = %v, want 1", n)
		}
		if !strings.Contains(h.logs.String(), "rule state is full") {
			t.Fatal("no log line about the cap")
		}
		for _, e := range h.events(t) {
			if e.ID == "c3" && (len(e.Errors) != 1 || !strings.Contains(e.Errors[0], "cap")) {
				t.Fatalf("errors of c3: %q, want the cap", e.Errors)
			}
		}
		h.accept(t, js(t, inChat("c4", "remove", "g1@g.us", now)))
		h.accept(t, js(t, inChat("c5", "remove", "g1@g.us", now)))
		if got := h.waitHooks(t, 1); got[0]["event"] != "c5" {
			t.Fatalf("webhook %v, want c5: a held key still counts", got)
		}
	})
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
