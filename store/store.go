package store

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Store is the daemon's durable record. Its methods are safe for
// concurrent use. Every implementation must pass the conformance suite in
// package storetest; the promises below are what the suite checks.
//
// # Accepting events
//
// Accept stores each record's event and jobs and returns one Outcome per
// record, in order. It returns only after the records are durable as the
// implementation's sync mode promises (the embedded default: on disk,
// surviving power loss), so the daemon answers 2xx only for stored events.
//
// An event is stored once per Event.ID (its identity key). A record whose
// key is already stored, by an earlier call, by a call racing this one, or
// by an earlier record of the same call, is a duplicate: nothing of it is
// written and its Outcome says so. Exactly one of any number of racing
// Accepts of one key stores it.
//
// Each record is all or nothing: its event and its jobs are committed
// together, never one without the other. When a write fails (disk full,
// file read-only, a replica unreachable) every caller whose records it
// held gets an error and none of those records is stored; the daemon then
// answers 503 and the sender retries. A record that can never be stored
// (no ID, two jobs for one rule action) fails the whole call before
// anything is written.
//
// # Jobs
//
// Jobs are delivered at least once: a job is pending from Accept until
// Done or Dead records its outcome, and a pending job is handed out again
// by PendingPage after a restart, also when it was running when the
// process died. Done, Retry and Dead apply to pending jobs only
// (ErrNotPending otherwise, ErrNotFound for an unknown id). Job ids are
// positive, unique within the store and never reused; nothing else may be
// assumed of them (they need not be dense, nor ordered by time).
//
// # State
//
// The state of rules that remember (throttles, windows, digests, the last
// tick of timer rules) is kept per (scope, key) as opaque bytes with an
// expiry. A Record's Steps change it in the transaction that stores the
// record's event, and only when the event is new: a duplicate changes no
// state. The steps of a record are applied in order, and the records of
// one call in order, each reading what the previous one wrote. For each
// step, Accept:
//
//   - reads the current value (an expired value counts as absent; expiry
//     is judged at Step.At);
//   - calls Apply(old); Apply is pure and may be called more than once
//     for one step (an implementation may retry a transaction), and only
//     the result that is committed counts;
//   - writes the new value with its expiry, or deletes the state when the
//     new value is nil;
//   - when Apply says fire, calls Jobs(new) and inserts its jobs (and
//     names the step's rule in the event's Rules, its errors in Errors).
//
// A step that would add a key to a scope already holding MaxKeys live
// keys is refused: nothing of it is applied, StepOutcome.Capped says so,
// and the event records why. So a flood of distinct keys (senders, groups)
// never grows the state without bound.
//
// Digests and timer rules change state outside events: DueStates lists
// what is due, GetState reads one state, and Swap writes it and inserts
// its jobs atomically, only if it still holds the value read, so that an
// event collected meanwhile is never lost (the swap fails; the caller
// reads again) and a flush or a tick is never doubled.
//
// # Mutes
//
// AddMute, Mutes and EndMute keep silences of rules (or of one key of a
// rule), recorded with who made them, why, when, and until when. The
// store only keeps them; the daemon applies them: a muted rule's matches
// are recorded in the event's Muted list and produce no jobs.
//
// # Processes
//
// Another process (a hookd command) may open the same store while the
// daemon runs: reads see what is committed, and a Requeue made there
// reaches the daemon through TakeRequeued.
type Store interface {
	// Accept durably stores the records (see the type's documentation)
	// and returns one Outcome per record, in order.
	Accept(ctx context.Context, recs []Record) ([]Outcome, error)

	// Done records that a pending job's target accepted it after
	// attempts attempts, with the target's (redacted) response. It
	// clears the job's LastError and LastReason: a done job has no
	// failure left (its attempts keep every error).
	Done(ctx context.Context, jobID int64, attempts int, response string) error
	// Retry records a failed attempt of a pending job that is tried
	// again at next. reason is the short failure label, lastErr the
	// redacted error.
	Retry(ctx context.Context, jobID int64, attempts int, next time.Time, reason, lastErr string) error
	// Dead turns a pending job into a dead letter after its last attempt
	// or a permanent failure.
	Dead(ctx context.Context, jobID int64, attempts int, reason, lastErr string) error

	// Requeue turns dead letters back into pending jobs: attempts 0, due
	// now, and handed out once by TakeRequeued (to the daemon, which may
	// be another process). ids nil requeues every dead letter. When an id
	// is not a dead letter, Requeue requeues nothing and returns a
	// *NotDeadError listing them all (it matches ErrNotFound). It returns
	// how many jobs it requeued.
	Requeue(ctx context.Context, ids []int64) (int, error)
	// TakeRequeued returns the pending jobs requeued since the last call,
	// by NextAt then ID, each once.
	TakeRequeued(ctx context.Context) ([]Job, error)
	// PendingPage returns the first limit pending jobs, by NextAt then
	// ID. It reflects every write that returned before it was called.
	PendingPage(ctx context.Context, limit int) ([]Job, error)
	// Job returns the job with id, in any state (ErrNotFound if there is
	// none).
	Job(ctx context.Context, id int64) (Job, error)
	// DeadLetters returns dead jobs, most recently dead first; limit 0 or
	// less returns them all.
	DeadLetters(ctx context.Context, limit int) ([]Job, error)

	// Events calls fn for each stored event q selects, in the order q
	// asks for, and stops at the first error fn returns, returning it
	// unchanged. Events stored while it runs may or may not be visited.
	Events(ctx context.Context, q EventQuery, fn func(Event) error) error
	// Stats counts what the store holds.
	Stats(ctx context.Context) (Stats, error)
	// Prune deletes events received before olderThan, except those with
	// pending jobs, and done and dead jobs last updated before olderThan.
	// Pending jobs are never deleted. It returns how many events and jobs
	// it deleted.
	Prune(ctx context.Context, olderThan time.Time) (events, jobs int, err error)

	// DueStates returns up to limit states of the given scopes whose
	// Step.Due time is at or before now (digests to flush), earliest
	// first. Expired states are left out.
	DueStates(ctx context.Context, scopes []string, now time.Time, limit int) ([]State, error)
	// GetState returns the state of (scope, key) as of now; ok is false
	// when there is none or it expired.
	GetState(ctx context.Context, scope, key string, now time.Time) (st State, ok bool, err error)
	// Swap changes one state and inserts jobs in one transaction, if and
	// only if the state still holds what the caller read (see Swap).
	Swap(ctx context.Context, sw Swap) (SwapOutcome, error)
	// PruneState deletes the states that expired before now and the
	// mutes that ended before olderThan; it returns how many of each.
	PruneState(ctx context.Context, now, olderThan time.Time) (states, mutes int, err error)

	// AddMute records a mute and returns it with its ID and CreatedAt
	// set.
	AddMute(ctx context.Context, m Mute) (Mute, error)
	// Mutes returns the mutes active at now, oldest first; with all, also
	// those that expired or were ended (until PruneState deletes them).
	Mutes(ctx context.Context, now time.Time, all bool) ([]Mute, error)
	// EndMute ends a mute at now, recording who ended it; ErrNoMute
	// (wrapped, naming the id) when there is no such active mute.
	EndMute(ctx context.Context, id int64, by string, now time.Time) (Mute, error)

	// EventPage returns one page of events, newest first, and the
	// cursor of the next page ("" after the last one).
	EventPage(ctx context.Context, q EventPageQuery) (events []Event, next string, err error)
	// Event returns the event with key (ErrNoEvent, wrapped, if none).
	Event(ctx context.Context, key string) (Event, error)
	// Jobs returns one page of jobs, highest id first.
	Jobs(ctx context.Context, q JobQuery) ([]Job, error)
	// Attempts returns the recorded attempts of each job, oldest first.
	// Done, Retry and Dead record one each; a deleted or pruned job's
	// attempts go with it.
	Attempts(ctx context.Context, jobIDs []int64) (map[int64][]Attempt, error)
	// Cancel turns pending jobs into dead letters with LastReason
	// ReasonCancelled (Requeue brings them back); ids nil cancels every
	// pending job. When an id is not pending it changes nothing and
	// returns a *NotEligibleError. It returns the ids it cancelled.
	Cancel(ctx context.Context, ids []int64, lastErr string) ([]int64, error)
	// Delete deletes done jobs and dead letters with their attempts;
	// ids nil deletes every dead letter. When an id is pending (or
	// unknown) it deletes nothing and returns a *NotEligibleError. It
	// returns how many it deleted.
	Delete(ctx context.Context, ids []int64) (int, error)
	// RuleCounts counts per rule what the events received, and the jobs
	// created, at or after since did (rules with nothing are left out).
	RuleCounts(ctx context.Context, since time.Time) (map[string]RuleCount, error)

	// Writable reports whether the store can take writes now: nil, or
	// why not (the disk is full, the file system read-only, the cluster
	// has no quorum). It may write to find out, and it reports nil again
	// once writes work again. /healthz answers 503 with its error.
	Writable(ctx context.Context) error

	// Close stops taking operations, waits for those under way and
	// releases the store. Every method called after it returns
	// ErrClosed; calling Close again does nothing.
	Close() error
}

