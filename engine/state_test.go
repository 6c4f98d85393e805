package engine_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/engine"
	"github.com/hookd/hookd/event"
)

const stateRules = `version: 1
rules:
  - name: mass-removal
    on: group:update
    if: action == "remove"
    window: { key: "{{ data.chat.id }}", within: 10m, at_least: 3 }
    throttle: { per: 1h }
    do: [log: {message: "{{ window.count }} removals in {{ key }} by {{ window.times[0] }}; next {{ throttle.next }}"}]
  - name: links
    on: message:in:new
    if: data.body contains "http"
    window: { key: "{{ data.fromNumber }}", within: 1h, at_least: 2, then: continue }
    do: [log: {message: "link {{ window.count }} by {{ key }}"}]
  - name: survey
    on: group:update
    if: action == "leave"
    throttle: { key: "{{ data.chat.id }}", per: once, keep: 30d }
    do: [log: {message: "survey"}]
  - name: joins
    on: group:update
    if: action == "add"
    digest: { key: "{{ data.chat.id }}", every: 1h, max_events: 2 }
    do: [log: {message: "{{ digest.count }} joined {{ data.chat.name }}: {{ join(map(digest.events, .author), ',') }}"}]
  - name: morning
    on: schedule
    schedule: { cron: "0 9 * * *", timezone: Europe/Madrid }
    do: [log: {message: "good morning at {{ schedule.time }}"}]
  - name: echo
    on: message:out:new
    do: [log: {message: echo}]
  - name: echo-self
    on: message:out:new
    self: true
    do: [log: {message: echo}]
`

func loadState(t *testing.T, src string) *engine.RuleSet {
	t.Helper()
	rs, problems := engine.Load("rules.yaml", []byte(src), engine.LoadOptions{LookupEnv: func(string) (string, bool) { return "", false }})
	if rs == nil {
		t.Fatalf("load: %v", problems)
	}
	return rs
}

// at is 2026-03-02 (a Monday) at hh:mm:ss UTC, as Unix seconds.
func at(hms string) int64 {
	t, err := time.Parse("2006-01-02 15:04:05", "2026-03-02 "+hms)
	if err != nil {
		panic(err)
	}
	return t.Unix()
}

func groupAt(t *testing.T, action, chat, author string, created int64) *event.Event {
	t.Helper()
	return mustEvent(t, fmt.Sprintf(`{"id":"g%d%s","event":"group:update","action":%q,"created":%d,"author":%q,"data":{"chat":{"id":%q,"name":"Ventas %s"}}}`, created, author, action, created, author, chat, chat))
}

func logMessages(res *engine.Result, rule string) []string {
	var out []string
	for _, f := range res.Fired {
		if f.Rule.Name == rule {
			for _, a := range f.Actions {
				out = append(out, fmt.Sprint(a.Params["message"]))
			}
		}
	}
	return out
}

// TestReplayWindowThrottle replays removals in two groups: the third
// within 10 minutes fires, then the throttle holds the group for an
// hour, and the windows of the two groups do not mix.
func TestReplayWindowThrottle(t *testing.T) {
	rs := loadState(t, stateRules)
	events := []*event.Event{
		groupAt(t, "remove", "a", "1", at("10:00:00")),
		groupAt(t, "remove", "b", "2", at("10:01:00")),
		groupAt(t, "remove", "a", "3", at("10:02:00")),
		groupAt(t, "remove", "a", "4", at("10:09:00")), // 3rd within 10m in a: fires
		groupAt(t, "remove", "a", "5", at("10:10:00")),
		groupAt(t, "remove", "a", "6", at("10:11:00")),
		groupAt(t, "remove", "a", "7", at("10:12:00")), // 3 more, but throttled
		groupAt(t, "remove", "a", "8", at("11:20:00")),
		groupAt(t, "remove", "a", "9", at("11:21:00")),
		groupAt(t, "remove", "a", "10", at("11:25:00")), // throttle open again: fires
		groupAt(t, "remove", "b", "11", at("11:30:00")), // b: the 10:01 event is out of the window
	}
	var got []string
	var reasons []string
	rs.Replay(events, engine.NewMemoryState(), func(it engine.ReplayItem) {
		if it.Result == nil {
			return
		}
		got = append(got, logMessages(it.Result, "mass-removal")...)
		for _, o := range it.Outcomes {
			reasons = append(reasons, fmt.Sprintf("%s %s: %v %s", o.At.Format("15:04"), o.Key, o.Fire, o.Info.Reason))
		}
	})
	want := []string{
		"3 removals in a@g.us by 2026-03-02T10:00:00Z; next 2026-03-02T11:09:00Z",
		"3 removals in a@g.us by 2026-03-02T11:20:00Z; next 2026-03-02T12:25:00Z",
	}
	// The chat ids are "a" and "b"; the template renders the key.
	for i := range want {
		want[i] = strings.ReplaceAll(want[i], "a@g.us", "a")
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("fired:\n%s\nwant:\n%s\nsteps:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"), strings.Join(reasons, "\n"))
	}
	if !strings.Contains(strings.Join(reasons, "\n"), "10:12 a: false 3rd event within 10m of this key reaches at_least 3 (the window starts again); throttled: fires again for this key from 2026-03-02T11:09:00Z") {
		t.Errorf("no throttled step in:\n%s", strings.Join(reasons, "\n"))
	}
}

