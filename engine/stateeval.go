package engine

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hookd/hookd/actions/wassenger"
	"github.com/hookd/hookd/event"
)

// StateStep is a stateful rule (throttle, window or digest) whose
// condition was true for an event: whether it fires depends on what the
// rule remembers about Key, which Evaluate does not read. Whoever keeps
// the state (the store, inside the transaction that records the event;
// MemoryState for dry-run, test and explain) applies the steps of a
// Result in order:
//
//	old := state of (Rule.Scope(), Key), nil for none or when expired
//	new, fire, expires := step.Apply(old)
//	save new until expires (delete the state when new is nil)
//	if fire { actions, errs := step.Render(new); queue the actions }
//
// The contract:
//   - Apply is pure and deterministic: it reads only its argument and
//     what the step captured, changes nothing, and may be called any
//     number of times (again after a failed compare-and-set, with the
//     state read anew); only the result that is saved counts.
//   - Render is pure too, and reads the state Apply returned (for
//     window.count, throttle.next); call it only when Apply said fire.
//   - Steps of one event are applied in the order of Result.Steps, and
//     the events of one key in event order (by At), so that replays and
//     the daemon agree.
//   - A digest's Apply never fires: its actions run when the digest is
//     due (see DigestDue and RuleSet.Flush).
type StateStep struct {
	// Rule is the rule; its Scope() and Key name the state.
	Rule *Rule
	// Key is the rendered key ("" for a rule without key:).
	Key string
	// At is the event's time (see EventTime).
	At time.Time
	// Weight is how many the event counts for in the rule's window: 1,
	// or what the window's weight: expression gave.
	Weight int
	// Apply computes the new state from the old, whether the rule
	// fires, and when the new state expires.
	Apply func(old []byte) (next []byte, fire bool, expires time.Time)
	// Render renders the rule's actions with the state Apply returned.
	Render func(state []byte) ([]Rendered, []RuleError)

	raw []byte // the event, for Advance
}

// EvaluateAt is Evaluate for an event that arrived at arrival: stateful
// rules whose condition is true become Result.Steps at the event's time
// (see EventTime), to be applied by whoever keeps the state.
func (rs *RuleSet) EvaluateAt(ev *event.Event, arrival time.Time) *Result {
	return rs.evaluate(ev, arrival)
}

// EventTime is the time of an event for windows, throttles and digests,
// as the daemon judges an event that arrived at arrival (zero: unknown,
// then now): the time of its own state (see statedTime), else, for an
// event about an earlier message (an ack, an edit or vote, a reaction),
// arrival, else the envelope's time (see envelopeTime), else arrival.
//
// An event about an earlier message carries that message's envelope: in
// the message:out:ack example of Wassenger's API spec, created equals the
// message's data.timestamp, while its data.events dates the ack later. So
// such an event counts at its own state's date when it has one, else at
// its arrival, not at the message's time. A replay, which knows no
// arrival, takes ReplayTime instead.
func EventTime(ev *event.Event, arrival time.Time) time.Time {
	if t, ok := statedTime(ev.Name, ev.Fields); ok {
		return t
	}
	if aboutEarlierMessage(ev.Name) && !arrival.IsZero() {
		return arrival.UTC()
	}
	if t, ok := envelopeTime(ev.Fields); ok {
		return t
	}
	return arrivalTime(arrival)
}

// ReplayTime is the time a replay (dry-run, explain, a test sequence)
// gives ev, which has no arrival, after an event at prev: the time of its
// own state, else the envelope's time, else prev. For an event about an
// earlier message that dates nothing of its own, the envelope's time is
// its message's, so it takes prev when that is later: recorded in the
// order they arrived, it came after the event before it.
func ReplayTime(ev *event.Event, prev time.Time) time.Time {
	if t, ok := statedTime(ev.Name, ev.Fields); ok {
		return t
	}
	if t, ok := envelopeTime(ev.Fields); ok {
		if aboutEarlierMessage(ev.Name) && prev.After(t) {
			return prev.UTC()
		}
		return t
	}
	return prev.UTC()
}

// aboutEarlierMessage reports whether events named name are about a
// message sent or received before them, whose envelope they carry.
func aboutEarlierMessage(name string) bool {
	switch name {
	case "message:out:ack", "message:update", "message:reaction":
		return true
	}
	return false
}

