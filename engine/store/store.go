package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hookd/hookd/engine/store/eventlog"
	"github.com/hookd/hookd/engine/store/fsync"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// FileName is the name of the SQLite file inside the data folder.
const FileName = "hookd.db"

// EventsFolder is the name of the event log's folder inside the data
// folder.
const EventsFolder = "events"

// Job states.
const (
	// StatePending is a job waiting for its next attempt (or running).
	StatePending = "pending"
	// StateDone is a job its target accepted.
	StateDone = "done"
	// StateDead is a dead letter: a job that failed for good.
	StateDead = "dead"
)

// Defaults for Options.
const (
	// DefaultMaxBatch is the default Options.MaxBatch.
	DefaultMaxBatch = 512
	// DefaultBusyTimeout is the default Options.BusyTimeout.
	DefaultBusyTimeout = 5 * time.Second
	// DefaultCommitDelay is how long, under load, a sync of the event log
	// waits at most for the events announced with Arriving.
	DefaultCommitDelay = 300 * time.Microsecond
	// DefaultLazyBatchDelay is the default Options.LazyBatchDelay.
	DefaultLazyBatchDelay = 2 * time.Millisecond
)

// readConns bounds the read-only pool.
const readConns = 4

var (
	// ErrClosed is returned by every method called after Close.
	ErrClosed = errors.New("store: closed")
	// ErrNotFound says a job id is not in the store (never stored, or
	// pruned).
	ErrNotFound = errors.New("store: no such job")
	// ErrNotPending says a job is done or dead, so it cannot be marked
	// done, retried or dead-lettered again.
	ErrNotPending = errors.New("store: job is not pending")
)

// Options tune a Store. The zero value is valid.
type Options struct {
	// Sync is SQLite's synchronous setting: "full" (the default) survives
	// power loss; "normal" survives kill -9 but may lose the last commits
	// on power loss. See the package documentation.
	Sync string
	// MaxBatch is the most operations one group commit holds (default
	// DefaultMaxBatch).
	MaxBatch int
	// BusyTimeout is how long a write waits for the file's lock when
	// another process holds it (default DefaultBusyTimeout).
	BusyTimeout time.Duration
	// Logger receives open, schema and write-failure messages (default
	// slog.Default()). Event bodies and job parameters are never logged.
	Logger *slog.Logger
	// Now is the clock for the times the store sets (default time.Now).
	Now func() time.Time
	// LazyJobUpdates makes Done, Retry and Dead return once the update is
	// queued, without waiting for its commit: workers move on at once and
	// updates share commits. An update lost to a crash makes its job run
	// again (at least once). Errors are logged.
	LazyJobUpdates bool
	// LazyBatchDelay is how long the writer holds a batch of those
	// updates, which no caller waits for, to commit more of them
	// together: each commit writes every page it touched to SQLite's WAL,
	// so at 1,000 events/s with three actions each, 2 ms cut the commits
	// by three quarters and the CPU per event by 13%. An operation whose
	// caller waits ends the wait at once. Default DefaultLazyBatchDelay
	// with LazyJobUpdates; a negative value turns the wait off.
	LazyBatchDelay time.Duration
	// CommitDelay is how long, under load, a sync of the event log waits
	// at most for the events announced with Arriving, so that one sync
	// acknowledges them all (default DefaultCommitDelay; a negative value
	// turns the wait off).
	CommitDelay time.Duration
	// ShareEvents opens the event log read-only when another process (the
	// daemon) writes it, instead of failing: for commands that read events
	// or work on jobs while the daemon runs. Accept then fails.
	ShareEvents bool

	// hooks lets this package's tests observe the writer.
	hooks *hooks
}

// hooks are test probes into the writer; each may be nil.
type hooks struct {
	// enqueued runs in the caller's goroutine once its operation is queued.
	enqueued func()
	// batch runs in the writer before it starts a batch of n operations.
	batch func(n int)
	// walSynced runs after SQLite's WAL was synced for jobs.
	walSynced func()
	// beforeLogSync and logSynced run in the syncer before and after it
	// syncs the event log.
	beforeLogSync, logSynced func()
	// committed runs in the writer once a batch is committed and its
	// events are buffered in the event log.
	committed func()
	// holding runs in the writer when it starts holding a batch of lazy
	// job updates for more.
	holding func()
}

