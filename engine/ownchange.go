package engine

import (
	"sync"
	"time"

	"github.com/hookd/hookd/actions/wassenger"
	"github.com/hookd/hookd/event"
)

// OwnChangeWithin is how long after hookd asks Wassenger to change a
// group's participants the group:update about the change counts as
// hookd's own. Wassenger sends it within seconds.
const OwnChangeWithin = 10 * time.Minute

// maxOwnChanges bounds the participant changes OwnChanges holds; past it
// the oldest are forgotten first (their group:update then fires rules
// as anyone's would).
const maxOwnChanges = 100_000

// OwnChanges is the loop guard's memory of the participant changes hookd
// asked Wassenger for (wassenger.group.add, remove, promote and demote),
// so that the group:update events Wassenger sends about them are known
// as hookd's own: such a change carries no reference hookd could set.
// The daemon records each action as it sends it; a replay (dry-run,
// test, explain) as the rule fires. It is safe for concurrent use.
type OwnChanges struct {
	mu      sync.Mutex
	pending map[ownChange]ownChangeAt
	order   []ownChange // oldest first, for the bound; may hold stale keys
}

// ownChange is one participant of one change.
type ownChange struct{ group, action, participant string }

// ownChangeAt is when a change was asked for, and by which action.
type ownChangeAt struct {
	at     time.Time
	action string // the action's name, rule/type[index]
}

// NewOwnChanges returns an empty OwnChanges.
func NewOwnChanges() *OwnChanges {
	return &OwnChanges{pending: map[ownChange]ownChangeAt{}}
}

// Expect records the change an action of type typ with the rendered
// params asks for at at, if it asks for one; name names the action in
// the reason Recognise gives.
func (o *OwnChanges) Expect(typ, name string, params map[string]any, at time.Time) {
	c, ok := wassenger.ChangeOf(typ, params)
	if !ok {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, p := range c.Participants {
		k := ownChange{c.Group, c.Action, p}
		o.pending[k] = ownChangeAt{at: at, action: name}
		o.order = append(o.order, k)
	}
	o.trim(at)
}

// expectFired records the changes the actions of res's fired rules ask
// for, at at.
func (o *OwnChanges) expectFired(res *Result, at time.Time) {
	for _, f := range res.Fired {
		o.expectAll(f.Actions, at)
	}
}

// expectAll records the changes that rendered actions ask for, at at.
func (o *OwnChanges) expectAll(acts []Rendered, at time.Time) {
	for _, a := range acts {
		o.Expect(a.Action.Type, a.Action.Name, a.Params, at)
	}
}

// trim forgets the changes asked for more than OwnChangeWithin before
// now, and the oldest beyond maxOwnChanges. o.mu is held.
func (o *OwnChanges) trim(now time.Time) {
	drop := 0
	for ; drop < len(o.order); drop++ {
		k := o.order[drop]
		p, ok := o.pending[k]
		if ok && now.Sub(p.at) <= OwnChangeWithin && len(o.pending) <= maxOwnChanges {
			break
		}
		delete(o.pending, k)
	}
	if drop > 0 {
		o.order = append(o.order[:0], o.order[drop:]...)
	}
}

// Recognise says why ev is the group:update of a participant change
// hookd asked for within OwnChangeWithin before at, or "" when it is not:
// the same group (data.chat.id), the same action, every participant
// asked for, and made by the number itself (author is device.phone, when
// the event has both). A change someone else makes to the same members
// is not hookd's.
func (o *OwnChanges) Recognise(ev *event.Event, at time.Time) string {
	if ev.Name != "group:update" {
		return ""
	}
	o.mu.Lock()
	empty := len(o.pending) == 0
	o.mu.Unlock()
	if empty {
		return ""
	}
	f := ownChangeFields()
	group, _ := f[0].lookup(ev.Fields)
	author, _ := f[1].lookup(ev.Fields)
	phone, _ := f[2].lookup(ev.Fields)
	if group == "" || author != "" && phone != "" && wassenger.PhoneDigits(author) != wassenger.PhoneDigits(phone) {
		return ""
	}
	v, _ := f[3].value(ev.Fields)
	list, _ := v.([]any)
	if len(list) == 0 {
		return ""
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	var by ownChangeAt
	for _, v := range list {
		s, _ := v.(string)
		p, ok := o.pending[ownChange{group, ev.Action, wassenger.PhoneDigits(s)}]
		if !ok || at.Sub(p.at) > OwnChangeWithin || p.at.Sub(at) > OwnChangeWithin {
			return ""
		}
		if p.at.After(by.at) {
			by = p
		}
	}
	return "the group:update of a participant change hookd asked Wassenger for (" + by.action + " at " + by.at.UTC().Format(time.RFC3339) + ")"
}

// ownChangeFields are the fields Recognise reads: the group, the
// author, the number and the participants. The projection of a rule set
// with group actions keeps them (see loader.projection).
func ownChangeFields() [4]eventField {
	return [4]eventField{
		{path: "data.chat.id", keys: []string{"data", "chat", "id"}},
		{path: "author", keys: []string{"author"}},
		{path: "device.phone", keys: []string{"device", "phone"}},
		{path: "participants", keys: []string{"participants"}},
	}
}
