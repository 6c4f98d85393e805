package engine_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hookd/hookd/engine"
	"github.com/hookd/hookd/event"
)

// TestProjectionKeepsEventTimeAndReference: the daemon decodes events
// with the rule set's projection, so it must keep the fields Evaluate
// reads itself even when no rule reads them: created and data.timestamp
// (the event time of windows, throttles and digests) and data.reference
// (the loop guard).
func TestProjectionKeepsEventTimeAndReference(t *testing.T) {
	rs := loadRules(t, `version: 1
rules:
  - name: r
    on: message:out:new
    if: data.body == "hi"
    throttle: { per: 1h }
    do:
      - log: { message: "x" }
`)
	raw := []byte(`{"event":"message:out:new","id":"e1","created":1721661487,
		"data":{"id":"m1","body":"hi","timestamp":1721661400,"reference":"hookd:m1.00000000:r:0"}}`)
	evs, err := event.ParseProjected(raw, rs.Projection())
	if err != nil || len(evs) != 1 {
		t.Fatal(evs, err)
	}
	if got := engine.EventTime(evs[0], time.Time{}); got.Unix() != 1721661487 {
		t.Errorf("EventTime of the projected event = %v, want its created time", got)
	}
	if !engine.OwnSend(evs[0]) {
		t.Error("OwnSend of the projected event = false: data.reference was dropped")
	}
	delete(evs[0].Fields, "created")
	if got := engine.EventTime(evs[0], time.Time{}); got.Unix() != 1721661400 {
		t.Errorf("EventTime without created = %v, want data.timestamp", got)
	}
}

// TestEventTimeOfBatchedItems: the items of message:out:failed (and
// :sent, :removed, :expired) have no created; their date is the event
// time, also when the projection is all the daemon decodes.
func TestEventTimeOfBatchedItems(t *testing.T) {
	rs := loadRules(t, `version: 1
rules:
  - name: r
    on: message:out:failed
    if: data.status == "failed"
    throttle: { per: 1h }
    do:
      - log: { message: "x" }
`)
	raw := []byte(`{"event":"message:out:failed","date":"2024-07-22T15:41:10.503Z","entityId":"66a1","data":{"id":"66a1","status":"failed"}}`)
	for name, proj := range map[string]*event.Projection{"projected": rs.Projection(), "whole": nil} {
		evs, err := event.ParseProjected(raw, proj)
		if err != nil || len(evs) != 1 {
			t.Fatal(evs, err)
		}
		want := time.Date(2024, 7, 22, 15, 41, 10, 503e6, time.UTC)
		if got := engine.EventTime(evs[0], time.Unix(1, 0)); !got.Equal(want) {
			t.Errorf("%s: EventTime = %v, want its date %v", name, got, want)
		}
	}
}

