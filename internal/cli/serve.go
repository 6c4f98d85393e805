package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hookd/hookd/actions/secret"
	"github.com/hookd/hookd/daemon"
	"github.com/hookd/hookd/engine"
	"github.com/hookd/hookd/engine/ruletest"
	"github.com/hookd/hookd/internal/cluster"
	"github.com/hookd/hookd/store"
)

func runServe(s Streams, args []string) int {
	fs := newFlags(s, "serve", "--rules RULES [--listen ADDR] [--data DIR]")
	cfg := daemon.Config{}
	fs.StringVar(&cfg.RulesPath, "rules", "", "rules file (required); watched and reloaded when it changes")
	fs.StringVar(&cfg.Listen, "listen", daemon.DefaultListen, "HTTP address to listen on")
	fs.StringVar(&cfg.DataDir, "data", daemon.DefaultDataDir, "folder of the store (the SQLite file hookd.db of events and actions)")
	fs.BoolVar(&cfg.Open, "open", false, "run without HOOKD_WEBHOOK_KEY (anyone who can reach the port can post events)")
	adminKeyFile := fs.String("admin-key-file", "", "file holding a bcrypt hash of the admin key, instead of HOOKD_ADMIN_KEY (the admin API and console are off without either)")
	fs.Int64Var(&cfg.MaxBody, "max-body", daemon.DefaultMaxBody, "largest request body in bytes")
	fs.DurationVar(&cfg.Retention, "retention", daemon.DefaultRetention, "how long events and finished actions are kept (and duplicates recognised)")
	fs.DurationVar(&cfg.DrainTimeout, "drain-timeout", daemon.DefaultDrainTimeout, "on SIGTERM, how long running actions may finish")
	fs.IntVar(&cfg.Workers, "workers", daemon.DefaultWorkers, "workers per integration (wassenger, slack, email, webhook, log)")
	fs.IntVar(&cfg.MaxQueued, "max-queued", daemon.DefaultMaxQueued, "most actions held in memory; the rest wait in the store")
	fs.IntVar(&cfg.MaxStateKeys, "max-state-keys", store.DefaultMaxKeys, "most keys one rule remembers (windows, throttles, digests); a new key beyond it is not counted, and is logged")
	fs.StringVar(&cfg.Sync, "sync", "full", "store durability: full (survives power loss; in a cluster, each embedded NATS server writes to the disk before it acknowledges) or normal (survives a crash of hookd)")
	memLimit := fs.String("memory-limit", "112MiB", "soft memory limit of the Go runtime (GOMEMLIMIT wins when set; 0: none); the garbage collector works harder near it")
	pprofAddr := fs.String("pprof", "", "serve Go's pprof profiles on this address (e.g. 127.0.0.1:6060); off by default")
	cf := addClusterFlags(fs, true)
	logFormat := fs.String("log-format", "text", "log format: text or json")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn or error")
	if _, err := parse(fs, args); err != nil {
		return flagErr(err)
	}
	if cfg.RulesPath == "" {
		return exitUsage(s, fs, "--rules is required")
	}
	if err := checkAddr("listen", cfg.Listen); err != nil {
		return exitUsage(s, fs, "%v", err)
	}
	if *pprofAddr != "" {
		if err := checkAddr("pprof", *pprofAddr); err != nil {
			return exitUsage(s, fs, "%v", err)
		}
	}
	logger, err := newLogger(s, *logFormat, *logLevel)
	if err != nil {
		return exitUsage(s, fs, "%v", err)
	}
	cfg.Logger = logger
	for _, f := range []struct {
		name string
		n    int64
	}{{"max-body", cfg.MaxBody}, {"workers", int64(cfg.Workers)}, {"max-queued", int64(cfg.MaxQueued)}, {"max-state-keys", int64(cfg.MaxStateKeys)}} {
		if f.n < 1 {
			return exitUsage(s, fs, "--%s must be 1 or more, not %d (leave it out for the default)", f.name, f.n)
		}
	}
	for _, f := range []struct {
		name string
		d    time.Duration
	}{{"retention", cfg.Retention}, {"drain-timeout", cfg.DrainTimeout}} {
		if f.d <= 0 {
			return exitUsage(s, fs, "--%s must be longer than 0, not %v (leave it out for the default)", f.name, f.d)
		}
	}
	if cfg.Sync != "full" && cfg.Sync != "normal" {
		return exitUsage(s, fs, "--sync %q: use full (survives power loss) or normal (survives a crash of hookd only)", cfg.Sync)
	}
	if err := cf.checkPeers(); err != nil {
		return exitUsage(s, fs, "%v", err)
	}
	if cf.enabled() {
		ccfg := cf.config(cfg.DataDir, cfg.Sync, logger)
		cfg.OpenStore = func(ctx context.Context) (store.Store, error) { return cluster.Open(ctx, ccfg) }
	}
	if err := setMemoryLimit(*memLimit); err != nil {
		return exitUsage(s, fs, "%v", err)
	}
	cfg.WebhookKey = secret.New(os.Getenv("HOOKD_WEBHOOK_KEY"))
	cfg.AdminKey = secret.New(os.Getenv("HOOKD_ADMIN_KEY"))
	if *adminKeyFile != "" {
		if cfg.AdminKeyHash, err = daemon.ReadAdminKeyFile(*adminKeyFile); err != nil {
			fmt.Fprintf(s.Stderr, "hookd serve: %v\n", err)
			return 1
		}
	}
	// A file that does not load is reported by daemon.New, with its
	// problems; one that loads must not send placeholder secrets to the
	// real services.
	if rs, _ := ruletest.LoadFile(cfg.RulesPath, engine.LoadOptions{}); rs != nil {
		if err := placeholderError(cfg.RulesPath, "to start", placeholderCredentials(&rs.Connections)); err != nil {
			fmt.Fprintf(s.Stderr, "hookd serve: %v\n", err)
			return 1
		}
	}
	d, err := daemon.New(cfg)
	if err != nil {
		fmt.Fprintf(s.Stderr, "hookd serve: %v\n", err)
		return 1
	}
	if *pprofAddr != "" {
		go servePprof(logger, *pprofAddr)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	reloadNow := make(chan struct{})
	go func() {
		for range hup {
			select {
			case reloadNow <- struct{}{}:
			case <-ctx.Done():
				return
			}
		}
	}()
	if err := d.Run(ctx, reloadNow); err != nil {
		fmt.Fprintf(s.Stderr, "hookd serve: %v\n", err)
		return 1
	}
	return 0
}

func newLogger(s Streams, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: use debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(s.Stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(s.Stderr, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: use text or json", format)
}

// servePprof serves net/http/pprof on its own listener, so profiles are
// never reachable on the webhook port.
func servePprof(logger *slog.Logger, addr string) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	logger.Info("pprof listening", "addr", addr)
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	if err := srv.ListenAndServe(); err != nil {
		logger.Error("pprof server stopped", "err", err)
	}
}

// setMemoryLimit applies --memory-limit unless GOMEMLIMIT is set: a soft
// limit keeps the heap's slack (and so the resident size) small, where
// the default GC target would let it grow to twice what is live.
func setMemoryLimit(v string) error {
	if os.Getenv("GOMEMLIMIT") != "" || v == "0" || v == "" {
		return nil
	}
	n, err := parseBytes(v)
	if err != nil {
		return fmt.Errorf("--memory-limit %q: %v (e.g. 128MiB, 1GiB, 0 for none)", v, err)
	}
	debug.SetMemoryLimit(n)
	return nil
}

// parseBytes reads a size such as 512MiB, 1GiB or 200000000.
func parseBytes(v string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"B", 1}, {"", 1}}
	for _, u := range units {
		if num, ok := strings.CutSuffix(v, u.suffix); ok {
			n, err := strconv.ParseInt(num, 10, 64)
			if err != nil || n < 0 {
				return 0, errors.New("not a size")
			}
			return n * u.mult, nil
		}
	}
	return 0, errors.New("not a size")
}
