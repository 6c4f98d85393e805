package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Earlier hookd releases wrote schema version 1 (events and jobs in
// hookd.db, event bodies compressed with S2) and version 2 (jobs in
// hookd.db, events in the event log folder, see legacy.go; the events
// table stayed, holding at most events a crash left in both places). Both
// have the same jobs columns.

// jobCopyColumns are the columns of a job an earlier schema holds too.
const jobCopyColumns = `id, event_id, rule, idx, type, name, params, reference, state, attempts,
	next_at, last_error, last_reason, response, requeued, created_at, updated_at`

// migrate brings a file of schema version 1 or 2 to the current schema
// inside tx: every job with its id, fields and state; the events its
// events table holds; then the events of the event log, oldest first.
// An event stored in both places is kept once.
func (s *Store) migrate(ctx context.Context, tx *sql.Tx) error {
	fail := func(what string, err error) error {
		return fmt.Errorf("store %s: migrate the store of an earlier hookd: %s: %w (nothing was changed: fix that and start again)", s.dir, what, err)
	}
	// The last job id given, where ids were never reused (version 2).
	var seq int64
	hasSeq, err := tableExists(ctx, tx, "sqlite_sequence")
	if err != nil {
		return fail("read schema", err)
	}
	if hasSeq {
		err := tx.QueryRowContext(ctx, `SELECT seq FROM sqlite_sequence WHERE name = 'jobs'`).Scan(&seq)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fail("read the last job id", err)
		}
	}
	hasEvents, err := tableExists(ctx, tx, "events")
	if err != nil {
		return fail("read schema", err)
	}
	steps := []string{
		`ALTER TABLE jobs RENAME TO jobs_old`,
		`DROP INDEX IF EXISTS jobs_pending`,
		`DROP INDEX IF EXISTS jobs_dead`,
		`DROP INDEX IF EXISTS jobs_finished`,
		`DROP INDEX IF EXISTS jobs_requeued`,
	}
	if hasEvents {
		steps = append(steps, `ALTER TABLE events RENAME TO events_old`, `DROP INDEX IF EXISTS events_received`)
	}
	steps = append(steps, schema,
		`INSERT INTO jobs (`+jobCopyColumns+`) SELECT `+jobCopyColumns+` FROM jobs_old ORDER BY id`)
	for _, q := range steps {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fail("copy jobs", err)
		}
	}
	// Job ids are never reused: keep the old counter where it is higher
	// than the highest id left (the newest jobs were pruned).
	if _, err := tx.ExecContext(ctx, `INSERT INTO sqlite_sequence (name, seq)
		SELECT 'jobs', 0 WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'jobs')`); err != nil {
		return fail("keep job ids", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = 'jobs'`, seq); err != nil {
		return fail("keep job ids", err)
	}
	ins, err := tx.PrepareContext(ctx, insertEventSQL)
	if err != nil {
		return fail("copy events", err)
	}
	defer ins.Close()
	tableEvents := 0
	if hasEvents {
		if tableEvents, err = s.copyTableEvents(ctx, tx, ins); err != nil {
			return fail("copy the events of "+FileName, err)
		}
	}
	logEvents, err := s.copyLogEvents(ctx, ins)
	if err != nil {
		return fail("copy the events of "+legacyFolder+string(filepath.Separator), err)
	}
	drops := []string{`DROP TABLE jobs_old`}
	if hasEvents {
		drops = append(drops, `DROP TABLE events_old`)
	}
	for _, q := range drops {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fail("drop the old tables", err)
		}
	}
	var jobs int64
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM jobs`).Scan(&jobs); err != nil {
		return fail("count jobs", err)
	}
	s.log.Info("store: migrating the store of an earlier hookd", "path", s.path,
		"jobs", jobs, "events_from_file", tableEvents, "events_from_log", logEvents)
	return nil
}

