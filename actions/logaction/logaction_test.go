package logaction

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/hookd/hookd/actions"
)

func TestDo(t *testing.T) {
	tests := []struct {
		name   string
		params map[string]any
		want   map[string]any
	}{
		{"defaults to info", map[string]any{"message": "member added"},
			map[string]any{"level": "INFO", "msg": "member added", "action": "r/log[0]", "reference": "hookd:EV:r:0"}},
		{"warn with string fields", map[string]any{"message": "removed", "level": "warn", "fields": map[string]string{"author": "+1", "group": "G"}},
			map[string]any{"level": "WARN", "msg": "removed", "action": "r/log[0]", "reference": "hookd:EV:r:0", "fields": map[string]any{"author": "+1", "group": "G"}}},
		{"error with any fields", map[string]any{"message": "x", "level": "error", "fields": map[string]any{"count": 3}},
			map[string]any{"level": "ERROR", "msg": "x", "action": "r/log[0]", "reference": "hookd:EV:r:0", "fields": map[string]any{"count": float64(3)}}},
		{"debug", map[string]any{"message": "d", "level": "debug"},
			map[string]any{"level": "DEBUG", "msg": "d", "action": "r/log[0]", "reference": "hookd:EV:r:0"}},
		{"unknown level is info", map[string]any{"message": "u", "level": "loud"},
			map[string]any{"level": "INFO", "msg": "u", "action": "r/log[0]", "reference": "hookd:EV:r:0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			h := slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})
			l := New(slog.New(h))
			r := l.Do(context.Background(), actions.Call{Type: Type, Name: "r/log[0]", Params: tt.params, Reference: "hookd:EV:r:0"})
			if !r.OK() || r.Reason != "ok" {
				t.Fatalf("Do = %+v", r)
			}
			lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
			if len(lines) != 1 {
				t.Fatalf("%d lines: %q", len(lines), buf.String())
			}
			var got map[string]any
			if err := json.Unmarshal([]byte(lines[0]), &got); err != nil {
				t.Fatal(err)
			}
			delete(got, "time")
			g, _ := json.Marshal(got)
			w, _ := json.Marshal(tt.want)
			if string(g) != string(w) {
				t.Errorf("line %s\nwant %s", g, w)
			}
		})
	}
}

func TestDescribe(t *testing.T) {
	got, err := New(nil).Describe(actions.Call{Type: Type, Name: "r/log[0]", Reference: "ref",
		Params: map[string]any{"message": "hello world", "level": "warn", "fields": map[string]string{"b": "2", "a": "1"}}})
	if err != nil {
		t.Fatal(err)
	}
	want := `level=WARN msg="hello world" action=r/log[0] reference=ref fields.a=1 fields.b=2`
	if got != want {
		t.Errorf("Describe = %q, want %q", got, want)
	}
}
