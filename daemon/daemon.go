// Package daemon is `hookd serve`: it receives Wassenger webhooks, stores
// each event durably before answering 2xx, turns matching rules into
// durable jobs, delivers them with retries, and reloads the rules file
// when it changes, keeping the running rules when the new file is broken.
package daemon

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hookd/hookd/actions/router"
	"github.com/hookd/hookd/actions/secret"
	"github.com/hookd/hookd/delivery"
	"github.com/hookd/hookd/engine"
	"github.com/hookd/hookd/engine/funcs"
	"github.com/hookd/hookd/engine/ruletest"
	"github.com/hookd/hookd/internal/dirlock"
	"github.com/hookd/hookd/internal/loop"
	"github.com/hookd/hookd/internal/watch"
	"github.com/hookd/hookd/store"
	"github.com/hookd/hookd/store/sqlite"
)

// Defaults of Config.
const (
	DefaultListen       = "127.0.0.1:8080"
	DefaultDataDir      = "hookd-data"
	DefaultMaxBody      = 2 << 20
	DefaultRetention    = 7 * 24 * time.Hour
	DefaultDrainTimeout = 10 * time.Second
	DefaultWorkers      = 4
	DefaultMaxQueued    = 10000
	// MinSafeRetention is the shortest retention that still recognises
	// every duplicate: Wassenger retries a failed delivery for up to about
	// a day (50 to 100 attempts with backoff), so twice that.
	MinSafeRetention = 48 * time.Hour
)

// minWebhookKey is the length under which a webhook key is warned about
// at start (the admin key's own minimum, refused under it).
const minWebhookKey = 16

// Config configures a Daemon.
type Config struct {
	// RulesPath is the rules file; it is watched for changes.
	RulesPath string
	// Listen is the HTTP address (DefaultListen).
	Listen string
	// DataDir holds the store (DefaultDataDir).
	DataDir string
	// WebhookKey is the shared secret senders give as ?key= or in the
	// X-Hookd-Key header. Required unless Open.
	WebhookKey secret.String
	// Open runs without a webhook key (hookd serve --open, on a trusted
	// network).
	Open bool
	// AdminKey opens the admin API (/api/...) and the console (/ui/):
	// HOOKD_ADMIN_KEY. The webhook key never opens them. With neither it
	// nor AdminKeyHash they are off (404).
	AdminKey secret.String
	// AdminKeyHash is a bcrypt hash of the admin key, from
	// --admin-key-file (ReadAdminKeyFile), instead of AdminKey.
	AdminKeyHash string
	// SessionTTL is how long a console sign-in lasts
	// (DefaultSessionTTL).
	SessionTTL time.Duration
	// MaxBody bounds a request body in bytes (DefaultMaxBody).
	MaxBody int64
	// Retention is how long events and finished jobs are kept; it is also
	// the window in which a duplicate is recognised (DefaultRetention).
	Retention time.Duration
	// DrainTimeout bounds how long running actions may finish on shutdown.
	DrainTimeout time.Duration
	// Workers is the number of workers per integration lane.
	Workers int
	// MaxQueued bounds the actions held in memory (DefaultMaxQueued);
	// beyond it they wait in the store only, and memory stays flat while
	// a target is down for long.
	MaxQueued int
	// Sync is the store's synchronous mode: "full" (default) or "normal".
	Sync string
	// Logger receives the daemon's logs (slog.Default()).
	Logger *slog.Logger
	// Router tunes the integrations (tests trust their SMTP CA here).
	Router router.Options
	// ReloadDebounce is the rules watcher's quiet time (0: default).
	ReloadDebounce time.Duration
	// LookupEnv reads the ${ENV} variables of the rules file
	// (os.LookupEnv by default).
	LookupEnv func(string) (string, bool)
	// TickEvery is how often due digests, timer rules and mutes made by
	// other processes are looked at (DefaultTickEvery).
	TickEvery time.Duration
	// MaxStateKeys caps the keys one rule remembers
	// (store.DefaultMaxKeys): a new key beyond it is not counted, and
	// is logged and counted in hookd_state_keys_capped_total.
	MaxStateKeys int
	// Now is the daemon's clock for arrival times, digests, timer rules
	// and mutes (time.Now; tests move it).
	Now func() time.Time
	// Vet, when set, refuses a rule set that loads but must not run here
	// (hookd demo: one whose actions go beyond its local stand-ins) with
	// the problems it returns: at start New fails; on reload the running
	// rules stay, as for a file that does not load.
	Vet func(*engine.RuleSet) engine.Problems
	// OpenStore opens the daemon's store (nil: the embedded SQLite store
	// in DataDir, with Sync). The daemon closes it. A store that is also
	// a store.Cluster (several nodes sharing it) has the daemon announce
	// its rules version to the other nodes.
	OpenStore func(ctx context.Context) (store.Store, error)
}

