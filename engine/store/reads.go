package store

import (
	"context"
	"encoding/json"
	"fmt"
	"path"
	"time"

	"github.com/hookd/hookd/engine/store/eventlog"
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
// unchanged. Events being stored while it runs may or may not be visited.
func (s *Store) Events(ctx context.Context, q EventQuery, fn func(Event) error) error {
	if err := s.readable(); err != nil {
		return err
	}
	if q.Name != "" {
		if _, err := path.Match(q.Name, ""); err != nil {
			return fmt.Errorf("event name pattern %q: %w: use * for any run of characters, ? for one, [abc] for a set", q.Name, err)
		}
	}
	n := 0
	err := s.events.Scan(eventlog.ScanOptions{Since: q.Since, NewestFirst: !q.OldestFirst}, func(r eventlog.Record) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if q.Name != "" {
			if ok, _ := path.Match(q.Name, r.Name); !ok {
				return nil
			}
		}
		if err := fn(Event{ID: r.ID, Name: r.Name, Action: r.Action, Body: r.Body,
			ReceivedAt: r.ReceivedAt, Rules: r.Rules, Errors: r.Errors}); err != nil {
			return err
		}
		n++
		if q.Limit > 0 && n >= q.Limit {
			return eventlog.ErrStop
		}
		return nil
	})
	return err
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

// Stats counts the stored events, pending jobs and dead letters.
func (s *Store) Stats(ctx context.Context) (Stats, error) {
	if err := s.readable(); err != nil {
		return Stats{}, err
	}
	var st Stats
	err := s.r.QueryRowContext(ctx, `SELECT
		(SELECT count(*) FROM jobs WHERE state = 'pending'),
		(SELECT count(*) FROM jobs WHERE state = 'dead')`).Scan(&st.Pending, &st.Dead)
	if err != nil {
		return Stats{}, s.fail("read stats", err)
	}
	if st.Events, err = s.events.Count(); err != nil {
		return Stats{}, fmt.Errorf("store %s: %w", s.dir, err)
	}
	return st, nil
}
