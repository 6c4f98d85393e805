package jetstream

import (
	"encoding/binary"
	"time"

	"github.com/hookd/hookd/store"
)

// Command kinds: one per writing method of store.Store (Done, Retry and
// Dead are updates of a kindJobs command).
const (
	kindAccept     = "accept"
	kindRequeue    = "requeue"
	kindCancel     = "cancel"
	kindDelete     = "delete"
	kindPrune      = "prune"
	kindSwap       = "swap"
	kindPruneState = "prune-state"
	kindAddMute    = "add-mute"
	kindEndMute    = "end-mute"
)

// command is one entry of the log: a change to the store, with all it
// needs to be applied alike on every node.
type command struct {
	// ID is the command's Nats-Msg-Id, unique per publish; the node that
	// published it waits for its result under it.
	ID   string `json:"id"`
	Kind string `json:"kind"`
	// Node is the node that owns the jobs the command creates or
	// requeues ("" for a hookd command: requeued jobs keep their node).
	Node string `json:"node,omitempty"`
	// At is the publisher's clock: the model's clock while applying.
	At time.Time `json:"at"`
	// Void (accept only) is when the publisher stops waiting for its
	// result; stored after it (by the stream's clock), the command is
	// applied nowhere, so an Accept that returned an error never stores
	// its events later (a publish buffered while disconnected, say).
	Void time.Time `json:"void,omitzero"`

	Records []recordCmd `json:"records,omitempty"`

	MuteID int64  `json:"mute_id,omitempty"`
	Detail string `json:"detail,omitempty"` // the error Cancel records
	// IDs are the jobs of a requeue, cancel or delete; All applies it to
	// every eligible job (IDs nil).
	IDs []int64 `json:"ids,omitempty"`
	All bool    `json:"all,omitempty"`

	Before time.Time `json:"before,omitzero"` // Prune's olderThan

	Jobs []jobUpdate `json:"jobs,omitempty"`

	Swap *store.Swap `json:"swap,omitempty"`
	Mute *store.Mute `json:"mute,omitempty"`
	By   string      `json:"by,omitempty"`
}

// recordCmd is one record of an Accept, its steps already computed.
type recordCmd struct {
	Event store.Event `json:"event"`
	Jobs  []store.Job `json:"jobs,omitempty"`
	Steps []stepCmd   `json:"steps,omitempty"`
}

// stepCmd is a store.Step as the accepting node computed it, with the
// version of the state it read.
type stepCmd struct {
	Rule    string    `json:"rule"`
	Scope   string    `json:"scope"`
	Key     string    `json:"key"`
	At      time.Time `json:"at"`
	MaxKeys int       `json:"max_keys,omitempty"`

	// Expect is the version read (0: no state); Self says the state was
	// written earlier in the same command, whose position is its version.
	Expect uint64 `json:"expect,omitempty"`
	Self   bool   `json:"self,omitempty"`

	// Unchanged keeps the stored value (and its version) as it is.
	Unchanged bool `json:"unchanged,omitempty"`
	// Next is the new value (nil deletes the state), with its expiry
	// and due time.
	Next    []byte    `json:"next"`
	Expires time.Time `json:"expires,omitzero"`
	Due     time.Time `json:"due,omitzero"`
	Dues    bool      `json:"dues,omitempty"` // the step has a Due function

	Fire   bool        `json:"fire,omitempty"`
	Jobs   []store.Job `json:"jobs,omitempty"`
	Errors []string    `json:"errors,omitempty"`
}

// result is what applying a command gave, for the node waiting on it.
type result struct {
	err error
	// outcomes of an accept, one per record; conflict marks the records
	// to compute and log again.
	outcomes []store.Outcome
	conflict []bool
	n        int
	ids      []int64
	swap     store.SwapOutcome
	mute     store.Mute
	// pruned counts what Prune (events, jobs) or PruneState (states,
	// mutes) deleted.
	pruned [2]int
}

// versionLen is the size of the version in front of a stored state.
const versionLen = 8

// versioned puts the version in front of a state's value (nil stays nil).
func versioned(version uint64, value []byte) []byte {
	if value == nil {
		return nil
	}
	out := make([]byte, versionLen, versionLen+len(value))
	binary.BigEndian.PutUint64(out, version)
	return append(out, value...)
}

// unversioned splits a stored value into its version and the value.
func unversioned(stored []byte) (uint64, []byte) {
	if len(stored) < versionLen {
		return 0, stored
	}
	return binary.BigEndian.Uint64(stored), stored[versionLen:]
}