// TestReplayWindowWeight: a window with weight: counts the members each
// removal names, so that one event removing three and one removing two
// make the five of at_least: 5; an event that names none counts 0 and
// never fires the rule; a weight that is not a whole number is the
// rule's error for that event, which then does not count.
func TestReplayWindowWeight(t *testing.T) {
	rs := loadState(t, `version: 1
rules:
  - name: mass-removal
    on: group:update
    if: action == "remove"
    window: { key: "{{ data.chat.id }}", within: 10m, at_least: 5, weight: "len(participants ?? []) * (data.chat.scale ?? 1)" }
    do: [log: {message: "{{ window.count }} members removed from {{ key }} since {{ window.times[0] }}"}]
`)
	removal := func(created int64, chat string, participants int, extra string) *event.Event {
		ps := make([]string, participants)
		for i := range ps {
			ps[i] = fmt.Sprintf("%q", fmt.Sprintf("+3460000%04d", i))
		}
		return mustEvent(t, fmt.Sprintf(`{"id":"w%d","event":"group:update","action":"remove","created":%d,"participants":[%s],"data":{"chat":{"id":%q%s}}}`,
			created, created, strings.Join(ps, ","), chat, extra))
	}
	events := []*event.Event{
		removal(at("10:00:00"), "a@g.us", 3, ""),
		removal(at("10:01:00"), "a@g.us", 0, ""),             // counts 0
		removal(at("10:02:00"), "a@g.us", 1, `,"scale":0.5`), // 0.5: an error, not counted
		removal(at("10:03:00"), "b@g.us", 4, ""),             // another group
		removal(at("10:04:00"), "a@g.us", 2, ""),             // 3 + 2 = 5: fires
		removal(at("10:05:00"), "a@g.us", 0, ""),             // the window started again; 0
		removal(at("10:06:00"), "b@g.us", 1, `,"scale":"x"`), // not a number
		removal(at("10:20:00"), "b@g.us", 1, ""),             // the 4 of 10:03 are out of the window
		removal(at("10:21:00"), "b@g.us", 2, `,"scale":2`),   // 1 + 4 = 5: fires
	}
	var got, reasons, errs []string
	rs.Replay(events, engine.NewMemoryState(), func(it engine.ReplayItem) {
		if it.Result == nil {
			return
		}
		got = append(got, logMessages(it.Result, "mass-removal")...)
		for _, o := range it.Outcomes {
			reasons = append(reasons, fmt.Sprintf("%s %s: %s", o.At.Format("15:04"), o.Key, o.Info.Reason))
		}
		for _, e := range it.Result.Errors {
			errs = append(errs, e.Error())
		}
	})
	want := []string{
		"5 members removed from a@g.us since 2026-03-02T10:00:00Z",
		"5 members removed from b@g.us since 2026-03-02T10:20:00Z",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("fired:\n%s\nwant:\n%s\nsteps:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"), strings.Join(reasons, "\n"))
	}
	wantReasons := []string{
		"10:00 a@g.us: 3 counted within 10m of this key (this event counts 3), needs 5: waits",
		"10:01 a@g.us: 3 counted within 10m of this key (this event counts 0), needs 5: waits",
		"10:03 b@g.us: 4 counted within 10m of this key (this event counts 4), needs 5: waits",
		"10:04 a@g.us: 5 counted within 10m of this key (this event counts 2) reaches at_least 5 (the window starts again): fires",
		"10:05 a@g.us: 0 counted within 10m of this key (this event counts 0), needs 5: waits",
		"10:20 b@g.us: 1 counted within 10m of this key (this event counts 1), needs 5: waits",
		"10:21 b@g.us: 5 counted within 10m of this key (this event counts 4) reaches at_least 5 (the window starts again): fires",
	}
	sameLines(t, "steps", reasons, wantReasons)
	wantErrs := []string{"gave 0.5; it must be a whole number from 0 to 1000000; the rule did not count this event", "invalid operation: int * string"}
	if len(errs) != 2 || !strings.Contains(errs[0], wantErrs[0]) || !strings.Contains(errs[1], wantErrs[1]) || !strings.Contains(errs[0], "window.weight len(participants ?? []) * (data.chat.scale ?? 1)") {
		t.Errorf("errors:\n%s\nwant two, the first containing %q", strings.Join(errs, "\n"), wantErrs[0])
	}
}

// TestWindowWeightZero: an event that counts 0 neither fires a window
// with then: continue, nor (right after the window fired and started
// again) deletes the state it shares with the throttle, which would
// open the throttle again.
func TestWindowWeightZero(t *testing.T) {
	for _, tc := range []struct {
		name, keys string
		events     []*event.Event
		want       []string
	}{
		{"keeps the throttle", "window: { key: \"{{ data.chat.id }}\", within: 10m, at_least: 2, weight: \"len(participants ?? [])\" }\n    throttle: { per: 1h }",
			[]*event.Event{
				removalOf(t, at("10:00:00"), `"+1","+2"`), // fires, closes the throttle until 11:00
				removalOf(t, at("10:01:00"), ``),          // counts 0
				removalOf(t, at("10:02:00"), `"+3","+4"`), // 2 again, but throttled
			},
			[]string{"10:00: 2 removed"}},
		{"does not fire with then: continue", "window: { key: \"{{ data.chat.id }}\", within: 10m, at_least: 2, then: continue, weight: \"len(participants ?? [])\" }",
			[]*event.Event{
				removalOf(t, at("10:00:00"), `"+1"`),
				removalOf(t, at("10:01:00"), `"+2"`), // 2: fires
				removalOf(t, at("10:02:00"), ``),     // counts 0: does not fire
				removalOf(t, at("10:03:00"), `"+3"`), // 3: fires again
			},
			[]string{"10:01: 2 removed", "10:03: 3 removed"}},
	} {
		rs := loadState(t, "version: 1\nrules:\n  - name: members\n    on: group:update\n    if: action == \"remove\"\n    "+tc.keys+"\n    do: [log: {message: \"{{ window.count }} removed\"}]\n")
		sameLines(t, tc.name, replayFired(rs, "members", tc.events...), tc.want)
	}
}

