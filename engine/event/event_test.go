package event_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/hookd/hookd/engine/event"
)

func TestFormat(t *testing.T) {
	tests := []struct {
		in   any
		want string
	}{
		{nil, ""},
		{"¡Hola 🙏", "¡Hola 🙏"},
		{true, "true"},
		{int64(1020), "1020"},
		{int64(1721661487), "1721661487"},
		{1020.0, "1020"},
		{0.5, "0.5"},
		{1.5e21, "1500000000000000000000"},
		{[]any{"+1", int64(2)}, `["+1",2]`},
		{map[string]any{"a": "<b>&"}, `{"a":"<b>&"}`},
		{time.Date(2024, 7, 22, 15, 18, 7, 0, time.UTC), "2024-07-22T15:18:07Z"},
	}
	for _, tt := range tests {
		if got := event.Format(tt.in); got != tt.want {
			t.Errorf("Format(%#v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseKeepsIntegers(t *testing.T) {
	evs, err := event.Parse([]byte(`{"id":"x","event":"e","n":1020,"f":0.5,"big":12345678901234,"neg":-3}`))
	if err != nil {
		t.Fatal(err)
	}
	f := evs[0].Fields
	for k, want := range map[string]any{"n": int64(1020), "f": 0.5, "big": int64(12345678901234), "neg": int64(-3)} {
		if !reflect.DeepEqual(f[k], want) {
			t.Errorf("%s = %#v, want %#v", k, f[k], want)
		}
	}
}

func TestIDFallbacks(t *testing.T) {
	tests := []struct {
		body, want string
	}{
		{`{"id":"3EB0","event":"e"}`, "3EB0"},
		{`{"entityId":"5bf6","event":"message:out:failed"}`, "5bf6"},
		{`{"id":42,"event":"e"}`, "42"},
	}
	for _, tt := range tests {
		evs, err := event.Parse([]byte(tt.body))
		if err != nil {
			t.Fatal(err)
		}
		if evs[0].ID != tt.want {
			t.Errorf("%s: id %q, want %q", tt.body, evs[0].ID, tt.want)
		}
	}
	a, _ := event.Parse([]byte(`{"event":"e","x":1}`))
	b, _ := event.Parse([]byte(`{"event":"e","x":2}`))
	if a[0].ID == b[0].ID || len(a[0].ID) != len("sha256:")+64 {
		t.Errorf("hash ids %q and %q: want distinct sha256: ids", a[0].ID, b[0].ID)
	}
}

func TestProjection(t *testing.T) {
	p := event.NewProjection([][]string{{"data", "chat", "name"}, {"device"}, {"data", "labels", "[]"}})
	evs, err := event.ParseProjected([]byte(`{"id":"1","event":"e","author":"+1",
		"device":{"id":"d","phone":"+2"},
		"data":{"body":"not read","labels":["a"],"chat":{"name":"G","id":"c"}},
		"other":{"x":1}}`), p)
	if err != nil {
		t.Fatal(err)
	}
	// author is not read: only the fields of Always are decoded besides
	// the projection's.
	want := map[string]any{
		"id": "1", "event": "e",
		"device": map[string]any{"id": "d", "phone": "+2"},
		"data":   map[string]any{"labels": []any{"a"}, "chat": map[string]any{"name": "G"}},
	}
	if got := evs[0].Fields; !reflect.DeepEqual(got, want) {
		t.Errorf("projected\n%#v\nwant\n%#v", got, want)
	}
}
