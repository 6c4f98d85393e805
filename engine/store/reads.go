package store

import (
	"context"
	"encoding/json"
	"math"
	"strings"
	"time"
)

// EventQuery selects events for Events.
type EventQuery struct {
	// Name keeps only events whose name matches this glob ("*" matches
	// any run of characters, e.g. "message:*"); "" keeps every event.
	Name string
	// Since keeps only events received at or after this time; zero keeps
	// every event.
	Since time.Time
	// Limit is the most events returned; 0 or less means no limit.
	Limit int
	// OldestFirst returns events in the order received (for export);
	// the default is newest first.
	OldestFirst bool
}

// readable refuses reads after Close.
func (s *Store) readable() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return ErrClosed
	}
	return nil
}

// Events calls fn for each stored event that q selects, in the order q
// asks for. It stops at the first error fn returns and returns that error
// unchanged. fn runs while a read transaction is open: it should not take
// long (reads never block writes, but a long one delays WAL checkpoints).
func (s *Store) Events(ctx context.Context, q EventQuery, fn func(Event) error) error {
	if err := s.readable(); err != nil {
		return err
	}
	var (
		sb   strings.Builder
		args []any
	)
	sb.WriteString(`SELECT id, name, action, body, received_at, rules, errors FROM events WHERE received_at >= ?`)
	since := int64(math.MinInt64)
	if !q.Since.IsZero() {
		since = millis(q.Since)
	}
	args = append(args, since)
	if q.Name != "" {
		sb.WriteString(` AND name GLOB ?`)
		args = append(args, q.Name)
	}
	if q.OldestFirst {
		sb.WriteString(` ORDER BY received_at, seq`)
	} else {
		sb.WriteString(` ORDER BY received_at DESC, seq DESC`)
	}
	sb.WriteString(` LIMIT ?`)
	limit := int64(q.Limit)
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	args = append(args, limit)

	rows, err := s.r.QueryContext(ctx, sb.String(), args...)
	if err != nil {
		return s.fail("read events", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			ev          Event
			at          int64
			rules, errs string
		)
		if err := rows.Scan(&ev.ID, &ev.Name, &ev.Action, &ev.Body, &at, &rules, &errs); err != nil {
			return s.fail("read events", err)
		}
		if ev.Body, err = decompressBody(ev.Body); err != nil {
			return s.fail("read event "+ev.ID, err)
		}
		ev.ReceivedAt = fromMillis(at)
		if err := decodeList(rules, &ev.Rules); err != nil {
			return s.fail("read event "+ev.ID, err)
		}
		if err := decodeList(errs, &ev.Errors); err != nil {
			return s.fail("read event "+ev.ID, err)
		}
		if err := fn(ev); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return s.fail("read events", err)
	}
	return nil
}

// decodeList reads a stored JSON list of strings; an empty list is nil.
func decodeList(text string, dst *[]string) error {
	var l []string
	if err := json.Unmarshal([]byte(text), &l); err != nil {
		return err
	}
	if len(l) > 0 {
		*dst = l
	}
	return nil
}

// DeadLetters returns dead jobs, most recently dead first; limit 0 or less
// returns them all.
func (s *Store) DeadLetters(ctx context.Context, limit int) ([]Job, error) {
	if err := s.readable(); err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = -1
	}
	rows, err := s.r.QueryContext(ctx, `SELECT `+jobColumns+` FROM jobs
		WHERE state = 'dead' ORDER BY updated_at DESC, id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, s.fail("read dead letters", err)
	}
	jobs, err := scanJobs(rows)
	if err != nil {
		return nil, s.fail("read dead letters", err)
	}
	return jobs, nil
}

// Stats counts the stored events, pending jobs and dead letters, from one
// consistent snapshot.
func (s *Store) Stats(ctx context.Context) (Stats, error) {
	if err := s.readable(); err != nil {
		return Stats{}, err
	}
	var st Stats
	err := s.r.QueryRowContext(ctx, `SELECT
		(SELECT count(*) FROM events),
		(SELECT count(*) FROM jobs WHERE state = 'pending'),
		(SELECT count(*) FROM jobs WHERE state = 'dead')`).Scan(&st.Events, &st.Pending, &st.Dead)
	if err != nil {
		return Stats{}, s.fail("read stats", err)
	}
	return st, nil
}
