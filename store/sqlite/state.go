package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hookd/hookd/store"
)

// stateStatements are the writer's prepared statements on state and
// mutes.
type stateStatements struct {
	get, put, del     *sql.Stmt
	getKey            *sql.Stmt
	count, delExpired *sql.Stmt
	setOutcome        *sql.Stmt
	sliceEnd          *sql.Stmt
	pruneSlice        *sql.Stmt
	pruneMutes        *sql.Stmt
	addMute, endMute  *sql.Stmt
	muteByID          *sql.Stmt
	all               []*sql.Stmt
}

// muteColumns are the columns scanMute reads, in order.
const muteColumns = `id, rule, key, reason, by, created_at, until, ended_at, ended_by`

// prepareState prepares the state statements on the write connection.
func (s *Store) prepareState(ctx context.Context) error {
	st := &s.sst
	return s.prepareList(ctx, &st.all, []stmtSpec{
		{&st.get, `SELECT value, expires FROM state WHERE scope = ? AND key = ?`},
		{&st.getKey, `SELECT scope, value, expires, due FROM state WHERE key = ?1 AND scope BETWEEN ?2 AND ?3`},
		{&st.put, `INSERT INTO state (scope, key, value, expires, due) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (key, scope) DO UPDATE SET value = excluded.value, expires = excluded.expires, due = excluded.due`},
		{&st.del, `DELETE FROM state WHERE scope = ? AND key = ?`},
		{&st.count, `SELECT count(*) FROM state WHERE scope = ?`},
		{&st.delExpired, `DELETE FROM state WHERE scope = ? AND expires > 0 AND expires < ?`},
		{&st.setOutcome, `UPDATE events SET rules = ?, errors = ?, muted = ? WHERE key = ?`},
		{&st.sliceEnd, `SELECT key, scope FROM state WHERE (key, scope) >= (?1, ?2)
			ORDER BY key, scope LIMIT 1 OFFSET ?3`},
		{&st.pruneSlice, `DELETE FROM state WHERE (key, scope) IN (SELECT key, scope FROM state
			WHERE (key, scope) >= (?1, ?2) ORDER BY key, scope LIMIT ?3) AND expires > 0 AND expires < ?4`},
		{&st.pruneMutes, `DELETE FROM mutes WHERE id IN (
			SELECT id FROM mutes WHERE (ended_at > 0 AND ended_at < ?1) OR until < ?1 LIMIT ?2)`},
		{&st.addMute, `INSERT INTO mutes (rule, key, reason, by, created_at, until) VALUES (?, ?, ?, ?, ?, ?)`},
		{&st.endMute, `UPDATE mutes SET ended_at = ?, ended_by = ? WHERE id = ? AND ended_at = 0 AND until > ?`},
		{&st.muteByID, `SELECT ` + muteColumns + ` FROM mutes WHERE id = ?`},
	})
}

// close releases the prepared statements.
func (st *stateStatements) close() {
	for _, s := range st.all {
		_ = s.Close()
	}
	st.all = nil
}

// forgetCounts drops the writer's key counts and cached rows, which are
// read again from the file when next needed (after a rollback or a
// prune). Writer only.
func (s *Store) forgetCounts() {
	s.keyCounts, s.emptyPurge = nil, nil
	s.cached.forget()
}

// readState reads a state in the writer's transaction: nil when there is
// none or it expired before at; exists says whether a row is there.
func (s *Store) readState(w *wtx, scope, key string, at int64) (value []byte, exists bool, err error) {
	var exp int64
	err = w.queryRow(s.sst.get, scope, key).Scan(&value, &exp)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	if exp > 0 && exp < at {
		return nil, true, nil
	}
	return value, true, nil
}

