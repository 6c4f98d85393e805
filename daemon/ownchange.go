package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/hookd/hookd/actions"
	"github.com/hookd/hookd/engine"
	"github.com/hookd/hookd/event"
	"github.com/hookd/hookd/store"
)

// ownChangeScope is the state scope in which the store keeps the loop
// guard's participant changes (engine.OwnChanges), one state per
// engine.OwnChangeKey expiring after engine.OwnChangeWithin. A rule's
// scope always holds a '#' (engine.Rule.Scope), so none is this one.
const ownChangeScope = "hookd/own-changes"

// ownChangeRecorder is the action delivery runs: before each attempt it
// records the group change the call asks for, since Wassenger may send
// the group:update about it before it answers.
type ownChangeRecorder struct {
	next actions.Action
	d    *Daemon
}

// Do records the call's group change, if any, and runs the call.
func (r ownChangeRecorder) Do(ctx context.Context, call actions.Call) actions.Result {
	r.d.expectOwnChange(ctx, call)
	return r.next.Do(ctx, call)
}

// expectOwnChange records the participant change call asks for, if any:
// in memory, and in the store, so that another node of a cluster, and
// this one after a restart, know its group:update for hookd's own. A
// change the store cannot record is logged; the memory still knows it.
func (d *Daemon) expectOwnChange(ctx context.Context, call actions.Call) {
	keys := engine.OwnChangeKeys(call.Type, call.Params)
	if len(keys) == 0 {
		return
	}
	at := d.now()
	d.own.ExpectKeys(keys, call.Name, at)
	value, _ := json.Marshal(storedOwnChange{Action: call.Name, At: at.UnixMilli()}) // a string and an integer always encode
	for _, key := range keys {
		if err := d.storeOwnChange(ctx, key, value, at); err != nil {
			if ctx.Err() != nil {
				return // the attempt was given up (shutdown): it sends nothing
			}
			d.log.Warn("loop guard: the group change could not be recorded in the store; only this process will know its group:update for hookd's own",
				"action", call.Name, "err", err)
			return
		}
	}
}

// storedOwnChange is the value of an own change in the store.
type storedOwnChange struct {
	Action string `json:"action"`
	At     int64  `json:"at"` // Unix milliseconds
}

// storeOwnChange sets the state of key in ownChangeScope to value,
// expiring engine.OwnChangeWithin after at, whatever it held (a swap
// that lost a race with another node's reads again).
func (d *Daemon) storeOwnChange(ctx context.Context, key string, value []byte, at time.Time) error {
	for range 3 {
		old, _, err := d.store.GetState(ctx, ownChangeScope, key, at)
		if err != nil {
			return err
		}
		out, err := d.store.Swap(ctx, store.Swap{Scope: ownChangeScope, Key: key, At: at, Old: old.Value, New: value, Expires: at.Add(engine.OwnChangeWithin)})
		if err != nil || out.Swapped {
			return err
		}
	}
	return fmt.Errorf("state %s of %s changed under three swaps in a row", key, ownChangeScope)
}

// recogniseOwn says why ev is the group:update of a participant change
// hookd asked for, or "" when it is not: each change is looked up in
// this process's memory, else in the store (another node's change, or
// one made before a restart). The store is asked only when the running
// rules change groups: the group:updates the number makes itself are
// many where no rule of hookd makes them. A store that cannot be read
// counts as not knowing the change.
func (d *Daemon) recogniseOwn(ctx context.Context, rules *engine.RuleSet, ev *event.Event, at time.Time) string {
	if !rules.ChangesGroups() {
		return d.own.Recognise(ev, at)
	}
	return engine.RecogniseOwnChange(ev, at, func(key string) (engine.OwnChange, bool) {
		if c, ok := d.own.Lookup(key); ok {
			return c, true
		}
		st, ok, err := d.store.GetState(ctx, ownChangeScope, key, at)
		if err != nil || !ok {
			return engine.OwnChange{}, false
		}
		var c storedOwnChange
		if json.Unmarshal(st.Value, &c) != nil {
			return engine.OwnChange{}, false
		}
		return engine.OwnChange{At: time.UnixMilli(c.At), Action: c.Action}, true
	})
}