// envelopeTime is the time an event's envelope states: its created field
// (Unix seconds, as Wassenger sends it; see unixField), else the message's
// data.timestamp (the same), else its date (RFC 3339, as the items of
// message:out:failed carry it).
func envelopeTime(fields map[string]any) (time.Time, bool) {
	if t, ok := unixField(fields["created"]); ok {
		return t, true
	}
	if data, ok := fields["data"].(map[string]any); ok {
		if t, ok := unixField(data["timestamp"]); ok {
			return t, true
		}
	}
	// The items of message:out:sent, :failed, :removed and :expired have
	// no created: their date is an RFC 3339 time.
	if s, ok := fields["date"].(string); ok {
		return rfc3339(s)
	}
	return time.Time{}, false
}

// statedTime is the time an event about an earlier message gives its own
// state in data.events: a message:out:ack's ack (data.events.read for a
// read ack, also spelt readed; data.events.sent for a server ack), a
// message:update's update, a message:reaction's reaction, as a date or
// reportedAt (RFC 3339).
func statedTime(name string, fields map[string]any) (time.Time, bool) {
	_, _, at, ok := stateEntry(name, fields)
	return at, ok
}

// stateEntry finds the entry of data.events that dates an event about an
// earlier message (see statedTime): its name in data.events, the key of
// its time (date or reportedAt) and that time.
func stateEntry(name string, fields map[string]any) (entry, key string, at time.Time, ok bool) {
	names := stateEntryNames(name, fields)
	if len(names) == 0 {
		return "", "", time.Time{}, false
	}
	data, _ := fields["data"].(map[string]any)
	events, _ := data["events"].(map[string]any)
	for _, n := range names {
		e, _ := events[n].(map[string]any)
		for _, key := range []string{"date", "reportedAt"} {
			if s, isString := e[key].(string); isString {
				if t, valid := rfc3339(s); valid {
					return n, key, t, true
				}
			}
		}
	}
	return "", "", time.Time{}, false
}

// stateEntryNames are the names in data.events that may date an event
// about an earlier message named name (see statedTime), the first as
// Wassenger's webhook examples spell it; none for other events.
func stateEntryNames(name string, fields map[string]any) []string {
	switch name {
	case "message:out:ack":
		ack, _ := fields["ack"].(string)
		if ack == "" {
			data, _ := fields["data"].(map[string]any)
			ack, _ = data["ack"].(string)
		}
		switch ack {
		case "":
			return nil
		case "read":
			return []string{"read", "readed"}
		case "server":
			return []string{"sent", "server"}
		}
		return []string{ack}
	case "message:update":
		return []string{"update"}
	case "message:reaction":
		return []string{"reaction"}
	}
	return nil
}

// WithEventTime returns a copy of ev's fields whose time, as EventTime
// and ReplayTime read it, is at: created is at in Unix seconds, and so is
// the date of the event's own state in data.events for an event about an
// earlier message (an ack, an edit or vote, a reaction), which that date
// dates (it is added where the event has none). The maps on the way to a
// changed field are copies; the rest is shared.
func WithEventTime(ev *event.Event, at time.Time) map[string]any {
	fields := maps.Clone(ev.Fields)
	fields["created"] = at.Unix()
	entry, key, _, ok := stateEntry(ev.Name, ev.Fields)
	if !ok {
		names := stateEntryNames(ev.Name, ev.Fields)
		if len(names) == 0 {
			return fields
		}
		entry, key = names[0], "date"
	}
	data, _ := fields["data"].(map[string]any)
	data = maps.Clone(data)
	if data == nil {
		data = map[string]any{}
	}
	events, _ := data["events"].(map[string]any)
	events = maps.Clone(events)
	if events == nil {
		events = map[string]any{}
	}
	dated, _ := events[entry].(map[string]any)
	dated = maps.Clone(dated)
	if dated == nil {
		dated = map[string]any{}
	}
	dated[key] = at.UTC().Format(time.RFC3339Nano)
	events[entry], data["events"], fields["data"] = dated, events, data
	return fields
}

// rfc3339 parses an RFC 3339 time after the Unix epoch, in UTC.
func rfc3339(s string) (time.Time, bool) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.Unix() <= 0 {
		return time.Time{}, false
	}
	return t.UTC(), true
}