// keyCount returns the rows of scope, counting them once. Writer only.
func (s *Store) keyCount(w *wtx, scope string) (int, error) {
	if n, ok := s.keyCounts[scope]; ok {
		return n, nil
	}
	var n int
	if err := w.queryRow(s.sst.count, scope).Scan(&n); err != nil {
		return 0, err
	}
	if s.keyCounts == nil {
		s.keyCounts = make(map[string]int)
	}
	s.keyCounts[scope] = n
	return n, nil
}

// purgeEvery is how much event time passes between two searches for
// expired keys of a scope at its cap that found none: each search reads
// all of the scope's rows, so a flood of new keys at the cap (the case
// the cap is for) would otherwise cost a scan per event.
const purgeEvery = 10 * time.Second

// room reports whether scope may take a new key: below max rows, or
// below it once its expired rows are deleted. At the cap it looks for
// expired rows at most once per purgeEvery of event time when the last
// look found none; judged by event time, so every node applying one log
// decides alike.
func (s *Store) room(w *wtx, scope string, max int, at int64) (bool, error) {
	n, err := s.keyCount(w, scope)
	if err != nil || n < max {
		return err == nil, err
	}
	if last, ok := s.emptyPurge[scope]; ok && at-last < purgeEvery.Milliseconds() && last-at < purgeEvery.Milliseconds() {
		return false, nil
	}
	res, err := w.exec(s.sst.delExpired, scope, at)
	if err != nil {
		return false, err
	}
	if gone, err := res.RowsAffected(); err == nil && gone == 0 {
		if s.emptyPurge == nil {
			s.emptyPurge = make(map[string]int64)
		}
		s.emptyPurge[scope] = at
		return false, nil
	}
	delete(s.emptyPurge, scope)
	delete(s.keyCounts, scope)
	s.cached.forget()
	n, err = s.keyCount(w, scope)
	return n < max, err
}

// writeState stores value (nil deletes) and keeps the key count.
func (s *Store) writeState(w *wtx, scope, key string, existed bool, value []byte, expires, due time.Time) error {
	if value == nil {
		if !existed {
			return nil
		}
		if _, err := w.exec(s.sst.del, scope, key); err != nil {
			return err
		}
		s.cached.put(scopeKey{scope, key}, cachedRow{})
		if n, ok := s.keyCounts[scope]; ok {
			s.keyCounts[scope] = n - 1
		}
		return nil
	}
	if _, err := w.exec(s.sst.put, scope, key, value, optMillis(expires), optMillis(due)); err != nil {
		return err
	}
	s.cached.put(scopeKey{scope, key}, cachedRow{stateRow{value, optMillis(expires), optMillis(due)}, true})
	if n, ok := s.keyCounts[scope]; ok && !existed {
		s.keyCounts[scope] = n + 1
	}
	return nil
}

// optMillis is a time as stored where 0 means never.
func optMillis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return max(millis(t), 1)
}

// optTime reads what optMillis stored.
func optTime(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return fromMillis(ms)
}

// stateRow is a stored state as the writer read it.
type stateRow struct {
	value    []byte
	exp, due int64
}

// scopeKey names a state.
type scopeKey struct{ scope, key string }

// readMany reads the states of a record's steps (the steps of one record
// are of distinct rules, so of distinct scopes): from the writer's cache,
// else with one query per key: the rows of a key are neighbours in the
// table, and its scopes are read from the first to the last that the
// steps name.
func (s *Store) readMany(w *wtx, steps []store.Step) (map[scopeKey]stateRow, error) {
	out := make(map[scopeKey]stateRow, len(steps))
	want := make(map[scopeKey]bool, len(steps))
	first := make(map[string]string, 1) // per key: its first scope
	last := make(map[string]string, 1)
	for _, st := range steps {
		k := scopeKey{st.Scope, st.Key}
		if c, ok := s.cached.get(k); ok {
			if c.ok {
				out[k] = c.row
			}
			continue
		}
		want[k] = true
		if f, ok := first[st.Key]; !ok || st.Scope < f {
			first[st.Key] = st.Scope
		}
		last[st.Key] = max(last[st.Key], st.Scope)
	}
	for key := range first {
		if err := s.readKey(w, key, first[key], last[key], want, out); err != nil {
			return nil, err
		}
	}
	for k := range want {
		r, ok := out[k]
		s.cached.put(k, cachedRow{r, ok})
	}
	return out, nil
}