// snapshot is the running rule set and the integrations built for its
// connections; it is replaced as a whole on reload.
type snapshot struct {
	rules  *engine.RuleSet
	router *router.Router
	// secrets are the connections' secret values, scrubbed from every
	// action error and response the daemon logs or stores.
	secrets []string
}

// ReloadStatus is what /api/rules reports about the rules file.
type ReloadStatus struct {
	File        string    `json:"file"`
	Version     string    `json:"version"`
	LoadedAt    time.Time `json:"loaded_at"`
	Rules       int       `json:"rules"`
	LastAttempt time.Time `json:"last_attempt"`
	LastError   string    `json:"last_error,omitempty"`
	Names       []string  `json:"names"`
}

// Daemon is a running hookd serve.
type Daemon struct {
	cfg     Config
	keyHash [sha256.Size]byte // of the webhook key, for authorized
	log     *slog.Logger
	store   store.Store
	lock    *dirlock.Lock // on the data folder, released by closeStore
	snap    atomic.Pointer[snapshot]
	statusM sync.Mutex
	status  ReloadStatus
	// delivery runs the jobs; set once the store is open.
	delivery *delivery.Deliverer
	metrics  *metrics
	server   *http.Server
	ln       net.Listener
	initial  []byte
	// mutes are the mutes in force, read from the store by the
	// scheduler and after each change through the API.
	mutes atomic.Pointer[muteSet]
	// muteRefresh makes refreshMutes take turns.
	muteRefresh sync.Mutex
	// adminAuth checks the admin credential; nil: the admin API and the
	// console are off.
	adminAuth *adminAuth
	// held counts the matches that rules that remember held back.
	held heldCounts
	// own remembers the group changes delivery asked Wassenger for, so
	// that intake knows their group:update as hookd's own.
	own *engine.OwnChanges
}

// now is the daemon's clock.
func (d *Daemon) now() time.Time { return d.cfg.Now() }

