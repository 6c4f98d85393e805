package engine_test

import (
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
