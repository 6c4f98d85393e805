package daemon

import (
	"context"

	"github.com/hookd/hookd/actions"
)

// ownChangeRecorder is the action delivery runs: before each attempt it
// records the group change the call asks for (engine.OwnChanges), since
// Wassenger may send the group:update about it before it answers.
type ownChangeRecorder struct {
	next actions.Action
	d    *Daemon
}

// Do records the call's group change, if any, and runs the call.
func (r ownChangeRecorder) Do(ctx context.Context, call actions.Call) actions.Result {
	r.d.own.Expect(call.Type, call.Name, call.Params, r.d.now())
	return r.next.Do(ctx, call)
}
