package jetstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/hookd/hookd/store"
	"github.com/hookd/hookd/store/internal/writehealth"
	"github.com/hookd/hookd/store/sqlite"
)

// Defaults of Options.
const (
	// DefaultStream is the stream's name when Options.Stream is empty.
	DefaultStream = "HOOKD"
	// DefaultTimeout bounds one request to the cluster and the wait for
	// its command to be applied.
	DefaultTimeout = 10 * time.Second
	// DefaultDuplicates is the stream's Nats-Msg-Id window: a publish
	// retried within it is stored once.
	DefaultDuplicates = 2 * time.Minute
)

// Options configure a Store.
type Options struct {
	// Conn is the connection to the NATS servers (required). The Store
	// does not close it.
	Conn *nats.Conn
	// Stream names the JetStream stream holding the log (default
	// DefaultStream). Nodes sharing a record use the same name.
	Stream string
	// Replicas is how many servers keep the stream (default 1; 3 in a
	// three-node cluster). It applies when the Store creates the stream.
	Replicas int
	// Node names this node: the jobs its Store creates are its to
	// deliver. Stable across restarts (a host name); unique among the
	// nodes. "" for a hookd command, which delivers nothing.
	Node string
	// Dir is the folder of the node's read model (see the package
	// documentation), emptied and rebuilt at Open.
	Dir string
	// Timeout bounds one request to the cluster and the wait for a
	// command to be applied (default DefaultTimeout).
	Timeout time.Duration
	// Logger receives the store's messages (default slog.Default()).
	Logger *slog.Logger
	// LazyJobUpdates makes Done, Retry and Dead return once the update
	// is queued: the updates queued meanwhile share one command. An
	// update lost to a crash makes its job run again (at least once);
	// its errors are logged, not returned. Close waits for the queue.
	LazyJobUpdates bool
}

// Store is a store.Store on a JetStream stream (see the package
// documentation). Its methods are safe for concurrent use.
type Store struct {
	opts    Options
	log     *slog.Logger
	js      jetstream.JetStream
	stream  jetstream.Stream
	subject string

	model *sqlite.Store
	clock atomic.Int64 // the model's clock (UnixNano), set per command

	acceptQ chan *acceptCall // Accept calls waiting for a command
	kick    chan struct{}    // makes the applier read the log again
	jobQ    chan jobUpdate   // lazy job outcomes waiting for a command
	jobStop chan struct{}    // closed by Close: the job worker drains and stops
	jobDone chan struct{}    // closed when the job worker stopped

	mu      sync.RWMutex // guards closed
	closed  bool
	cancel  context.CancelFunc
	stopped chan struct{}

	// The applier's progress and the results waiting for their callers.
	amu      sync.Mutex
	applied  uint64
	advanced chan struct{} // closed and replaced when applied grows
	failed   error         // set when the applier stopped for good
	waiters  map[string]chan result
	owners   map[int64]string // job id -> node
	handoff  []int64          // this node's jobs to hand out by TakeRequeued
	cancels  []int64          // this node's jobs to hand out by TakeCancelled
	live     bool             // Open replayed the log

	health writehealth.Tracker // outcomes of the commands sent to the log
}

var _ store.Store = (*Store)(nil)