// removalOf is a removal of members (JSON strings, comma-separated) from
// the group a@g.us, created at.
func removalOf(t *testing.T, created int64, members string) *event.Event {
	t.Helper()
	return mustEvent(t, fmt.Sprintf(`{"id":"r%d","event":"group:update","action":"remove","created":%d,"participants":[%s],"data":{"chat":{"id":"a@g.us"}}}`, created, created, members))
}

// replayFired replays events and returns what rule logged, each line
// prefixed with the event's time (15:04).
func replayFired(rs *engine.RuleSet, rule string, events ...*event.Event) []string {
	var fired []string
	rs.Replay(events, engine.NewMemoryState(), func(it engine.ReplayItem) {
		if it.Result != nil {
			for _, m := range logMessages(it.Result, rule) {
				fired = append(fired, it.At.Format("15:04")+": "+m)
			}
		}
	})
	return fired
}

// TestReplayContinueAndOnce: a window with then: continue fires on every
// further event; per: once fires once per key.
func TestReplayContinueAndOnce(t *testing.T) {
	rs := loadState(t, stateRules)
	msg := func(from string, ts int64) *event.Event {
		return mustEvent(t, fmt.Sprintf(`{"id":"m%d","event":"message:in:new","data":{"fromNumber":%q,"body":"see http://x","timestamp":%d}}`, ts, from, ts))
	}
	events := []*event.Event{
		msg("+1", at("09:00:00")), msg("+2", at("09:01:00")), msg("+1", at("09:30:00")), msg("+1", at("09:40:00")), msg("+1", at("11:00:00")),
		groupAt(t, "leave", "a", "1", at("09:00:00")), groupAt(t, "leave", "a", "2", at("12:00:00")), groupAt(t, "leave", "b", "3", at("12:00:00")),
	}
	var links, surveys []string
	rs.Replay(events, engine.NewMemoryState(), func(it engine.ReplayItem) {
		if it.Result != nil {
			links = append(links, logMessages(it.Result, "links")...)
			surveys = append(surveys, logMessages(it.Result, "survey")...)
		}
	})
	if got, want := strings.Join(links, "|"), "link 2 by +1|link 3 by +1"; got != want {
		t.Errorf("links fired %q, want %q", got, want)
	}
	if len(surveys) != 2 {
		t.Errorf("survey fired %d times, want 2 (once per group)", len(surveys))
	}
}

// TestReplayDigestAndTimer: joins are collected per group and sent at the
// end of each hour, at most max_events of them kept but all counted; a
// timer rule fires at its ticks between the events.
func TestReplayDigestAndTimer(t *testing.T) {
	rs := loadState(t, stateRules)
	events := []*event.Event{
		groupAt(t, "add", "a", "1", at("07:10:00")),
		groupAt(t, "add", "a", "2", at("07:20:00")),
		groupAt(t, "add", "a", "3", at("07:30:00")),
		groupAt(t, "add", "b", "4", at("07:40:00")),
		groupAt(t, "add", "a", "5", at("08:30:00")), // after the 08:00 flush
		groupAt(t, "remove", "c", "6", at("09:30:00")),
		groupAt(t, "add", "b", "7", at("09:40:00")), // sent when the events run out
	}
	var got []string
	rs.Replay(events, engine.NewMemoryState(), func(it engine.ReplayItem) {
		switch {
		case it.Flushed != nil:
			for _, a := range it.Flushed.Actions {
				got = append(got, fmt.Sprintf("%s end=%v %s", it.Flushed.Due.Format("15:04"), it.AtEnd, a.Params["message"]))
			}
		case it.Tick != nil:
			for _, a := range it.Tick.Actions {
				got = append(got, fmt.Sprint(a.Params["message"]))
			}
		case len(logMessages(it.Result, "joins")) > 0:
			t.Errorf("a digest fired on an event")
		}
	})
	want := []string{
		"08:00 end=false 3 joined Ventas a: 1,2",
		"08:00 end=false 1 joined Ventas b: 4",
		"good morning at 2026-03-02T09:00:00+01:00",
		"09:00 end=false 1 joined Ventas a: 5",
		"10:00 end=true 1 joined Ventas b: 7",
	}
	sameLines(t, "got", got, want)
}

