package eventschema_test

import (
	"fmt"
	"strings"

	"github.com/hookd/hookd/engine/eventschema"
)

// A rule on message:in:new reads data.chat.nmae: warn and suggest a fix.
func ExampleSuggest() {
	const event = "message:in:new"
	path := strings.Split("data.chat.nmae", ".")
	if !eventschema.Has(event, path) {
		fmt.Printf("%s events have no field %s; did you mean data.chat.%s?\n",
			event, strings.Join(path, "."), eventschema.Suggest(event, path))
	}
	// Output: message:in:new events have no field data.chat.nmae; did you mean data.chat.name?
}

// Lists are walked with "[]" or an index; unknown events are never flagged.
func ExampleHas() {
	fmt.Println(eventschema.Has("message:in:new", []string{"data", "chat", "labels", "[]"}))
	fmt.Println(eventschema.Has("message:in:new", []string{"participants"}))
	fmt.Println(eventschema.Has("contact:update", []string{"data", "anything"}))
	// Output:
	// true
	// false
	// true
}

// The values of an enumerated field, for "did you mean" on a literal.
func ExampleValues() {
	fmt.Println(eventschema.Values("message:out:ack", []string{"ack"}))
	fmt.Println(eventschema.Values("message:in:new", []string{"data", "type"}) == nil)
	// Output:
	// [failed sent read played error pending delivered server]
	// true
}