// Job states.
const (
	// StatePending is a job waiting for its next attempt (or running).
	StatePending = "pending"
	// StateDone is a job its target accepted.
	StateDone = "done"
	// StateDead is a dead letter: a job that failed for good.
	StateDead = "dead"
)

var (
	// ErrClosed is returned by every method called after Close.
	ErrClosed = errors.New("store: closed")
	// ErrNotFound says a job id is not in the store (never stored, or
	// pruned), or for Requeue not a dead letter.
	ErrNotFound = errors.New("store: no such job")
	// ErrNoMute says a mute id is not an active mute.
	ErrNoMute = errors.New("store: no such mute")
	// ErrNotPending says a job is done or dead, so it cannot be marked
	// done, retried or dead-lettered again.
	ErrNotPending = errors.New("store: job is not pending")
	// ErrUnavailable is wrapped by the errors of a store that cannot be
	// reached for now (a cluster without a quorum, or whose stream is
	// electing its leader): the same call may succeed later.
	ErrUnavailable = errors.New("store: unavailable")
)

// NotDeadError is Requeue's error when ids are not dead letters; it
// matches ErrNotFound.
type NotDeadError struct {
	// IDs are the ids that are not dead letters, in the order asked.
	IDs []int64
	// Unknown are those of IDs that are no job at all (never stored,
	// deleted or pruned).
	Unknown []int64
}

