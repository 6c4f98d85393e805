package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// applicationID marks a SQLite file as a hookd store ("hook" in ASCII).
const applicationID = 0x686f6f6b

// schemaVersion is the version this package writes (PRAGMA
// user_version). Versions 1 and 2 were written by earlier hookd releases
// (see migrate.go).
const schemaVersion = 7

// schema creates the tables of version 7 (version 3 lacked the muted
// column of events and the state and mutes tables: see stateSchema;
// version 4 the attempts table: see attemptsSchema; version 5 had an
// index of state by expiry: see upgradeFrom5; version 6 stored every
// body as received: see upgradeFrom6). An event's body_encoding says how
// its body is stored (see body.go). Job ids are never reused
// (AUTOINCREMENT), also once the newest jobs are pruned.
const schema = `
CREATE TABLE events (
	seq         INTEGER PRIMARY KEY,
	key         TEXT    NOT NULL,
	name        TEXT    NOT NULL,
	action      TEXT    NOT NULL,
	body        BLOB    NOT NULL,
	body_encoding INTEGER NOT NULL DEFAULT 0,
	received_at INTEGER NOT NULL,
	rules       TEXT    NOT NULL,
	errors      TEXT    NOT NULL,
	muted       TEXT    NOT NULL DEFAULT '[]'
) STRICT;
CREATE UNIQUE INDEX events_key ON events (key);
CREATE INDEX events_received ON events (received_at, seq);

CREATE TABLE jobs (
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
CREATE INDEX jobs_pending  ON jobs (next_at, id)  WHERE state = 'pending';
CREATE INDEX jobs_dead     ON jobs (updated_at)   WHERE state = 'dead';
CREATE INDEX jobs_finished ON jobs (updated_at)   WHERE state <> 'pending';
CREATE INDEX jobs_requeued ON jobs (id)           WHERE requeued = 1;

CREATE TABLE probe (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	at INTEGER NOT NULL
) STRICT;
` + stateSchema + attemptsSchema

// attemptsSchema keeps each attempt of a job (Done, Retry and Dead add
// one); a trigger deletes a job's attempts with the job (Prune, Delete).
const attemptsSchema = `
CREATE TABLE attempts (
	id      INTEGER PRIMARY KEY,
	job_id  INTEGER NOT NULL,
	n       INTEGER NOT NULL,
	at      INTEGER NOT NULL,
	outcome TEXT    NOT NULL,
	reason  TEXT    NOT NULL,
	detail  TEXT    NOT NULL
) STRICT;
CREATE INDEX attempts_job ON attempts (job_id, id);
CREATE TRIGGER jobs_attempts AFTER DELETE ON jobs BEGIN
	DELETE FROM attempts WHERE job_id = old.id;
END;
`

// stateSchema holds what rules remember (state: one row per scope and
// key; expires and due are Unix milliseconds, 0 for never) and the mutes.
// State is ordered by key first, so that the rows an event changes (its
// rules' states of one key: one group, one sender) share a page, and a
// commit writes a page per key rather than one per rule. It has no index
// by expiry: a window moves its expiry with every event, so such an
// index changed a page of its own per event; PruneState walks the table
// instead (see pruneExpired).
const stateSchema = `
CREATE TABLE state (
	scope   TEXT    NOT NULL,
	key     TEXT    NOT NULL,
	value   BLOB    NOT NULL,
	expires INTEGER NOT NULL,
	due     INTEGER NOT NULL,
	PRIMARY KEY (key, scope)
) STRICT, WITHOUT ROWID;
CREATE INDEX state_scope   ON state (scope);
CREATE INDEX state_due     ON state (due, scope) WHERE due > 0;

CREATE TABLE mutes (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	rule       TEXT    NOT NULL,
	key        TEXT    NOT NULL,
	reason     TEXT    NOT NULL,
	by         TEXT    NOT NULL,
	created_at INTEGER NOT NULL,
	until      INTEGER NOT NULL,
	ended_at   INTEGER NOT NULL DEFAULT 0,
	ended_by   TEXT    NOT NULL DEFAULT ''
) STRICT;
`

// upgradeFrom3 brings a file of version 3 to version 4 (it only adds),
// then on.
const upgradeFrom3 = `ALTER TABLE events ADD COLUMN muted TEXT NOT NULL DEFAULT '[]';` + stateSchema + upgradeFrom4

// upgradeFrom4 brings a file of version 4 to version 5 (it only adds),
// then on.
const upgradeFrom4 = attemptsSchema + upgradeFrom5