// TestEventTimeOfEventsAboutAMessage: an ack, an edit or vote, a reaction
// carry the envelope of the message they are about, whose created and
// data.timestamp are the message's time (in the spec's ack example,
// created equals data.timestamp and data.events dates the ack later).
// Such an event counts at its own state's date in data.events (date or
// reportedAt) when it has one; else the daemon takes its arrival and a
// replay (ReplayTime, no arrival) the envelope's time. A new message's
// time is its created. The same with the projection the daemon decodes.
func TestEventTimeOfEventsAboutAMessage(t *testing.T) {
	rs := loadRules(t, `version: 1
rules:
  - name: r
    on: "message:*"
    if: data.body != ""
    window: { within: 10m, at_least: 2 }
    do:
      - log: { message: "x" }
`)
	arrival := time.Date(2024, 7, 22, 15, 0, 0, 0, time.UTC)
	recorded := func(name string) []byte {
		t.Helper()
		b, err := os.ReadFile(filepath.Join("..", "testdata", "events", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	spec := func(name string) []byte { return recorded(filepath.Join("spec", name)) }
	created := time.Unix(1671225190, 0).UTC()
	prev := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	stated := time.Date(2024, 7, 22, 14, 0, 0, 0, time.UTC)
	tests := []struct {
		name         string
		body         []byte
		want, replay time.Time
	}{
		{"delivered ack: data.events.delivered.date", spec("message-out-ack-delivered.json"), time.Date(2022, 12, 16, 21, 26, 43, 216e6, time.UTC), time.Date(2022, 12, 16, 21, 26, 43, 216e6, time.UTC)},
		{"read ack without data.events.read", spec("message-out-ack-read.json"), arrival, time.Unix(1671220018, 0).UTC()},
		{"read ack dated as readed.reportedAt", []byte(`{"id":"m1","event":"message:out:ack","ack":"read","created":1671225190,"data":{"id":"m1","events":{"readed":{"reportedAt":"2024-07-22T14:00:00Z"}}}}`), stated, stated},
		{"server ack dated as sent", []byte(`{"id":"m1","event":"message:out:ack","ack":"server","created":1671225190,"data":{"id":"m1","events":{"sent":{"date":"2024-07-22T14:00:00Z"}}}}`), stated, stated},
		{"new message: created", spec("message-in-new.json"), created, created},
		{"captured group message: created", recorded("message-in-group-live.json"), time.Unix(1779185675, 0).UTC(), time.Unix(1779185675, 0).UTC()},
		{"reaction without a date of its own", []byte(`{"id":"m1","event":"message:reaction","created":1671225190,"data":{"id":"m1","timestamp":1671225190,"body":"hi"}}`), arrival, created},
		{"reaction dated in data.events", []byte(`{"id":"m1","event":"message:reaction","created":1671225190,"data":{"id":"m1","events":{"reaction":{"reportedAt":"2024-07-22T14:00:00Z"}}}}`), stated, stated},
		{"edit without a date of its own", []byte(`{"id":"m1","event":"message:update","created":1671225190,"data":{"id":"m1","timestamp":1671225190,"body":"hi"}}`), arrival, created},
		{"edit without any time", []byte(`{"id":"m1","event":"message:update","data":{"id":"m1","body":"hi"}}`), arrival, prev},
		{"created in milliseconds", []byte(`{"id":"m1","event":"message:in:new","created":1671225190000,"data":{"id":"m1","body":"hi"}}`), created, created},
		{"created in milliseconds with a fraction", []byte(`{"id":"m1","event":"message:in:new","created":1671225190000.0,"data":{"id":"m1","body":"hi"}}`), created, created},
		{"created as a string of seconds", []byte(`{"id":"m1","event":"message:in:new","created":"1671225190","data":{"id":"m1","body":"hi"}}`), created, created},
		{"created as RFC 3339", []byte(`{"id":"m1","event":"message:in:new","created":"2022-12-16T21:13:10Z","data":{"id":"m1","body":"hi"}}`), created, created},
		{"timestamp in milliseconds", []byte(`{"id":"m1","event":"message:in:new","data":{"id":"m1","timestamp":1671225190000,"body":"hi"}}`), created, created},
	}
	for _, tt := range tests {
		for proj, p := range map[string]*event.Projection{"projected": rs.Projection(), "whole": nil} {
			evs, err := event.ParseProjected(tt.body, p)
			if err != nil || len(evs) != 1 {
				t.Fatal(tt.name, evs, err)
			}
			if got := engine.EventTime(evs[0], arrival); !got.Equal(tt.want) {
				t.Errorf("%s (%s): EventTime = %v, want %v", tt.name, proj, got, tt.want)
			}
			if got := engine.ReplayTime(evs[0], prev); !got.Equal(tt.replay) {
				t.Errorf("%s (%s): ReplayTime = %v, want %v", tt.name, proj, got, tt.replay)
			}
		}
	}
}

// TestSortByTimeOfReactions: a replay (dry-run, explain) times a
// reaction, which names no time of its own, by its envelope (its
// message's time), or by the event before it when that is later: not at
// the Unix epoch.
func TestSortByTimeOfReactions(t *testing.T) {
	const ten = 1772445600 // 2026-03-02T10:00:00Z
	var evs []*event.Event
	for i, body := range []string{
		`{"id":"r1","event":"message:reaction","created":%d,"data":{"id":"m1"}}`,
		`{"id":"r2","event":"message:reaction","created":%d,"data":{"id":"m2"}}`,
		`{"id":"n3","event":"message:in:new","created":%d,"data":{"id":"n3"}}`,
		`{"id":"r4","event":"message:reaction","created":%d,"data":{"id":"m0"}}`, // to a message of 9:00
	} {
		created := []int64{ten, ten + 3600, ten + 5400, ten - 3600}[i]
		parsed, err := event.Parse([]byte(fmt.Sprintf(body, created)))
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, parsed...)
	}
	times := engine.SortByTime(evs)
	for i, want := range []struct {
		id string
		at int64
	}{{"r1", ten}, {"r2", ten + 3600}, {"n3", ten + 5400}, {"r4", ten + 5400}} {
		if evs[i].ID != want.id || times[i].Unix() != want.at {
			t.Errorf("event %d: %s at %v, want %s at %v", i, evs[i].ID, times[i], want.id, time.Unix(want.at, 0).UTC())
		}
	}
}

// TestProjectionOfStatelessRules: a rule set that remembers nothing does
// not decode the event time's fields (data.events, created) at intake,
// which only windows, throttles and digests read; it keeps the
// reference of hookd's own sends.
func TestProjectionOfStatelessRules(t *testing.T) {
	rs := loadRules(t, `version: 1
rules:
  - name: r
    on: message:out:new
    if: data.body == "hi"
    do:
      - log: { message: "x" }
`)
	raw := []byte(`{"event":"message:out:new","id":"m1","created":1721661487,
		"data":{"id":"m1","body":"hi","reference":"hookd:m1.00000000:r:0","events":{"sent":{"date":"2024-07-22T15:35:19Z"}}}}`)
	evs, err := event.ParseProjected(raw, rs.Projection())
	if err != nil || len(evs) != 1 {
		t.Fatal(evs, err)
	}
	data, _ := evs[0].Fields["data"].(map[string]any)
	if _, ok := data["events"]; ok {
		t.Error("data.events decoded for rules that remember nothing")
	}
	if _, ok := evs[0].Fields["created"]; ok {
		t.Error("created decoded for rules that remember nothing")
	}
	if !engine.OwnSend(evs[0]) {
		t.Error("OwnSend of the projected event = false: data.reference was dropped")
	}
}
