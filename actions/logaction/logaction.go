// Package logaction runs hookd's log action: one structured log line per
// call, with the action's name, reference, message and fields.
package logaction

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"

	"github.com/hookd/hookd/actions"
)

// Type is the action type the logger handles.
const Type = "log"

// Logger writes log actions to a slog.Logger. It implements
// actions.Action and actions.Describer and is safe for concurrent use.
type Logger struct {
	log *slog.Logger
}

var (
	_ actions.Action    = (*Logger)(nil)
	_ actions.Describer = (*Logger)(nil)
)

// New returns a Logger that writes to logger (nil: slog.Default()).
func New(logger *slog.Logger) *Logger {
	if logger == nil {
		logger = slog.Default()
	}
	return &Logger{log: logger}
}

// Do writes one line: the call's message at its level (debug, info,
// warn or error; info when unset or unknown), with the attributes
// "action" (the call's Name), "reference" and a group "fields" holding
// the call's fields. It always succeeds.
func (l *Logger) Do(ctx context.Context, call actions.Call) actions.Result {
	level, msg, attrs := parts(call)
	l.log.LogAttrs(ctx, level, msg, attrs...)
	return actions.Result{Response: "logged", Reason: "ok"}
}

// Describe shows the line Do would write, in slog's text format without
// the time.
func (l *Logger) Describe(call actions.Call) (string, error) {
	level, msg, attrs := parts(call)
	var buf bytes.Buffer
	h := slog.NewTextHandler(&buf, &slog.HandlerOptions{
		Level: slog.LevelDebug,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	})
	slog.New(h).LogAttrs(context.Background(), level, msg, attrs...)
	return strings.TrimSuffix(buf.String(), "\n"), nil
}

func parts(call actions.Call) (slog.Level, string, []slog.Attr) {
	level := slog.LevelInfo
	if s, ok := call.Params["level"].(string); ok {
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "debug":
			level = slog.LevelDebug
		case "warn", "warning":
			level = slog.LevelWarn
		case "error":
			level = slog.LevelError
		}
	}
	msg, ok := call.Params["message"].(string)
	if !ok && call.Params["message"] != nil {
		msg = fmt.Sprint(call.Params["message"])
	}
	attrs := []slog.Attr{
		slog.String("action", call.Name),
		slog.String("reference", call.Reference),
	}
	var fields []any
	switch fs := call.Params["fields"].(type) {
	case map[string]string:
		for _, k := range sortedKeys(fs) {
			fields = append(fields, slog.String(k, fs[k]))
		}
	case map[string]any:
		for _, k := range sortedKeys(fs) {
			fields = append(fields, slog.Any(k, fs[k]))
		}
	}
	if len(fields) > 0 {
		attrs = append(attrs, slog.Group("fields", fields...))
	}
	return level, msg, attrs
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