// streamName is what JetStream accepts as a stream name.
var streamName = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// Open opens the store on the stream, creating the stream when it does
// not exist, and returns once the node's read model has applied every
// command the stream held.
func Open(ctx context.Context, opts Options) (*Store, error) {
	if opts.Conn == nil {
		return nil, errors.New("jetstream store: no NATS connection: connect first (nats.Connect) and pass it in Options.Conn")
	}
	if opts.Stream == "" {
		opts.Stream = DefaultStream
	}
	if !streamName.MatchString(opts.Stream) {
		return nil, fmt.Errorf("jetstream store: stream name %q: use letters, digits, - and _ only", opts.Stream)
	}
	if opts.Replicas <= 0 {
		opts.Replicas = 1
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Dir == "" {
		return nil, errors.New("jetstream store: no folder for the read model: set Options.Dir (e.g. a folder in the data folder)")
	}
	js, err := jetstream.New(opts.Conn)
	if err != nil {
		return nil, fmt.Errorf("jetstream store: %w", err)
	}
	s := &Store{
		opts:     opts,
		log:      opts.Logger,
		js:       js,
		subject:  "hookd." + opts.Stream + ".log",
		advanced: make(chan struct{}),
		waiters:  make(map[string]chan result),
		acceptQ:  make(chan *acceptCall),
		kick:     make(chan struct{}, 1),
		jobQ:     make(chan jobUpdate, maxBatchUpdates),
		jobStop:  make(chan struct{}),
		jobDone:  make(chan struct{}),
		owners:   make(map[int64]string),
		stopped:  make(chan struct{}),
	}
	cctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	// Each try is bounded on its own: while a new cluster settles, a
	// request may go unanswered.
	for {
		tctx, tcancel := context.WithTimeout(cctx, attemptTimeout)
		s.stream, err = s.openStream(tctx)
		tcancel()
		if err == nil {
			break
		}
		var apiErr *jetstream.APIError
		if cctx.Err() != nil || errors.As(err, &apiErr) {
			// An answer of the servers is final; only silence is retried.
			return nil, err
		}
		opts.Logger.Debug("jetstream store: open the stream; trying again", "stream", opts.Stream, "err", err)
	}
	if err := resetDir(opts.Dir); err != nil {
		return nil, err
	}
	s.model, err = sqlite.Open(opts.Dir, sqlite.Options{Sync: "normal", Logger: opts.Logger, Now: s.now})
	if err != nil {
		return nil, fmt.Errorf("jetstream store: read model: %w", err)
	}
	actx, stop := context.WithCancel(context.Background())
	s.cancel = stop
	if err := s.startApplier(actx); err != nil {
		stop()
		s.model.Close()
		return nil, err
	}
	for range acceptWorkers {
		go s.acceptWorker(actx)
	}
	go s.jobWorker(s.jobStop, s.jobDone)
	if err := s.catchUp(cctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("jetstream store: replay the log: %w", err)
	}
	s.amu.Lock()
	s.live = true
	s.amu.Unlock()
	return s, nil
}

// openStream opens the log's stream, creating it when it does not exist
// (an existing stream keeps its configuration: its replicas are the
// operator's to change).
func (s *Store) openStream(ctx context.Context) (jetstream.Stream, error) {
	st, err := s.js.Stream(ctx, s.opts.Stream)
	if err == nil {
		return st, nil
	}
	if !errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, s.unavailable("open the stream", err)
	}
	st, err = s.js.CreateStream(ctx, jetstream.StreamConfig{
		Name:        s.opts.Stream,
		Description: "hookd's log: every change to its store, in order",
		Subjects:    []string{s.subject},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		Replicas:    s.opts.Replicas,
		Duplicates:  DefaultDuplicates,
		Discard:     jetstream.DiscardNew,
		// Commands carry event bodies, JSON that S2 halves; the log is
		// kept whole (see doc.go), so this halves the servers' disk.
		Compression: jetstream.S2Compression,
	})
	if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		return s.js.Stream(ctx, s.opts.Stream) // another node created it
	}
	if err != nil {
		return nil, fmt.Errorf("jetstream store: create stream %s with %d replicas on %s: %w: check that the servers run JetStream and that at least %d of them are up", s.opts.Stream, s.opts.Replicas, s.opts.Conn.ConnectedUrlRedacted(), err, s.opts.Replicas)
	}
	return st, nil
}

// resetDir empties the read model's folder (the log rebuilds it).
func resetDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("jetstream store: read model folder: %w: make it writable by the user running hookd", err)
	}
	for _, name := range []string{sqlite.FileName, sqlite.FileName + "-wal", sqlite.FileName + "-shm"} {
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("jetstream store: reset the read model: %w", err)
		}
	}
	return nil
}

// now is the model's clock: the time of the command being applied.
func (s *Store) now() time.Time {
	if n := s.clock.Load(); n != 0 {
		return time.Unix(0, n)
	}
	return time.Now()
}

// guard returns ErrClosed after Close.
func (s *Store) guard() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return store.ErrClosed
	}
	return nil
}

// Close stops applying the log and closes the read model. The
// connection stays open.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	// Queued job outcomes are logged before the applier stops.
	close(s.jobStop)
	t := time.NewTimer(flushTimeout)
	select {
	case <-s.jobDone:
	case <-t.C:
		s.log.Warn("jetstream store: closed before every queued job outcome was logged; those jobs run again", "stream", s.opts.Stream)
	}
	t.Stop()
	s.cancel()
	<-s.stopped
	return s.model.Close()
}

