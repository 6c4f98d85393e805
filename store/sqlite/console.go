package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hookd/hookd/store"
)

// attempted checks a job update like changed, then records the attempt.
func (s *Store) attempted(w *wtx, res sql.Result, err error, id int64, n int, at int64, outcome, reason, detail string) error {
	if err := s.changed(w, res, err, id); err != nil {
		return err
	}
	_, err = w.exec(s.st.insertAttempt, id, n, at, outcome, reason, detail)
	return err
}

// eventColumns are the columns eventPage reads, in order.
const eventColumns = `seq, key, name, action, body, body_encoding, received_at, rules, errors, muted`

// pageQuery selects events before a position, with the filters of an
// EventPageQuery that SQL can apply (the name glob is matched in Go).
const pageQuery = `SELECT ` + eventColumns + ` FROM events
	WHERE received_at >= ?1 AND (received_at, seq) < (?2, ?3)
	AND (?4 = '' OR EXISTS (SELECT 1 FROM json_each(events.rules) WHERE value = ?4)
		OR EXISTS (SELECT 1 FROM json_each(events.muted) WHERE value = ?4))
	AND (?5 = '' OR EXISTS (SELECT 1 FROM jobs WHERE jobs.event_id = events.key AND ` + jobStateSQL + `))
	ORDER BY received_at DESC, seq DESC LIMIT ?6`

// jobStateSQL is true for a job of jobs in the state filter ?5 ("" any).
const jobStateSQL = `(CASE ?5 WHEN '' THEN 1 WHEN 'retrying' THEN jobs.state = 'pending' AND jobs.attempts > 0
	WHEN 'pending' THEN jobs.state = 'pending' AND jobs.attempts = 0 ELSE jobs.state = ?5 END)`

// EventPage returns one page of the events q selects, newest first, and
// the cursor of the next page ("" after the last).
func (s *Store) EventPage(ctx context.Context, q store.EventPageQuery) ([]store.Event, string, error) {
	if err := s.readable(); err != nil {
		return nil, "", err
	}
	if err := (store.EventQuery{Name: q.Name}).Check(); err != nil {
		return nil, "", err
	}
	if q.Limit < 1 {
		return nil, "", errors.New("store: an event page needs a limit of 1 or more")
	}
	if !store.ValidJobState(q.JobState) {
		return nil, "", fmt.Errorf("store: no job state %q: use pending, retrying, done or dead", q.JobState)
	}
	at, seq, err := parseCursor(q.Cursor)
	if err != nil {
		return nil, "", err
	}
	since := int64(math.MinInt64)
	if !q.Since.IsZero() {
		since = millis(q.Since)
	}
	// One more than the page, to know whether a next page exists; more
	// when the name is matched here, so that few queries fill the page.
	batch := q.Limit + 1
	if q.Name != "" {
		batch = max(batch, eventPage)
	}
	var out []pagedEvent
	for {
		page, err := s.eventPage(ctx, pageQuery, since, at, seq, q.Rule, q.JobState, batch)
		if err != nil {
			return nil, "", err
		}
		for _, p := range page {
			if !(store.EventQuery{Name: q.Name}).Matches(p.ev.Name) {
				continue
			}
			out = append(out, p)
			if len(out) > q.Limit {
				last := out[q.Limit-1]
				return events(out[:q.Limit]), cursor(millis(last.ev.ReceivedAt), last.seq), nil
			}
		}
		if len(page) < batch {
			return events(out), "", nil
		}
		last := page[len(page)-1]
		at, seq = millis(last.ev.ReceivedAt), last.seq
	}
}

// events returns the events of a page.
func events(page []pagedEvent) []store.Event {
	out := make([]store.Event, len(page))
	for i, p := range page {
		out[i] = p.ev
	}
	return out
}

// cursor encodes a position in the order of events.
func cursor(at, seq int64) string {
	return strconv.FormatInt(at, 10) + "." + strconv.FormatInt(seq, 10)
}

// parseCursor decodes a cursor ("" is the start: the newest events).
func parseCursor(c string) (at, seq int64, err error) {
	if c == "" {
		return math.MaxInt64, math.MaxInt64, nil
	}
	a, b, ok := strings.Cut(c, ".")
	at, err1 := strconv.ParseInt(a, 10, 64)
	seq, err2 := strconv.ParseInt(b, 10, 64)
	if !ok || err1 != nil || err2 != nil {
		return 0, 0, store.BadQuery(fmt.Errorf("store: cursor %q is not one this store gave: pass the next cursor of the previous page", c))
	}
	return at, seq, nil
}