// readKey adds to out the states of key from scope first to last that
// want names.
func (s *Store) readKey(w *wtx, key, first, last string, want map[scopeKey]bool, out map[scopeKey]stateRow) error {
	rows, err := w.query(s.sst.getKey, key, first, last)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		k := scopeKey{key: key}
		var r stateRow
		if err := rows.Scan(&k.scope, &r.value, &r.exp, &r.due); err != nil {
			return err
		}
		if want[k] {
			out[k] = r
		}
	}
	return rows.Err()
}

// applySteps applies the steps of a record whose event is new, in the
// writer's transaction (see store.Store, "State"), inserting the jobs of
// the steps that fire. The record's states are read with one query per
// key, and each changed one written with one statement (a step whose
// state did not change, such as a closed throttle, writes nothing). It returns what
// each step did, the jobs, and the rules and errors to add to the event.
func (s *Store) applySteps(w *wtx, rec *store.Record, now time.Time) ([]store.StepOutcome, []store.Job, []string, []string, error) {
	outs := make([]store.StepOutcome, len(rec.Steps))
	var (
		jobs         []store.Job
		fired, probs []string
	)
	fail := func(rule string, err error) ([]store.StepOutcome, []store.Job, []string, []string, error) {
		return nil, nil, nil, nil, fmt.Errorf("state of rule %q: %w", rule, err)
	}
	have, err := s.readMany(w, rec.Steps)
	if err != nil {
		return fail(rec.Steps[0].Rule, err)
	}
	for i := range rec.Steps {
		st := &rec.Steps[i]
		at := millis(st.At)
		if st.At.IsZero() {
			at = millis(now)
		}
		row, existed := have[scopeKey{st.Scope, st.Key}]
		old := row.value
		if existed && row.exp > 0 && row.exp < at {
			old = nil
		}
		if !existed {
			max := st.MaxKeys
			if max <= 0 {
				max = store.DefaultMaxKeys
			}
			ok, err := s.room(w, st.Scope, max, at)
			if err != nil {
				return fail(st.Rule, err)
			}
			if !ok {
				outs[i].Capped = true
				probs = append(probs, fmt.Sprintf("rule %q: state holds %d keys already (the cap); key %q was not counted", st.Rule, max, st.Key))
				continue
			}
		}
		next, fire, expires := st.Apply(old)
		var due time.Time
		if next != nil && st.Due != nil {
			if d, ok := st.Due(next); ok {
				due = d
			}
		}
		unchanged := existed && old != nil && next != nil && bytes.Equal(next, row.value) &&
			optMillis(expires) == row.exp && optMillis(due) == row.due // a throttle that held the event back
		if !unchanged {
			if err := s.writeState(w, st.Scope, st.Key, existed, next, expires, due); err != nil {
				return fail(st.Rule, err)
			}
		}
		if !fire {
			continue
		}
		outs[i].Fired = true
		fired = append(fired, st.Rule)
		if st.Jobs == nil {
			continue
		}
		add, errs := st.Jobs(next)
		probs = append(probs, errs...)
		stored, err := s.insertJobList(w, rec.Event.ID, add, now)
		if err != nil {
			return nil, nil, nil, nil, err
		}
		jobs = append(jobs, stored...)
	}
	return outs, jobs, fired, probs, nil
}