// New loads the rules (they must be valid), opens the store and listens.
// Nothing runs until Run.
func New(cfg Config) (*Daemon, error) {
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	if cfg.DataDir == "" {
		cfg.DataDir = DefaultDataDir
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.Retention <= 0 {
		cfg.Retention = DefaultRetention
	}
	if cfg.DrainTimeout <= 0 {
		cfg.DrainTimeout = DefaultDrainTimeout
	}
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultWorkers
	}
	if cfg.MaxQueued <= 0 {
		cfg.MaxQueued = DefaultMaxQueued
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.TickEvery <= 0 {
		cfg.TickEvery = DefaultTickEvery
	}
	if cfg.MaxStateKeys <= 0 {
		cfg.MaxStateKeys = store.DefaultMaxKeys
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	for _, k := range []struct {
		name string
		key  secret.String
	}{{"HOOKD_WEBHOOK_KEY", cfg.WebhookKey}, {"HOOKD_ADMIN_KEY", cfg.AdminKey}} {
		if strings.ContainsAny(k.key.Reveal(), " \t") {
			return nil, fmt.Errorf("%s holds a space or a tab: a comment after the value in an environment file is part of the value for systemd (EnvironmentFile=) and docker --env-file; put the comment on a line of its own", k.name)
		}
	}
	if adminKeyIs(cfg.AdminKey, cfg.AdminKeyHash, cfg.WebhookKey) {
		return nil, errors.New("HOOKD_ADMIN_KEY is the same as HOOKD_WEBHOOK_KEY: the webhook key travels in the webhook URL that Wassenger keeps and shows, so it must not also open the admin API; set HOOKD_ADMIN_KEY to another long random secret (openssl rand -hex 32)")
	}
	if cfg.WebhookKey.IsZero() && !cfg.Open {
		return nil, errors.New("no webhook key: set HOOKD_WEBHOOK_KEY to a long random secret (Wassenger calls .../webhooks/wassenger?key=SECRET), or pass --open to run without one on a trusted network")
	}
	data, err := os.ReadFile(cfg.RulesPath)
	if err != nil {
		return nil, fmt.Errorf("rules file %s (--rules): %w", cfg.RulesPath, err)
	}
	rs, problems := ruletest.Load(cfg.RulesPath, data, engine.LoadOptions{LookupEnv: cfg.LookupEnv})
	if rs == nil {
		them, each := "them", "each"
		if problems.Errors() == 1 {
			them, each = "it", "it"
		}
		return nil, fmt.Errorf("rules file has %s; fix %s (hookd check %s shows %s in its line):\n%s",
			funcs.Plural(problems.Errors(), "error", "errors"), them, cfg.RulesPath, each, problemLines(problems))
	}
	if cfg.Vet != nil {
		if vetted := cfg.Vet(rs); len(vetted) > 0 {
			return nil, fmt.Errorf("rules file refused:\n%s", problemLines(vetted))
		}
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = DefaultSessionTTL
	}
	d := &Daemon{cfg: cfg, log: cfg.Logger, initial: data, own: engine.NewOwnChanges()}
	if d.adminAuth, err = newAdminAuth(cfg.AdminKey, cfg.AdminKeyHash, cfg.SessionTTL, cfg.Now); err != nil {
		return nil, err
	}
	if !cfg.WebhookKey.IsZero() {
		d.keyHash = sha256.Sum256([]byte(cfg.WebhookKey.Reveal()))
	}
	if n := len(cfg.WebhookKey.Reveal()); n > 0 && n < minWebhookKey {
		d.log.Warn("HOOKD_WEBHOOK_KEY is short: a key of a few characters can be guessed, and whoever guesses it can post events that fire your rules; set a long random secret (openssl rand -hex 32) in HOOKD_WEBHOOK_KEY and in the webhook URL", "length", n, "recommended_min", minWebhookKey)
	}
	if cfg.WebhookKey.IsZero() {
		d.log.Warn("no webhook key (--open): anyone who can reach the listen address can post events to /webhooks/wassenger; run it so only on a trusted network, or set HOOKD_WEBHOOK_KEY", "listen", cfg.Listen)
	}
	if cfg.Retention < MinSafeRetention {
		d.log.Warn("retention is shorter than the sender's retry horizon: an event Wassenger delivers again after it is pruned runs its actions again", "retention", cfg.Retention, "recommended_min", MinSafeRetention)
	}
	d.metrics = newMetrics(d)
	for _, w := range problems {
		d.log.Warn("rules warning", "problem", problemLine(w))
	}
	// One daemon per data folder: a second would deliver every pending
	// action again.
	d.lock, err = dirlock.Take(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("data folder %s: %w", cfg.DataDir, err)
	}
	if cfg.OpenStore != nil {
		d.store, err = cfg.OpenStore(context.Background())
	} else {
		d.store, err = sqlite.Open(cfg.DataDir, sqlite.Options{Sync: cfg.Sync, Logger: cfg.Logger, LazyJobUpdates: true})
	}
	if err != nil {
		d.lock.Release()
		return nil, err
	}
	d.delivery = delivery.New(delivery.Config{
		Store: d.store, Workers: cfg.Workers, MaxQueued: cfg.MaxQueued, Logger: d.log,
		Metrics: delivery.Metrics{Attempts: d.metrics.attempts, ActionSeconds: d.metrics.actionSeconds, DeadLetters: d.metrics.deadLetters},
		Policy: func() delivery.Policy {
			snap := d.snap.Load()
			return delivery.Policy{Delivery: snap.rules.Delivery, Action: ownChangeRecorder{snap.router, d}, Secrets: snap.secrets}
		},
	})
	d.install(rs)
	d.ln, err = net.Listen("tcp", cfg.Listen)
	if err != nil {
		d.closeStore()
		return nil, fmt.Errorf("listen on %s: %w (%s)", cfg.Listen, err, listenAdvice(err))
	}
	d.server = &http.Server{
		Handler:           d.routes(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       20 * time.Second,
		WriteTimeout:      25 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
	}
	return d, nil
}

// listenAdvice says what to do about err, an error of listening on
// --listen, by its cause.
func listenAdvice(err error) string {
	var dns *net.DNSError
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		return "is another hookd running? choose another --listen"
	case errors.Is(err, syscall.EADDRNOTAVAIL), errors.As(err, &dns):
		return "the host of --listen is not an address of this machine: use one of its addresses, 127.0.0.1 for this machine only, or leave it out (:8080) for every address"
	case errors.Is(err, syscall.EACCES):
		return "ports below 1024 need privileges: choose a port of 1024 or more (and a proxy in front), or grant CAP_NET_BIND_SERVICE"
	}
	return "choose another --listen"
}

// Addr is the address the daemon listens on.
func (d *Daemon) Addr() string { return d.ln.Addr().String() }

// install makes rs the running rule set, rebuilding the integrations only
// when the connections changed (so rate limiters keep their state).
func (d *Daemon) install(rs *engine.RuleSet) {
	old := d.snap.Load()
	var rt *router.Router
	if old != nil && reflect.DeepEqual(old.rules.Connections, rs.Connections) {
		rt = old.router
	} else {
		opts := d.cfg.Router
		if opts.Logger == nil {
			opts.Logger = d.log
		}
		rt = router.New(&rs.Connections, opts)
	}
	d.snap.Store(&snapshot{rules: rs, router: rt, secrets: rs.Secrets()})
	names := make([]string, len(rs.Rules))
	for i, r := range rs.Rules {
		names[i] = r.Name
	}
	d.statusM.Lock()
	d.status = ReloadStatus{File: rs.File, Version: rs.Hash, LoadedAt: rs.LoadedAt, Rules: len(rs.Rules), LastAttempt: rs.LoadedAt, Names: names}
	d.statusM.Unlock()
	if d.metrics != nil {
		d.metrics.reloadOK.Set(1)
		d.metrics.reloadTime.Set(float64(rs.LoadedAt.Unix()))
		d.metrics.rulesLoaded.Set(float64(len(rs.Rules)))
	}
}

// reload loads new rules file content; a broken file keeps the running
// rules and is reported in the log, /api/rules and a metric.
func (d *Daemon) reload(data []byte) {
	rs, problems := ruletest.Load(d.cfg.RulesPath, data, engine.LoadOptions{LookupEnv: d.cfg.LookupEnv, Previous: d.snap.Load().rules})
	if rs != nil && d.cfg.Vet != nil {
		if vetted := d.cfg.Vet(rs); len(vetted) > 0 {
			rs, problems = nil, append(problems, vetted...)
		}
	}
	if rs == nil {
		// Status and metrics first: whoever reads the log line can then
		// see the error in /api/rules.
		d.statusM.Lock()
		d.status.LastAttempt = time.Now()
		d.status.LastError = problemLines(problems)
		d.statusM.Unlock()
		d.metrics.reloads.WithLabelValues("error").Inc()
		d.metrics.reloadOK.Set(0)
		first, _ := problems.First()
		d.log.Error("rules reload failed; the previous rules keep running", "file", d.cfg.RulesPath, "errors", problems.Errors(), "first", problemLine(first), "hint", "hookd check shows each problem in its line")
		for _, p := range problems {
			if p.Severity == engine.Warning {
				d.log.Warn("rules warning", "problem", problemLine(p))
				continue
			}
			d.log.Error("rules problem", "problem", problemLine(p))
		}
		return
	}
	for _, w := range problems {
		d.log.Warn("rules warning", "problem", problemLine(w))
	}
	d.install(rs)
	d.metrics.reloads.WithLabelValues("ok").Inc()
	d.log.Info("rules reloaded", "file", rs.File, "rules", len(rs.Rules), "version", rs.Hash[:12])
}

// problemLine formats a problem as "file:line:col: message" without the
// line of the file that Problem.String quotes under YAML and expression
// errors: that line may hold a secret written in the file, and what the
// daemon reports goes to logs, /api/rules and errors. `hookd check` shows
// the lines.
func problemLine(p engine.Problem) string {
	p.Source = ""
	return p.String()
}

// problemLines formats problems with problemLine, one per line.
func problemLines(ps engine.Problems) string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = problemLine(p)
	}
	return strings.Join(lines, "\n")
}

