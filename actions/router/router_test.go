package router_test

import (
	"context"
	"testing"
	"time"

	"github.com/hookd/hookd/actions"
	"github.com/hookd/hookd/actions/router"
	"github.com/hookd/hookd/actions/secret"
	"github.com/hookd/hookd/internal/standin"
)

// TestWassengerTypes: every action type of the wassenger connection is
// routed to the Wassenger client and shares its lane.
func TestWassengerTypes(t *testing.T) {
	ws := standin.NewWassenger("tok")
	t.Cleanup(ws.Close)
	r := router.New(&actions.Connections{Wassenger: &actions.WassengerConfig{
		Token: secret.New("tok"), BaseURL: ws.BaseURL(), Rate: 1000, Burst: 100,
	}}, router.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	n := 0
	for _, typ := range actions.Types() {
		if s, _ := actions.Lookup(typ); s.Connection != "wassenger" {
			continue
		}
		n++
		if lane := router.Lane(typ); lane != "wassenger" {
			t.Errorf("Lane(%s) = %q, want wassenger", typ, lane)
		}
		if _, err := r.Describe(actions.Call{Type: typ}); err == nil || err.Error() == `unknown action type "`+typ+`"` {
			t.Errorf("Describe(%s) with no fields: %v, want the Wassenger client's error", typ, err)
		}
	}
	if n < 14 {
		t.Errorf("%d wassenger action types, want at least 14", n)
	}
	res := r.Do(ctx, actions.Call{Type: "wassenger.chat.resolve", Params: map[string]any{
		"device": "61b37a069cba0c15d6c89757", "chat": "34600111222@c.us",
	}})
	if !res.OK() {
		t.Fatalf("Do(wassenger.chat.resolve) = %+v", res)
	}
	if got := ws.Requests(); len(got) != 1 || got[0].Method != "PATCH" || got[0].Path != "/v1/chat/61b37a069cba0c15d6c89757/chats/34600111222@c.us/status" {
		t.Errorf("the stand-in received %+v", got)
	}
}