// Error says which ids are not dead letters.
func (e *NotDeadError) Error() string {
	return e.Refusal() + "; nothing was requeued"
}

// Refusal says which ids are not dead letters, and which of them are no
// job at all, without what was done about it.
func (e *NotDeadError) Refusal() string {
	return refusal("dead letter", e.IDs, e.Unknown)
}

// UnknownJobs reports whether err refuses ids of which none is a job at
// all (a *NotDeadError or *NotEligibleError whose IDs are all Unknown),
// as against ids of jobs in another state.
func UnknownJobs(err error) bool {
	var nd *NotDeadError
	if errors.As(err, &nd) {
		return len(nd.IDs) > 0 && len(nd.Unknown) == len(nd.IDs)
	}
	var ne *NotEligibleError
	if errors.As(err, &ne) {
		return len(ne.IDs) > 0 && len(ne.Unknown) == len(ne.IDs)
	}
	return false
}

// refusal says "no <want> with id ..." for the ids refused, naming apart
// those that are no job at all.
func refusal(want string, ids, unknown []int64) string {
	var other []int64
	for _, id := range ids {
		if !slices.Contains(unknown, id) {
			other = append(other, id)
		}
	}
	switch {
	case len(unknown) == 0:
		return "no " + want + " with id " + joinIDs(ids)
	case len(other) == 0:
		return "no job with id " + joinIDs(unknown)
	default:
		return "no " + want + " with id " + joinIDs(other) + ", and no job at all with id " + joinIDs(unknown)
	}
}

// joinIDs lists ids separated by commas.
func joinIDs(ids []int64) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(parts, ", ")
}

// Unwrap makes the error match ErrNotFound.
func (e *NotDeadError) Unwrap() error { return ErrNotFound }

// Event is one webhook event as received.
type Event struct {
	// ID is the event's identity key (the dedupe key): its name, entity
	// and the state that changes between events about it.
	ID string
	// Name is the event name, e.g. "group:update".
	Name string
	// Action is the group:update action ("" for other events).
	Action string
	// Body is the event's JSON exactly as received.
	Body []byte
	// ReceivedAt is when hookd received it (zero: the time of Accept).
	// Stores keep it to the millisecond and return it in UTC.
	ReceivedAt time.Time
	// Rules names the rules that matched, in file order.
	Rules []string
	// Errors holds the problems met while matching (e.g. a condition that
	// failed on this event).
	Errors []string
	// Muted names the rules that matched while muted: they ran nothing.
	Muted []string
}