// arrivalTime is arrival in UTC, or now when arrival is zero.
func arrivalTime(arrival time.Time) time.Time {
	if arrival.IsZero() {
		return time.Now().UTC()
	}
	return arrival.UTC()
}

// unixField reads a time as Wassenger writes created and timestamp:
// Unix seconds, a JSON number. It also reads what other senders, or a
// recording edited by hand, may hold: the number as a string, Unix
// milliseconds (see millisAbove), or an RFC 3339 string.
func unixField(v any) (time.Time, bool) {
	switch x := v.(type) {
	case int64:
		if x > millisAbove {
			return time.UnixMilli(x).UTC(), true
		}
		if x > 0 {
			return time.Unix(x, 0).UTC(), true
		}
	case float64:
		if x > millisAbove && x < math.MaxInt64 {
			return time.UnixMilli(int64(x)).UTC(), true
		}
		if x > 0 && x <= millisAbove {
			return time.UnixMilli(int64(x * 1000)).UTC(), true
		}
	case string:
		if n, err := strconv.ParseInt(x, 10, 64); err == nil {
			return unixField(n)
		}
		if f, err := strconv.ParseFloat(x, 64); err == nil {
			return unixField(f)
		}
		return rfc3339(x)
	}
	return time.Time{}, false
}

// millisAbove is the largest number unixField reads as Unix seconds (a
// time in the year 5138): a larger one is Unix milliseconds, as some
// senders write times.
const millisAbove = 100_000_000_000

// OwnSendPrefix starts the reference hookd gives every message it sends
// (see Reference); Wassenger echoes it in the message's data.reference.
const OwnSendPrefix = "hookd:"

// OwnSend reports whether ev is hookd's own doing: the message:out:new
// of a message hookd sent (its data.reference, which Wassenger keeps
// from the send request, starts with "hookd:"), or an event whose Own
// says why (the group:update of a participant change hookd asked for,
// see OwnChanges). Such events fire only rules with self: true, so that
// a rule answering outgoing messages does not answer its own, and one
// alerting on removals does not alert on hookd's.
func OwnSend(ev *event.Event) bool {
	if ev.Own != "" {
		return true
	}
	if ev.Name != "message:out:new" {
		return false
	}
	data, _ := ev.Fields["data"].(map[string]any)
	ref, _ := data["reference"].(string)
	return strings.HasPrefix(ref, OwnSendPrefix)
}

// ownReason says why OwnSend holds for ev.
func ownReason(ev *event.Event) string {
	if ev.Own != "" {
		return ev.Own
	}
	return "the message:out:new of a message hookd sent (its data.reference starts with " + OwnSendPrefix + ")"
}

// skipRule reports whether Evaluate skips a rule without evaluating it:
// a timer rule (it fires on its schedule), or any rule without self: true
// for an event of hookd's own send.
func skipRule(rule *Rule, own bool) bool {
	return rule.Schedule != nil || own && !rule.Self
}

// addStep records a stateful rule whose condition was true as a step of
// res; the key is rendered now, the actions when the step fires.
func (rs *RuleSet) addStep(r *runner, rule *Rule, res *Result) {
	key := ""
	if rule.key != nil {
		v, err := rule.key.render(r)
		if err != nil {
			res.Errors = append(res.Errors, RuleError{Rule: rule.Name, Part: "key", Err: err})
			return
		}
		key, _ = v.(string)
		if key == "" {
			res.Errors = append(res.Errors, RuleError{Rule: rule.Name, Part: "key", Err: fmt.Errorf("%s is empty for this event; the rule did not count it", rule.keySrc)})
			return
		}
	}
	weight := 1
	if rule.Window != nil && rule.Window.weight != nil {
		v, err := r.run(rule.Window.weight)
		if err == nil {
			weight, err = weightOf(v)
		}
		if err != nil {
			res.Errors = append(res.Errors, RuleError{Rule: rule.Name, Part: "window.weight " + rule.Window.weight.Source, Err: fmt.Errorf("%w; the rule did not count this event", err)})
			return
		}
	}
	ev := res.Event
	at := EventTime(ev, r.arrival)
	// The event's fields do not change after Evaluate: Render reads them
	// then, with the state's names added to a copy.
	env := r.env
	raw := ev.Raw
	step := StateStep{Rule: rule, Key: key, At: at, Weight: weight, raw: raw}
	arrival := r.arrival
	step.Apply = func(old []byte) ([]byte, bool, time.Time) {
		next, fire, _, expires := Advance(rule, old, at, weight, raw)
		if late := arrival.Sub(at); late > 0 && !expires.IsZero() {
			// Advance counts expiry in event time, while the store
			// forgets by its clock: the state of a late event (a retry,
			// a replayed recording) is kept as long after it arrived as
			// it would have been after the event, so a throttle of
			// per: once still holds, and the digest of a period long
			// past is still sent at the next tick.
			expires = expires.Add(late)
		}
		return next, fire, expires
	}
	step.Render = func(state []byte) ([]Rendered, []RuleError) {
		return rs.renderWith(rule, stateEnv(env, rs.Vars, rule, key, state))
	}
	if res.Steps == nil {
		res.Steps = make([]StateStep, 0, 4) // an event meets a few rules that remember: one allocation, not three
	}
	res.Steps = append(res.Steps, step)
}

