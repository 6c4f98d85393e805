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
// The daemon records each action as it sends it (and keeps a copy in its
// store, so that another node and a restarted process know it too: see
// RecogniseOwnChange); a replay (dry-run, test, explain) as the rule
// fires. It is safe for concurrent use.
type OwnChanges struct {
	mu      sync.Mutex
	pending map[string]OwnChange
	order   []string // keys, oldest first, for the bound; may hold stale keys
}

// OwnChange is one participant change hookd asked for: when, and by
// which action (its name, rule/type[index]).
type OwnChange struct {
	At     time.Time
	Action string
}

// OwnChangeKey names the change of one participant (its phone's digits)
// of group by action (add, remove, promote, demote): the key under which
// OwnChanges and the daemon's store keep it.
func OwnChangeKey(group, action, participant string) string {
	return group + " " + action + " " + participant
}

// OwnChangeKeys returns the keys (OwnChangeKey) of the participant
// changes an action of type typ with the rendered params asks for, none
// when it asks for none.
func OwnChangeKeys(typ string, params map[string]any) []string {
	c, ok := wassenger.ChangeOf(typ, params)
	if !ok {
		return nil
	}
	keys := make([]string, len(c.Participants))
	for i, p := range c.Participants {
		keys[i] = OwnChangeKey(c.Group, c.Action, p)
	}
	return keys
}

// NewOwnChanges returns an empty OwnChanges.
func NewOwnChanges() *OwnChanges {
	return &OwnChanges{pending: map[string]OwnChange{}}
}

// Expect records the change an action of type typ with the rendered
// params asks for at at, if it asks for one; name names the action in
// the reason Recognise gives.
func (o *OwnChanges) Expect(typ, name string, params map[string]any, at time.Time) {
	o.ExpectKeys(OwnChangeKeys(typ, params), name, at)
}

// ExpectKeys records the changes named keys (OwnChangeKey) that the
// action name asks for at at.
func (o *OwnChanges) ExpectKeys(keys []string, name string, at time.Time) {
	if len(keys) == 0 {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, k := range keys {
		o.pending[k] = OwnChange{At: at, Action: name}
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
		if ok && now.Sub(p.At) <= OwnChangeWithin && len(o.pending) <= maxOwnChanges {
			break
		}
		delete(o.pending, k)
	}
	if drop > 0 {
		o.order = append(o.order[:0], o.order[drop:]...)
	}
}

// Recognise says why ev is the group:update of a participant change
// hookd asked for (see RecogniseOwnChange) that o remembers, or "" when
// it is not. Intake asks it of every event: any other event is answered
// without the lock.
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
	return RecogniseOwnChange(ev, at, o.Lookup)
}

// Lookup returns the change remembered under key (OwnChangeKey).
func (o *OwnChanges) Lookup(key string) (OwnChange, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	c, ok := o.pending[key]
	return c, ok
}

// RecogniseOwnChange says why ev is the group:update of a participant
// change hookd asked for within OwnChangeWithin before at, or "" when it
// is not: the same group (data.chat.id), the same action, every
// participant asked for, and made by the number itself (author is
// device.phone, when the event has both). A change someone else makes
// to the same members is not hookd's. lookup finds a change by its key
// (OwnChangeKey); it is called only for such an event of the number,
// once per participant until one is missing.
func RecogniseOwnChange(ev *event.Event, at time.Time, lookup func(key string) (OwnChange, bool)) string {
	if ev.Name != "group:update" {
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
	var by OwnChange
	for _, v := range list {
		s, _ := v.(string)
		p, ok := lookup(OwnChangeKey(group, ev.Action, wassenger.PhoneDigits(s)))
		if !ok || at.Sub(p.At) > OwnChangeWithin || p.At.Sub(at) > OwnChangeWithin {
			return ""
		}
		if p.At.After(by.At) {
			by = p
		}
	}
	return "the group:update of a participant change hookd asked Wassenger for (" + by.Action + " at " + by.At.UTC().Format(time.RFC3339) + ")"
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