// Stream is the name of the stream holding the log.
func (s *Store) Stream() string { return s.opts.Stream }

// run publishes a command and returns the result of applying it, once
// this node applied it.
func (s *Store) run(ctx context.Context, c command) (result, error) {
	if err := s.guard(); err != nil {
		return result{}, err
	}
	return s.send(ctx, c)
}

// send is run without the check for Close (for Close's own flush).
func (s *Store) send(ctx context.Context, c command) (result, error) {
	c.ID = nuid.Next()
	if c.At.IsZero() {
		c.At = time.Now()
	}
	c.At = c.At.Round(0)
	data, err := json.Marshal(c)
	if err != nil {
		return result{}, fmt.Errorf("jetstream store: encode %s: %w", c.Kind, err)
	}
	if limit := s.opts.Conn.MaxPayload(); int64(len(data)) > limit {
		return result{}, fmt.Errorf("jetstream store: a %s of %d bytes is over the servers' max_payload of %d: raise max_payload or send less at once", c.Kind, len(data), limit)
	}
	ch := make(chan result, 1)
	s.amu.Lock()
	if s.failed != nil {
		s.amu.Unlock()
		return result{}, s.failed
	}
	s.waiters[c.ID] = ch
	s.amu.Unlock()
	defer func() {
		s.amu.Lock()
		delete(s.waiters, c.ID)
		s.amu.Unlock()
	}()
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	msg := &nats.Msg{Subject: s.subject, Data: data, Header: nats.Header{}}
	for {
		actx, acancel := context.WithTimeout(ctx, attemptTimeout)
		_, err = s.js.PublishMsg(actx, msg, jetstream.WithMsgID(c.ID), jetstream.WithExpectStream(s.opts.Stream))
		acancel()
		if err == nil || ctx.Err() != nil || !retryable(err) {
			break
		}
		// A lost acknowledgement or an election: the same Msg-Id is
		// stored once, so publish again after a pause.
		t := time.NewTimer(retryPause)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
		if ctx.Err() != nil {
			break
		}
	}
	if err != nil {
		if r, ok := s.giveUp(c.ID, ch); ok {
			return r, r.err // the log took it after all, and it is applied
		}
		err = s.unavailable("log a "+c.Kind, err)
		s.noteFailure(parent, err)
		return result{}, err
	}
	// The log holds the command now, so it will be applied: wait for its
	// result longer than for the publish (a consumer moving to another
	// server after one died takes seconds), so that an error means it
	// was not applied, short of this longer wait running out too.
	wctx, wcancel := context.WithTimeout(parent, appliedWait*s.opts.Timeout)
	defer wcancel()
	stall := time.NewTimer(stallAfter)
	defer stall.Stop()
	for {
		select {
		case r := <-ch:
			// Applied: the log took it (its result may still refuse it).
			s.health.Record(time.Now(), nil)
			return r, r.err
		case <-stall.C:
			select {
			case s.kick <- struct{}{}:
			default:
			}
			stall.Reset(stallAfter)
		case <-wctx.Done():
			if r, ok := s.giveUp(c.ID, ch); ok {
				return r, r.err
			}
			err := s.unavailable("apply a "+c.Kind, wctx.Err())
			s.noteFailure(parent, err)
			return result{}, err
		case <-s.stopped:
			if r, ok := s.giveUp(c.ID, ch); ok {
				return r, r.err
			}
			return result{}, s.stoppedErr()
		}
	}
}

// giveUp stops waiting for the result of the command id: it removes the
// waiter, so that advance hands the command's jobs out by TakeRequeued
// instead (see advance). If advance has sent the result already (it
// removes the waiter as it does, under the same lock), giveUp returns it
// and true: the caller must take it, or no one would run its jobs.
func (s *Store) giveUp(id string, ch chan result) (result, bool) {
	s.amu.Lock()
	defer s.amu.Unlock()
	if _, waiting := s.waiters[id]; waiting {
		delete(s.waiters, id)
		return result{}, false
	}
	select {
	case r := <-ch:
		return r, true
	default:
		return result{}, false
	}
}

