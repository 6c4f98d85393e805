// Package requests builds, without sending anything, the request of each
// action that rules fire, as the daemon does before it sends one, and
// tells which cannot be built: the daemon would dead-letter those at
// once. `hookd dry-run`, `explain` and `test`, the inline examples of a
// rules file and the API's dry-run all build requests through it, so
// that they judge an action alike.
package requests

import (
	"errors"

	"github.com/hookd/hookd/actions"
	"github.com/hookd/hookd/actions/httpx"
	"github.com/hookd/hookd/actions/router"
	"github.com/hookd/hookd/engine"
	"github.com/hookd/hookd/event"
	"github.com/hookd/hookd/store"
)

// Error is why the request of an action cannot be built: the daemon
// would dead-letter the action without sending anything.
type Error struct {
	// Err is the integration's reason, e.g. `wassenger.group.remove:
	// participant "203456789012345@lid" is not a phone number`.
	Err error
}

// Error says that the request cannot be built, and why.
func (e *Error) Error() string {
	return "cannot build the request (the daemon would dead-letter it): " + e.Err.Error()
}

// Unwrap returns the integration's reason.
func (e *Error) Unwrap() error { return e.Err }

// Unbuildable reports whether e is the error of an action whose request
// cannot be built, as Build returns it.
func Unbuildable(e engine.RuleError) bool {
	var target *Error
	return errors.As(e.Err, &target)
}

// Builder builds the requests of a rule set's rendered actions. It holds
// no mutable state and is safe for concurrent use.
type Builder struct {
	rs *engine.RuleSet
	d  actions.Describer
}

// New returns a Builder of rs's actions that builds with d, such as the
// daemon's router of rs's connections.
func New(rs *engine.RuleSet, d actions.Describer) Builder {
	return Builder{rs: rs, d: d}
}

// ForRules returns a Builder of rs's actions with a router of rs's own
// connections, for the commands that send nothing.
func ForRules(rs *engine.RuleSet) Builder {
	return New(rs, router.New(&rs.Connections, router.Options{}))
}

// Build builds the request a would send for ev. text is the request,
// secrets masked, or "cannot build the request: why" (or, when a reads
// an unset variable, "not built: it reads ${NAME}, ..."). err, when the
// request cannot be built, is the error of a that the daemon would
// dead-letter it with (its Err is an *Error); it is nil also when a
// reads an unset ${ENV} variable (see engine.RuleSet.ReadsUnset), since
// with the variable set its request may build.
func (b Builder) Build(ev *event.Event, a engine.Rendered) (text string, err *engine.RuleError) {
	call := actions.Call{Type: a.Action.Type, Name: a.Action.Name, Params: a.Params, Reference: engine.Reference(ev.Key, a.Action.Rule, a.Action.Index)}
	text, derr := b.d.Describe(call)
	if derr == nil {
		return httpx.Scrub(text, a.Action.Secrets()...), nil
	}
	derr = httpx.ScrubError(derr, a.Action.Secrets()...)
	if unset := b.rs.UnsetRead(a); len(unset) > 0 {
		// The unset variable's text is what fails, most likely (a
		// Slack webhook_url that is not a URL): say that first, not as
		// a fault of the rules.
		which := ", which is not set (fine here; hookd serve refuses to start without it): set it"
		if len(unset) > 1 {
			which = ", which are not set (fine here; hookd serve refuses to start without them): set them"
		}
		return "not built: it reads " + unsetList(unset) + which + " to see the request (" + derr.Error() + ")", nil
	}
	text = "cannot build the request: " + derr.Error()
	return text, &engine.RuleError{Rule: a.Action.Rule, Action: a.Action.Name, Err: &Error{Err: derr}}
}

// unsetList names unset variables as ${NAME}, ${OTHER}.
func unsetList(names []string) string {
	out := ""
	for i, n := range names {
		if i > 0 {
			out += ", "
		}
		out += "${" + n + "}"
	}
	return out
}

// Show is the text of a's request for ev (see Build): what `hookd
// dry-run --show-requests` and `hookd explain` print under an action.
func (b Builder) Show(ev *event.Event, a engine.Rendered) string {
	text, _ := b.Build(ev, a)
	return text
}

// Errors returns the errors of acts, fired for ev, whose request cannot
// be built (see Build).
func (b Builder) Errors(ev *event.Event, acts []engine.Rendered) []engine.RuleError {
	var errs []engine.RuleError
	for _, a := range acts {
		if _, err := b.Build(ev, a); err != nil {
			errs = append(errs, *err)
		}
	}
	return errs
}

// Check adds to res the errors of the actions it fired whose request
// cannot be built, and returns it.
func (b Builder) Check(res *engine.Result) *engine.Result {
	for _, f := range res.Fired {
		res.Errors = append(res.Errors, b.Errors(res.Event, f.Actions)...)
	}
	return res
}

// CheckItem adds to a replay's event, digest or timer tick the errors of
// its actions whose request cannot be built.
func (b Builder) CheckItem(it engine.ReplayItem) {
	switch {
	case it.Result != nil:
		b.Check(it.Result)
	case it.Flushed != nil:
		it.Flushed.Errors = append(it.Flushed.Errors, b.Errors(DigestEvent(it.Flushed), it.Flushed.Actions)...)
	case it.Tick != nil:
		it.Tick.Errors = append(it.Tick.Errors, b.Errors(TickEvent(it.Tick), it.Tick.Actions)...)
	}
}

// DigestEvent stands for a digest where an action's reference needs an
// event: its key is the EventID the daemon gives the digest's jobs
// (store.DigestEventID), so that a dry-run shows the references the
// daemon sends.
func DigestEvent(f *engine.Flushed) *event.Event {
	key := store.DigestEventID(f.Rule.Scope(), f.Key, f.Due, f.State)
	return &event.Event{Name: "digest", Key: key, ID: key}
}

// TickEvent stands for a timer rule's tick likewise (store.TickEventID).
func TickEvent(t *engine.Tick) *event.Event {
	key := store.TickEventID(t.Rule.TimerScope(), t.At)
	return &event.Event{Name: "schedule", Key: key, ID: key}
}