// sameLines reports got and want, one item a line, when they differ.
func sameLines(t *testing.T, what string, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s:\n%s\nwant:\n%s", what, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestOwnSend: the message:out:new of hookd's own send fires only rules
// with self: true.
func TestOwnSend(t *testing.T) {
	rs := loadState(t, stateRules)
	for _, tc := range []struct {
		ref  string
		want string
	}{
		{"hookd:3EB0.1a2b3c4d:welcome:0", "echo-self"},
		{"crm-42", "echo echo-self"},
		{"", "echo echo-self"},
	} {
		ev := mustEvent(t, `{"id":"o1","event":"message:out:new","data":{"reference":"`+tc.ref+`"}}`)
		if got := strings.Join(fired(rs.Evaluate(ev)), " "); got != tc.want {
			t.Errorf("reference %q: fired %q, want %q", tc.ref, got, tc.want)
		}
	}
}

// TestScheduleDue: after downtime a schedule fires once, then waits for
// the next tick.
func TestScheduleDue(t *testing.T) {
	sc, err := engine.ParseSchedule("0 9 * * *", "Europe/Madrid", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	madrid, _ := time.LoadLocation("Europe/Madrid")
	day := func(d, h, m int) time.Time { return time.Date(2026, 3, d, h, m, 0, 0, madrid) }
	for _, tc := range []struct {
		name      string
		last, now time.Time
		fire      bool
		next      time.Time
	}{
		{"never fired", time.Time{}, day(2, 8, 0), false, day(2, 9, 0)},
		{"before the tick", day(1, 9, 0), day(2, 8, 59), false, day(2, 9, 0)},
		{"at the tick", day(1, 9, 0), day(2, 9, 0), true, day(3, 9, 0)},
		{"three days down", day(1, 9, 0), day(4, 15, 0), true, day(5, 9, 0)},
		{"just fired", day(2, 9, 0), day(2, 9, 0), false, day(3, 9, 0)},
	} {
		fire, next := sc.Due(tc.last, tc.now)
		if fire != tc.fire || !next.Equal(tc.next) {
			t.Errorf("%s: Due = %v, %s; want %v, %s", tc.name, fire, next, tc.fire, tc.next)
		}
	}
}

// TestScheduleTicks: IsTick tells a tick from another time, and Prev
// finds the tick before any time, however far back it is.
func TestScheduleTicks(t *testing.T) {
	madrid, _ := time.LoadLocation("Europe/Madrid")
	at := func(y, mo, d, h, m, sec int) time.Time { return time.Date(y, time.Month(mo), d, h, m, sec, 0, madrid) }
	for _, tc := range []struct {
		cron string
		t    time.Time
		tick bool
		prev time.Time
	}{
		{"0 9 * * 1", at(2026, 3, 2, 9, 0, 0), true, at(2026, 2, 23, 9, 0, 0)},
		{"0 9 * * 1", at(2026, 3, 2, 8, 30, 0), false, at(2026, 2, 23, 9, 0, 0)},
		{"0 9 * * 1", at(2026, 3, 2, 9, 0, 30), false, at(2026, 3, 2, 9, 0, 0)},
		{"*/5 * * * *", at(2026, 3, 2, 9, 7, 0), false, at(2026, 3, 2, 9, 5, 0)},
		{"*/5 * * * *", at(2026, 3, 2, 9, 10, 0), true, at(2026, 3, 2, 9, 5, 0)},
		{"0 0 29 2 *", at(2026, 3, 1, 0, 0, 0), false, at(2024, 2, 29, 0, 0, 0)},
		{"@yearly", at(2026, 1, 1, 0, 0, 0), true, at(2025, 1, 1, 0, 0, 0)},
	} {
		sc, err := engine.ParseSchedule(tc.cron, "Europe/Madrid", tc.t)
		if err != nil {
			t.Fatal(err)
		}
		if got := sc.IsTick(tc.t); got != tc.tick {
			t.Errorf("%s: IsTick(%s) = %v, want %v", tc.cron, tc.t, got, tc.tick)
		}
		if got := sc.Prev(tc.t); !got.Equal(tc.prev) {
			t.Errorf("%s: Prev(%s) = %s, want %s", tc.cron, tc.t, got, tc.prev)
		}
	}
}

// TestScheduleSummerTime: a schedule that names its hours fires once a
// day at its wall-clock time, also on the nights the clocks change: a
// time the clock skips fires as long after the skip began (02:30 is
// 03:30 summer time), a time that comes twice fires the first time. A
// schedule of every hour ticks every real hour.
func TestScheduleSummerTime(t *testing.T) {
	utc := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tc := range []struct {
		cron, zone, from string
		want             []string
	}{
		{"30 2 * * *", "Europe/Madrid", "2026-03-27T12:00:00Z", []string{"2026-03-28T01:30:00Z", "2026-03-29T01:30:00Z", "2026-03-30T00:30:00Z"}},
		{"30 2 * * *", "Europe/Madrid", "2026-10-23T12:00:00Z", []string{"2026-10-24T00:30:00Z", "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"}},
		{"0 9 * * *", "Europe/Madrid", "2026-10-24T12:00:00Z", []string{"2026-10-25T08:00:00Z", "2026-10-26T08:00:00Z"}},
		{"30 1 * * *", "America/New_York", "2026-10-31T12:00:00Z", []string{"2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"}},
		{"30 2 * * *", "America/New_York", "2026-03-07T12:00:00Z", []string{"2026-03-08T07:30:00Z", "2026-03-09T06:30:00Z"}},
		{"0 * * * *", "Europe/Madrid", "2026-10-24T23:30:00Z", []string{"2026-10-25T00:00:00Z", "2026-10-25T01:00:00Z", "2026-10-25T02:00:00Z"}},
		{"0 * * * *", "Europe/Madrid", "2026-03-28T23:30:00Z", []string{"2026-03-29T00:00:00Z", "2026-03-29T01:00:00Z", "2026-03-29T02:00:00Z"}},
		{"*/15 1-3 * * *", "Europe/Madrid", "2026-03-28T23:50:00Z", []string{"2026-03-29T00:00:00Z", "2026-03-29T00:15:00Z", "2026-03-29T00:30:00Z", "2026-03-29T00:45:00Z", "2026-03-29T01:00:00Z", "2026-03-29T01:15:00Z", "2026-03-29T01:30:00Z", "2026-03-29T01:45:00Z", "2026-03-29T23:00:00Z"}},
		{"*/15 1-3 * * *", "Europe/Madrid", "2026-10-24T22:50:00Z", []string{"2026-10-24T23:00:00Z", "2026-10-24T23:15:00Z", "2026-10-24T23:30:00Z", "2026-10-24T23:45:00Z", "2026-10-25T00:00:00Z", "2026-10-25T00:15:00Z", "2026-10-25T00:30:00Z", "2026-10-25T00:45:00Z", "2026-10-25T02:00:00Z", "2026-10-25T02:15:00Z", "2026-10-25T02:30:00Z", "2026-10-25T02:45:00Z", "2026-10-26T00:00:00Z"}},
		// Lord Howe Island goes from 02:00 to 02:30: 02:40 comes, and
		// 02:20, skipped, fires 30 minutes after the skip began.
		{"20,40 2 * * *", "Australia/Lord_Howe", "2026-10-03T15:00:00Z", []string{"2026-10-03T15:40:00Z", "2026-10-03T15:50:00Z", "2026-10-04T15:20:00Z"}},
		// and back from 02:00 to 01:30: 01:45 fires the first time.
		{"*/15 1-2 * * *", "Australia/Lord_Howe", "2026-04-04T14:10:00Z", []string{"2026-04-04T14:15:00Z", "2026-04-04T14:30:00Z", "2026-04-04T14:45:00Z", "2026-04-04T15:30:00Z", "2026-04-04T15:45:00Z", "2026-04-04T16:00:00Z", "2026-04-04T16:15:00Z"}},
	} {
		from := utc(tc.from)
		sc, err := engine.ParseSchedule(tc.cron, tc.zone, from)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for tick := from; len(got) < len(tc.want); {
			tick = sc.Next(tick)
			got = append(got, tick.UTC().Format(time.RFC3339))
			if !sc.IsTick(tick) || !sc.Prev(tick.Add(time.Second)).Equal(tick) {
				t.Errorf("%s %s: %s is not a tick of its own", tc.cron, tc.zone, tick)
			}
		}
		if strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("%s in %s from %s: ticks %v, want %v", tc.cron, tc.zone, tc.from, got, tc.want)
			continue
		}
		// From any minute between them, Next is the tick that follows
		// it, however close to the change of the clocks it is.
		next := 0
		for m := from; m.Before(utc(tc.want[len(tc.want)-1])); m = m.Add(time.Minute) {
			for !utc(tc.want[next]).After(m) {
				next++
			}
			if got := sc.Next(m); !got.Equal(utc(tc.want[next])) {
				t.Errorf("%s in %s: Next(%s) = %s, want %s", tc.cron, tc.zone, m.Format(time.RFC3339), got.UTC().Format(time.RFC3339), tc.want[next])
				break
			}
		}
	}
}

// TestTimerTemplatesLoad: a timer rule's templates read what its tick
// gives them (now, schedule.*, vars), also through $env, and check
// finds nothing wrong with them; the tick renders them.
func TestTimerTemplatesLoad(t *testing.T) {
	rs, problems := engine.Load("rules.yaml", []byte(`version: 1
vars: { team: ops }
rules:
  - name: morning
    on: schedule
    schedule: { cron: "0 9 * * *", timezone: Europe/Madrid }
    do:
      - log: { message: "{{ vars.team }} at {{ now }}, {{ $env.schedule.time }} ({{ schedule.timezone }})" }
`), engine.LoadOptions{})
	if rs == nil || len(problems) > 0 {
		t.Fatalf("load: %v", problems)
	}
	rule, _ := rs.Rule("morning")
	acts, errs := rs.Tick(rule, time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC))
	if len(errs) > 0 || len(acts) != 1 {
		t.Fatalf("tick: %v %v", acts, errs)
	}
	if got, want := acts[0].Params["message"], "ops at 2026-03-02T09:00:00+01:00, 2026-03-02T09:00:00+01:00 (Europe/Madrid)"; got != want {
		t.Errorf("message %q, want %q", got, want)
	}
}

