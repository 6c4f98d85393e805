package funcs

// Sender returns the WhatsApp id of who sent a message, given the message
// (an event's data). Wassenger fills the message's fields differently by
// chat, so no one field names the sender:
//
//   - in a group, data.from is the group; data.author is the member who
//     wrote, and data.fromNumber their phone;
//   - in a one-to-one chat, data.from is the user who wrote;
//   - in an outbound message, the sender is the number itself,
//     data.fromNumber (device.phone).
//
// The id is "<digits>@c.us", or "<digits>@lid" when WhatsApp hides the
// member's number behind a linked id; "" when the message names no
// sender.
func Sender(msg map[string]any) string {
	if id := authorID(msg["author"]); id != "" {
		return id
	}
	from := stringField(msg, "from")
	number := WID(Phone(stringField(msg, "fromNumber")))
	if stringField(msg, "flow") == "outbound" && number != "" {
		return number
	}
	if IsUser(from) {
		return from
	}
	return number
}

// SenderPhone returns the E.164 phone number of who sent a message (see
// Sender), or "" when it is not known: a member known only by a linked id
// (@lid) has no phone number in the event unless Wassenger gives it as
// data.fromNumber, and a linked id's digits are never taken for one.
func SenderPhone(msg map[string]any) string {
	id := Sender(msg)
	if p := Phone(id); p != "" || !IsLid(id) {
		return p
	}
	p := Phone(stringField(msg, "fromNumber"))
	if p == "" || Digits(p) == Digits(userPart(id)) {
		return ""
	}
	return p
}

// ArgFields returns the fields of its argument that the helper name
// reads, for helpers that read only some fields of an object (sender and
// senderPhone read four of a message); nil for the others. hookd decodes
// just these fields of an event for them.
func ArgFields(name string) []string {
	switch name {
	case "sender", "senderPhone":
		return []string{"author", "flow", "from", "fromNumber"}
	}
	return nil
}

// authorID is the user id in a message's author field: Wassenger sends an
// id; a phone number is turned into one. Any other value gives "".
func authorID(v any) string {
	s, _ := v.(string)
	if IsUser(s) {
		return s
	}
	return WID(Phone(s))
}

// stringField is msg[key] when it is a string, else "".
func stringField(msg map[string]any, key string) string {
	s, _ := msg[key].(string)
	return s
}
