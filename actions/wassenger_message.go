package actions

// The request model of Wassenger's POST /v1/messages, which drives the
// wassenger.message action's fields, their checks at load and before
// sending, the Wassenger stand-in, the JSON Schema and docs/actions.md.
//
// Sources: the `message` model of Wassenger's API spec (Swagger 2.0,
// "Wassenger API"; a public copy is the GitHub file
// logg926/wassenger-metrics specification1.json, definitions.message),
// which gives the targets (phone, group, channel, chat), the content
// fields and their nested objects; the keys the spec's model leaves out
// of its nested objects (poll.options, vote.options, media.url,
// location.coordinates, forward as {message, chat}, expiration, contacts,
// retries, live, enqueue, order, label) are those of the same API's
// client walichat/n8n-walichat (src/actions/send-messages.ts) and of
// Wassenger's own tool reference (wassengerhq/whatsapp-skills). The spec
// leaves every nested object open (no additionalProperties), so unknown
// nested keys are warnings, not errors; unknown fields are errors.

// Shapes used more than once.
var (
	shString  = &Shape{Types: []string{TypeString}}
	shNumber  = &Shape{Types: []string{TypeNumber}}
	shInteger = &Shape{Types: []string{TypeInteger}}
	shBoolean = &Shape{Types: []string{TypeBoolean}}
	shObject  = &Shape{Types: []string{TypeObject}}
)

// msgTargets are the fields of which a message needs exactly one.
var msgTargets = []string{"phone", "group", "channel", "chat"}

// msgContent are the fields of which a message needs at least one.
var msgContent = []string{
	"message", "media", "poll", "location", "contacts", "reaction", "event", "attend",
	"vote", "list", "product", "template", "forward", "selectId",
}

func key(name string, s *Shape, doc string) Key { return Key{Name: name, Doc: doc, Shape: s} }

func object(required []string, keys ...Key) *Shape {
	return &Shape{Types: []string{TypeObject}, Keys: keys, Required: required}
}

func listOf(items *Shape) *Shape { return &Shape{Types: []string{TypeArray}, Items: items} }

func enum(values ...string) *Shape { return &Shape{Types: []string{TypeString}, Enum: values} }

// msgField is a field of the message model: a template string when its
// shape allows only strings (enums checked at load when literal), any
// value checked against its shape otherwise.
func msgField(name string, s *Shape, doc string, needs ...string) Field {
	f := Field{Name: name, Kind: Any, Shape: s, Doc: doc, Needs: needs}
	if s.Only(TypeString) {
		f.Kind = String
		f.Enum = s.Enum
	}
	return f
}

