package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"

	"github.com/hookd/hookd/store"
)

// eventPage is how many events Events reads per query: it holds no read
// transaction open while fn runs on them.
const eventPage = 256

// Events calls fn for each stored event that q selects, in the order q
// asks for (see store.Store). It reads a page of events at a time on a
// read-only connection, so it never waits for the writer and holds no
// snapshot while fn runs.
func (s *Store) Events(ctx context.Context, q store.EventQuery, fn func(store.Event) error) error {
	if err := s.readable(); err != nil {
		return err
	}
	if err := q.Check(); err != nil {
		return err
	}
	since := int64(math.MinInt64)
	if !q.Since.IsZero() {
		since = millis(q.Since)
	}
	query := `SELECT ` + eventColumns + ` FROM events
		WHERE received_at >= ?1 AND (received_at, seq) < (?2, ?3) ORDER BY received_at DESC, seq DESC LIMIT ?4`
	at, seq := int64(math.MaxInt64), int64(math.MaxInt64)
	if q.OldestFirst {
		query = `SELECT ` + eventColumns + ` FROM events
			WHERE received_at >= ?1 AND (received_at, seq) > (?2, ?3) ORDER BY received_at, seq LIMIT ?4`
		at, seq = since, math.MinInt64
	}
	n := 0
	for {
		page, err := s.eventPage(ctx, query, since, at, seq, eventPage)
		if err != nil {
			return err
		}
		for _, p := range page {
			if !q.Matches(p.ev.Name) {
				continue
			}
			if err := fn(p.ev); err != nil {
				return err
			}
			n++
			if q.Limit > 0 && n >= q.Limit {
				return nil
			}
		}
		if len(page) < eventPage {
			return nil
		}
		last := page[len(page)-1]
		at, seq = millis(last.ev.ReceivedAt), last.seq
	}
}

// pagedEvent is an event with its place in the order.
type pagedEvent struct {
	seq int64
	ev  store.Event
}

// eventPage reads one page of events: query selects the columns Events
// reads, with args.
func (s *Store) eventPage(ctx context.Context, query string, args ...any) ([]pagedEvent, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rows, err := s.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, s.fail("read events", err)
	}
	defer rows.Close()
	page := make([]pagedEvent, 0, eventPage)
	for rows.Next() {
		var (
			p           pagedEvent
			ms, enc     int64
			rules, errs string
			muted       string
		)
		if err := rows.Scan(&p.seq, &p.ev.ID, &p.ev.Name, &p.ev.Action, &p.ev.Body, &enc, &ms, &rules, &errs, &muted); err != nil {
			return nil, s.fail("read events", err)
		}
		p.ev.ReceivedAt = fromMillis(ms)
		if p.ev.Body, err = decodeBody(p.ev.Body, enc); err != nil {
			return nil, fmt.Errorf("store %s: event %q: %w", s.path, p.ev.ID, err)
		}
		if p.ev.Rules, err = decodeList(rules); err != nil {
			return nil, fmt.Errorf("store %s: event %q: rules: %w", s.path, p.ev.ID, err)
		}
		if p.ev.Errors, err = decodeList(errs); err != nil {
			return nil, fmt.Errorf("store %s: event %q: errors: %w", s.path, p.ev.ID, err)
		}
		if p.ev.Muted, err = decodeList(muted); err != nil {
			return nil, fmt.Errorf("store %s: event %q: muted: %w", s.path, p.ev.ID, err)
		}
		page = append(page, p)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail("read events", err)
	}
	return page, nil
}

// Job returns the job with id, in any state.
func (s *Store) Job(ctx context.Context, id int64) (store.Job, error) {
	if err := s.readable(); err != nil {
		return store.Job{}, err
	}
	j, err := scanJob(s.r.QueryRowContext(ctx, `SELECT `+jobColumns+` FROM jobs WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Job{}, fmt.Errorf("%w %d", store.ErrNotFound, id)
	}
	if err != nil {
		return store.Job{}, s.fail("read job", err)
	}
	return j, nil
}

// DeadLetters returns dead jobs, most recently dead first; limit 0 or less
// returns them all.
func (s *Store) DeadLetters(ctx context.Context, limit int) ([]store.Job, error) {
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
func (s *Store) Stats(ctx context.Context) (store.Stats, error) {
	if err := s.readable(); err != nil {
		return store.Stats{}, err
	}
	var st store.Stats
	err := s.r.QueryRowContext(ctx, `SELECT
		(SELECT count(*) FROM events),
		(SELECT count(*) FROM jobs WHERE state = 'pending'),
		(SELECT count(*) FROM jobs WHERE state = 'dead')`).Scan(&st.Events, &st.Pending, &st.Dead)
	if err != nil {
		return store.Stats{}, s.fail("read stats", err)
	}
	return st, nil
}
