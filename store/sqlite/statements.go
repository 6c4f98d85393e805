package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"

	"github.com/hookd/hookd/store"
)

// jobColumns are the columns scanJob reads, in order.
const jobColumns = `id, event_id, rule, idx, type, name, params, reference, state, attempts,
	next_at, last_error, last_reason, response, created_at, updated_at`

// insertEventSQL stores an event unless its key is stored already (then
// it changes no row).
const insertEventSQL = `INSERT INTO events (key, name, action, body, body_encoding, received_at, rules, errors)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING`

// statements are the writer's prepared statements.
type statements struct {
	begin, commit, rollback        *sql.Stmt
	savepoint, release, rollbackTo *sql.Stmt

	insertEvent            *sql.Stmt
	insertJob, jobByKey    *sql.Stmt
	done, retry, dead      *sql.Stmt
	insertAttempt          *sql.Stmt
	jobState               *sql.Stmt
	requeueAll, requeueIDs *sql.Stmt
	pendingPage            *sql.Stmt
	takeRequeued           *sql.Stmt
	pruneJobs, pruneEvents *sql.Stmt
	probe                  *sql.Stmt
	all                    []*sql.Stmt
}

// prepare prepares the writer's statements on its connection.
func (s *Store) prepare(ctx context.Context) error {
	st := &s.st
	return s.prepareList(ctx, &st.all, []stmtSpec{
		{&st.begin, `BEGIN IMMEDIATE`},
		{&st.commit, `COMMIT`},
		{&st.rollback, `ROLLBACK`},
		{&st.savepoint, `SAVEPOINT op`},
		{&st.release, `RELEASE op`},
		{&st.rollbackTo, `ROLLBACK TO op`},
		{&st.insertEvent, insertEventSQL},
		{&st.insertJob, `INSERT INTO jobs (event_id, rule, idx, type, name, params, reference,
			state, attempts, next_at, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?)
			ON CONFLICT (event_id, rule, idx) DO NOTHING`},
		{&st.jobByKey, `SELECT ` + jobColumns + ` FROM jobs WHERE event_id = ? AND rule = ? AND idx = ?`},
		{&st.done, `UPDATE jobs SET state = 'done', attempts = ?, response = ?, last_reason = '', last_error = '', requeued = 0, updated_at = ?
			WHERE id = ? AND state = 'pending'`},
		{&st.retry, `UPDATE jobs SET attempts = ?, next_at = ?, last_reason = ?, last_error = ?, updated_at = ?
			WHERE id = ? AND state = 'pending'`},
		{&st.dead, `UPDATE jobs SET state = 'dead', attempts = ?, last_reason = ?, last_error = ?, requeued = 0, updated_at = ?
			WHERE id = ? AND state = 'pending'`},
		{&st.insertAttempt, `INSERT INTO attempts (job_id, n, at, outcome, reason, detail) VALUES (?, ?, ?, ?, ?, ?)`},
		{&st.jobState, `SELECT state FROM jobs WHERE id = ?`},
		{&st.requeueAll, `UPDATE jobs SET state = 'pending', attempts = 0, next_at = ?1, requeued = 1, updated_at = ?1
			WHERE state = 'dead'`},
		{&st.requeueIDs, `UPDATE jobs SET state = 'pending', attempts = 0, next_at = ?1, requeued = 1, updated_at = ?1
			WHERE id IN (SELECT value FROM json_each(?2)) AND state = 'dead'`},
		{&st.pendingPage, `SELECT ` + jobColumns + ` FROM jobs WHERE state = 'pending' ORDER BY next_at, id LIMIT ?`},
		{&st.takeRequeued, `UPDATE jobs SET requeued = 0 WHERE requeued = 1 RETURNING ` + jobColumns},
		{&st.pruneJobs, `DELETE FROM jobs WHERE id IN (
			SELECT id FROM jobs WHERE state <> 'pending' AND updated_at < ? ORDER BY updated_at LIMIT ?)`},
		{&st.pruneEvents, `DELETE FROM events WHERE seq IN (
			SELECT seq FROM events AS e WHERE received_at < ? AND NOT EXISTS (
				SELECT 1 FROM jobs WHERE jobs.event_id = e.key AND jobs.state = 'pending')
			ORDER BY received_at LIMIT ?)`},
		{&st.probe, `INSERT INTO probe (id, at) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET at = excluded.at`},
	})
}

// stmtSpec is a statement to prepare and where to keep it.
type stmtSpec struct {
	dst **sql.Stmt
	sql string
}

// prepareList prepares specs on the write connection, adding each to
// all; on failure it closes those of all.
func (s *Store) prepareList(ctx context.Context, all *[]*sql.Stmt, specs []stmtSpec) error {
	for _, p := range specs {
		stmt, err := s.wc.PrepareContext(ctx, p.sql)
		if err != nil {
			for _, st := range *all {
				_ = st.Close()
			}
			*all = nil
			return s.fail("prepare", err)
		}
		*p.dst = stmt
		*all = append(*all, stmt)
	}
	return nil
}

// close releases the prepared statements.
func (st *statements) close() {
	for _, s := range st.all {
		_ = s.Close()
	}
	st.all = nil
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

// scanJob reads the jobColumns of one row.
func scanJob(sc scanner) (store.Job, error) {
	var (
		j                      store.Job
		params                 string
		next, created, updated int64
	)
	err := sc.Scan(&j.ID, &j.EventID, &j.Rule, &j.Index, &j.Type, &j.Name, &params, &j.Reference,
		&j.State, &j.Attempts, &next, &j.LastError, &j.LastReason, &j.Response, &created, &updated)
	if err != nil {
		return store.Job{}, err
	}
	j.Params = []byte(params)
	j.NextAt, j.CreatedAt, j.UpdatedAt = fromMillis(next), fromMillis(created), fromMillis(updated)
	return j, nil
}

// scanJobs reads every row of rows and closes it.
func scanJobs(rows *sql.Rows) ([]store.Job, error) {
	defer rows.Close()
	var jobs []store.Job
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, err
		}
		jobs = append(jobs, j)
	}
	return jobs, rows.Err()
}

// decodeList reads a stored JSON list of strings; an empty list is nil.
func decodeList(text string) ([]string, error) {
	var l []string
	if err := json.Unmarshal([]byte(text), &l); err != nil {
		return nil, err
	}
	if len(l) == 0 {
		return nil, nil
	}
	return l, nil
}
