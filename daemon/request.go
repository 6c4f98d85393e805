package daemon

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/hookd/hookd/event"
	"github.com/hookd/hookd/internal/suggest"
)

// decodeRequest decodes the JSON body of an admin API request, of at most
// limit bytes, into v, a pointer to a struct with json tags. Its error,
// about the body, says what is wrong in the request's terms, not
// encoding/json's: where
// the JSON breaks, a field v does not have (with the nearest one and the
// list), a field whose value is of another type (what it holds and what
// it takes).
func decodeRequest(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return fmt.Errorf("over %d bytes", limit)
	case err != nil:
		return fmt.Errorf("read: %w", err)
	case len(bytes.TrimSpace(body)) == 0:
		return errors.New("empty")
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return fmt.Errorf("%s where an object is expected", holds(te.Value))
		}
		return event.JSONError(body)
	}
	known := jsonFields(reflect.TypeOf(v).Elem())
	for _, name := range slices.Sorted(maps.Keys(fields)) {
		if !slices.Contains(known, name) {
			return fmt.Errorf("unknown field %q%s; the fields are %s", name, suggest.DidYouMean(name, known), strings.Join(known, ", "))
		}
	}
	if err := json.Unmarshal(body, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return fmt.Errorf("field %q holds %s where it takes %s", te.Field, holds(te.Value), takes(te.Type))
		}
		return err
	}
	return nil
}

// checkQuery returns what is wrong with the query parameters of r, an
// admin API request that takes those of known: a parameter it does not
// take (with the nearest one and the list), which would otherwise be
// ignored without a word (?limt=5 answering 50 events).
func checkQuery(r *http.Request, known ...string) error {
	q := r.URL.Query()
	for _, name := range slices.Sorted(maps.Keys(q)) {
		if !slices.Contains(known, name) {
			return fmt.Errorf("unknown query parameter %q%s; %s %s takes %s", name, suggest.DidYouMean(name, known), r.Method, r.URL.Path, strings.Join(known, ", "))
		}
	}
	return nil
}

// jsonFields lists the JSON names of the fields of the struct type t,
// sorted.
func jsonFields(t reflect.Type) []string {
	var names []string
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// holds names the JSON value of kind value, as encoding/json's
// UnmarshalTypeError gives it ("string", "number 1.5", "array").
func holds(value string) string {
	kind, number, _ := strings.Cut(value, " ")
	switch kind {
	case "string":
		return "text"
	case "number":
		if number != "" {
			return number
		}
		return "a number"
	case "bool":
		return "true or false"
	case "array":
		return "a list"
	case "object":
		return "an object"
	}
	return value
}

// takes names the values of Go type t in JSON's terms.
func takes(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "text"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		switch takes(t.Elem()) {
		case "a whole number":
			return "a list of whole numbers"
		case "a number":
			return "a list of numbers"
		case "text":
			return "a list of text values"
		}
		return "a list"
	}
	return "an object"
}
