package store

import (
	"context"
	"fmt"

	"github.com/hookd/hookd/engine/store/eventlog"
)

// legacyChunk is how many events moveLegacyEvents moves per transaction.
const legacyChunk = 500

// moveLegacyEvents moves the events a store of schema version 1 kept in
// its SQLite file into the event log, oldest first, a chunk at a time:
// each chunk is appended (and synced) before it is deleted from SQLite, so
// a crash in between leaves it in both, and the next start skips the ones
// the log holds already.
func (s *Store) moveLegacyEvents(ctx context.Context) error {
	moved := 0
	for {
		n, err := s.moveLegacyChunk(ctx)
		if err != nil {
			return fmt.Errorf("store %s: move events into the event log: %w", s.dir, err)
		}
		moved += n
		if n < legacyChunk {
			break
		}
	}
	if moved > 0 {
		s.log.Info("store: events moved from the SQLite file into the event log", "path", s.path, "events", moved)
	}
	return nil
}

func (s *Store) moveLegacyChunk(ctx context.Context) (int, error) {
	rows, err := s.w.QueryContext(ctx, `SELECT seq, id, name, action, body, received_at, rules, errors
		FROM events ORDER BY received_at, seq LIMIT ?`, legacyChunk)
	if err != nil {
		return 0, err
	}
	var (
		frames []eventlog.Frame
		n      int
		seq    int64
	)
	for rows.Next() {
		var (
			ev          eventlog.Record
			at          int64
			rules, errs string
		)
		if err := rows.Scan(&seq, &ev.ID, &ev.Name, &ev.Action, &ev.Body, &at, &rules, &errs); err != nil {
			rows.Close()
			return 0, err
		}
		n++
		if ev.Body, err = decompressBody(ev.Body); err != nil {
			rows.Close()
			return 0, fmt.Errorf("event %s: %w", ev.ID, err)
		}
		ev.ReceivedAt = fromMillis(at)
		if err := decodeList(rules, &ev.Rules); err != nil {
			rows.Close()
			return 0, fmt.Errorf("event %s: %w", ev.ID, err)
		}
		if err := decodeList(errs, &ev.Errors); err != nil {
			rows.Close()
			return 0, fmt.Errorf("event %s: %w", ev.ID, err)
		}
		stored, err := s.events.Contains(ev.ID)
		if err != nil {
			rows.Close()
			return 0, err
		}
		if !stored {
			frames = append(frames, eventlog.Encode(&ev))
		}
	}
	if err := rows.Close(); err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, nil
	}
	if err := s.events.Append(frames); err != nil {
		return 0, err
	}
	// The ids are distinct, and the chunk is the oldest rows: delete by
	// the same order.
	if _, err := s.w.ExecContext(ctx, `DELETE FROM events WHERE seq IN (
		SELECT seq FROM events ORDER BY received_at, seq LIMIT ?)`, n); err != nil {
		return 0, err
	}
	return n, nil
}