var wassengerMessageFields = []Field{
	// Targets: exactly one.
	msgField("phone", shString, "recipient phone number in E.164 (+1234567890)"),
	msgField("group", shString, "recipient group chat id (...@g.us)"),
	msgField("channel", shString, "recipient channel id (...@newsletter)"),
	msgField("chat", shString, "recipient chat id: ...@c.us (user), ...@g.us (group), ...@newsletter (channel) or <digits>@lid (a user known by a linked id)"),

	// Content: at least one.
	msgField("message", shString, "message text (WhatsApp formatting allowed); the caption of media"),
	msgField("media", object(nil,
		key("url", shString, "public URL of the file to send"),
		key("file", &Shape{Types: []string{TypeString, TypeObject}}, "id of a file uploaded to Wassenger"),
		key("filename", shString, "file name shown to the recipient"),
		key("kind", enum("image", "video", "audio", "document"), "image, video, audio or document"),
		key("format", enum("native", "gif", "ptt"), "native (default), gif (video/mp4 only) or ptt (a voice note; audio/ogg only)"),
		key("viewOnce", shBoolean, "images and videos disappear once seen"),
	), `media to send: {url: "https://..."} or {file: "<id>"}, optional filename, kind, format, viewOnce`),
	msgField("poll", object([]string{"name", "options"},
		key("name", shString, "the question"),
		key("options", listOf(shString), "the answers (2 to 12)"),
		key("multiple", shBoolean, "allow several answers"),
	), "poll: {name, options: [...], multiple}"),
	msgField("location", object(nil,
		key("address", shString, "address Google Maps can find"),
		key("coordinates", listOf(shNumber), "[latitude, longitude]"),
		key("name", shString, "name shown with the location"),
		key("request", shBoolean, "ask the user to share their location instead"),
	), "location: {address} or {coordinates: [lat, lng]}, optional name; {request: true} asks for the user's"),
	msgField("contacts", listOf(object([]string{"phone"},
		key("phone", shString, "phone number in E.164"),
		key("name", shString, "contact name"),
		key("email", shString, "email address"),
		key("organization", shString, "company"),
		key("url", shString, "web address"),
	)), "contact cards: [{phone, name}]"),
	msgField("reaction", shString, `emoji to react with ("-" removes it); reactionMessage names the message`),
	msgField("event", object([]string{"name", "date"},
		key("name", shString, "event name"),
		key("date", shString, "start time, ISO-8601, up to a year ahead"),
		key("description", shString, "description"),
		key("location", shString, "where"),
		key("latitude", shNumber, "latitude of the place"),
		key("longitude", shNumber, "longitude of the place"),
		key("call", enum("voice", "video"), "voice or video call link"),
		key("link", shString, "meeting link (generated when left out)"),
	), "event invitation: {name, date, description, location, call}"),
	msgField("attend", object([]string{"event"},
		key("event", shString, "id of the event message"),
		key("confirm", shBoolean, "true accepts, false declines"),
	), "answer an event invitation: {event: <message id>, confirm: true}"),
	msgField("vote", object([]string{"poll"},
		key("poll", shString, "id of the poll message"),
		key("options", listOf(nil), "answers to vote for: option texts or {id}/{value}; empty clears the vote"),
	), "vote in a poll: {poll: <message id>, options: [...]}"),
	msgField("list", object(nil,
		key("title", shString, "list title"),
		key("description", shString, "list text"),
		key("footer", shString, "list footer"),
		key("button", shString, "text of the button that opens the list"),
		key("sections", listOf(shObject), "sections, each with its rows"),
	), "interactive list: {title, description, button, sections}"),
	msgField("product", shString, "id of a WhatsApp Business catalog product to send"),
	msgField("template", object([]string{"name"},
		key("name", shString, "approved template name"),
		key("language", shString, "template language, e.g. en_US"),
		key("header", shObject, "header values"),
		key("body", listOf(shObject), "body variables: [{name, value}]"),
		key("button", listOf(shObject), "button values"),
	), "WhatsApp Business template: {name, language, header, body, button}"),
	msgField("forward", &Shape{Types: []string{TypeString, TypeObject}, Keys: []Key{
		key("message", shString, "id of the message to forward"),
		key("chat", shString, "chat the message is in"),
	}}, "message to forward: its id, or {message: <id>, chat: <chat id>}"),
	msgField("selectId", shString, "answer a buttons or list message with the id of an option (needs quote)", "quote"),

	// Presentation and delivery.
	msgField("header", shString, "header text"),
	msgField("headerType", shString, "header type"),
	msgField("headerFile", shObject, "header media"),
	msgField("headerUrl", shString, "URL of the header media"),
	msgField("footer", shString, "footer text"),
	msgField("quote", shString, "id of a message in the same chat to reply to"),
	msgField("reactionMessage", shString, "id of the message to react to"),
	msgField("device", shString, "24-hex device id to send from"),
	msgField("reference", shString, "your own id; defaults to hookd's idempotency reference"),
	msgField("deliverAt", shString, "ISO-8601 time for a scheduled send"),
	msgField("priority", enum("low", "normal", "high", "urgent"), "queue priority"),
	msgField("live", shBoolean, "skip the queue (true/false)"),
	msgField("enqueue", enum("always", "never", "opportunistic"), "queueing mode"),
	msgField("order", shBoolean, "keep strict order with earlier messages to the chat"),
	msgField("retries", shInteger, "delivery retry cap"),
	msgField("expiration", object(nil,
		key("seconds", shNumber, "seconds to live"),
		key("duration", shString, `time to live like "1h" or "30m"`),
		key("date", shString, "ISO-8601 expiry time"),
	), "time to live: {seconds}, {duration} or {date}"),
	msgField("retentionPolicy", shString, "how long Wassenger keeps the message: plan_defaults, never, short, medium or long"),
	msgField("agent", shString, "send as this team agent (24-hex user id)"),
	msgField("label", shString, "label to tag the message with"),
	msgField("typing", shNumber, "seconds of typing indicator"),
	msgField("sendReadAck", shBoolean, "mark the chat's messages read (blue ticks) once delivered"),
	msgField("deliveryOptions", object(nil,
		key("previewUrl", shBoolean, "show a preview of the first link (default true)"),
	), "delivery options: {previewUrl: false}"),
}