// Status returns the rules file's reload status.
func (d *Daemon) Status() ReloadStatus {
	d.statusM.Lock()
	defer d.statusM.Unlock()
	s := d.status
	s.Names = append([]string(nil), s.Names...)
	return s
}

// loadPending queues the store's pending jobs. A store that cannot be
// reached yet (store.ErrUnavailable: a node of a cluster started while
// its stream elects a leader, or without a quorum) is asked again, less
// and less often, until it answers or ctx is done, as a node waits for a
// quorum before it listens; any other error ends Run.
func (d *Daemon) loadPending(ctx context.Context) (int, error) {
	wait := 100 * time.Millisecond
	for {
		n, err := d.delivery.Load(ctx)
		if !errors.Is(err, store.ErrUnavailable) {
			return n, err
		}
		d.log.Warn("the store cannot list the pending actions yet; trying again (a cluster without a quorum, or electing its leader)", "in", wait, "err", err)
		select {
		case <-ctx.Done():
			return 0, err
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// Run serves until ctx is done, then shuts down: it stops taking
// requests, lets requests in flight finish, gives running actions
// DrainTimeout to finish, leaves the rest pending in the store, and
// returns nil. reloadNow, when not nil, forces a reload on each receive
// (SIGHUP).
func (d *Daemon) Run(ctx context.Context, reloadNow <-chan struct{}) error {
	defer d.delivery.StopTaking()
	pending, err := d.loadPending(ctx)
	if err != nil {
		d.ln.Close()
		d.closeStore()
		if ctx.Err() != nil {
			return nil // stopped while waiting for the store: nothing ran
		}
		return err
	}
	if pending > 0 {
		d.log.Info("resuming pending actions", "jobs", pending)
	}

	watcher, err := watch.New(d.cfg.RulesPath, watch.Options{Logger: d.log, Initial: d.initial, Debounce: d.cfg.ReloadDebounce}, d.reload)
	if err != nil {
		d.ln.Close()
		d.closeStore()
		return err
	}
	bgCtx, stopBG := context.WithCancel(context.Background())
	var bg sync.WaitGroup
	d.refreshMutes(ctx)
	bg.Add(5)
	go func() {
		defer bg.Done()
		d.scheduler(bgCtx)
	}()
	go func() {
		defer bg.Done()
		d.announce(bgCtx)
	}()
	go func() {
		defer bg.Done()
		d.delivery.Run(bgCtx)
	}()
	go func() {
		defer bg.Done()
		if err := watcher.Run(bgCtx, reloadNow); err != nil {
			d.log.Error("rules watcher stopped", "err", err)
		}
	}()
	go func() {
		defer bg.Done()
		d.prune(bgCtx)
	}()

	serveErr := make(chan error, 1)
	go func() { serveErr <- d.server.Serve(d.ln) }()
	d.log.Info("hookd listening", "addr", d.Addr(), "rules", d.cfg.RulesPath, "data", d.cfg.DataDir)

	var result error
	select {
	case <-ctx.Done():
	case err := <-serveErr:
		if !errors.Is(err, http.ErrServerClosed) {
			result = fmt.Errorf("serve: %w", err)
		}
	}
	d.log.Info("shutting down: no new requests; running actions get a deadline", "drain_timeout", d.cfg.DrainTimeout)
	shutCtx, cancel := context.WithTimeout(context.Background(), d.cfg.DrainTimeout)
	defer cancel()
	// No action starts from now on: jobs not yet started, also those of
	// requests still being answered, stay pending for the next start.
	d.delivery.StopTaking()
	if err := d.server.Shutdown(shutCtx); err != nil {
		d.log.Warn("requests still open at the deadline were cut", "err", err)
	}
	stopBG()
	if !d.delivery.Drain(shutCtx) {
		d.log.Warn("running actions did not finish in time; they stay pending and run again after restart")
	}
	bg.Wait()
	left := d.pendingInStore()
	if err := d.closeStore(); err != nil && result == nil {
		result = err
	}
	d.log.Info("hookd stopped", "pending", left)
	return result
}

// pendingInStore counts the jobs the store holds unfinished, which the
// next start runs, for the last log line; -1 when the store cannot tell.
func (d *Daemon) pendingInStore() int64 {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := d.store.Stats(ctx)
	if err != nil {
		d.log.Warn("count the jobs left pending", "err", err)
		return -1
	}
	return st.Pending
}

// prune deletes old events and finished jobs, expired state and ended
// mutes every hour.
func (d *Daemon) prune(ctx context.Context) {
	loop.Every(ctx, time.Hour, true, func() {
		d.pruneState(ctx)
		cutoff := time.Now().Add(-d.cfg.Retention)
		events, jobs, err := d.store.Prune(ctx, cutoff)
		switch {
		case err != nil && ctx.Err() == nil:
			d.log.Warn("prune old events", "err", err)
		case events+jobs > 0:
			d.log.Info("pruned old events and finished jobs", "events", events, "jobs", jobs, "before", cutoff)
		}
	})
}

// closeStore closes the store and lets the data folder go.
func (d *Daemon) closeStore() error {
	err := d.store.Close()
	if rerr := d.lock.Release(); err == nil {
		err = rerr
	}
	return err
}