// upgradeFrom5 brings a file of version 5 to version 6: it drops the
// index of state by expiry; then on.
const upgradeFrom5 = `DROP INDEX IF EXISTS state_expires;` + upgradeFrom6

// upgradeFrom6 brings a file of version 6 to version 7: event bodies may
// be stored compressed (body_encoding); those stored before stay as they
// are.
const upgradeFrom6 = `ALTER TABLE events ADD COLUMN body_encoding INTEGER NOT NULL DEFAULT 0;`

// upgrade brings the file to schemaVersion in one transaction: it creates
// the schema in a new file and migrates the file (and event log) of an
// earlier hookd, unless mustExist; then it moves the event log aside.
func (s *Store) upgrade(ctx context.Context, mustExist bool) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return s.fail("start schema upgrade", err)
	}
	defer func() { _ = tx.Rollback() }()
	version, tables, err := s.identify(ctx, tx)
	if err != nil {
		return err
	}
	switch {
	case version > schemaVersion:
		return fmt.Errorf("store %s: schema version %d was written by a newer hookd (this one knows up to %d): upgrade hookd", s.path, version, schemaVersion)
	case version == schemaVersion:
		if err := tx.Commit(); err != nil {
			return s.fail("open", err)
		}
		return s.moveLogAside()
	case version >= 3:
		// In place, so also for a hookd command (MustExist).
		up := map[int]string{3: upgradeFrom3, 4: upgradeFrom4, 5: upgradeFrom5, 6: upgradeFrom6}[version]
		if _, err := tx.ExecContext(ctx, up); err != nil {
			return s.fail("upgrade schema", err)
		}
	case mustExist && version == 0 && tables == 0:
		return fmt.Errorf("store: %w in %s (%s is empty): pass the data folder of a hookd serve", ErrNoStore, s.dir, FileName)
	case mustExist:
		return fmt.Errorf("store %s: written by an earlier hookd (schema version %d): start hookd serve with this data folder once, which upgrades it, then run this command again", s.path, version)
	case version == 0:
		if _, err := tx.ExecContext(ctx, schema); err != nil {
			return s.fail("create schema", err)
		}
	default:
		if err := s.migrate(ctx, tx); err != nil {
			return err
		}
	}
	// PRAGMA takes no bound parameters; both values are integers of ours.
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA application_id = %d", applicationID)); err != nil {
		return s.fail("upgrade schema", err)
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", schemaVersion)); err != nil {
		return s.fail("upgrade schema", err)
	}
	if err := tx.Commit(); err != nil {
		return s.fail("commit schema upgrade", err)
	}
	if version > 0 {
		s.log.Info("store schema upgraded", "path", s.path, "from", version, "to", schemaVersion)
	}
	return s.moveLogAside()
}

// rowQuerier is a *sql.DB or a *sql.Tx.
type rowQuerier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// identify reads the file's schema version and how many schema objects it
// has, refusing a database of another program (one that has tables, or
// another application id).
func (s *Store) identify(ctx context.Context, q rowQuerier) (version, tables int, err error) {
	var appID int
	if err := q.QueryRowContext(ctx, "PRAGMA application_id").Scan(&appID); err != nil {
		return 0, 0, s.fail("read schema", err)
	}
	if err := q.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return 0, 0, s.fail("read schema", err)
	}
	if err := q.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema").Scan(&tables); err != nil {
		return 0, 0, s.fail("read schema", err)
	}
	if appID != applicationID && (appID != 0 || version != 0 || tables != 0) {
		return 0, 0, fmt.Errorf("store %s: the file is an SQLite database of another program, not a hookd store: pick another data folder", s.path)
	}
	return version, tables, nil
}

// moveLogAside renames the event log folder of an earlier hookd, whose
// events the file holds now, to events.migrated (or events.migrated-N
// when that is taken). It runs after the migration's commit, so a crash
// before it leaves a migrated file and the folder, which the next Open
// moves aside without reading it again.
func (s *Store) moveLogAside() error {
	from := filepath.Join(s.dir, legacyFolder)
	if _, err := os.Stat(from); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	to := from + ".migrated"
	for n := 2; ; n++ {
		if _, err := os.Stat(to); errors.Is(err, os.ErrNotExist) {
			break
		}
		to = fmt.Sprintf("%s.migrated-%d", from, n)
	}
	if err := os.Rename(from, to); err != nil {
		return fmt.Errorf("store %s: move the migrated event log aside: %w: check the permissions of the data folder", s.dir, err)
	}
	s.log.Info("store: the event log of an earlier hookd was migrated into the store file and moved aside; delete it when satisfied", "from", from, "to", to)
	return nil
}
