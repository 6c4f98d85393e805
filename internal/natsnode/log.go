package natsnode

import (
	"context"
	"fmt"
	"log/slog"
)

// levelTrace is the slog level of nats-server's trace lines (every
// protocol message): below debug, so only a logger that asks for it
// turns nats-server's tracing on.
const levelTrace = slog.LevelDebug - 4

// logAdapter is nats-server's server.Logger writing to a slog.Logger.
// Fatalf does not exit: it logs at error level and hands the first fatal
// error to Start, which fails with it.
type logAdapter struct {
	l     *slog.Logger
	fatal chan error // buffered 1: the first fatal error, others dropped
}

func newLogAdapter(l *slog.Logger) *logAdapter {
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	return &logAdapter{l: l, fatal: make(chan error, 1)}
}

func (a *logAdapter) log(level slog.Level, format string, v []any) {
	ctx := context.Background()
	if !a.l.Enabled(ctx, level) {
		return
	}
	a.l.Log(ctx, level, fmt.Sprintf(format, v...))
}

// Noticef logs at info level.
func (a *logAdapter) Noticef(format string, v ...any) { a.log(slog.LevelInfo, format, v) }

// Warnf logs at warn level.
func (a *logAdapter) Warnf(format string, v ...any) { a.log(slog.LevelWarn, format, v) }

// Errorf logs at error level.
func (a *logAdapter) Errorf(format string, v ...any) { a.log(slog.LevelError, format, v) }

// Debugf logs at debug level.
func (a *logAdapter) Debugf(format string, v ...any) { a.log(slog.LevelDebug, format, v) }

// Tracef logs at levelTrace.
func (a *logAdapter) Tracef(format string, v ...any) { a.log(levelTrace, format, v) }

// Fatalf logs at error level and records the failure for Start. The
// error keeps the first error among the arguments (a listener's
// *net.OpError, JetStream's error), so errors.Is sees through it.
func (a *logAdapter) Fatalf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	a.l.Error(msg, slog.Bool("fatal", true))
	fe := &fatalError{msg: msg}
	for _, x := range v {
		if err, ok := x.(error); ok {
			fe.err = err
			break
		}
	}
	select {
	case a.fatal <- fe:
	default:
	}
}

// fatalError is a message nats-server logged as fatal.
type fatalError struct {
	msg string
	err error // the first error argument, or nil
}

func (e *fatalError) Error() string { return e.msg }
func (e *fatalError) Unwrap() error { return e.err }