// Job is one action to run for an event.
type Job struct {
	// ID is assigned by Accept (see Store on what it promises).
	ID int64
	// EventID is the ID of the event that produced the job; Accept fills
	// it from the record.
	EventID string
	// Rule is the name of the rule that produced the job.
	Rule string
	// Index is the action's position in the rule's do list.
	Index int
	// Type is the action type, e.g. "slack".
	Type string
	// Name identifies the action in logs, e.g. "removal-alert/slack[0]".
	Name string
	// Params are the action's rendered fields as JSON ("{}" when empty).
	Params []byte
	// Reference is the idempotency key sent with every attempt.
	Reference string
	// State is StatePending, StateDone or StateDead.
	State string
	// Attempts counts the attempts made.
	Attempts int
	// NextAt is when the next attempt is due (zero at Accept: now).
	NextAt time.Time
	// LastError is the (redacted) error of the last failed attempt of
	// a pending or dead job; empty once the job is done.
	LastError string
	// LastReason is the short failure label of that attempt.
	LastReason string
	// Response is the target's answer to the successful attempt.
	Response string
	// CreatedAt is when the job was stored.
	CreatedAt time.Time
	// UpdatedAt is when the job last changed.
	UpdatedAt time.Time
}

// Record is everything one accepted event commits, in one transaction:
// the event, the jobs its matching rules produced, and the state changes
// of its rules that remember (applied only when the event is new).
type Record struct {
	// Event is the event as received.
	Event Event
	// Jobs are its actions to run, one per (rule, action index).
	Jobs []Job
	// Steps change the state of rules that remember, in order (see
	// Store, "State").
	Steps []Step
}

// DefaultMaxKeys is the number of keys one state scope (one rule) may
// hold when Step.MaxKeys is 0.
const DefaultMaxKeys = 100_000

// Step is one change of a rule's state by an event.
type Step struct {
	// Rule is the rule's name, named in the event's Rules when it fires.
	Rule string
	// Scope names the rule's state (its name and what the state means);
	// Key the key within it ("" for one state for the whole rule).
	Scope, Key string
	// At is the event's time: expiry is judged at it.
	At time.Time
	// Apply computes the new state from the old (nil for none): nil
	// deletes the state; expires zero keeps it until deleted. It must
	// be pure: it may be called more than once.
	Apply func(old []byte) (next []byte, fire bool, expires time.Time)
	// Jobs turns a firing into jobs (EventID may be left empty) and
	// errors to record on the event; it is called with the new state
	// only when Apply says fire.
	Jobs func(state []byte) ([]Job, []string)
	// Due, when set, says when a state is due (a digest's flush), for
	// DueStates; ok false for a state that is not due at any time.
	Due func(state []byte) (at time.Time, ok bool)
	// MaxKeys caps the live keys of the scope (0: DefaultMaxKeys).
	MaxKeys int
}

// Outcome says what Accept did with one record.
type Outcome struct {
	// Duplicate is true when the event's key was already stored; nothing
	// of the record was written.
	Duplicate bool
	// Jobs are the stored jobs with ID, State and times set; nil for a
	// duplicate.
	Jobs []Job
	// Steps says what each of the record's steps did, in order; nil for
	// a duplicate.
	Steps []StepOutcome
}

// StepOutcome is what one Step did.
type StepOutcome struct {
	// Fired is true when Apply said fire (the step's jobs are in
	// Outcome.Jobs).
	Fired bool
	// Capped is true when the step was refused because its scope holds
	// MaxKeys keys already and its key is new.
	Capped bool
}

// State is one stored state.
type State struct {
	Scope, Key string
	Value      []byte
	// Expires is when the state may be forgotten (zero: never); Due is
	// when it is due (zero: never).
	Expires, Due time.Time
}

// Swap is a conditional change of one state: if (Scope, Key) holds Old
// (nil: no state, or an expired one, as of At), it is set to New (nil
// deletes it) with Expires and Due, and Jobs are inserted, all in one
// transaction. Jobs need an EventID naming what produced them (a digest
// sent: DigestPrefix...; a tick of a timer rule: TickPrefix...; no event
// is stored for it), unique with their rule and index: a second swap
// inserting the same job inserts nothing new.
type Swap struct {
	Scope, Key string
	At         time.Time
	Old, New   []byte
	Expires    time.Time
	Due        time.Time
	Jobs       []Job
}