// Store is the durable store of one data folder. Its methods are safe for
// concurrent use.
type Store struct {
	path     string // dir/hookd.db, as given: for messages
	dir      string // the data folder, as given: for messages
	events   *eventlog.Log
	w        *sql.DB
	r        *sql.DB
	log      *slog.Logger
	now      func() time.Time
	maxBatch int
	hooks    *hooks
	st       statements

	mu      sync.RWMutex // guards closed and sends on ops
	closed  bool
	ops     chan *op
	stopped chan struct{}

	// syncFull is the configured mode; syncedNow what the write connection
	// is set to (only the writer touches it).
	syncFull  bool
	syncedNow bool
	// wal is SQLite's WAL file, synced before the event log writes events
	// whose jobs it holds (nil: such commits are synced by SQLite,
	// synchronous=FULL); walDirty says it holds commits not synced yet.
	wal         *os.File
	walDirty    atomic.Bool
	walSyncs    fsync.Syncer // syncs wal; only syncWAL (in the log's flush) uses it
	lazyUpdates bool
	lazyDelay   time.Duration
	commitDelay time.Duration

	// arriving counts events announced with Arriving, awaitingSync the
	// Accept calls waiting for the event log's sync: while the first is
	// larger, more events are on their way and the syncer waits for them.
	arriving, awaitingSync atomic.Int64

	commits atomic.Uint64
	applied atomic.Uint64
	failed  atomic.Uint64
}

// Counters are the writer's running totals since Open, for metrics and
// tests.
type Counters struct {
	// Commits counts committed transactions (group commits).
	Commits uint64
	// Operations counts operations committed (an Accept call is one).
	Operations uint64
	// FailedBatches counts transactions that failed as a whole.
	FailedBatches uint64
}

// Event is one webhook event as received.
type Event struct {
	// ID is the event's id: the dedup key.
	ID string
	// Name is the event name, e.g. "group:update".
	Name string
	// Action is the group:update action ("" for other events).
	Action string
	// Body is the event's JSON exactly as received.
	Body []byte
	// ReceivedAt is when hookd received it (zero: the time of Accept).
	ReceivedAt time.Time
	// Rules names the rules that matched, in file order.
	Rules []string
	// Errors holds the problems met while matching (e.g. a condition that
	// failed on this event).
	Errors []string
}

// Job is one action to run for an event.
type Job struct {
	// ID is assigned by Accept.
	ID int64
	// EventID is the id of the event that produced the job; Accept fills
	// it from the record.
	EventID string
	// Rule is the name of the rule that produced the job.
	Rule string
	// Index is the action's position in the rule's do list.
	Index int
	// Type is the action type, e.g. "slack".
	Type string
	// Name identifies the action in logs, e.g. "removal-alert/slack[0]".
	Name string
	// Params are the action's rendered fields as JSON.
	Params []byte
	// Reference is the idempotency key sent with every attempt.
	Reference string
	// State is StatePending, StateDone or StateDead.
	State string
	// Attempts counts the attempts made.
	Attempts int
	// NextAt is when the next attempt is due (zero at Accept: now).
	NextAt time.Time
	// LastError is the (redacted) error of the last failed attempt.
	LastError string
	// LastReason is the short failure label of the last failed attempt.
	LastReason string
	// Response is the target's answer to the successful attempt.
	Response string
	// CreatedAt is when the job was stored.
	CreatedAt time.Time
	// UpdatedAt is when the job last changed.
	UpdatedAt time.Time
}

// Record is an event with the jobs its matching rules produced.
type Record struct {
	// Event is the event as received.
	Event Event
	// Jobs are its actions to run, one per (rule, action index).
	Jobs []Job
}

// Outcome says what Accept did with one record.
type Outcome struct {
	// Duplicate is true when the event id was already stored; nothing of
	// the record was written.
	Duplicate bool
	// Jobs are the stored jobs with ID, State and times set; nil for a
	// duplicate.
	Jobs []Job
}

// Stats counts what the store holds.
type Stats struct {
	// Events counts stored events.
	Events int64
	// Pending counts unfinished jobs.
	Pending int64
	// Dead counts dead letters.
	Dead int64
}

