package engine_test

import (
	"regexp"
	"testing"
	"time"

	"github.com/hookd/hookd/engine"
	"github.com/hookd/hookd/store"
)

// TestReference: an event's reference names its entity (Wassenger's id)
// and a digest of its key; the jobs of a digest or a tick name their
// kind, also when the tick's scope holds a zone with a slash.
func TestReference(t *testing.T) {
	due := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		key  string
		want string // a regular expression
	}{
		{"message:in:new/3EB0ABC/on:dev1", `^hookd:3EB0ABC\.[0-9a-f]{8}:r:1$`},
		{"group:update/3EB0DEF/remove/+34600000001/on:dev1", `^hookd:3EB0DEF\.[0-9a-f]{8}:r:1$`},
		{store.TickEventID("timer:r#0 9 * * 1 (Europe/Madrid)", due), `^hookd:tick\.[0-9a-f]{8}:r:1$`},
		{store.DigestEventID("digest:r", "g1@g.us", due, []byte("state")), `^hookd:digest\.[0-9a-f]{8}:r:1$`},
	} {
		if got := engine.Reference(tt.key, "r", 1); !regexp.MustCompile(tt.want).MatchString(got) {
			t.Errorf("Reference(%q) = %q, want %s", tt.key, got, tt.want)
		}
	}
	a := engine.Reference(store.TickEventID("timer:r#x", due), "r", 0)
	b := engine.Reference(store.TickEventID("timer:r#x", due.Add(time.Hour)), "r", 0)
	if a == b {
		t.Errorf("two ticks share the reference %q", a)
	}
}
