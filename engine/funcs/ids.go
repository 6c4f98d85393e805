package funcs

import "strings"

// The suffixes of WhatsApp ids as Wassenger writes them.
const (
	userSuffix    = "@c.us"       // a user, by phone number: <digits>@c.us
	lidSuffix     = "@lid"        // a user, by linked id: <digits>@lid, which hides the phone
	groupSuffix   = "@g.us"       // a group
	channelSuffix = "@newsletter" // a channel
)

// Phone returns the E.164 number of a user id or a phone number:
// "34600000001@c.us" and "+34 600 000 001" give "+34600000001". Every
// other id gives "": a linked id ("<digits>@lid") is not a phone number
// (WhatsApp uses it to hide the number), and a group or channel id has
// none. "" never equals a phone number, so a condition comparing it
// fails, and an action whose recipient renders empty is refused before
// anything is sent.
func Phone(id string) string {
	if d := userDigits(id, isPhoneID); d != "" {
		return "+" + d
	}
	return ""
}

// WID returns the user chat id of a phone number: "+34 600 000 001"
// gives "34600000001@c.us". An id that already has "@" (a linked id,
// a group) is returned as is.
func WID(phone string) string {
	if strings.Contains(phone, "@") {
		return phone
	}
	d := Digits(phone)
	if d == "" {
		return ""
	}
	return d + userSuffix
}

// Digits keeps only the ASCII digits of s.
func Digits(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// IsGroup reports whether id is a group chat id.
func IsGroup(id string) bool { return strings.HasSuffix(id, groupSuffix) }

// IsChannel reports whether id is a channel id.
func IsChannel(id string) bool { return strings.HasSuffix(id, channelSuffix) }

// IsUser reports whether id names a user: a phone id (@c.us) or a
// linked id (@lid).
func IsUser(id string) bool {
	return isPhoneID(id) || IsLid(id)
}

// IsLid reports whether id is a linked id, which names a user without
// giving their phone number.
func IsLid(id string) bool { return strings.HasSuffix(id, lidSuffix) }

// Mention returns the text that mentions a user in a WhatsApp message,
// "@" and the user part of their id: "+34 600 000 001" and
// "34600000001@c.us" give "@34600000001", "123456789012345@lid" gives
// "@123456789012345" (WhatsApp writes a linked id's mention that way).
// A group or channel id, or a value without digits, gives "".
func Mention(v string) string {
	if d := userDigits(v, IsUser); d != "" {
		return "@" + d
	}
	return ""
}

// isPhoneID reports whether id names a user by phone number.
func isPhoneID(id string) bool { return strings.HasSuffix(id, userSuffix) }

// userDigits returns the digits of v's user part when v is a phone number
// (no "@") or an id that accept allows, else "".
func userDigits(v string, accept func(string) bool) string {
	if strings.Contains(v, "@") && !accept(v) {
		return ""
	}
	return Digits(userPart(v))
}

// userPart is the part of an id before "@", without the device number of
// a multi-device id ("34600000001:12@c.us" gives "34600000001"). A value
// without "@" is returned as is.
func userPart(id string) string {
	user, _, hasAt := strings.Cut(id, "@")
	if hasAt {
		user, _, _ = strings.Cut(user, ":")
	}
	return user
}