// TestLetIsNoField: a name a template declares with let is no field of
// the event or of the tick: check neither warns that events lack it nor
// calls it an event field of a timer rule.
func TestLetIsNoField(t *testing.T) {
	rs, problems := engine.Load("rules.yaml", []byte(`version: 1
rules:
  - name: who
    on: group:update
    do:
      - log: { message: "{{ let who = author; who + ' ' + action }}" }
      - log: { message: "{{ let chat = data.chat; chat.name }}" }
  - name: morning
    on: schedule
    schedule: { cron: "0 9 * * *" }
    do:
      - log: { message: "{{ let at = schedule.time; at }}" }
`), engine.LoadOptions{})
	if rs == nil || len(problems) > 0 {
		t.Fatalf("load: %v", problems)
	}
}

// TestParseScheduleBothProblems: a bad expression in an unknown zone
// gives both problems, not the first.
func TestParseScheduleBothProblems(t *testing.T) {
	_, err := engine.ParseSchedule("@dayly", "Europe/Madird", time.Now())
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{`unknown cron descriptor "@dayly" (did you mean "@daily"?)`, `unknown time zone "Europe/Madird" (did you mean "Europe/Madrid"?)`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

// TestStateApplyTwice: Apply is pure: applying a step twice to the same
// state gives the same result.
func TestStateApplyTwice(t *testing.T) {
	rs := loadState(t, stateRules)
	res := rs.EvaluateAt(groupAt(t, "remove", "a", "1", at("10:00:00")), time.Time{})
	if len(res.Steps) != 1 || len(res.Fired) != 0 {
		t.Fatalf("steps %d, fired %v", len(res.Steps), fired(res))
	}
	st := res.Steps[0]
	if st.Key != "a" || st.Rule.Name != "mass-removal" || !st.At.Equal(time.Unix(at("10:00:00"), 0)) {
		t.Fatalf("step %+v", st)
	}
	a1, f1, e1 := st.Apply([]byte(`{"times":[1772445300000]}`))
	a2, f2, e2 := st.Apply([]byte(`{"times":[1772445300000]}`))
	if string(a1) != string(a2) || f1 != f2 || !e1.Equal(e2) {
		t.Errorf("Apply differs: %s %v %s / %s %v %s", a1, f1, e1, a2, f2, e2)
	}
	if !e1.Equal(time.Unix(at("10:10:00"), 0)) {
		t.Errorf("window state expires %s, want 10 minutes after its last event", e1)
	}
}

// TestStateExpiryOfLateEvent: the store forgets a state by its own
// clock, so a state changed by a late event expires as long after the
// event arrived as it would have after the event: a per: once throttle
// still holds 90 days after a recording from 100 days ago is posted, a
// window is kept its within, a digest its keep.
func TestStateExpiryOfLateEvent(t *testing.T) {
	rs := loadState(t, `version: 1
rules:
  - name: once
    on: group:update
    if: action == "remove"
    throttle: { key: "{{ author }}", per: once }
    do:
      - log: { message: "x" }
  - name: burst
    on: group:update
    if: action == "remove"
    window: { key: "{{ data.chat.id }}", within: 10m, at_least: 5 }
    do:
      - log: { message: "x" }
  - name: joins
    on: group:update
    if: action == "remove"
    digest: { key: "{{ data.chat.id }}", every: 1h, keep: 2d }
    do:
      - log: { message: "x" }
`)
	created := at("10:00:00")
	arrival := time.Unix(created, 0).AddDate(0, 0, 100)
	res := rs.EvaluateAt(groupAt(t, "remove", "g", "+1", created), arrival)
	want := map[string]time.Time{
		"once":  arrival.Add(engine.DefaultKeep),
		"burst": arrival.Add(10 * time.Minute),
		"joins": arrival.Add(time.Hour + 2*24*time.Hour), // due at 11:00 in event time, then keep
	}
	if len(res.Steps) != len(want) {
		t.Fatalf("%d steps, want %d", len(res.Steps), len(want))
	}
	for _, st := range res.Steps {
		_, _, expires := st.Apply(nil)
		if !expires.Equal(want[st.Rule.Name]) {
			t.Errorf("%s: state expires %s, want %s", st.Rule.Name, expires, want[st.Rule.Name])
		}
	}
}

// TestStateCheck: check refuses nonsense at file:line:col, every
// problem of a block, not only the first.
func TestStateCheck(t *testing.T) {
	check := func(name, src string, want []string) {
		t.Helper()
		_, problems := engine.Load("rules.yaml", []byte(src), engine.LoadOptions{})
		if len(problems) != len(want) {
			t.Errorf("%s: %d problems, want %d:\n%s", name, len(problems), len(want), problems.Error())
			return
		}
		for i, p := range problems {
			if !strings.Contains(p.String(), want[i]) {
				t.Errorf("%s: problem %d is\n%s\nwant it to contain %q", name, i, p, want[i])
			}
		}
	}
	rule := func(keys string) string {
		return "version: 1\nrules:\n  - name: r\n    on: group:update\n" + keys + "    do: [log: {message: m}]\n"
	}
	for _, tc := range []struct {
		name, keys string
		want       []string // each problem, in file order
	}{
		{"zero period", "    throttle: { per: 0s }\n", []string{"rules.yaml:5:22: rule \"r\": throttle.per must be at least 1s"}},
		{"negative period", "    window: { within: -5m, at_least: 2 }\n", []string{"rules.yaml:5:23: rule \"r\": window.within must be at least 1s"}},
		{"bad period", "    window: { within: soon, at_least: 2 }\n", []string{"rules.yaml:5:23: rule \"r\": window.within must be a period"}},
		{"at_least 0", "    window: { within: 5m, at_least: 0 }\n", []string{"rules.yaml:5:37: rule \"r\": window.at_least must be a whole number of at least 1"}},
		{"no at_least", "    window: { within: 5m }\n", []string{"rules.yaml:5:13: rule \"r\": window needs at_least"}},
		{"constant key", "    throttle: { key: group, per: 1h }\n", []string{"rules.yaml:5:22: rule \"r\": the key \"group\" is a constant"}},
		{"vars key", "    throttle: { key: \"{{ vars.x }}\", per: 1h }\n", []string{"unknown variable vars.x"}},
		{"bool key", "    throttle: { key: \"{{ data.chat.id == 'x' }}\", per: 1h }\n", []string{"rules.yaml:5:22: rule \"r\": the key \"{{ data.chat.id == 'x' }}\" is a bool, not a string"}},
		{"cron never", "    digest: { schedule: \"0 0 30 2 *\" }\n", []string{"rules.yaml:5:25: rule \"r\": digest: cron expression \"0 0 30 2 *\" never fires"}},
		{"cron bad", "    digest: { schedule: \"0 25 * * *\" }\n", []string{"rules.yaml:5:25: rule \"r\": digest: cannot read the cron expression"}},
		{"zone", "    digest: { schedule: \"0 9 * * *\", timezone: Mars/Olympus }\n", []string{"rules.yaml:5:48: rule \"r\": digest: unknown time zone \"Mars/Olympus\": use an IANA name"}},
		{"zone misspelt", "    digest: { schedule: \"0 9 * * *\", timezone: Europe/Madird }\n", []string{"rules.yaml:5:48: rule \"r\": digest: unknown time zone \"Europe/Madird\" (did you mean \"Europe/Madrid\"?): use an IANA name"}},
		{"zone with a space", "    digest: { schedule: \"0 9 * * *\", timezone: America/New York }\n", []string{"rules.yaml:5:48: rule \"r\": digest: unknown time zone \"America/New York\" (did you mean \"America/New_York\"?)"}},
		{"digest and window", "    digest: { every: 1h }\n    window: { within: 5m, at_least: 2 }\n", []string{"rules.yaml:6:5: rule \"r\": a digest collects every matching event and a window counts them"}},
		{"digest and throttle", "    digest: { every: 1h }\n    throttle: { per: 1h }\n", []string{"rules.yaml:6:5: rule \"r\": a digest already runs its actions at most once per period"}},
		{"two keys", "    window: { key: \"{{ data.chat.id }}\", within: 5m, at_least: 2 }\n    throttle: { key: \"{{ author }}\", per: 1h }\n", []string{"rules.yaml:6:22: rule \"r\": throttle.key differs from the window's key"}},
		{"stop", "    stop: true\n    throttle: { per: 1h }\n", []string{"rules.yaml:5:5: rule \"r\": stop: true cannot go with throttle"}},
		{"every and schedule", "    digest: { every: 1h, schedule: \"0 9 * * *\" }\n", []string{"rules.yaml:5:26: rule \"r\": digest: set every: or schedule:, not both"}},
		{"weight a template", "    window: { within: 5m, at_least: 2, weight: \"{{ len(participants) }}\" }\n", []string{"rules.yaml:5:48: rule \"r\": window.weight is an expression, as in if:, not a template"}},
		{"weight a string", "    window: { within: 5m, at_least: 2, weight: upper(author) }\n", []string{"rules.yaml:5:48: rule \"r\": window.weight must give a number (how many this event counts for), but \"upper(author)\" gives a string"}},
		{"weight a bool", "    window: { within: 5m, at_least: 2, weight: len(participants) > 2 }\n", []string{"rules.yaml:5:48: rule \"r\": window.weight must give a number"}},
		{"weight unknown function", "    window: { within: 5m, at_least: 2, weight: size(participants) }\n", []string{"rules.yaml:5:48: rule \"r\": window.weight: unknown function size"}},
		{"unknown key", "    window: { within: 5m, at_least: 2, count: 3 }\n", []string{"rules.yaml:5:40: rule \"r\": window: unknown key \"count\""}},
		{"unknown key kep", "    throttle: { per: once, kep: 30d }\n", []string{"rules.yaml:5:28: rule \"r\": throttle: unknown key \"kep\" (did you mean \"keep\"?)"}},
		{"schedule on event rule", "    schedule: { cron: \"0 9 * * *\" }\n", []string{"rules.yaml:5:5: rule \"r\": schedule: belongs to timer rules (on: schedule)"}},
		// A quoted number is text, as in the JSON Schema.
		{"quoted at_least", "    window: { within: 5m, at_least: \"5\" }\n", []string{`rules.yaml:5:37: rule "r": window.at_least must be a whole number, found the text "5": remove the quotes`}},
		{"quoted at_least 0", "    window: { within: 5m, at_least: '0' }\n", []string{`rules.yaml:5:37: rule "r": window.at_least must be a whole number of at least 1, found the text "0"`}},
		{"at_least a fraction", "    window: { within: 5m, at_least: 2.5 }\n", []string{`rules.yaml:5:37: rule "r": window.at_least must be a whole number of at least 1, found a number 2.5`}},
		{"quoted max_events", "    digest: { every: 1h, max_events: \"10\" }\n", []string{`rules.yaml:5:38: rule "r": digest.max_events must be a whole number, found the text "10": remove the quotes`}},
		// Every problem of a block, each at its place.
		{"cron and zone", "    digest: { schedule: \"0 25 * * *\", timezone: Mars/Olympus }\n", []string{
			`rules.yaml:5:25: rule "r": digest: cannot read the cron expression "0 25 * * *"`,
			`rules.yaml:5:49: rule "r": digest: unknown time zone "Mars/Olympus"`,
		}},
		{"misspelt descriptor", "    digest: { schedule: \"@dayly\" }\n", []string{`rules.yaml:5:25: rule "r": digest: unknown cron descriptor "@dayly" (did you mean "@daily"?)`}},
		{"descriptor case", "    digest: { schedule: \"@Weekly\" }\n", []string{`(did you mean "@weekly"?)`}},
		{"zero period and unknown key", "    digest: { every: 0s, evry: 1h }\n", []string{
			`rules.yaml:5:22: rule "r": digest.every must be at least 1s`,
			`rules.yaml:5:26: rule "r": digest: unknown key "evry" (did you mean "every"?)`,
		}},
		{"every and schedule, both wrong", "    digest: { every: 0s, schedule: \"@dayly\", max_events: \"3\" }\n", []string{
			`rules.yaml:5:22: rule "r": digest.every must be at least 1s`,
			`rules.yaml:5:26: rule "r": digest: set every: or schedule:, not both`,
			`rules.yaml:5:36: rule "r": digest: unknown cron descriptor "@dayly"`,
			`rules.yaml:5:58: rule "r": digest.max_events must be a whole number, found the text "3"`,
		}},
		{"digest, window and throttle", "    digest: { every: 1h }\n    window: { within: 5m, at_least: 2 }\n    throttle: { per: 1h }\n", []string{
			`rules.yaml:6:5: rule "r": a digest collects every matching event and a window counts them`,
			`rules.yaml:7:5: rule "r": a digest already runs its actions at most once per period`,
		}},
	} {
		check(tc.name, rule(tc.keys), tc.want)
	}
	timerRule := func(keys string) string {
		return "version: 1\nrules:\n  - name: t\n    on: schedule\n" + keys + "    do: [log: {message: m}]\n"
	}
	check("timer: descriptor and zone", timerRule("    schedule: { cron: \"@dayly\", timezone: Mars/Olympus }\n"), []string{
		`rules.yaml:5:23: rule "t": schedule: unknown cron descriptor "@dayly" (did you mean "@daily"?)`,
		`rules.yaml:5:43: rule "t": schedule: unknown time zone "Mars/Olympus"`,
	})
	check("timer: no cron, bad zone", timerRule("    schedule: { cronn: \"@daily\", timezone: Mars/Olympus }\n"), []string{
		`rules.yaml:5:15: rule "t": schedule needs cron:`,
		`rules.yaml:5:17: rule "t": schedule: unknown key "cronn" (did you mean "cron"?)`,
		`rules.yaml:5:44: rule "t": schedule: unknown time zone "Mars/Olympus"`,
	})
	check("timer: @every", timerRule("    schedule: { cron: \"@every 1h\" }\n"), []string{`rules.yaml:5:23: rule "t": schedule: @every is not a calendar schedule`})
	timer := "version: 1\nrules:\n  - name: t\n    on: [schedule, group:update]\n    schedule: { cron: \"@daily\" }\n    do: [log: {message: m}]\n"
	if _, problems := engine.Load("rules.yaml", []byte(timer), engine.LoadOptions{}); !strings.Contains(problems.Error(), "rules.yaml:4:9: rule \"t\": on: schedule cannot be mixed with event names") {
		t.Errorf("mixed on: %s", problems.Error())
	}
}

// TestStateCodec: the hand-written state JSON reads back what it wrote,
// and is what encoding/json writes.
func TestStateCodec(t *testing.T) {
	for _, s := range []engine.RuleState{
		{},
		{Times: []int64{1, 2, 3}, Next: 99},
		{Fired: []int64{5}},
		{Count: 3, Events: []json.RawMessage{json.RawMessage(`{"event":"group:update","n":1}`), json.RawMessage(`{"a":[1,2]}`)}, First: 10, Last: 20, Due: 30},
	} {
		got := engine.EncodeStateForTest(s)
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("encode %+v:\n got %s\nwant %s", s, got, want)
		}
		back := engine.DecodeStateForTest(got)
		if again := engine.EncodeStateForTest(back); string(again) != string(got) {
			t.Errorf("decode %s gives %s", got, again)
		}
	}
	if s := engine.DecodeStateForTest([]byte(`not json`)); len(engine.EncodeStateForTest(s)) != 2 {
		t.Errorf("bad bytes decode to %+v, want no state", s)
	}
}

// TestStateBoundaries pins the edges of the periods, as rules.md says:
// an event exactly `within` after another is no longer in its window,
// and a throttle lets the rule fire again at exactly `per` after it
// fired, the time its reason names.
func TestStateBoundaries(t *testing.T) {
	rs := loadState(t, `version: 1
rules:
  - name: pair
    on: group:update
    window: { key: "{{ data.chat.id }}", within: 10m, at_least: 2 }
    do: [log: {message: pair}]
  - name: hourly
    on: group:update
    throttle: { key: "{{ data.chat.id }}", per: 1h }
    do: [log: {message: hourly}]
`)
	tests := []struct {
		name   string
		times  []string
		rule   string
		fires  []bool
		reason string // of the last event
	}{
		{"second at 9:59 is in the window", []string{"10:00:00", "10:09:59"}, "pair", []bool{false, true}, ""},
		{"second at exactly 10m is not", []string{"10:00:00", "10:10:00"}, "pair", []bool{false, false}, "1st event within 10m"},
		{"throttle holds until its period ends", []string{"10:00:00", "10:59:59"}, "hourly", []bool{true, false}, "fires again for this key from 2026-03-02T11:00:00Z"},
		{"throttle opens at exactly per", []string{"10:00:00", "11:00:00"}, "hourly", []bool{true, true}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var events []*event.Event
			for i, hms := range tt.times {
				events = append(events, groupAt(t, "remove", "a", fmt.Sprint(i), at(hms)))
			}
			var fires []bool
			reason := ""
			rs.Replay(events, engine.NewMemoryState(), func(it engine.ReplayItem) {
				for _, o := range it.Outcomes {
					if o.Rule.Name == tt.rule {
						fires = append(fires, o.Fire)
						reason = o.Info.Reason
					}
				}
			})
			if fmt.Sprint(fires) != fmt.Sprint(tt.fires) {
				t.Errorf("fires %v, want %v (last: %s)", fires, tt.fires, reason)
			}
			if !strings.Contains(reason, tt.reason) {
				t.Errorf("last reason %q does not say %q", reason, tt.reason)
			}
		})
	}
}
