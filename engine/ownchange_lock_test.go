package engine

import (
	"testing"
	"time"

	"github.com/hookd/hookd/event"
)

// Recognise answers at once for an event other than group:update, most
// of what intake sees: it does not wait for the lock of the remembered
// changes, which delivery takes to record one.
func TestRecogniseOtherEventsTakeNoLock(t *testing.T) {
	o := NewOwnChanges()
	o.mu.Lock()
	defer o.mu.Unlock()
	done := make(chan string, 1)
	go func() { done <- o.Recognise(&event.Event{Name: "message:in:new"}, time.Now()) }()
	select {
	case why := <-done:
		if why != "" {
			t.Errorf("a message is %q, want not hookd's change", why)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Recognise of a message:in:new waited for the lock of the remembered group changes")
	}
}
