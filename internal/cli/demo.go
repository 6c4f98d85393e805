package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/actions/secret"
	"github.com/hookd/hookd/daemon"
	"github.com/hookd/hookd/engine/funcs"
	"github.com/hookd/hookd/internal/standin"
	"github.com/hookd/hookd/internal/standin/slackd"
	"github.com/hookd/hookd/internal/standin/smtpd"
	"github.com/hookd/hookd/store/sqlite"
)

// demoTargets are the local stand-ins the demo's actions go to.
type demoTargets struct {
	wassenger *standin.Wassenger
	slack     *slackd.Server
	smtp      *smtpd.Server
	crm       *standin.Recorder
}

func (t *demoTargets) close() {
	t.wassenger.Close()
	t.slack.Close()
	t.smtp.Close()
	t.crm.Close()
}

func runDemo(s Streams, args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return demo(ctx, s, args)
}

// tryEvent is the shell line the demo suggests for one more event, with
// %s for the webhook URL. printf gives the event a fresh id (the time in
// seconds) on every run: an id hookd has seen is a duplicate, answered
// 200 and not run again.
const tryEvent = `printf '{"event":"group:update","id":"try-%%s","action":"remove","author":"+34655500001","participants":["+34655500002"],"created":1721659753,"data":{"chat":{"id":"120363098765432101@g.us","name":"Marketing Team"}}}' "$(date +%%s)" | curl -sS -H 'Content-Type: application/json' --data @- '%s'`

// tryIntro introduces the suggested line: what it posts, and, on the
// built-in rules, what they do with it. A rules file of one's own may
// hold no rule for a removal.
func tryIntro(builtIn bool) string {
	if builtIn {
		return "Try one more event from another terminal: a member removed by someone who is not a trusted admin,\n" +
			"with a new id on each run (the time), so removal-alert emails ops and posts to Slack. Ctrl-C stops the demo."
	}
	return "Try one more event from another terminal: a group:update removal of one member from Marketing Team,\n" +
		"with a new id on each run (the time); what your rules send for it is printed here. Ctrl-C stops the demo."
}

