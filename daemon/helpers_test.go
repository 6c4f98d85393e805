package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/actions/router"
	"github.com/hookd/hookd/actions/secret"
	"github.com/hookd/hookd/engine"
	"github.com/hookd/hookd/event"
	"github.com/hookd/hookd/internal/cluster"
	"github.com/hookd/hookd/internal/natstest"
	"github.com/hookd/hookd/internal/standin"
	"github.com/hookd/hookd/internal/standin/smtpd"
	"github.com/hookd/hookd/internal/syncbuf"
	"github.com/hookd/hookd/internal/testbackend"
	"github.com/hookd/hookd/store"
	"github.com/hookd/hookd/store/sqlite"
)

// waitLimit bounds every wait of these tests: far above what any of them
// needs, so that it only ends a test that is really stuck.
const waitLimit = 20 * time.Second

// groupID is the group chat the test events happen in.
const groupID = "120363012345678901@g.us"

// fastDelivery retries quickly, as the tests of retries need.
const fastDelivery = `delivery:
  attempts: 4
  backoff: {min: 50ms, max: 200ms}
  timeout: 500ms
`

// slowDelivery keeps a held request held for the whole test: its attempt
// timeout is far longer than any test.
const slowDelivery = `delivery:
  attempts: 4
  backoff: {min: 50ms, max: 200ms}
  timeout: 60s
`

// eventually polls cond every few milliseconds until it holds, and fails
// the test when waitLimit passes first.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.NewTimer(waitLimit)
	defer deadline.Stop()
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline.C:
			t.Fatalf("gave up waiting for %s", what)
		}
	}
}

// waitCtx is a context that ends after waitLimit, for the stand-ins'
// WaitFor.
func waitCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	t.Cleanup(cancel)
	return ctx
}

// testNode names the daemon's node on the jetstream backend; a restart
// keeps it, so that the daemon delivers the jobs it stored before.
const testNode = "daemon-test"

// options tune a harness.
type options struct {
	// backend is the daemon's store: testbackend.SQLite ("" too) or
	// testbackend.JetStream, on a NATS server the test starts;
	// storeTimeout bounds each request of the jetstream store to NATS
	// (0: its default).
	backend      string
	storeTimeout time.Duration
	// rules is the rules file without its connections section: a
	// delivery section (fastDelivery when empty) and the rules. Ignored
	// when rulesFile is set.
	rules string
	// rulesFile is a whole rules file from testdata, with placeholders.
	rulesFile string
	// extraConnections is YAML appended to the connections section,
	// indented by two spaces (e.g. a slack connection).
	extraConnections string
	// symlinked lays the rules file out as Kubernetes mounts a
	// ConfigMap: rules.yaml -> ..data/rules.yaml, ..data -> ..v1.
	symlinked bool
	// waToken, smtpPassword, key and adminKey override the secrets.
	waToken, smtpPassword, key, adminKey string
	// env are the ${ENV} variables the rules file reads (none else is
	// set), with the placeholders of expand.
	env map[string]string
	// open runs without a webhook key, as hookd serve --open.
	open bool
	// workers, drain, maxBody and debounce go to Config (defaults: 4,
	// 2s, DefaultMaxBody, 100ms).
	workers  int
	drain    time.Duration
	maxBody  int64
	debounce time.Duration
	// maxQueued goes to Config.MaxQueued (default DefaultMaxQueued).
	maxQueued int
	// beforeRun runs between New and Run.
	beforeRun func(d *Daemon)
	// dataDir is the data folder (default: one in a temporary folder).
	dataDir string
	// clock, tickEvery and maxStateKeys go to Config.Now, TickEvery and
	// MaxStateKeys (defaults: the real clock, 10ms, the default cap).
	clock        *clock
	tickEvery    time.Duration
	maxStateKeys int
	// vet goes to Config.Vet.
	vet func(*engine.RuleSet) engine.Problems
}

// harness is a daemon running in process on 127.0.0.1 with a real store
// in a temporary folder, a real rules file and real stand-ins for every
// target: Wassenger, a webhook recorder and an SMTP server.
type harness struct {
	t         *testing.T
	d         *Daemon
	base      string // http://127.0.0.1:port
	key       string
	adminKey  string
	rulesPath string
	dataDir   string
	logs      *syncbuf.Buffer
	reloadNow chan struct{}
	cfg       Config
	// backend is the store the daemon runs on; nats is the NATS server
	// of the jetstream backend (nil on sqlite).
	backend string
	nats    *natstest.Cluster

	wa   *standin.Wassenger
	hook *standin.Recorder
	smtp *smtpd.Server

	waToken, smtpPassword string

	cancel  context.CancelFunc
	done    chan error
	stopped bool
	runErr  error
}

