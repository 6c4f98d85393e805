package sqlite

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

	"github.com/hookd/hookd/store"
	"github.com/hookd/hookd/store/internal/writehealth"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// FileName is the name of the SQLite file inside the data folder.
const FileName = "hookd.db"

// Defaults for Options.
const (
	// DefaultMaxBatch is the default Options.MaxBatch.
	DefaultMaxBatch = 512
	// DefaultBusyTimeout is the default Options.BusyTimeout.
	DefaultBusyTimeout = 5 * time.Second
)

// readConns bounds the read-only pool.
const readConns = 4

// ErrNoStore says a folder opened with Options.MustExist holds no store.
var ErrNoStore = errors.New("no hookd store")

// Options tune a Store. The zero value is valid.
type Options struct {
	// Sync is "full" (the default: an accepted event survives power
	// loss) or "normal" (it survives kill -9 of hookd, but power loss
	// may lose the last commits). See the package documentation.
	Sync string
	// MaxBatch is the most operations one group commit holds (default
	// DefaultMaxBatch).
	MaxBatch int
	// BusyTimeout is how long a write waits for the file's lock when
	// another process holds it (default DefaultBusyTimeout).
	BusyTimeout time.Duration
	// Logger receives open, migration and write-failure messages
	// (default slog.Default()). Event bodies and job parameters are never
	// logged.
	Logger *slog.Logger
	// Now is the clock for the times the store sets (default time.Now).
	Now func() time.Time
	// LazyJobUpdates makes Done, Retry and Dead return once the update is
	// queued, without waiting for its commit: workers move on at once.
	// An update lost to a crash makes its job run again (at least once);
	// its errors (ErrNotPending included) are logged, not returned.
	LazyJobUpdates bool
	// MustExist makes Open fail with an error matching ErrNoStore, naming
	// the folder, when the folder holds no store, instead of creating
	// one; it also leaves a store of an earlier hookd unmigrated (the
	// daemon migrates it at its start). For hookd commands.
	MustExist bool
}

// Store is the store of one data folder. Its methods are safe for
// concurrent use.
type Store struct {
	path string // dir/hookd.db, as given: for messages
	dir  string
	// w holds the one write connection: the schema upgrade uses w, and
	// from then on wc holds its connection, so any other call on w
	// would wait for it forever.
	w *sql.DB
	// wc is w's connection, held from setup to Close; the writer's
	// statements are prepared on it, and the writer runs BEGIN
	// IMMEDIATE and COMMIT on it itself. An sql.Tx would start a
	// goroutine per transaction and per query (to watch its context)
	// and bind each statement to each transaction anew.
	wc  *sql.Conn
	r   *sql.DB // read-only pool
	log *slog.Logger
	now func() time.Time
	st  statements
	sst stateStatements
	// keyCounts counts the state rows per scope (see doc.go); only the
	// writer touches it.
	keyCounts map[string]int
	// emptyPurge is, per scope at its cap, the event time (Unix ms) of
	// the last search for expired keys that found none; only the writer
	// touches it (see room).
	emptyPurge map[string]int64
	// cached holds the state rows read and written last (see rowCache);
	// only the writer touches it.
	cached rowCache

	maxBatch int
	lazy     bool
	syncFull bool // the configured mode
	// syncedNow is what the write connection is set to; only the writer
	// touches it.
	syncedNow bool

	mu      sync.RWMutex // guards closed and sends on ops
	closed  bool
	ops     chan *op
	stopped chan struct{}

	health writehealth.Tracker

	// bodyBufs are buffers for compressed bodies, reused once the commit
	// holding them is done: allocated for each event, they were about
	// half the bytes intake allocated.
	bodyBufs sync.Pool

	commits atomic.Uint64
	applied atomic.Uint64
	failed  atomic.Uint64
}

var _ store.Store = (*Store)(nil)

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