// GetState returns the state of (scope, key) as of now.
func (s *Store) GetState(ctx context.Context, scope, key string, now time.Time) (store.State, bool, error) {
	if err := s.readable(); err != nil {
		return store.State{}, false, err
	}
	st := store.State{Scope: scope, Key: key}
	var exp, due int64
	err := s.r.QueryRowContext(ctx, `SELECT value, expires, due FROM state WHERE scope = ? AND key = ?`, scope, key).Scan(&st.Value, &exp, &due)
	if errors.Is(err, sql.ErrNoRows) {
		return store.State{}, false, nil
	}
	if err != nil {
		return store.State{}, false, s.fail("read state", err)
	}
	if exp > 0 && exp < millis(now) {
		return store.State{}, false, nil
	}
	st.Expires, st.Due = optTime(exp), optTime(due)
	return st, true, nil
}

// DueStates returns up to limit live states of scopes due at or before
// now, earliest first.
func (s *Store) DueStates(ctx context.Context, scopes []string, now time.Time, limit int) ([]store.State, error) {
	if err := s.readable(); err != nil {
		return nil, err
	}
	if len(scopes) == 0 {
		return nil, nil
	}
	list, err := json.Marshal(scopes)
	if err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = -1
	}
	rows, err := s.r.QueryContext(ctx, `SELECT scope, key, value, expires, due FROM state
		WHERE due > 0 AND due <= ?1 AND scope IN (SELECT value FROM json_each(?2))
		AND (expires = 0 OR expires >= ?1) ORDER BY due, scope, key LIMIT ?3`, millis(now), string(list), limit)
	if err != nil {
		return nil, s.fail("read due states", err)
	}
	defer rows.Close()
	var out []store.State
	for rows.Next() {
		var (
			st       store.State
			exp, due int64
		)
		if err := rows.Scan(&st.Scope, &st.Key, &st.Value, &exp, &due); err != nil {
			return nil, s.fail("read due states", err)
		}
		st.Expires, st.Due = optTime(exp), optTime(due)
		out = append(out, st)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail("read due states", err)
	}
	return out, nil
}

// Swap changes one state and inserts jobs in one transaction, if the
// state still holds sw.Old.
func (s *Store) Swap(ctx context.Context, sw store.Swap) (store.SwapOutcome, error) {
	for _, j := range sw.Jobs {
		if j.EventID == "" {
			return store.SwapOutcome{}, fmt.Errorf("store: swap of %q: a job of rule %q has no EventID: name what produced it", sw.Scope, j.Rule)
		}
	}
	var out store.SwapOutcome
	err := s.write(ctx, func(w *wtx) error {
		now := fromMillis(millis(s.now()))
		at := sw.At
		if at.IsZero() {
			at = now
		}
		cur, existed, err := s.readState(w, sw.Scope, sw.Key, millis(at))
		if err != nil {
			return err
		}
		if !bytes.Equal(cur, sw.Old) || (cur == nil) != (sw.Old == nil) {
			return nil
		}
		if err := s.writeState(w, sw.Scope, sw.Key, existed, sw.New, sw.Expires, sw.Due); err != nil {
			return err
		}
		jobs, err := s.insertJobList(w, "", sw.Jobs, now)
		if err != nil {
			return err
		}
		out = store.SwapOutcome{Swapped: true, Jobs: jobs}
		return nil
	})
	if err != nil {
		return store.SwapOutcome{}, err
	}
	return out, nil
}

// PruneState deletes expired states and mutes ended before olderThan.
func (s *Store) PruneState(ctx context.Context, now, olderThan time.Time) (states, mutes int, err error) {
	states, err = s.pruneExpired(ctx, millis(now))
	// The rows counted per scope changed.
	if ferr := s.unsynced(ctx, func(*wtx) error { s.forgetCounts(); return nil }); err == nil {
		err = ferr
	}
	if err != nil {
		return states, 0, err
	}
	mutes, err = s.pruneAll(ctx, s.sst.pruneMutes, millis(olderThan))
	return states, mutes, err
}

// pruneScan is how many state rows one transaction of PruneState reads.
const pruneScan = 5000