// tableExists reports whether the file has a table of that name.
func tableExists(ctx context.Context, q rowQuerier, name string) (bool, error) {
	var n int
	err := q.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?`, name).Scan(&n)
	return n > 0, err
}

// copyTableEvents copies the events a file of schema 1 (or a crash during
// an earlier migration) left in its events table, oldest first.
func (s *Store) copyTableEvents(ctx context.Context, tx *sql.Tx, ins *sql.Stmt) (int, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id, name, action, body, received_at, rules, errors
		FROM events_old ORDER BY received_at, seq`)
	if err != nil {
		return 0, err
	}
	type row struct {
		key, name, action, rules, errs string
		body                           []byte
		at                             int64
	}
	var all []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.key, &r.name, &r.action, &r.body, &r.at, &r.rules, &r.errs); err != nil {
			rows.Close()
			return 0, err
		}
		all = append(all, r)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return 0, err
	}
	n := 0
	var buf []byte // reused: the insert copies its arguments
	for _, r := range all {
		body, err := decompressBody(r.body)
		if err != nil {
			return n, fmt.Errorf("event %q: %w", r.key, err)
		}
		stored, enc := encodeBody(&buf, body)
		res, err := ins.ExecContext(ctx, r.key, r.name, r.action, stored, enc, r.at, r.rules, r.errs)
		if err != nil {
			return n, fmt.Errorf("event %q: %w", r.key, err)
		}
		n += int(rowsAffected(res))
	}
	return n, nil
}

// copyLogEvents copies the events of the event log folder, oldest first.
// Damage ends a segment's records there (the earlier hookd moved such
// bytes aside too); it is logged, and the folder is kept.
func (s *Store) copyLogEvents(ctx context.Context, ins *sql.Stmt) (int, error) {
	dir := filepath.Join(s.dir, legacyFolder)
	segs, err := legacySegments(dir)
	if err != nil {
		return 0, err
	}
	n := 0
	var buf []byte // reused: the insert copies its arguments
	for i, seg := range segs {
		data, err := os.ReadFile(seg.path)
		if err != nil {
			return n, err
		}
		end, cut, damage := readSegment(data, func(ev legacyEvent) error {
			stored, enc := encodeBody(&buf, ev.body)
			res, err := ins.ExecContext(ctx, ev.key, ev.name, ev.action, stored, enc, ev.at, jsonList(ev.rules), jsonList(ev.errors))
			if err != nil {
				return fmt.Errorf("event %q: %w", ev.key, err)
			}
			n += int(rowsAffected(res))
			return nil
		})
		switch {
		case damage == nil:
		case !errors.Is(damage, errDamaged):
			return n, fmt.Errorf("%s: %w", seg.path, damage)
		case cut && i == len(segs)-1:
			// A write a crash cut short: never acknowledged.
			s.log.Info("store: the event log ends in a record cut short by a crash, never acknowledged; left out", "path", seg.path, "byte", end)
		default:
			s.log.Warn("store: damaged bytes in the event log of an earlier hookd; the events before them were migrated, the bytes stay in the folder moved aside",
				"path", seg.path, "byte", end, "err", damage)
		}
	}
	return n, nil
}

// rowsAffected is how many rows an insert that succeeded stored.
func rowsAffected(res sql.Result) int64 {
	n, err := res.RowsAffected()
	if err != nil {
		return 0
	}
	return n
}

// jsonList encodes a list of strings as stored: a JSON array, [] when
// empty.
func jsonList(l []string) string {
	if len(l) == 0 {
		return "[]"
	}
	b, err := json.Marshal(l)
	if err != nil {
		return "[]" // strings always encode
	}
	return string(b)
}

// decompressBody reads an event body as schema version 1 stored it: a
// first byte saying how the rest is encoded (the values of
// body_encoding).
func decompressBody(b []byte) ([]byte, error) {
	if len(b) == 0 {
		return []byte{}, nil
	}
	return decodeBody(b[1:], int64(b[0]))
}