// The EventID of the jobs a Swap inserts begins with one of these: the
// jobs of a digest sent with DigestPrefix, those of a timer rule's tick
// with TickPrefix. RuleCounts counts each such EventID as one firing of
// its rule.
const (
	DigestPrefix = "digest:"
	TickPrefix   = "tick:"
)

// Source says what made the jobs of EventID id: "digest" (DigestPrefix),
// "tick" (TickPrefix) or "event", a stored event.
func Source(id string) string {
	switch {
	case strings.HasPrefix(id, DigestPrefix):
		return "digest"
	case strings.HasPrefix(id, TickPrefix):
		return "tick"
	}
	return "event"
}

// DigestEventID is the EventID of the jobs of a digest of the state
// (scope, key) due at due, which collected the state collected. It names
// what was collected, not only the period: an event of a period whose
// digest was sent (it came late) makes a second digest with the same due
// time, which must not be taken for a repeat of the first. Dry-runs show
// the references of a digest's actions with it too.
func DigestEventID(scope, key string, due time.Time, collected []byte) string {
	sum := sha256.Sum256(collected)
	return fmt.Sprintf("%s%s:%s:%d:%x", DigestPrefix, scope, key, due.UnixMilli(), sum[:4])
}

// TickEventID is the EventID of the jobs of a timer rule's tick at tick;
// scope is the rule's state scope.
func TickEventID(scope string, tick time.Time) string {
	return fmt.Sprintf("%s%s:%d", TickPrefix, scope, tick.UnixMilli())
}

// SwapOutcome says what Swap did.
type SwapOutcome struct {
	// Swapped is false when the state no longer held Old: nothing was
	// written.
	Swapped bool
	// Jobs are the stored jobs (pending), when swapped.
	Jobs []Job
}

// Mute silences a rule, or one key of it, until Until: its matches are
// recorded as muted and run nothing.
type Mute struct {
	ID   int64
	Rule string
	// Key is the state key muted ("" mutes every key of the rule).
	Key string
	// Reason and By say why and who.
	Reason, By string
	CreatedAt  time.Time
	Until      time.Time
	// EndedAt and EndedBy are set when the mute was ended before Until.
	EndedAt time.Time
	EndedBy string
}

// Active reports whether the mute silences its rule at now.
func (m Mute) Active(now time.Time) bool { return m.EndedAt.IsZero() && now.Before(m.Until) }

// Stats counts what the store holds.
type Stats struct {
	// Events counts stored events.
	Events int64
	// Pending counts unfinished jobs.
	Pending int64
	// Dead counts dead letters.
	Dead int64
}

// EventQuery selects events for Events.
type EventQuery struct {
	// Name keeps only events whose name matches this glob (path.Match:
	// "*" matches any run of characters, e.g. "message:*"); "" keeps
	// every event.
	Name string
	// Since keeps only events received at or after this time; zero keeps
	// every event.
	Since time.Time
	// Limit is the most events returned; 0 or less means no limit.
	Limit int
	// OldestFirst returns events in the order received (for export);
	// the default is newest first. Events received in the same
	// millisecond come in the order they were stored.
	OldestFirst bool
}

// NodeInfo is what one node of a cluster says of itself: its name and
// the rules it runs.
type NodeInfo struct {
	Name         string    `json:"name"`
	RulesVersion string    `json:"rules_version"`
	RulesLoaded  time.Time `json:"rules_loaded_at"`
	// SeenAt is when the node last said so.
	SeenAt time.Time `json:"seen_at"`
}

// Cluster is what a store shared by several nodes offers besides Store:
// each node announces its rules, and any node lists them all. The daemon
// uses it when its store has it.
type Cluster interface {
	// Node is this node's name.
	Node() string
	// Announce records this node's info; it is forgotten unless
	// announced again within a minute.
	Announce(ctx context.Context, info NodeInfo) error
	// Nodes lists the nodes that announced themselves within a minute,
	// by name.
	Nodes(ctx context.Context) ([]NodeInfo, error)
}