// Open opens (creating if needed) the store in dir: the folder, the file
// dir/hookd.db, WAL mode, and the newest schema. Close it when done.
func Open(dir string, opts Options) (*Store, error) {
	syncPragma, err := syncMode(opts.Sync)
	if err != nil {
		return nil, err
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = DefaultMaxBatch
	}
	if opts.CommitDelay == 0 {
		opts.CommitDelay = DefaultCommitDelay
	}
	if opts.LazyBatchDelay == 0 && opts.LazyJobUpdates {
		opts.LazyBatchDelay = DefaultLazyBatchDelay
	}
	if opts.BusyTimeout <= 0 {
		opts.BusyTimeout = DefaultBusyTimeout
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	path := filepath.Join(dir, FileName)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: create data folder: %w: make it a folder writable by the user running hookd, or pick another one", err)
	}
	// Create the file ourselves so that it (and the -wal and -shm files,
	// which SQLite gives the same mode) is readable by its owner only:
	// event bodies hold personal data.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store %s: open: %w: make the folder and file writable by the user running hookd", path, err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("store %s: open: %w", path, err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("store %s: open: %w", path, err)
	}

	s := &Store{
		path:     path,
		dir:      dir,
		log:      opts.Logger,
		now:      opts.Now,
		maxBatch: opts.MaxBatch,
		hooks:    opts.hooks,
		ops:      make(chan *op, opts.MaxBatch),
		stopped:  make(chan struct{}),

		syncFull:    syncPragma == "FULL",
		syncedNow:   syncPragma == "FULL",
		lazyUpdates: opts.LazyJobUpdates,
		lazyDelay:   opts.LazyBatchDelay,
		commitDelay: opts.CommitDelay,
	}
	busy := fmt.Sprintf("busy_timeout(%d)", opts.BusyTimeout.Milliseconds())
	// Refuse a file of another program before switching it to WAL mode:
	// the write connection's pragmas would change it.
	if err := s.precheck(abs, busy); err != nil {
		return nil, err
	}
	// temp_store(MEMORY) keeps the savepoint journal (each operation of a
	// batch runs in its own savepoint) in memory: past 64 KB SQLite
	// spilled it to a temporary file, created and written for most
	// batches of jobs.
	s.w, err = sql.Open("sqlite", fileURI(abs, url.Values{
		"_pragma": {busy, "journal_mode(WAL)", "synchronous(" + syncPragma + ")", "foreign_keys(1)", "temp_store(MEMORY)"},
		"_txlock": {"immediate"},
	}))
	if err != nil {
		return nil, s.fail("open", err)
	}
	s.w.SetMaxOpenConns(1)
	s.w.SetMaxIdleConns(1)
	s.w.SetConnMaxLifetime(0)
	s.w.SetConnMaxIdleTime(0)
	ctx := context.Background()
	if err := s.setup(ctx, abs, busy); err != nil {
		s.w.Close()
		if s.r != nil {
			s.r.Close()
		}
		return nil, err
	}
	if err := s.openEvents(ctx, opts); err != nil {
		s.st.close()
		s.w.Close()
		s.r.Close()
		return nil, err
	}
	if s.syncFull {
		// The write connection keeps the WAL file in place while it is
		// open; if it cannot be opened, SQLite syncs the jobs itself.
		if f, err := os.OpenFile(abs+"-wal", os.O_RDWR, 0); err == nil {
			s.wal = f
		}
	}
	go s.writer()
	s.log.Debug("store opened", "path", path, "sync", syncPragma, "max_batch", s.maxBatch)
	return s, nil
}