// start starts the stand-ins, writes the rules file, and runs a daemon
// until the test ends. Stand-ins close before the daemon stops, so that
// requests they hold are released.
func start(t *testing.T, o options) *harness {
	t.Helper()
	h := &harness{t: t, logs: &syncbuf.Buffer{}, reloadNow: make(chan struct{})}
	h.waToken = or(o.waToken, "wa-token-for-tests")
	h.smtpPassword = or(o.smtpPassword, "smtp-password-for-tests")
	h.key = or(o.key, "webhook-key-for-tests")
	h.adminKey = or(o.adminKey, "admin-key-for-tests-0123456789")

	h.wa = standin.NewWassenger(h.waToken)
	h.hook = standin.NewRecorder()
	var err error
	h.smtp, err = smtpd.Start(smtpd.Options{Username: "hookd", Password: h.smtpPassword, TLS: smtpd.TLSStartTLS})
	if err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	// The rules file has a folder of its own, watched by the daemon.
	h.rulesPath = filepath.Join(dir, "conf", "rules.yaml")
	h.dataDir = filepath.Join(dir, "data")
	if o.dataDir != "" {
		h.dataDir = o.dataDir
	}
	if err := os.MkdirAll(filepath.Dir(h.rulesPath), 0o755); err != nil {
		t.Fatal(err)
	}
	text := o.rulesFile
	if text == "" {
		text = h.file(o.extraConnections, o.rules)
	} else {
		text = h.expand(readTestdata(t, o.rulesFile))
	}
	if o.symlinked {
		conf := filepath.Dir(h.rulesPath)
		must(t, os.Mkdir(filepath.Join(conf, "..v1"), 0o755))
		must(t, os.WriteFile(filepath.Join(conf, "..v1", "rules.yaml"), []byte(text), 0o644))
		must(t, os.Symlink("..v1", filepath.Join(conf, "..data")))
		must(t, os.Symlink(filepath.Join("..data", "rules.yaml"), h.rulesPath))
	} else if err := os.WriteFile(h.rulesPath, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}

	h.cfg = Config{
		RulesPath:      h.rulesPath,
		Listen:         "127.0.0.1:0",
		DataDir:        h.dataDir,
		WebhookKey:     secret.New(h.key),
		AdminKey:       secret.New(h.adminKey),
		Workers:        o.workers,
		DrainTimeout:   o.drain,
		MaxBody:        o.maxBody,
		ReloadDebounce: o.debounce,
		MaxQueued:      o.maxQueued,
		TickEvery:      o.tickEvery,
		MaxStateKeys:   o.maxStateKeys,
		Vet:            o.vet,
		Logger:         slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Router:         router.Options{SMTPTLSConfig: h.smtp.ClientTLSConfig()},
	}
	if o.open {
		h.cfg.WebhookKey, h.cfg.Open = secret.String{}, true
	}
	if o.env != nil {
		h.cfg.LookupEnv = func(name string) (string, bool) {
			v, ok := o.env[name]
			return h.expand(v), ok
		}
	}
	if o.clock != nil {
		h.cfg.Now = o.clock.Now
	}
	h.backend = or(o.backend, testbackend.SQLite)
	switch h.backend {
	case testbackend.SQLite:
	case testbackend.JetStream:
		h.nats = natstest.StartCluster(t, 1)
		// Every daemon of the test, restarts included, is the same node
		// on the same stream.
		h.cfg.OpenStore = func(ctx context.Context) (store.Store, error) {
			return cluster.Open(ctx, cluster.Config{NATS: h.nats.URL(), Node: testNode, DataDir: h.dataDir, Replicas: 1, Timeout: o.storeTimeout, Logger: h.cfg.Logger})
		}
	default:
		t.Fatalf("unknown store backend %q", o.backend)
	}
	if h.cfg.TickEvery == 0 {
		h.cfg.TickEvery = 10 * time.Millisecond
	}
	if h.cfg.DrainTimeout == 0 {
		h.cfg.DrainTimeout = 2 * time.Second
	}
	if h.cfg.ReloadDebounce == 0 {
		h.cfg.ReloadDebounce = 100 * time.Millisecond
	}
	h.run(t, o.beforeRun)
	t.Cleanup(func() { h.stop() })
	t.Cleanup(func() {
		h.wa.Close()
		h.hook.Close()
		if err := h.smtp.Close(); err != nil {
			t.Errorf("smtp stand-in: %v", err)
		}
	})
	return h
}