const (
	// attemptTimeout bounds one publish; a publish is tried again until
	// Options.Timeout.
	attemptTimeout = 2 * time.Second
	// appliedWait is how many Options.Timeout a caller waits for the
	// result of a command the log holds.
	appliedWait = 3
	// retryPause is the pause before publishing again.
	retryPause = 50 * time.Millisecond
)

// quorum reports a stream without a leader, or whose leader no longer
// reaches a majority of its replicas (it keeps its leadership for a while
// after losing them, answering but unable to store anything).
func quorum(info *jetstream.StreamInfo) error {
	c := info.Cluster
	if c == nil {
		return nil
	}
	if c.Leader == "" {
		return errors.New("no leader (no quorum of its replicas)")
	}
	up, all := 1, 1+len(c.Replicas)
	for _, r := range c.Replicas {
		if !r.Offline {
			up++
		}
	}
	if 2*up <= all {
		return fmt.Errorf("%d of its %d replicas reachable, no quorum", up, all)
	}
	return nil
}

// retryable reports a publish error after which the same publish may
// succeed: a timeout, or no answer while the stream elects a leader.
func retryable(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) || errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrNoResponders)
}

// noteFailure records a command that failed for the cluster's sake,
// not because its caller gave up (a client that hung up, a shutdown).
func (s *Store) noteFailure(caller context.Context, err error) {
	if caller.Err() == nil {
		s.health.Record(time.Now(), err)
	}
}

// unavailable wraps an error of the cluster with what to do.
func (s *Store) unavailable(what string, err error) error {
	return fmt.Errorf("jetstream store: %s on stream %s: %w: the NATS servers are unreachable or have no quorum; the sender should retry (%w)", what, s.opts.Stream, err, store.ErrUnavailable)
}

// stoppedErr says why the applier stopped.
func (s *Store) stoppedErr() error {
	s.amu.Lock()
	defer s.amu.Unlock()
	if s.failed != nil {
		return s.failed
	}
	return store.ErrClosed
}

// catchUp waits until the model applied every command the stream holds
// now and the job outcomes queued before it: a read that follows sees
// every write that returned before it.
func (s *Store) catchUp(ctx context.Context) error {
	if err := s.guard(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	if err := s.flushJobs(ctx); err != nil {
		return err
	}
	info, err := s.stream.Info(ctx)
	if err != nil {
		return s.unavailable("read the log's end", err)
	}
	return s.waitApplied(ctx, info.State.LastSeq)
}

// stallAfter is how long a reader waits for the log to advance before
// it has the applier read the log again.
const stallAfter = 3 * time.Second

// waitApplied waits until the model applied the command at seq. When
// the applier makes no progress for stallAfter, it reads the log again.
func (s *Store) waitApplied(ctx context.Context, seq uint64) error {
	stall := time.NewTimer(stallAfter)
	defer stall.Stop()
	for {
		s.amu.Lock()
		applied, next, failed := s.applied, s.advanced, s.failed
		s.amu.Unlock()
		if failed != nil {
			return failed
		}
		if applied >= seq {
			return nil
		}
		select {
		case <-next:
			stall.Reset(stallAfter)
		case <-stall.C:
			s.log.Warn("jetstream store: the log's reader made no progress; reading it again", "stream", s.opts.Stream, "applied", applied, "want", seq)
			select {
			case s.kick <- struct{}{}:
			default:
			}
			stall.Reset(stallAfter)
		case <-ctx.Done():
			return s.unavailable(fmt.Sprintf("apply the log up to %d (applied %d)", seq, applied), ctx.Err())
		case <-s.stopped:
			return s.stoppedErr()
		}
	}
}

// Writable reports whether the cluster takes writes and the read model
// can write: not while a command failed to reach the log within the last
// writehealth.FailureHold with none applied since (a stream's leader
// goes on answering for seconds after it lost its quorum), nor while
// the stream answers without a quorum.
func (s *Store) Writable(ctx context.Context) error {
	if err := s.guard(); err != nil {
		return err
	}
	s.amu.Lock()
	failed := s.failed
	s.amu.Unlock()
	if failed != nil {
		return failed
	}
	if err, _ := s.health.Check(time.Now()); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	info, err := s.stream.Info(ctx)
	if err != nil {
		return s.unavailable("reach the log", err)
	}
	if err := quorum(info); err != nil {
		return fmt.Errorf("jetstream store: stream %s: %w: start the servers that are down", s.opts.Stream, err)
	}
	return s.model.Writable(ctx)
}