// Event returns the event with key.
func (s *Store) Event(ctx context.Context, key string) (store.Event, error) {
	if err := s.readable(); err != nil {
		return store.Event{}, err
	}
	page, err := s.eventPage(ctx, `SELECT `+eventColumns+` FROM events WHERE key = ?`, key)
	if err != nil {
		return store.Event{}, err
	}
	if len(page) == 0 {
		return store.Event{}, fmt.Errorf("%w %q: it was never received, or was pruned", store.ErrNoEvent, key)
	}
	return page[0].ev, nil
}

// HasEvent reports whether the store holds the event with key: a point
// read of the key index, for a replicated store's duplicate checks.
func (s *Store) HasEvent(ctx context.Context, key string) (bool, error) {
	if err := s.readable(); err != nil {
		return false, err
	}
	var one int
	err := s.r.QueryRowContext(ctx, `SELECT 1 FROM events WHERE key = ?`, key).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, s.fail("read an event's key", err)
	}
	return true, nil
}

// Jobs returns one page of the jobs q selects, highest id first.
func (s *Store) Jobs(ctx context.Context, q store.JobQuery) ([]store.Job, error) {
	if err := s.readable(); err != nil {
		return nil, err
	}
	if !store.ValidJobState(q.State) {
		return nil, fmt.Errorf("store: no job state %q: use pending, retrying, done or dead", q.State)
	}
	limit, before := q.Limit, q.Before
	if limit <= 0 {
		limit = -1
	}
	if before <= 0 {
		before = math.MaxInt64
	}
	rows, err := s.r.QueryContext(ctx, `SELECT `+jobColumns+` FROM jobs
		WHERE (?1 = '' OR event_id = ?1) AND id < ?2 AND `+strings.ReplaceAll(jobStateSQL, "?5", "?3")+`
		ORDER BY id DESC LIMIT ?4`, q.EventID, before, q.State, limit)
	if err != nil {
		return nil, s.fail("read jobs", err)
	}
	jobs, err := scanJobs(rows)
	if err != nil {
		return nil, s.fail("read jobs", err)
	}
	return jobs, nil
}

// Attempts returns the recorded attempts of each job, oldest first.
func (s *Store) Attempts(ctx context.Context, jobIDs []int64) (map[int64][]store.Attempt, error) {
	if err := s.readable(); err != nil {
		return nil, err
	}
	list, err := json.Marshal(jobIDs)
	if err != nil {
		return nil, err
	}
	rows, err := s.r.QueryContext(ctx, `SELECT job_id, n, at, outcome, reason, detail FROM attempts
		WHERE job_id IN (SELECT value FROM json_each(?)) ORDER BY job_id, id`, string(list))
	if err != nil {
		return nil, s.fail("read attempts", err)
	}
	defer rows.Close()
	out := map[int64][]store.Attempt{}
	for rows.Next() {
		var (
			a  store.Attempt
			at int64
		)
		if err := rows.Scan(&a.JobID, &a.N, &at, &a.Outcome, &a.Reason, &a.Detail); err != nil {
			return nil, s.fail("read attempts", err)
		}
		a.At = fromMillis(at)
		out[a.JobID] = append(out[a.JobID], a)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail("read attempts", err)
	}
	return out, nil
}