// run creates a daemon from h.cfg, starts Run and waits until it
// answers.
func (h *harness) run(t *testing.T, beforeRun func(*Daemon)) {
	t.Helper()
	var err error
	h.d, err = New(h.cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	h.base = "http://" + h.d.Addr()
	if beforeRun != nil {
		beforeRun(h.d)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.done, h.stopped = cancel, make(chan error, 1), false
	go func() { h.done <- h.d.Run(ctx, h.reloadNow) }()
	eventually(t, "the daemon to answer /healthz", func() bool {
		resp, err := http.Get(h.base + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// restart runs a new daemon on the same rules file, store and stand-ins
// after the previous one stopped.
func (h *harness) restart(t *testing.T) {
	t.Helper()
	if !h.stopped {
		t.Fatal("restart of a running daemon")
	}
	h.run(t, nil)
}

func or(v, def string) string {
	if v != "" {
		return v
	}
	return def
}

// stop cancels Run's context and waits for Run to return; it returns
// Run's error. Calling it again returns the same error.
func (h *harness) stop() error {
	h.t.Helper()
	if h.stopped {
		return h.runErr
	}
	h.stopped = true
	h.cancel()
	select {
	case h.runErr = <-h.done:
	case <-time.After(waitLimit):
		h.t.Fatalf("Run did not return after its context was canceled")
	}
	return h.runErr
}

// file builds a rules file: connections to every stand-in, then rules
// (which starts with a delivery section or gets fastDelivery).
func (h *harness) file(extraConnections, rules string) string {
	var b strings.Builder
	b.WriteString("version: 1\n")
	b.WriteString(h.expand(`connections:
  wassenger:
    token: "@WA_TOKEN@"
    base_url: "@WASSENGER@"
    rate: 500
    burst: 100
    concurrency: 8
  email:
    host: 127.0.0.1
    port: @SMTP_PORT@
    tls: starttls
    username: hookd
    password: "@SMTP_PASSWORD@"
    from: "hookd <bot@example.com>"
    rate: 500
  webhook:
    rate: 500
    concurrency: 16
`))
	b.WriteString(h.expand(extraConnections))
	if !strings.Contains(rules, "delivery:") {
		b.WriteString(fastDelivery)
	}
	b.WriteString(h.expand(rules))
	return b.String()
}

// expand fills the placeholders of a rules file with the stand-ins'
// addresses and the secrets.
func (h *harness) expand(s string) string {
	return strings.NewReplacer(
		"@WASSENGER@", h.wa.BaseURL(),
		"@HOOK@", h.hook.URL(),
		"@SMTP_PORT@", strconv.Itoa(h.smtp.Port()),
		"@WA_TOKEN@", h.waToken,
		"@SMTP_PASSWORD@", h.smtpPassword,
	).Replace(s)
}

func readTestdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// writeRules replaces the rules file the way editors that save by
// rename do, so that the watcher never sees it half written.
func (h *harness) writeRules(text string) {
	h.t.Helper()
	tmp := filepath.Join(filepath.Dir(h.rulesPath), ".rules.yaml.tmp")
	if err := os.WriteFile(tmp, []byte(text), 0o644); err != nil {
		h.t.Fatal(err)
	}
	if err := os.Rename(tmp, h.rulesPath); err != nil {
		h.t.Fatal(err)
	}
}

// answer is an HTTP answer read in full.
type answer struct {
	status int
	header http.Header
	body   string
}

// do sends req and reads the answer.
func do(t *testing.T, req *http.Request) answer {
	t.Helper()
	client := &http.Client{Timeout: waitLimit}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read answer: %v", req.Method, req.URL.Path, err)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: string(body)}
}

// post sends body to the webhook endpoint as JSON with the key in the
// query, as Wassenger does; edit changes the request first.
func (h *harness) post(t *testing.T, body string, edit ...func(*http.Request)) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, h.base+"/webhooks/wassenger?key="+h.key, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for _, e := range edit {
		e(req)
	}
	return do(t, req)
}

// accept posts body and fails the test unless it got 200.
func (h *harness) accept(t *testing.T, body string) accepted {
	t.Helper()
	a := h.post(t, body)
	if a.status != http.StatusOK {
		t.Fatalf("POST: %d %s, want 200", a.status, a.body)
	}
	var out accepted
	if err := json.Unmarshal([]byte(a.body), &out); err != nil {
		t.Fatalf("POST answer %q: %v", a.body, err)
	}
	return out
}

// get sends a GET to path, with the admin key in the X-Hookd-Admin-Key
// header when withKey.
func (h *harness) get(t *testing.T, path string, withKey bool) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, h.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if withKey {
		req.Header.Set(AdminKeyHeader, h.adminKey)
	}
	return do(t, req)
}

// getJSON GETs path with the admin key and decodes the 200 answer into v.
func (h *harness) getJSON(t *testing.T, path string, v any) {
	t.Helper()
	a := h.get(t, path, true)
	if a.status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, a.status, a.body)
	}
	if err := json.Unmarshal([]byte(a.body), v); err != nil {
		t.Fatalf("GET %s: %v in %q", path, err, a.body)
	}
}

// rulesStatus is /api/rules.
func (h *harness) rulesStatus(t *testing.T) ReloadStatus {
	t.Helper()
	var st ReloadStatus
	h.getJSON(t, "/api/rules", &st)
	return st
}

// apiEvent is one event of /api/events.
type apiEvent struct {
	ID     string          `json:"id"`
	Key    string          `json:"key"`
	Event  string          `json:"event"`
	Rules  []string        `json:"rules"`
	Errors []string        `json:"errors"`
	Muted  []string        `json:"muted"`
	Body   json.RawMessage `json:"body"`
}

// clock is a clock the test moves (Config.Now).
type clock struct {
	mu sync.Mutex
	at time.Time
}

// newClock returns a clock standing at at.
func newClock(at time.Time) *clock { return &clock{at: at} }

// Now returns the clock's time.
func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.at
}

// set moves the clock to at.
func (c *clock) set(at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.at = at
}

// events lists /api/events.
func (h *harness) events(t *testing.T) []apiEvent {
	t.Helper()
	var out struct {
		Events []apiEvent `json:"events"`
	}
	h.getJSON(t, "/api/events?limit=1000", &out)
	return out.Events
}

// stats reads the store's counts.
func (h *harness) stats(t *testing.T) store.Stats {
	t.Helper()
	st, err := h.d.store.Stats(context.Background())
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	return st
}

// otherStore opens the daemon's store as another process does (a hookd
// command): the SQLite file of the data folder, or the cluster's stream
// without a node name. The test closes it.
func (h *harness) otherStore(t *testing.T) store.Store {
	t.Helper()
	var (
		s   store.Store
		err error
	)
	if h.backend == testbackend.JetStream {
		s, err = cluster.Open(context.Background(), cluster.Config{NATS: h.nats.URL(), Command: true, DataDir: t.TempDir(), Logger: discardLogger()})
	} else {
		s, err = sqlite.Open(h.dataDir, sqlite.Options{Logger: discardLogger(), MustExist: true})
	}
	if err != nil {
		t.Fatalf("open the store as another process: %v", err)
	}
	return s
}

// jobs reads every job of the store, in any state, by id: through the
// running daemon's store, or, once it stopped, through otherStore.
func (h *harness) jobs(t *testing.T) []store.Job {
	t.Helper()
	s := h.d.store
	if h.stopped {
		s = h.otherStore(t)
		defer s.Close()
	}
	jobs, err := s.Jobs(context.Background(), store.JobQuery{})
	if err != nil {
		t.Fatalf("read jobs: %v", err)
	}
	slices.Reverse(jobs) // Jobs lists the highest id first
	return jobs
}

// jobsOf keeps the jobs of the events with Wassenger's id (or entityId)
// id: the entity part of their identity key (event/id[/state]).
func jobsOf(jobs []store.Job, id string) []store.Job {
	var out []store.Job
	for _, j := range jobs {
		if entityOf(j.EventID) == id {
			out = append(out, j)
		}
	}
	return out
}

// allInState reports whether there are n jobs and all are in state.
func allInState(jobs []store.Job, n int, state string) bool {
	if len(jobs) != n {
		return false
	}
	for _, j := range jobs {
		if j.State != state {
			return false
		}
	}
	return true
}

// metricsText scrapes /metrics.
func (h *harness) metricsText(t *testing.T) string {
	t.Helper()
	a := h.get(t, "/metrics", false)
	if a.status != http.StatusOK {
		t.Fatalf("GET /metrics: %d", a.status)
	}
	return a.body
}

var labelRE = regexp.MustCompile(`(\w+)="((?:[^"\\]|\\.)*)"`)

// metric sums the samples of the metric name whose labels include the
// given name, value pairs, in the Prometheus text exposition.
func metric(text, name string, labels ...string) float64 {
	var sum float64
	for line := range strings.SplitSeq(text, "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndex(line, " ")
		if i < 0 {
			continue
		}
		series, value := line[:i], line[i+1:]
		n, rest, _ := strings.Cut(series, "{")
		if n != name {
			continue
		}
		have := map[string]string{}
		for _, m := range labelRE.FindAllStringSubmatch(rest, -1) {
			have[m[1]] = m[2]
		}
		match := true
		for i := 0; i+1 < len(labels); i += 2 {
			if have[labels[i]] != labels[i+1] {
				match = false
			}
		}
		if !match {
			continue
		}
		v, err := strconv.ParseFloat(value, 64)
		if err == nil {
			sum += v
		}
	}
	return sum
}

// metric scrapes /metrics and sums the samples of name (see metric).
func (h *harness) metric(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	return metric(h.metricsText(t), name, labels...)
}

// held counts the requests a stand-in is holding (no answer yet).
func held(reqs []standin.Request) int {
	n := 0
	for _, r := range reqs {
		if r.Status == 0 {
			n++
		}
	}
	return n
}

// js encodes v as JSON.
func js(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// groupEvent is a group:update event as Wassenger sends it.
func groupEvent(id, action string) map[string]any {
	return map[string]any{
		"id": id, "object": "message", "event": "group:update", "action": action,
		"created": 1721661487, "author": "+34600000001",
		"description":  "Group participant(s) added",
		"participants": []any{"+34600000009"},
		"device":       map[string]any{"id": "61b37a069cba0c15d6c89757", "phone": "+4412345678"},
		"data": map[string]any{
			"id": "MSG-" + id, "type": "notification",
			"chat": map[string]any{"id": groupID, "name": "Ops", "type": "group"},
		},
	}
}

// messageEvent is a message:in:new event as Wassenger sends it.
func messageEvent(id, body string) map[string]any {
	return map[string]any{
		"id": id, "object": "message", "event": "message:in:new", "created": 1671225190,
		"device": map[string]any{"id": "61b37a069cba0c15d6c89757", "phone": "+4412345678"},
		"data": map[string]any{
			"id": id, "type": "text", "flow": "inbound", "fromNumber": "+34600000002", "body": body,
			"chat": map[string]any{"id": "34600000002@c.us", "name": "Ana", "type": "chat"},
		},
	}
}

// discardLogger drops every log line.
func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// hostOf returns the host:port of a URL.
func hostOf(t *testing.T, u string) string {
	t.Helper()
	s := strings.TrimPrefix(strings.TrimPrefix(u, "http://"), "https://")
	host, _, _ := strings.Cut(s, "/")
	if _, _, err := net.SplitHostPort(host); err != nil {
		t.Fatalf("URL %q has no host:port", u)
	}
	return host
}

// describe is a short dump of jobs for failure messages.
func describe(jobs []store.Job) string {
	var b strings.Builder
	for _, j := range jobs {
		fmt.Fprintf(&b, "\n  #%d %s %s attempts=%d reason=%q err=%q", j.ID, j.Name, j.State, j.Attempts, j.LastReason, j.LastError)
	}
	return b.String()
}

// refFor is the idempotency reference of the action at index i of rule on
// the event ev, from the event's identity key as intake computes it.
func refFor(t *testing.T, ev map[string]any, rule string, i int) string {
	t.Helper()
	evs, err := event.Parse([]byte(js(t, ev)))
	if err != nil {
		t.Fatal(err)
	}
	return engine.Reference(evs[0].Key, rule, i)
}

// entityOf is the entity part (Wassenger's id) of an identity key such as
// "group:update/G1/add/+34600000009", as the tests' ids hold no slash.
func entityOf(key string) string {
	parts := strings.SplitN(key, "/", 3)
	if len(parts) < 2 {
		return key
	}
	return parts[1]
}
