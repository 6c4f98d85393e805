package store

import (
	"errors"
	"time"
)

// ErrNoEvent says an event key is not in the store (never stored, or
// pruned).
var ErrNoEvent = errors.New("store: no such event")

// Attempt outcomes, as Attempt.Outcome records them.
const (
	// AttemptDone: the target accepted the action.
	AttemptDone = "done"
	// AttemptRetry: the attempt failed and the job is tried again.
	AttemptRetry = "retry"
	// AttemptDead: the attempt failed for good; the job is a dead letter.
	AttemptDead = "dead"
)

// ReasonCancelled is the LastReason of a job that Cancel turned into a
// dead letter.
const ReasonCancelled = "cancelled"

// Attempt is one recorded attempt of a job, written by Done, Retry and
// Dead.
type Attempt struct {
	// JobID is the job's id; N the attempt's number (from 1; it starts
	// again after Requeue).
	JobID int64
	N     int
	// At is when the attempt's outcome was recorded.
	At time.Time
	// Outcome is AttemptDone, AttemptRetry or AttemptDead.
	Outcome string
	// Reason is the failure label ("" when done); Detail the redacted
	// error, or the target's response when done.
	Reason, Detail string
}

// EventPageQuery selects one page of events for EventPage, newest first.
type EventPageQuery struct {
	// Name keeps events whose name matches this glob (as EventQuery).
	Name string
	// Rule keeps events that fired, or matched while muted, this rule.
	Rule string
	// JobState keeps events with at least one job in this state:
	// StatePending (pending with no attempt yet), JobStateRetrying
	// (pending after a failed attempt), StateDone or StateDead.
	JobState string
	// Since keeps events received at or after it (zero: all).
	Since time.Time
	// Limit is the page size (1 or more).
	Limit int
	// Cursor is the Next of the previous page ("": the newest events).
	Cursor string
}

// JobQuery selects one page of jobs for Jobs, newest (highest id) first.
type JobQuery struct {
	// State keeps jobs in this state (as EventPageQuery.JobState; ""
	// keeps all).
	State string
	// EventID keeps the jobs of one event ("" keeps all).
	EventID string
	// Limit is the page size (0 or less: no limit).
	Limit int
	// Before keeps jobs whose id is below it (0: from the newest); the
	// next page starts before the last id of a page.
	Before int64
}

// JobStateRetrying is the job state filter for pending jobs that failed
// at least once.
const JobStateRetrying = "retrying"

// ValidJobState reports whether s is a job state filter: "", pending,
// retrying, done or dead.
func ValidJobState(s string) bool {
	switch s {
	case "", StatePending, JobStateRetrying, StateDone, StateDead:
		return true
	}
	return false
}

// RuleCount counts what one rule did in a window of time, from the
// events and jobs in the store.
type RuleCount struct {
	// Fired counts the times the rule fired: events that fired it, and
	// the digests it sent and the ticks of a timer rule, which have no
	// event (each EventID of its jobs that begins with DigestPrefix or
	// TickPrefix counts once, however many actions it queued). Muted
	// counts the events it matched while muted; Errors those with a
	// run-time error of the rule (a condition or template that failed).
	Fired  int `json:"fired"`
	Muted  int `json:"muted"`
	Errors int `json:"errors"`
	// Dead counts the rule's jobs that are dead letters and were
	// created in the window.
	Dead int `json:"dead"`
}

// NotEligibleError is Cancel's and Delete's error when some ids are not
// in a state the operation applies to; nothing was changed. It matches
// ErrNotFound.
type NotEligibleError struct {
	// Op is "cancel" or "delete"; Want the state it needs.
	Op, Want string
	// IDs are the ids that are not in that state, in the order asked.
	IDs []int64
	// Unknown are those of IDs that are no job at all (never stored,
	// deleted or pruned).
	Unknown []int64
}

// Error names the ids and the state they need.
func (e *NotEligibleError) Error() string {
	return e.Op + ": " + refusal(e.Want+" job", e.IDs, e.Unknown) + "; nothing was changed"
}

// Unwrap makes the error match ErrNotFound.
func (e *NotEligibleError) Unwrap() error { return ErrNotFound }