// precheck reads the file's identity on a connection that changes
// nothing, and refuses a database that is not a hookd store.
func (s *Store) precheck(abs, busy string) error {
	db, err := sql.Open("sqlite", fileURI(abs, url.Values{"_pragma": {busy}}))
	if err != nil {
		return s.fail("open", err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	_, err = s.identify(context.Background(), db)
	return err
}

// setup checks the write connection, upgrades the schema, opens the read
// pool and prepares the statements.
func (s *Store) setup(ctx context.Context, abs, busy string) error {
	var mode string
	if err := s.w.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return s.fail("open", err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("store %s: open: the file could not be switched to WAL mode (it is %q): put the data folder on a local file system", s.path, mode)
	}
	if err := s.migrate(ctx); err != nil {
		return err
	}
	r, err := sql.Open("sqlite", fileURI(abs, url.Values{
		"mode":    {"ro"},
		"_pragma": {busy},
	}))
	if err != nil {
		return s.fail("open for reading", err)
	}
	s.r = r
	s.r.SetMaxOpenConns(readConns)
	s.r.SetMaxIdleConns(readConns)
	if err := s.r.PingContext(ctx); err != nil {
		return s.fail("open for reading", err)
	}
	return s.prepare(ctx)
}

// syncMode maps Options.Sync to the PRAGMA value.
func syncMode(v string) (string, error) {
	switch strings.ToLower(v) {
	case "", "full":
		return "FULL", nil
	case "normal":
		return "NORMAL", nil
	default:
		return "", fmt.Errorf("store: sync %q is not known: use \"full\" (survives power loss) or \"normal\" (survives a crash of hookd only)", v)
	}
}

// fileURI builds the SQLite URI of an absolute path with query parameters.
// A URI (rather than a plain name) keeps a '?' or '#' in the path intact.
func fileURI(abs string, q url.Values) string {
	p := filepath.ToSlash(abs)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // a Windows drive path
	}
	u := url.URL{Scheme: "file", Path: p, RawQuery: q.Encode()}
	return u.String()
}

// Close stops taking operations, waits for every queued one to be
// committed (or to fail), and closes the file. Calling it again does
// nothing.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.ops)
	s.mu.Unlock()
	<-s.stopped
	s.st.close()
	errR := s.r.Close()
	errW := s.w.Close()
	errE := s.events.Close()
	var errWAL error
	if s.wal != nil {
		errWAL = s.wal.Close()
	}
	if err := errors.Join(errW, errR, errE, errWAL); err != nil {
		return fmt.Errorf("store %s: close: %w", s.path, err)
	}
	return nil
}

// Path returns the store's file, dir/hookd.db.
func (s *Store) Path() string { return s.path }

// Counters returns the writer's totals since Open.
func (s *Store) Counters() Counters {
	return Counters{
		Commits:       s.commits.Load(),
		Operations:    s.applied.Load(),
		FailedBatches: s.failed.Load(),
	}
}

// fail wraps a storage error with the file and what the user can do.
func (s *Store) fail(what string, err error) error {
	return fmt.Errorf("store %s: %s: %w: %s", s.path, what, err, hint(err))
}

// hint tells the user what to do about a storage error.
func hint(err error) string {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return "check the disk and the permissions of the data folder"
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_FULL:
		return "the disk is full: free space on it"
	case sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM:
		return "the file or its folder is read-only: make both writable by the user running hookd"
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return "another process holds the store's lock: let it finish (or stop it), then retry"
	case sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB:
		return "the file is damaged or is not a hookd store: stop hookd, move the file away and restore a backup or start empty"
	case sqlite3.SQLITE_CANTOPEN:
		return "the file cannot be opened: check that the data folder exists and is writable by the user running hookd"
	default:
		return "check the disk and the permissions of the data folder"
	}
}

// openEvents opens the event log in dir/events (read-only when it is
// shared and another process writes it) and moves into it the events an
// older hookd kept in the SQLite file.
func (s *Store) openEvents(ctx context.Context, opts Options) error {
	dir := filepath.Join(s.dir, EventsFolder)
	lopts := eventlog.Options{Sync: s.syncFull, Logger: s.log, BeforeWrite: s.syncWAL}
	start := time.Now()
	l, err := eventlog.Open(dir, lopts)
	if errors.Is(err, eventlog.ErrLocked) && opts.ShareEvents {
		lopts.ReadOnly = true
		l, err = eventlog.Open(dir, lopts)
	}
	if err != nil {
		return fmt.Errorf("store %s: %w", s.dir, err)
	}
	s.events = l
	if lopts.ReadOnly {
		return nil
	}
	n, _ := l.Count()
	s.log.Debug("event log opened", "path", dir, "events", n, "took", time.Since(start).Round(time.Millisecond).String())
	if err := s.moveLegacyEvents(ctx); err != nil {
		_ = l.Close()
		return err
	}
	return nil
}

// Arriving announces an event on its way to Accept (a webhook request
// being read): under load, the event log's sync waits a little for
// announced events, so that one sync acknowledges them all. Call the
// returned function once the request is answered, whether or not it
// reached Accept.
func (s *Store) Arriving() (done func()) {
	s.arriving.Add(1)
	return func() { s.arriving.Add(-1) }
}
