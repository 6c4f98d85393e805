package jetstream

import (
	"context"
	"time"

	"github.com/hookd/hookd/store/sqlite"
)

// stateKey names one state.
type stateKey struct{ scope, key string }

// entry is a state as a view sees it.
type entry struct {
	present bool
	value   []byte // without its version
	version uint64
	// self: written earlier in the command being computed or applied.
	self         bool
	expires, due time.Time
}

// view reads states from the model with the writes of the command at
// hand on top, judging expiry as the model does.
type view struct {
	model  *sqlite.Store
	parent *view // a record's view over its command's
	// seq is the position of the command being applied (0 while
	// computing one): a state of that version is the command's own.
	seq  uint64
	over map[stateKey]entry
}

// newView returns a view of the model for the command at seq.
func newView(model *sqlite.Store, seq uint64) *view {
	return &view{model: model, seq: seq, over: make(map[stateKey]entry)}
}

// expired reports whether a state expiring at exp is gone at at (as the
// model judges it, to the millisecond).
func expired(exp, at time.Time) bool {
	return !exp.IsZero() && exp.UnixMilli() < at.UnixMilli()
}

// child returns a view over v for one record: its writes reach v only
// by commit.
func (v *view) child() *view {
	return &view{model: v.model, parent: v, seq: v.seq, over: make(map[stateKey]entry)}
}

// commit adds the writes of a child view to its parent.
func (v *view) commit() {
	for k, e := range v.over {
		v.parent.over[k] = e
	}
}

// get returns the state of (scope, key) at at.
func (v *view) get(ctx context.Context, scope, key string, at time.Time) (entry, error) {
	for w := v; w != nil; w = w.parent {
		if e, ok := w.over[stateKey{scope, key}]; ok {
			if e.present && expired(e.expires, at) {
				return entry{}, nil
			}
			return e, nil
		}
	}
	st, ok, err := v.model.GetState(ctx, scope, key, at)
	if err != nil || !ok {
		return entry{}, err
	}
	version, value := unversioned(st.Value)
	return entry{present: true, value: value, version: version, self: v.seq != 0 && version == v.seq, expires: st.Expires, due: st.Due}, nil
}

// put records what a step wrote over cur.
func (v *view) put(sc stepCmd, cur entry) {
	k := stateKey{sc.Scope, sc.Key}
	switch {
	case sc.Unchanged:
		v.over[k] = cur
	case sc.Next == nil:
		v.over[k] = entry{}
	default:
		v.over[k] = entry{present: true, value: sc.Next, self: true, expires: sc.Expires, due: sc.Due}
	}
}
