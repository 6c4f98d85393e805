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