// Open opens the store in dir: the file dir/hookd.db in WAL mode, at the
// newest schema, migrating a store of an earlier hookd (see the package
// documentation). It creates the folder and the file unless
// opts.MustExist is set. Close it when done.
func Open(dir string, opts Options) (*Store, error) {
	syncPragma, err := syncMode(opts.Sync)
	if err != nil {
		return nil, err
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = DefaultMaxBatch
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
	if opts.MustExist {
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("store: %w in %s (no %s there): pass the data folder of a hookd serve", ErrNoStore, dir, FileName)
		}
	} else if err := create(dir, path); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("store %s: open: %w", path, err)
	}
	s := &Store{
		path:      path,
		dir:       dir,
		log:       opts.Logger,
		now:       opts.Now,
		maxBatch:  opts.MaxBatch,
		lazy:      opts.LazyJobUpdates,
		syncFull:  syncPragma == "FULL",
		syncedNow: syncPragma == "FULL",
		ops:       make(chan *op, opts.MaxBatch),
		stopped:   make(chan struct{}),
	}
	busy := fmt.Sprintf("busy_timeout(%d)", opts.BusyTimeout.Milliseconds())
	// Refuse a file of another program before switching it to WAL mode:
	// the write connection's pragmas would change it.
	if err := s.precheck(abs, busy); err != nil {
		return nil, err
	}
	// temp_store(MEMORY) keeps the savepoint journal (each operation of a
	// batch runs in its own savepoint) in memory.
	s.w, err = sql.Open("sqlite", fileURI(abs, url.Values{
		"_pragma": {busy, "journal_mode(WAL)", "synchronous(" + syncPragma + ")", "temp_store(MEMORY)"},
		"_txlock": {"immediate"},
	}))
	if err != nil {
		return nil, s.fail("open", err)
	}
	s.w.SetMaxOpenConns(1)
	s.w.SetMaxIdleConns(1)
	s.w.SetConnMaxLifetime(0)
	s.w.SetConnMaxIdleTime(0)
	if err := s.setup(context.Background(), abs, busy, opts.MustExist); err != nil {
		if s.wc != nil {
			s.wc.Close()
		}
		s.w.Close()
		if s.r != nil {
			s.r.Close()
		}
		return nil, err
	}
	go s.writer()
	s.log.Debug("store opened", "path", path, "sync", syncPragma, "max_batch", s.maxBatch)
	return s, nil
}

// create makes the data folder and the file, readable by their owner
// only (event bodies hold personal data; SQLite gives its -wal and -shm
// files the file's mode).
func create(dir, path string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("store: create data folder: %w: make it a folder writable by the user running hookd, or pick another one", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("store %s: open: %w: make the folder and file writable by the user running hookd", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("store %s: open: %w", path, err)
	}
	return nil
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
	_, _, err = s.identify(context.Background(), db)
	return err
}

// setup checks the write connection, brings the schema up to date, opens
// the read pool and prepares the writer's statements.
func (s *Store) setup(ctx context.Context, abs, busy string, mustExist bool) error {
	var mode string
	if err := s.w.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return s.fail("open", err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("store %s: open: the file could not be switched to WAL mode (it is %q): put the data folder on a local file system", s.path, mode)
	}
	if err := s.upgrade(ctx, mustExist); err != nil {
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
	if s.wc, err = s.w.Conn(ctx); err != nil {
		return s.fail("open", err)
	}
	if err := s.prepare(ctx); err != nil {
		return err
	}
	if err := s.prepareState(ctx); err != nil {
		s.st.close()
		return err
	}
	return nil
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
	s.sst.close()
	errR := s.r.Close()
	errC := s.wc.Close()
	errW := s.w.Close()
	if err := errors.Join(errC, errW, errR); err != nil {
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

// readable refuses reads after Close.
func (s *Store) readable() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return store.ErrClosed
	}
	return nil
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

// millis is how times are stored: Unix milliseconds.
func millis(t time.Time) int64 { return t.UnixMilli() }

// fromMillis turns a stored time back into a UTC time.
func fromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }
