package store

import (
	"context"
	"database/sql"
	"fmt"
)

// applicationID marks a SQLite file as a hookd store ("hook" in ASCII).
const applicationID = 0x686f6f6b

// migrations lists the schema changes in order: migrations[i] brings a file
// from version i to version i+1 (PRAGMA user_version). Append new entries;
// never edit one that has shipped.
var migrations = []string{
	// 1: events, jobs.
	`
CREATE TABLE events (
	seq         INTEGER PRIMARY KEY,
	id          TEXT    NOT NULL UNIQUE,
	name        TEXT    NOT NULL,
	action      TEXT    NOT NULL,
	body        BLOB    NOT NULL,
	received_at INTEGER NOT NULL,
	rules       TEXT    NOT NULL,
	errors      TEXT    NOT NULL
) STRICT;
CREATE INDEX events_received ON events (received_at, seq);

CREATE TABLE jobs (
	id          INTEGER PRIMARY KEY,
	event_id    TEXT    NOT NULL REFERENCES events (id),
	rule        TEXT    NOT NULL,
	idx         INTEGER NOT NULL,
	type        TEXT    NOT NULL,
	name        TEXT    NOT NULL,
	params      TEXT    NOT NULL,
	reference   TEXT    NOT NULL,
	state       TEXT    NOT NULL CHECK (state IN ('pending', 'done', 'dead')),
	attempts    INTEGER NOT NULL,
	next_at     INTEGER NOT NULL,
	last_error  TEXT    NOT NULL DEFAULT '',
	last_reason TEXT    NOT NULL DEFAULT '',
	response    TEXT    NOT NULL DEFAULT '',
	requeued    INTEGER NOT NULL DEFAULT 0,
	created_at  INTEGER NOT NULL,
	updated_at  INTEGER NOT NULL,
	UNIQUE (event_id, rule, idx)
) STRICT;
CREATE INDEX jobs_pending  ON jobs (next_at, id)  WHERE state = 'pending';
CREATE INDEX jobs_dead     ON jobs (updated_at)   WHERE state = 'dead';
CREATE INDEX jobs_finished ON jobs (updated_at)   WHERE state <> 'pending';
CREATE INDEX jobs_requeued ON jobs (id)           WHERE requeued = 1;
`,
	// 2: events move to the event log (openEvents moves the rows), so
	// jobs no longer reference the events table; job ids are never
	// reused, also once the newest jobs are pruned.
	`
CREATE TABLE jobs_v2 (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	event_id    TEXT    NOT NULL,
	rule        TEXT    NOT NULL,
	idx         INTEGER NOT NULL,
	type        TEXT    NOT NULL,
	name        TEXT    NOT NULL,
	params      TEXT    NOT NULL,
	reference   TEXT    NOT NULL,
	state       TEXT    NOT NULL CHECK (state IN ('pending', 'done', 'dead')),
	attempts    INTEGER NOT NULL,
	next_at     INTEGER NOT NULL,
	last_error  TEXT    NOT NULL DEFAULT '',
	last_reason TEXT    NOT NULL DEFAULT '',
	response    TEXT    NOT NULL DEFAULT '',
	requeued    INTEGER NOT NULL DEFAULT 0,
	created_at  INTEGER NOT NULL,
	updated_at  INTEGER NOT NULL,
	UNIQUE (event_id, rule, idx)
) STRICT;
INSERT INTO jobs_v2 SELECT id, event_id, rule, idx, type, name, params, reference, state, attempts,
	next_at, last_error, last_reason, response, requeued, created_at, updated_at FROM jobs;
DROP TABLE jobs;
ALTER TABLE jobs_v2 RENAME TO jobs;
CREATE INDEX jobs_pending  ON jobs (next_at, id)  WHERE state = 'pending';
CREATE INDEX jobs_dead     ON jobs (updated_at)   WHERE state = 'dead';
CREATE INDEX jobs_finished ON jobs (updated_at)   WHERE state <> 'pending';
CREATE INDEX jobs_requeued ON jobs (id)           WHERE requeued = 1;
`,
}

// migrate brings the file to the newest schema version in one transaction.
func (s *Store) migrate(ctx context.Context) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return s.fail("start schema upgrade", err)
	}
	defer func() { _ = tx.Rollback() }()

	version, err := s.identify(ctx, tx)
	if err != nil {
		return err
	}
	if version > len(migrations) {
		return fmt.Errorf("store %s: schema version %d was written by a newer hookd (this one knows up to %d): upgrade hookd", s.path, version, len(migrations))
	}
	if version == len(migrations) {
		return nil
	}
	for v := version; v < len(migrations); v++ {
		if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
			return s.fail(fmt.Sprintf("upgrade schema to version %d", v+1), err)
		}
	}
	// PRAGMA takes no bound parameters; both values are integers of ours.
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA application_id = %d", applicationID)); err != nil {
		return s.fail("upgrade schema", err)
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", len(migrations))); err != nil {
		return s.fail("upgrade schema", err)
	}
	if err := tx.Commit(); err != nil {
		return s.fail("commit schema upgrade", err)
	}
	s.log.Info("store schema upgraded", "path", s.path, "from", version, "to", len(migrations))
	return nil
}

// rowQuerier is a *sql.DB or a *sql.Tx.
type rowQuerier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// identify reads the file's schema version, refusing a database of
// another program (one that has tables, or another application id).
func (s *Store) identify(ctx context.Context, q rowQuerier) (version int, err error) {
	var appID, tables int
	if err := q.QueryRowContext(ctx, "PRAGMA application_id").Scan(&appID); err != nil {
		return 0, s.fail("read schema", err)
	}
	if err := q.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return 0, s.fail("read schema", err)
	}
	if err := q.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema").Scan(&tables); err != nil {
		return 0, s.fail("read schema", err)
	}
	if appID != applicationID && (appID != 0 || version != 0 || tables != 0) {
		return 0, fmt.Errorf("store %s: the file is an SQLite database of another program, not a hookd store: pick another data folder", s.path)
	}
	return version, nil
}

// schemaVersion reports the file's schema version (for tests and tools).
func schemaVersion(ctx context.Context, db *sql.DB) (int, error) {
	var v int
	err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v)
	return v, err
}
