package event

import (
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"slices"
	"strconv"
	"strings"

	"github.com/valyala/fastjson"
)

// Identity tells one webhook event from the next about the same entity.
//
// Wassenger's top-level id of a message event is the WhatsApp message id,
// shared by every event about that message: its message:out:new, one
// message:out:ack per ack state, a message:update per edit or vote. So
// the id alone does not name an event. The key is the event name, the
// entity (id, else entityId) and, per event type, the state that changes
// between successive events about that entity (see docs/daemon.md, "Event
// identity"):
//
//	message:in:new, message:out:new      name/id/on:device
//	message:out:ack                      name/id/ack/on:device
//	message:out:sent, :failed, :removed,
//	:expired (array items)               name/entityId
//	message:out:retry                    name/entityId/retry count
//	group:update                         name/id/action/participants/value/on:device
//	every other event                    name/id/digest of the whole event/on:device
//
// The device part (see OnDevice) is there when the event has a device
// id: two numbers of one account in a group each get its events, with
// the same WhatsApp id.
//
// A redelivery of one event carries the same key, so it is a duplicate;
// the next event about the same message has another key. An event
// without id or entityId is keyed by the digest alone. A rules file may
// override the key of an event name (`identity:`).

// maxState is the longest state part kept as written; a longer one (a
// long participants list) is replaced by its digest, so that keys, and
// the idempotency references derived from them, stay short.
const maxState = 48

// keyOf returns the identity key of the event object v, named name,
// which came through the number dev (see deviceOf).
func keyOf(v *fastjson.Value, name, dev string) string {
	entity := stringField(v, "id")
	on := "" // the number's part: see OnDevice
	if entity != "" {
		on = OnDevice(dev)
	} else {
		entity = stringField(v, "entityId")
	}
	if entity == "" {
		return name + "/" + digest(v)
	}
	var state string
	switch name {
	case "message:in:new", "message:out:new", "message:out:sent", "message:out:failed",
		"message:out:removed", "message:out:expired":
		return name + "/" + entity + on
	case "message:out:ack":
		state = stringField(v, "ack")
		if state == "" {
			state = stringField(v, "data", "ack")
		}
	case "message:out:retry":
		state = stringField(v, "data", "retry", "count")
	case "group:update":
		state = groupState(v)
	default:
		state = digest(v)
	}
	if state == "" {
		// The state the key needs is missing: the whole event says what
		// changed, so a redelivery is still a duplicate and nothing is
		// lost.
		state = digest(v)
	} else if len(state) > maxState {
		state = digestOf([]byte(state))
	}
	return name + "/" + entity + "/" + state + on
}

// deviceOf is the id of the number (device) the event came through:
// device.id, or device when it is a bare id, as some material shows it;
// "" for an event without one.
func deviceOf(v *fastjson.Value) string {
	if dev := stringField(v, "device", "id"); dev != "" {
		return dev
	}
	return stringField(v, "device")
}

// OnDevice is the last part of the key of an event keyed by a WhatsApp
// id: "/on:" and the id of the number (device) it came through, "" when
// dev is "". Every number of an account in a group gets the group's
// messages and updates with the same WhatsApp id, each in a webhook of
// its own, so the id alone would take the second number's event for a
// redelivery of the first's. Wassenger's own ids (entityId) are unique
// per account and need none.
func OnDevice(dev string) string {
	if dev == "" {
		return ""
	}
	return "/on:" + dev
}

// groupState is the state of a group:update: the action, the
// participants it names (in sorted order) and its value, when present.
func groupState(v *fastjson.Value) string {
	action := stringField(v, "action")
	if action == "" {
		return ""
	}
	var people []string
	for _, p := range v.GetArray("participants") {
		people = append(people, scalarString(p))
	}
	slices.Sort(people)
	parts := []string{action, strings.Join(people, ",")}
	if val := v.Get("value"); val != nil {
		parts = append(parts, scalarString(val))
	}
	return strings.TrimRight(strings.Join(parts, "/"), "/")
}

// stringField returns the string or integer at path in v, "" when it is
// missing or of another type.
func stringField(v *fastjson.Value, path ...string) string {
	x := v.Get(path...)
	if x == nil {
		return ""
	}
	switch x.Type() {
	case fastjson.TypeString, fastjson.TypeNumber:
		return scalarString(x)
	}
	return ""
}

// scalarString is a string value's text, or a number's or bool's JSON.
func scalarString(x *fastjson.Value) string {
	if x.Type() == fastjson.TypeString {
		return string(x.GetStringBytes())
	}
	return x.String()
}

// digest is a short, stable digest of a JSON value: "sha256:" and the
// first 16 bytes of the SHA-256 of its canonical form (object keys
// sorted, no spaces), so that a redelivery serialised with other spacing
// or key order has the same digest.
func digest(v *fastjson.Value) string {
	h := sha256.New()
	canonical(h, v)
	return "sha256:" + hex.EncodeToString(h.Sum(nil)[:16])
}

func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:16])
}

// canonical writes v to h with object keys sorted.
func canonical(h hash.Hash, v *fastjson.Value) {
	switch v.Type() {
	case fastjson.TypeObject:
		o, _ := v.Object()
		keys := make([]string, 0, o.Len())
		o.Visit(func(k []byte, _ *fastjson.Value) { keys = append(keys, string(k)) })
		slices.Sort(keys)
		h.Write([]byte{'{'})
		for i, k := range keys {
			if i > 0 {
				h.Write([]byte{','})
			}
			h.Write(strconv.AppendQuote(nil, k))
			h.Write([]byte{':'})
			canonical(h, o.Get(k))
		}
		h.Write([]byte{'}'})
	case fastjson.TypeArray:
		h.Write([]byte{'['})
		for i, x := range v.GetArray() {
			if i > 0 {
				h.Write([]byte{','})
			}
			canonical(h, x)
		}
		h.Write([]byte{']'})
	case fastjson.TypeString:
		h.Write(strconv.AppendQuote(nil, string(v.GetStringBytes())))
	default:
		h.Write(v.MarshalTo(nil))
	}
}