// maxWeight bounds what one event may count for: more than a window can
// hold is a mistake in the expression.
const maxWeight = 1_000_000

// weightOf reads the value of a window's weight: expression, a whole
// number from 0 (the event does not count) to maxWeight.
func weightOf(v any) (int, error) {
	var f float64
	switch x := v.(type) {
	case int:
		f = float64(x)
	case int64:
		f = float64(x)
	case float64:
		f = x
	case nil:
		return 0, errors.New("gave nil (a missing field?); give a default with ??, e.g. len(participants ?? [])")
	default:
		return 0, fmt.Errorf("gave %s, not a number", event.Format(v))
	}
	if f != math.Trunc(f) || f < 0 || f > maxWeight {
		return 0, fmt.Errorf("gave %s; it must be a whole number from 0 to %d", event.Format(v), maxWeight)
	}
	return int(f), nil
}

// stateEnv adds window, throttle and key to a copy of an event's
// environment.
func stateEnv(env, vars map[string]any, rule *Rule, key string, state []byte) map[string]any {
	out := make(map[string]any, len(env)+4)
	maps.Copy(out, env)
	out["vars"] = vars
	out["key"] = key
	s := decodeState(state)
	if w := rule.Window; w != nil {
		held := s.Times
		if len(s.Fired) > 0 {
			held = s.Fired // the window fired and started again
		}
		out["window"] = windowValue(held, w)
	}
	if rule.Throttle != nil {
		out["throttle"] = throttleValue(s.Next)
	}
	return out
}

// windowValue is what actions see as window: the times held (Unix
// milliseconds) and the window's bounds.
func windowValue(held []int64, w *Window) map[string]any {
	times := make([]any, 0, len(held))
	for _, t := range held {
		times = append(times, fromMS(t).Format(time.RFC3339))
	}
	return map[string]any{"count": int64(len(held)), "times": times, "within": FormatPeriod(w.Within), "at_least": int64(w.AtLeast)}
}

// throttleValue is what actions see as throttle: when the rule may fire
// again (next, Unix milliseconds; "" when it may now).
func throttleValue(next int64) map[string]any {
	at := ""
	if next > 0 {
		at = fromMS(next).Format(time.RFC3339)
	}
	return map[string]any{"next": at}
}

// digestValue is what a digest's actions see as digest.
func digestValue(events []any, s RuleState) map[string]any {
	return map[string]any{
		"events": events,
		"count":  int64(s.Count),
		"first":  fromMS(s.First).Format(time.RFC3339),
		"last":   fromMS(s.Last).Format(time.RFC3339),
	}
}

// scheduleValue is what a timer rule's actions see as schedule.
func scheduleValue(local time.Time, sc *Schedule) map[string]any {
	return map[string]any{"time": local.Format(time.RFC3339), "cron": sc.Cron, "timezone": sc.Timezone}
}

// renderWith renders a rule's actions against env.
func (rs *RuleSet) renderWith(rule *Rule, env map[string]any) ([]Rendered, []RuleError) {
	r := runners.Get().(*runner)
	r.env = env
	defer func() {
		r.env = nil
		runners.Put(r)
	}()
	var errs []RuleError
	out := make([]Rendered, 0, len(rule.Do))
	for _, a := range rule.Do {
		params, err := a.params.render(r)
		if err != nil {
			errs = append(errs, RuleError{Rule: rule.Name, Action: a.Name, Err: err})
			continue
		}
		out = append(out, Rendered{Action: a, Params: params.(map[string]any)})
	}
	return out, errs
}