// demo runs the demo until ctx is done (or, with --once, until the
// recorded events are delivered).
func demo(ctx context.Context, s Streams, args []string) int {
	fs := newFlags(s, "demo", "[--listen ADDR] [--once] [--rules RULES]")
	listen := fs.String("listen", daemon.DefaultListen, "HTTP address of the daemon")
	once := fs.Bool("once", false, "exit after the recorded events are delivered")
	rulesPath := fs.String("rules", "", "rules file (default: the built-in rules.example.yaml)")
	verbose := fs.Bool("v", false, "show the daemon's logs")
	if _, err := parse(fs, args); err != nil {
		return flagErr(err)
	}
	if err := checkAddr("listen", *listen); err != nil {
		return exitUsage(s, fs, "%v", err)
	}
	dir, err := os.MkdirTemp("", "hookd-demo-")
	if err != nil {
		fmt.Fprintf(s.Stderr, "hookd demo: %v\n", err)
		return 1
	}
	defer os.RemoveAll(dir)
	builtIn := *rulesPath == ""
	if builtIn {
		*rulesPath = filepath.Join(dir, "rules.yaml")
		if err := os.WriteFile(*rulesPath, hookd.ExampleRules(), 0o644); err != nil {
			fmt.Fprintf(s.Stderr, "hookd demo: %v\n", err)
			return 1
		}
		// The example rules' inline examples read recorded events
		// relative to the rules file.
		if err := os.CopyFS(dir, hookd.Events()); err != nil {
			fmt.Fprintf(s.Stderr, "hookd demo: %v\n", err)
			return 1
		}
	}
	t, err := startTargets()
	if err != nil {
		fmt.Fprintf(s.Stderr, "hookd demo: %v\n", err)
		return 1
	}
	defer t.close()
	key, adminKey := randomKey(), randomKey()
	env := map[string]string{
		"WASSENGER_TOKEN": "demo-wassenger-token", "WASSENGER_BASE_URL": t.wassenger.BaseURL(),
		"SLACK_WEBHOOK_URL": t.slack.WebhookURL(), "SLACK_BOT_TOKEN": t.slack.Token(), "SLACK_API_URL": t.slack.APIURL(),
		"SMTP_HOST": "127.0.0.1", "SMTP_PORT": strconv.Itoa(t.smtp.Port()), "SMTP_TLS": "none",
		"SMTP_USER": "bot@example.com", "SMTP_PASSWORD": "demo-smtp-password",
		"CRM_WEBHOOK_URL": t.crm.URL() + "/hooks/whatsapp",
	}
	// The rules read the stand-ins' addresses and secrets from this
	// environment, not the process's.
	lookupEnv := func(name string) (string, bool) {
		if v, ok := env[name]; ok {
			return v, true
		}
		return os.LookupEnv(name)
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	logger := slog.New(slog.NewTextHandler(s.Stderr, &slog.HandlerOptions{Level: level}))
	d, err := daemon.New(daemon.Config{
		RulesPath: *rulesPath, Listen: *listen, DataDir: filepath.Join(dir, "data"),
		WebhookKey: secret.New(key), AdminKey: secret.New(adminKey), Logger: logger, Sync: "normal", LookupEnv: lookupEnv,
		Vet: standInsOnly,
	})
	if err != nil {
		fmt.Fprintf(s.Stderr, "hookd demo: %v\n", err)
		return 1
	}
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	runErr := make(chan error, 1)
	go func() { runErr <- d.Run(ctx, nil) }()
	url := "http://" + d.Addr() + "/webhooks/wassenger?key=" + key
	fmt.Fprintf(s.Stdout, "hookd is listening on http://%s\n", d.Addr())
	// The key after # stays in the browser (a fragment is not sent):
	// the sign-in page reads it and signs in.
	fmt.Fprintf(s.Stdout, "console: http://%s/ui/login#key=%s (opens signed in; the admin key is %s)\n", d.Addr(), adminKey, adminKey)
	fmt.Fprintf(s.Stdout, "rules: %s (edit and save it: hookd reloads it, and keeps the old rules if the new file is broken)\n", *rulesPath)
	fmt.Fprintf(s.Stdout, "store: %s (hookd events export --data %s; hookd dlq list --data %s)\n", filepath.Join(dir, "data"), filepath.Join(dir, "data"), filepath.Join(dir, "data"))
	fmt.Fprintf(s.Stdout, "stand-ins: Wassenger %s, Slack %s, SMTP %s, CRM webhook %s\n\n", t.wassenger.BaseURL(), t.slack.URL(), t.smtp.Addr(), t.crm.URL())
	sent, err := postRecorded(url)
	if err != nil {
		fmt.Fprintf(s.Stderr, "hookd demo: %v\n", err)
		stop()
		<-runErr
		return 1
	}
	burst, err := postBurst(url, time.Now())
	if err != nil {
		fmt.Fprintf(s.Stderr, "hookd demo: %v\n", err)
		stop()
		<-runErr
		return 1
	}
	if builtIn {
		fmt.Fprintf(s.Stdout, "posted %d recorded events (testdata/events) and %d for the rules that remember: 4 removals from one group a minute apart,\n"+
			"of 1, 1, 3 and 2 members (mass-removal's window counts members: the 3rd removal makes 5 and fires it, its throttle\n"+
			"holds the 4th) and 3 joins dated yesterday (daily-joins collects\n"+
			"them; its 09:00 Europe/Madrid tick has passed since, so it sends its one message now); waiting for their actions...\n\n", sent, burst)
	} else {
		fmt.Fprintf(s.Stdout, "posted %d recorded events (testdata/events) and %d more: removals from one group a minute apart and joins dated yesterday;\n"+
			"waiting for their actions...\n\n", sent, burst)
	}
	// A digest whose period is over (the joins of yesterday, the recorded
	// events of 2024) would be sent at the daemon's next look at what is
	// due; no job waits for it yet, so the report sends it first.
	d.FlushDigests(ctx)
	waitIdle(ctx, "http://"+d.Addr()+"/healthz")
	printTargets(s.Stdout, t)
	printDeadLetters(s.Stdout, filepath.Join(dir, "data"))
	if *once {
		stop()
		if err := <-runErr; err != nil {
			fmt.Fprintf(s.Stderr, "hookd demo: %v\n", err)
			return 1
		}
		return 0
	}
	fmt.Fprintf(s.Stdout, "\n%s\n  "+tryEvent+"\n", tryIntro(builtIn), url)
	go reportNew(ctx, s.Stdout, t)
	if err := <-runErr; err != nil {
		fmt.Fprintf(s.Stderr, "hookd demo: %v\n", err)
		return 1
	}
	return 0
}

func startTargets() (*demoTargets, error) {
	sm, err := smtpd.Start(smtpd.Options{Username: "bot@example.com", Password: "demo-smtp-password"})
	if err != nil {
		return nil, fmt.Errorf("start the SMTP stand-in: %w", err)
	}
	return &demoTargets{
		wassenger: standin.NewWassenger("demo-wassenger-token"),
		slack:     slackd.New(slackd.Options{Token: "xoxb-demo-token", Channels: []string{"C0123456789"}}),
		smtp:      sm,
		crm:       standin.NewRecorder(),
	}, nil
}

func randomKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// postRecorded posts every embedded recorded event file, one request per
// .json file and one per line of .jsonl files.
func postRecorded(url string) (int, error) {
	var bodies [][]byte
	err := fs.WalkDir(hookd.Events(), "testdata/events", func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		data, err := fs.ReadFile(hookd.Events(), p)
		if err != nil {
			return err
		}
		switch filepath.Ext(p) {
		case ".json":
			bodies = append(bodies, data)
		case ".jsonl":
			for _, line := range bytes.Split(data, []byte("\n")) {
				if len(bytes.TrimSpace(line)) > 0 {
					bodies = append(bodies, line)
				}
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return postEvents(url, bodies)
}

// postEvents posts each body to the webhook url and returns how many it
// posted; an answer other than 200 is an error.
func postEvents(url string, bodies [][]byte) (int, error) {
	for _, b := range bodies {
		resp, err := http.Post(url, "application/json", bytes.NewReader(b))
		if err != nil {
			return 0, fmt.Errorf("post an event: %w", err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return 0, fmt.Errorf("post an event: %s", resp.Status)
		}
	}
	return len(bodies), nil
}

// waitIdle polls /healthz until no action waits, in memory or in the
// store, for at most 30 s.
func waitIdle(ctx context.Context, url string) {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		resp, err := http.Get(url)
		if err == nil {
			var health struct {
				Queued  int `json:"queued"`
				Pending int `json:"pending_jobs"`
			}
			err = json.NewDecoder(resp.Body).Decode(&health)
			resp.Body.Close()
			if err == nil && health.Queued == 0 && health.Pending == 0 {
				return
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func printTargets(w io.Writer, t *demoTargets) {
	msgs := t.wassenger.Requests()
	fmt.Fprintf(w, "Wassenger received %s:\n", funcs.Plural(len(msgs), "request", "requests"))
	for _, r := range msgs {
		fmt.Fprintf(w, "  %s %s  %s\n", r.Method, r.Path, oneLine(string(r.Body)))
	}
	posts := t.slack.Posts()
	fmt.Fprintf(w, "Slack received %s:\n", funcs.Plural(len(posts), "message", "messages"))
	for _, p := range posts {
		where := "webhook"
		if p.Channel != "" {
			where = p.Channel
		}
		fmt.Fprintf(w, "  [%s] %s\n", where, oneLine(p.Text))
	}
	mails := t.smtp.Messages()
	fmt.Fprintf(w, "SMTP received %s:\n", funcs.Plural(len(mails), "email", "emails"))
	for _, m := range mails {
		fmt.Fprintf(w, "  to %s: %s\n", strings.Join(m.RcptTo, ", "), m.Subject)
	}
	hooks := t.crm.Requests()
	fmt.Fprintf(w, "CRM webhook received %s:\n", funcs.Plural(len(hooks), "request", "requests"))
	for _, r := range hooks {
		fmt.Fprintf(w, "  %s %s  %s\n", r.Method, r.Path, oneLine(string(r.Body)))
	}
}

func printDeadLetters(w io.Writer, dataDir string) {
	st, err := sqlite.Open(dataDir, sqlite.Options{MustExist: true})
	if err != nil {
		return
	}
	defer st.Close()
	jobs, err := st.DeadLetters(context.Background(), 20)
	if err != nil || len(jobs) == 0 {
		return
	}
	sort.Slice(jobs, func(i, j int) bool { return jobs[i].ID < jobs[j].ID })
	fmt.Fprintf(w, "Dead letters (%d):\n", len(jobs))
	for _, j := range jobs {
		fmt.Fprintf(w, "  %s: %s\n", j.Name, oneLine(j.LastError))
	}
}

// reportNew prints what the stand-ins receive after the first round.
func reportNew(ctx context.Context, w io.Writer, t *demoTargets) {
	seen := t.wassenger.Count() + t.slack.Count() + len(t.smtp.Messages()) + t.crm.Count()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			now := t.wassenger.Count() + t.slack.Count() + len(t.smtp.Messages()) + t.crm.Count()
			if now != seen {
				seen = now
				fmt.Fprintln(w)
				printTargets(w, t)
			}
		}
	}
}