// Cancel turns pending jobs into dead letters with the reason
// "cancelled"; ids nil cancels every pending job.
func (s *Store) Cancel(ctx context.Context, ids []int64, lastErr string) ([]int64, error) {
	if ids != nil && len(ids) == 0 {
		return nil, s.readable()
	}
	var done []int64
	err := s.write(ctx, func(w *wtx) error {
		list, err := s.eligible(w, ids, "cancel", "pending", `state = 'pending'`)
		if err != nil {
			return err
		}
		rows, err := w.conn.QueryContext(w.ctx, `UPDATE jobs SET state = 'dead', last_reason = ?1, last_error = ?2,
			requeued = 0, updated_at = ?3 WHERE state = 'pending' AND (?4 IS NULL OR id IN (SELECT value FROM json_each(?4)))
			RETURNING id`, store.ReasonCancelled, lastErr, millis(s.now()), list)
		if err != nil {
			return err
		}
		defer rows.Close()
		done = nil
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				return err
			}
			done = append(done, id)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	slices.Sort(done)
	return done, nil
}

// Delete deletes done jobs and dead letters (with their attempts); ids
// nil deletes every dead letter.
func (s *Store) Delete(ctx context.Context, ids []int64) (int, error) {
	if ids != nil && len(ids) == 0 {
		return 0, s.readable()
	}
	var n int64
	err := s.write(ctx, func(w *wtx) error {
		list, err := s.eligible(w, ids, "delete", "done or dead", `state <> 'pending'`)
		if err != nil {
			return err
		}
		res, err := w.conn.ExecContext(w.ctx, `DELETE FROM jobs WHERE
			CASE WHEN ?1 IS NULL THEN state = 'dead' ELSE state <> 'pending' AND id IN (SELECT value FROM json_each(?1)) END`, list)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}

// eligible checks that every id is a job for which cond holds, and
// returns the ids as a JSON list (nil for ids nil: every job).
func (s *Store) eligible(w *wtx, ids []int64, op, want, cond string) (any, error) {
	if ids == nil {
		return nil, nil
	}
	b, err := json.Marshal(ids)
	if err != nil {
		return nil, err
	}
	refused, unknown, err := refusedIDs(w, string(b), ids, cond)
	if err != nil {
		return nil, err
	}
	if len(refused) > 0 {
		return nil, &store.NotEligibleError{Op: op, Want: want, IDs: refused, Unknown: unknown}
	}
	return string(b), nil
}

// refusedIDs returns the ids (list: the same as JSON) that are no job
// for which cond holds, and those of them that are no job at all, each
// once in the order asked.
func refusedIDs(w *wtx, list string, ids []int64, cond string) (refused, unknown []int64, err error) {
	rows, err := w.conn.QueryContext(w.ctx, `SELECT id, `+cond+` FROM jobs WHERE id IN (SELECT value FROM json_each(?))`, list)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	holds := make(map[int64]bool, len(ids))
	for rows.Next() {
		var (
			id int64
			ok bool
		)
		if err := rows.Scan(&id, &ok); err != nil {
			return nil, nil, err
		}
		holds[id] = ok
	}
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	for _, id := range ids {
		ok, found := holds[id]
		if ok || slices.Contains(refused, id) {
			continue
		}
		refused = append(refused, id)
		if !found {
			unknown = append(unknown, id)
		}
	}
	return refused, unknown, nil
}

// RuleCounts counts per rule what the events received, and the jobs
// created, at or after since did.
func (s *Store) RuleCounts(ctx context.Context, since time.Time) (map[string]store.RuleCount, error) {
	if err := s.readable(); err != nil {
		return nil, err
	}
	out := map[string]store.RuleCount{}
	for _, c := range ruleCountQueries() {
		if err := s.addCounts(ctx, out, c.query, millis(since), c.errors, c.add); err != nil {
			return nil, s.fail("count rules", err)
		}
	}
	return out, nil
}

// countQuery selects (rule, count) rows, or (error text, count) rows
// when errors, and says where each count goes.
type countQuery struct {
	query  string
	errors bool
	add    func(c *store.RuleCount, n int)
}

// ruleCountQueries are the queries of RuleCounts.
func ruleCountQueries() []countQuery {
	return []countQuery{
		{`SELECT value, count(*) FROM events, json_each(events.rules) WHERE received_at >= ? GROUP BY value`, false,
			func(c *store.RuleCount, n int) { c.Fired += n }},
		{`SELECT value, count(*) FROM events, json_each(events.muted) WHERE received_at >= ? GROUP BY value`, false,
			func(c *store.RuleCount, n int) { c.Muted += n }},
		// A digest sent or a timer rule's tick has jobs and no event:
		// each fired its rule once, however many actions it queued. The
		// prefixes are ranges of the index on (event_id, rule, idx).
		{`SELECT rule, count(DISTINCT event_id) FROM jobs WHERE (event_id GLOB '` + store.DigestPrefix + `*'
			OR event_id GLOB '` + store.TickPrefix + `*') AND created_at >= ? GROUP BY rule`, false,
			func(c *store.RuleCount, n int) { c.Fired += n }},
		{`SELECT rule, count(*) FROM jobs WHERE state = 'dead' AND created_at >= ? GROUP BY rule`, false,
			func(c *store.RuleCount, n int) { c.Dead += n }},
		// A run-time error begins with its rule's name, quoted:
		// rule "name": condition: ...
		{`SELECT value, count(*) FROM events, json_each(events.errors) WHERE received_at >= ?
			AND value LIKE 'rule "%' GROUP BY value`, true,
			func(c *store.RuleCount, n int) { c.Errors += n }},
	}
}

// addCounts adds the (rule, count) rows of query to out; with errors,
// the first column is an error text that names its rule.
func (s *Store) addCounts(ctx context.Context, out map[string]store.RuleCount, query string, at int64, errors bool, add func(*store.RuleCount, int)) error {
	rows, err := s.r.QueryContext(ctx, query, at)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			rule string
			n    int
		)
		if err := rows.Scan(&rule, &n); err != nil {
			return err
		}
		if errors {
			q, err := strconv.QuotedPrefix(strings.TrimPrefix(rule, "rule "))
			if err != nil {
				continue
			}
			rule, _ = strconv.Unquote(q)
		}
		c := out[rule]
		add(&c, n)
		out[rule] = c
	}
	return rows.Err()
}