// AddFired adds a fired rule to res.Fired, keeping file order.
func (res *Result) AddFired(f Fired) {
	i := sort.Search(len(res.Fired), func(i int) bool { return res.Fired[i].Rule.Line > f.Rule.Line })
	res.Fired = append(res.Fired, Fired{})
	copy(res.Fired[i+1:], res.Fired[i:])
	res.Fired[i] = f
}

// Flushed is a digest sent: its rule, key, what it collected and the
// rendered actions.
type Flushed struct {
	Rule *Rule
	Key  string
	// State is the digest's state it was rendered from: what it
	// collected (see store.DigestEventID).
	State []byte
	// Due is when the digest was due; Count how many events it
	// collected (Events of them are in digest.events).
	Due     time.Time
	Count   int
	Events  int
	Actions []Rendered
	Errors  []RuleError
}

// LocalDue is Due in the time zone of the digest's schedule (UTC for a
// digest of every:).
func (f *Flushed) LocalDue() time.Time {
	if sc := f.Rule.Digest.Schedule; sc != nil {
		return f.Due.In(sc.Location())
	}
	return f.Due
}

// Flush renders the actions of a due digest from its state. Templates
// see digest.events (the collected events' fields, at most max_events),
// digest.count (all of them), digest.first and digest.last (their
// times), key, vars, and the fields of the last collected event (so
// {{ data.chat.name }} names the group). The state is then spent: the
// caller deletes it in the same transaction that queues the actions. It
// is pure.
func (rs *RuleSet) Flush(rule *Rule, key string, state []byte) Flushed {
	s := decodeState(state)
	out := Flushed{Rule: rule, Key: key, State: state, Due: fromMS(s.Due), Count: s.Count, Events: len(s.Events)}
	events := make([]any, 0, len(s.Events))
	var last map[string]any
	for _, raw := range s.Events {
		evs, err := event.Parse(raw)
		if err != nil || len(evs) != 1 {
			continue
		}
		last = evs[0].Fields
		events = append(events, last)
	}
	env := map[string]any{}
	maps.Copy(env, last)
	env["vars"] = rs.Vars
	env["key"] = key
	env["digest"] = digestValue(events, s)
	out.Actions, out.Errors = rs.renderWith(rule, env)
	return out
}

// Tick renders the actions of a timer rule (on: schedule) for the tick
// at: templates see schedule.time (the tick, RFC 3339 in the rule's
// zone), schedule.cron, vars and now. Whether a tick is due is
// Schedule.Due.
func (rs *RuleSet) Tick(rule *Rule, at time.Time) ([]Rendered, []RuleError) {
	sc := rule.Schedule
	local := at.In(sc.spec.Location)
	env := map[string]any{
		"vars":     rs.Vars,
		"now":      local.Format(time.RFC3339),
		"schedule": scheduleValue(local, sc),
	}
	return rs.renderWith(rule, env)
}

// TimerRules returns the rules that fire on a schedule.
func (rs *RuleSet) TimerRules() []*Rule {
	var out []*Rule
	for _, r := range rs.Rules {
		if r.Schedule != nil {
			out = append(out, r)
		}
	}
	return out
}

// Remembers reports whether a rule of the set has a throttle, a window
// or a digest, fires on a schedule, or changes a group's participants
// (the loop guard then knows the group:update about the change, see
// OwnChanges): dry-runs then replay events in event-time order with
// state.
func (rs *RuleSet) Remembers() bool {
	for _, r := range rs.Rules {
		if r.Stateful() || r.Schedule != nil {
			return true
		}
	}
	return rs.changesGroups
}

// ChangesGroups reports whether an action of the set changes a group's
// participants (wassenger.group.add, remove, promote, demote): only then
// can a group:update be the echo of a change hookd asked for.
func (rs *RuleSet) ChangesGroups() bool { return rs.changesGroups }

// changesGroups reports whether an action of the rules changes a
// group's participants (see wassenger.ChangesGroup).
func changesGroups(rules []*Rule) bool {
	for _, r := range rules {
		for _, a := range r.Do {
			if wassenger.ChangesGroup(a.Type) {
				return true
			}
		}
	}
	return false
}