// pruneExpired deletes the states that expired before cut. The state has
// no index by expiry (see stateSchema), so it walks the table in key
// order, a slice of pruneScan rows per transaction, so that it never
// holds the write lock for long (6 ms a slice on a 2-core machine; see
// BenchmarkStateMillionKeys).
func (s *Store) pruneExpired(ctx context.Context, cut int64) (int, error) {
	total := 0
	var from scopeKey // the first row of the slice; ("", "") sorts first
	for {
		var (
			n    int64
			next scopeKey
			last bool
		)
		err := s.unsynced(ctx, func(w *wtx) error {
			err := w.queryRow(s.sst.sliceEnd, from.key, from.scope, pruneScan).Scan(&next.key, &next.scope)
			last = errors.Is(err, sql.ErrNoRows)
			if err != nil && !last {
				return err
			}
			n, err = w.execCount(s.sst.pruneSlice, from.key, from.scope, pruneScan, cut)
			if n > 0 {
				s.cached.forget() // rows gone that the cache may hold
			}
			return err
		})
		if err != nil {
			return total, err
		}
		total += int(n)
		if last {
			return total, nil
		}
		from = next
	}
}

// AddMute records a mute.
func (s *Store) AddMute(ctx context.Context, m store.Mute) (store.Mute, error) {
	if m.Rule == "" {
		return store.Mute{}, errors.New("store: a mute needs the rule it silences")
	}
	if m.Until.IsZero() {
		return store.Mute{}, errors.New("store: a mute needs an end (Until)")
	}
	err := s.write(ctx, func(w *wtx) error {
		m.CreatedAt = fromMillis(millis(s.now()))
		m.Until = fromMillis(millis(m.Until))
		res, err := w.exec(s.sst.addMute, m.Rule, m.Key, m.Reason, m.By, millis(m.CreatedAt), millis(m.Until))
		if err != nil {
			return err
		}
		m.ID, err = res.LastInsertId()
		return err
	})
	if err != nil {
		return store.Mute{}, err
	}
	return m, nil
}

// Mutes returns the mutes active at now (with all, every kept mute),
// oldest first.
func (s *Store) Mutes(ctx context.Context, now time.Time, all bool) ([]store.Mute, error) {
	if err := s.readable(); err != nil {
		return nil, err
	}
	q := `SELECT ` + muteColumns + ` FROM mutes WHERE ?1 OR (ended_at = 0 AND until > ?2) ORDER BY id`
	rows, err := s.r.QueryContext(ctx, q, all, millis(now))
	if err != nil {
		return nil, s.fail("read mutes", err)
	}
	defer rows.Close()
	var out []store.Mute
	for rows.Next() {
		m, err := scanMute(rows)
		if err != nil {
			return nil, s.fail("read mutes", err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail("read mutes", err)
	}
	return out, nil
}

// EndMute ends an active mute at now.
func (s *Store) EndMute(ctx context.Context, id int64, by string, now time.Time) (store.Mute, error) {
	var m store.Mute
	err := s.write(ctx, func(w *wtx) error {
		res, err := w.exec(s.sst.endMute, millis(now), by, id, millis(now))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			if err != nil {
				return err
			}
			return fmt.Errorf("%w: no active mute with id %d (hookd mute list shows them)", store.ErrNoMute, id)
		}
		m, err = scanMute(w.queryRow(s.sst.muteByID, id))
		return err
	})
	if err != nil {
		return store.Mute{}, err
	}
	return m, nil
}

// scanMute reads the muteColumns of one row.
func scanMute(sc scanner) (store.Mute, error) {
	var (
		m                     store.Mute
		created, until, ended int64
	)
	if err := sc.Scan(&m.ID, &m.Rule, &m.Key, &m.Reason, &m.By, &created, &until, &ended, &m.EndedBy); err != nil {
		return store.Mute{}, err
	}
	m.CreatedAt, m.Until, m.EndedAt = fromMillis(created), fromMillis(until), optTime(ended)
	return m, nil
}
