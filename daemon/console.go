package daemon

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/hookd/hookd/actions/httpx"
	"github.com/hookd/hookd/actions/secret"
	"github.com/hookd/hookd/engine"
	"github.com/hookd/hookd/engine/requests"
	"github.com/hookd/hookd/event"
	"github.com/hookd/hookd/store"
)

// consoleRoutes are the admin API the console is built on, and its
// sign-in. Every route but POST /ui/login needs the admin credential.
func (d *Daemon) consoleRoutes(r *httprouter.Router) {
	r.POST("/ui/login", d.login)
	r.POST("/ui/logout", d.admin(d.logout))
	r.GET("/ui/session", d.admin(d.sessionInfo))
	r.GET("/api/rules", d.admin(d.apiRules))
	r.GET("/api/events", d.admin(d.apiEvents))
	r.GET("/api/events/*key", d.admin(d.apiEvent))
	r.GET("/api/jobs", d.admin(d.apiJobs))
	r.GET("/api/jobs/:id", d.admin(d.apiJob))
	r.DELETE("/api/jobs/:id", d.admin(d.apiDeleteJob))
	// POST /api/jobs/retry|cancel|delete (bulk) and
	// /api/jobs/{id}/retry|cancel share the router's :id segment.
	r.POST("/api/jobs/:id", d.admin(d.apiJobsBulk))
	r.POST("/api/jobs/:id/:op", d.admin(d.apiJobOp))
	r.POST("/api/dry-run", d.admin(d.apiDryRun))
}

// replyAdmin writes an admin API answer with every secret hookd knows
// (the connections', the webhook key, the admin key) masked: the last
// guard before an answer leaves, whatever field a secret hid in.
func (d *Daemon) replyAdmin(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	if err := enc.Encode(v); err != nil {
		reply(w, http.StatusInternalServerError, problem{Error: "encode answer: " + err.Error()})
		return
	}
	out := buf.Bytes()
	for _, s := range d.answerSecrets() {
		out = bytes.ReplaceAll(out, []byte(s), []byte(secret.Mask))
		if q, _ := json.Marshal(s); len(q) > 2 && string(q[1:len(q)-1]) != s {
			out = bytes.ReplaceAll(out, q[1:len(q)-1], []byte(secret.Mask))
		}
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(out)
}

// masked is s with every secret replyAdmin masks masked, for a log line
// that shows what a user typed (a mute's reason).
func (d *Daemon) masked(s string) string {
	return httpx.Scrub(s, d.answerSecrets()...)
}

// answerSecrets are the values replyAdmin masks, longest first.
func (d *Daemon) answerSecrets() []string {
	list := append([]string(nil), d.snap.Load().secrets...)
	for _, s := range []secret.String{d.cfg.WebhookKey, d.cfg.AdminKey} {
		if v := s.Reveal(); len(v) >= 6 {
			list = append(list, v)
		}
	}
	slices.SortFunc(list, func(a, b string) int { return len(b) - len(a) })
	return list
}

// storeFailed answers a store error: 404 for what is not there, 409 for
// a job in the wrong state, 503 for a store that cannot answer.
func (d *Daemon) storeFailed(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrNoEvent):
		var ne *store.NotEligibleError
		var nd *store.NotDeadError
		// Ids of jobs in another state are a conflict (409); ids of no
		// job at all are not found (404), as for GET.
		if (errors.As(err, &ne) || errors.As(err, &nd)) && !store.UnknownJobs(err) {
			d.replyAdmin(w, http.StatusConflict, problem{Error: err.Error()})
			return
		}
		d.replyAdmin(w, http.StatusNotFound, problem{Error: err.Error()})
	default:
		d.replyAdmin(w, http.StatusServiceUnavailable, problem{Error: "store unavailable: " + err.Error()})
	}
}

// badRequest answers 400.
func (d *Daemon) badRequest(w http.ResponseWriter, msg string) {
	d.replyAdmin(w, http.StatusBadRequest, problem{Error: msg})
}

// limitParam reads ?limit= (default 50, at most 1000).
func limitParam(r *http.Request) (int, error) {
	s := r.URL.Query().Get("limit")
	if s == "" {
		return 50, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 1000 {
		return 0, fmt.Errorf("limit must be a number from 1 to 1000, not %q", s)
	}
	return n, nil
}

// boolParam reads a query parameter that switches something on:
// "true" or "false", false when absent. Anything else is an error that
// names it, so that a typo does not give a default in silence.
func boolParam(r *http.Request, name string) (bool, error) {
	switch s := r.URL.Query().Get(name); s {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	default:
		return false, fmt.Errorf("%s must be true or false, not %q", name, s)
	}
}

// EventJSON is an event as GET /api/events lists it, and GET
// /api/events/{key} shows it (with Body and Jobs).
type EventJSON struct {
	// ID is Wassenger's id of the event (for a message event, the
	// message's id, which other events about it share); Key is the
	// event's identity, on which duplicates are found.
	ID         string    `json:"id"`
	Key        string    `json:"key"`
	Event      string    `json:"event"`
	Action     string    `json:"action,omitempty"`
	ReceivedAt time.Time `json:"received_at"`
	Rules      []string  `json:"rules"`
	Errors     []string  `json:"errors"`
	// Muted names the rules that matched while muted (nothing ran).
	Muted []string        `json:"muted"`
	Body  json.RawMessage `json:"body,omitempty"`
	Jobs  []JobJSON       `json:"jobs,omitempty"`
}

// eventView is e as the API shows it, with its body when withBody.
func eventView(e store.Event, withBody bool) EventJSON {
	ej := EventJSON{ID: wassengerID(e), Key: e.ID, Event: e.Name, Action: e.Action, ReceivedAt: e.ReceivedAt,
		Rules: nonNil(e.Rules), Errors: nonNil(e.Errors), Muted: nonNil(e.Muted)}
	if withBody && json.Valid(e.Body) {
		ej.Body = e.Body
	}
	return ej
}

// apiEvents is GET /api/events: a page of events, newest first.
// ?event= (a name or glob), ?rule= (fired or muted), ?state= (has a job
// pending, retrying, done or dead), ?since= (RFC 3339 time, or a period
// back from now: 2h, 7d), ?limit= (50), ?cursor= (next_cursor of the
// previous page), ?body=true to include the payloads.
func (d *Daemon) apiEvents(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	if err := checkQuery(r, "event", "rule", "state", "since", "limit", "cursor", "body"); err != nil {
		d.badRequest(w, err.Error())
		return
	}
	q := r.URL.Query()
	limit, err := limitParam(r)
	if err != nil {
		d.badRequest(w, err.Error())
		return
	}
	withBody, err := boolParam(r, "body")
	if err != nil {
		d.badRequest(w, err.Error())
		return
	}
	pq := store.EventPageQuery{Name: q.Get("event"), Rule: q.Get("rule"), JobState: q.Get("state"), Limit: limit, Cursor: q.Get("cursor")}
	if !store.ValidJobState(pq.JobState) {
		d.badRequest(w, "state must be pending, retrying, done or dead, not "+strconv.Quote(pq.JobState))
		return
	}
	if s := q.Get("since"); s != "" {
		if pq.Since, err = d.sinceParam(s); err != nil {
			d.badRequest(w, err.Error())
			return
		}
	}
	evs, next, err := d.store.EventPage(r.Context(), pq)
	if err != nil {
		if errors.Is(err, store.ErrBadQuery) {
			d.badRequest(w, err.Error())
			return
		}
		d.storeFailed(w, err)
		return
	}
	out := make([]EventJSON, len(evs))
	for i, e := range evs {
		out[i] = eventView(e, withBody)
	}
	d.replyAdmin(w, http.StatusOK, map[string]any{"events": out, "next_cursor": next})
}

// sinceParam reads ?since=: an RFC 3339 time or a period back from now.
func (d *Daemon) sinceParam(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	p, err := engine.ParsePeriod(s)
	if err != nil || p <= 0 {
		return time.Time{}, errors.New("since must be an RFC 3339 time (2026-03-01T12:00:00Z) or a period back from now (30m, 2h, 7d), not " + strconv.Quote(s))
	}
	return d.now().Add(-p), nil
}

// apiEvent is GET /api/events/{key}: the event with its payload and
// every job of its rules, each with its attempts.
func (d *Daemon) apiEvent(w http.ResponseWriter, r *http.Request, p httprouter.Params) {
	key := strings.TrimPrefix(p.ByName("key"), "/")
	e, err := d.store.Event(r.Context(), key)
	if err != nil {
		d.storeFailed(w, err)
		return
	}
	jobs, err := d.store.Jobs(r.Context(), store.JobQuery{EventID: key})
	if err != nil {
		d.storeFailed(w, err)
		return
	}
	slices.Reverse(jobs)
	ej := eventView(e, true)
	if ej.Jobs, err = d.jobViews(r, jobs, true); err != nil {
		d.storeFailed(w, err)
		return
	}
	d.replyAdmin(w, http.StatusOK, ej)
}

// JobJSON is a job as the admin API shows it.
type JobJSON struct {
	ID       int64  `json:"id"`
	EventKey string `json:"event_key"`
	// Source is what made the job: an event (GET /api/events/{key}
	// shows it), a digest sent or a timer rule's tick (no event).
	Source string `json:"source"`
	Rule   string `json:"rule"`
	Index  int    `json:"index"`
	Type   string `json:"type"`
	Name   string `json:"name"`
	// State is pending (no attempt yet), retrying (pending after a
	// failed attempt), done or dead.
	State     string         `json:"state"`
	Attempts  int            `json:"attempts"`
	NextAt    *time.Time     `json:"next_at,omitempty"`
	Reason    string         `json:"last_reason,omitempty"`
	LastError string         `json:"last_error,omitempty"`
	Response  string         `json:"response,omitempty"`
	Params    map[string]any `json:"params,omitempty"`
	CreatedAt time.Time      `json:"created_at"`
	UpdatedAt time.Time      `json:"updated_at"`
	// History lists each attempt (GET /api/jobs/{id} and the event).
	History []AttemptJSON `json:"history,omitempty"`
}

// AttemptJSON is one attempt of a job.
type AttemptJSON struct {
	N  int       `json:"n"`
	At time.Time `json:"at"`
	// Outcome is done, retry or dead.
	Outcome string `json:"outcome"`
	Reason  string `json:"reason,omitempty"`
	// Status is the HTTP or SMTP status code the target answered, when
	// the error or response names one (0 otherwise: a network error,
	// a timeout).
	Status   int    `json:"status,omitempty"`
	Error    string `json:"error,omitempty"`
	Response string `json:"response,omitempty"`
}

// statusCode finds the status code in an action's error or response:
// "... 503 Service Unavailable ...", "250 OK".
var statusCode = regexp.MustCompile(`(?:^|[^0-9.])([1-5][0-9]{2})(?:[ -][A-Za-z]|$)`)

// statusOf returns the status code text names, or 0.
func statusOf(text string) int {
	m := statusCode.FindStringSubmatch(text)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// jobView is j as the API shows it.
func jobView(j store.Job) JobJSON {
	out := JobJSON{ID: j.ID, EventKey: j.EventID, Source: store.Source(j.EventID), Rule: j.Rule, Index: j.Index, Type: j.Type, Name: j.Name,
		State: j.State, Attempts: j.Attempts, Reason: j.LastReason, LastError: j.LastError, Response: j.Response,
		CreatedAt: j.CreatedAt, UpdatedAt: j.UpdatedAt}
	if j.State == store.StatePending {
		at := j.NextAt
		out.NextAt = &at
		if j.Attempts > 0 {
			out.State = store.JobStateRetrying
		}
	}
	var params map[string]any
	if json.Unmarshal(j.Params, &params) == nil && len(params) > 0 {
		out.Params = httpx.MaskParams(j.Type, params)
	}
	return out
}

// jobViews shows jobs, with their attempts when withHistory.
func (d *Daemon) jobViews(r *http.Request, jobs []store.Job, withHistory bool) ([]JobJSON, error) {
	out := make([]JobJSON, len(jobs))
	for i, j := range jobs {
		out[i] = jobView(j)
	}
	if !withHistory || len(jobs) == 0 {
		return out, nil
	}
	ids := make([]int64, len(jobs))
	for i, j := range jobs {
		ids[i] = j.ID
	}
	att, err := d.store.Attempts(r.Context(), ids)
	if err != nil {
		return nil, err
	}
	for i := range out {
		for _, a := range att[out[i].ID] {
			aj := AttemptJSON{N: a.N, At: a.At, Outcome: a.Outcome, Reason: a.Reason, Status: statusOf(a.Detail)}
			if a.Outcome == store.AttemptDone {
				aj.Response = a.Detail
			} else {
				aj.Error = a.Detail
			}
			out[i].History = append(out[i].History, aj)
		}
	}
	return out, nil
}

// apiJobs is GET /api/jobs: a page of jobs, newest first. ?state=
// (pending, retrying, done, dead), ?event= (an event's key), ?limit=
// (50), ?cursor= (next_cursor of the previous page).
func (d *Daemon) apiJobs(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	if err := checkQuery(r, "state", "event", "limit", "cursor"); err != nil {
		d.badRequest(w, err.Error())
		return
	}
	q := r.URL.Query()
	limit, err := limitParam(r)
	if err != nil {
		d.badRequest(w, err.Error())
		return
	}
	jq := store.JobQuery{State: q.Get("state"), EventID: q.Get("event"), Limit: limit + 1}
	if !store.ValidJobState(jq.State) {
		d.badRequest(w, "state must be pending, retrying, done or dead, not "+strconv.Quote(jq.State))
		return
	}
	if c := q.Get("cursor"); c != "" {
		if jq.Before, err = strconv.ParseInt(c, 10, 64); err != nil || jq.Before <= 0 {
			d.badRequest(w, "cursor must be the next_cursor of the previous page")
			return
		}
	}
	jobs, err := d.store.Jobs(r.Context(), jq)
	if err != nil {
		d.storeFailed(w, err)
		return
	}
	next := ""
	if len(jobs) > limit {
		jobs = jobs[:limit]
		next = strconv.FormatInt(jobs[limit-1].ID, 10)
	}
	out, _ := d.jobViews(r, jobs, false)
	d.replyAdmin(w, http.StatusOK, map[string]any{"jobs": out, "next_cursor": next})
}

// jobID reads the {id} of a job route.
func (d *Daemon) jobID(w http.ResponseWriter, p httprouter.Params) (int64, bool) {
	id, err := strconv.ParseInt(p.ByName("id"), 10, 64)
	if err != nil || id <= 0 {
		d.badRequest(w, "the job id is a positive number (GET /api/jobs lists them)")
		return 0, false
	}
	return id, true
}

// apiJob is GET /api/jobs/{id}: the job with its attempts.
func (d *Daemon) apiJob(w http.ResponseWriter, r *http.Request, p httprouter.Params) {
	id, ok := d.jobID(w, p)
	if !ok {
		return
	}
	j, err := d.store.Job(r.Context(), id)
	if err != nil {
		d.storeFailed(w, err)
		return
	}
	out, err := d.jobViews(r, []store.Job{j}, true)
	if err != nil {
		d.storeFailed(w, err)
		return
	}
	d.replyAdmin(w, http.StatusOK, out[0])
}

// apiJobOp is POST /api/jobs/{id}/retry and /cancel.
func (d *Daemon) apiJobOp(w http.ResponseWriter, r *http.Request, p httprouter.Params) {
	id, ok := d.jobID(w, p)
	if !ok {
		return
	}
	switch op := p.ByName("op"); op {
	case "retry", "cancel":
		d.jobsOp(w, r, op, []int64{id})
	default:
		d.replyAdmin(w, http.StatusNotFound, problem{Error: "no job operation " + strconv.Quote(op) + ": use retry or cancel (DELETE /api/jobs/{id} deletes)"})
	}
}

// apiDeleteJob is DELETE /api/jobs/{id}.
func (d *Daemon) apiDeleteJob(w http.ResponseWriter, r *http.Request, p httprouter.Params) {
	if id, ok := d.jobID(w, p); ok {
		d.jobsOp(w, r, "delete", []int64{id})
	}
}

// BulkRequest is the body of POST /api/jobs/retry, /cancel and /delete:
// ids, or a state (dead for retry and delete: every dead letter;
// pending for cancel: every unfinished job).
type BulkRequest struct {
	IDs   []int64 `json:"ids"`
	State string  `json:"state"`
}

// apiJobsBulk is POST /api/jobs/retry, /cancel and /delete.
func (d *Daemon) apiJobsBulk(w http.ResponseWriter, r *http.Request, p httprouter.Params) {
	op := p.ByName("id")
	all := map[string]string{"retry": store.StateDead, "delete": store.StateDead, "cancel": store.StatePending}[op]
	if all == "" {
		d.replyAdmin(w, http.StatusNotFound, problem{Error: "POST /api/jobs/" + op + ": use /api/jobs/retry, /cancel or /delete with {\"ids\": [...]}, or /api/jobs/{id}/retry"})
		return
	}
	var req BulkRequest
	if err := decodeRequest(w, r, 1<<20, &req); err != nil {
		d.badRequest(w, "body: "+err.Error()+`: send {"ids": [1, 2]} or {"state": "`+all+`"}`)
		return
	}
	switch {
	case len(req.IDs) > 0 && req.State == "":
		d.jobsOp(w, r, op, req.IDs)
	case len(req.IDs) == 0 && req.State == all:
		d.jobsOp(w, r, op, nil)
	default:
		d.badRequest(w, `send either {"ids": [1, 2]} or {"state": "`+all+`"} (`+op+` by state applies to every `+all+` job)`)
	}
}

// jobsOp retries, cancels or deletes jobs (ids nil: every dead letter,
// or for cancel every pending job) and answers what it did.
func (d *Daemon) jobsOp(w http.ResponseWriter, r *http.Request, op string, ids []int64) {
	ctx := r.Context()
	var (
		n   int
		err error
	)
	switch op {
	case "retry":
		n, err = d.store.Requeue(ctx, ids)
	case "cancel":
		var done []int64
		done, err = d.store.Cancel(ctx, ids, "cancelled through the admin API")
		d.delivery.Cancel(done...)
		n = len(done)
	case "delete":
		n, err = d.store.Delete(ctx, ids)
	}
	if err != nil {
		d.storeFailed(w, err)
		return
	}
	d.log.Info("jobs changed through the admin API", "op", op, "jobs", n, "ids", ids, "remote", r.RemoteAddr)
	d.replyAdmin(w, http.StatusOK, map[string]any{"op": op, "jobs": n})
}

// RuleActivity is what one rule did recently, in GET /api/rules.
type RuleActivity struct {
	Rule string `json:"rule"`
	// LastHour and LastDay count from the store: the times the rule
	// fired (events that fired it, digests it sent, ticks of a timer
	// rule), the events that matched it while muted or hit a run-time
	// error of it, and its jobs that are dead letters.
	LastHour store.RuleCount `json:"last_1h"`
	LastDay  store.RuleCount `json:"last_24h"`
	// Held counts the matches its throttle, window or digest held back
	// since the daemon started (kept in memory only).
	Held int64 `json:"held_since_start"`
}

// RulesJSON is GET /api/rules: the reload status and each rule's
// activity.
type RulesJSON struct {
	ReloadStatus
	Activity []RuleActivity `json:"activity"`
	// Nodes are the nodes of a cluster with the rules each runs (absent
	// for one node).
	Nodes []store.NodeInfo `json:"nodes,omitempty"`
}

// apiRules is GET /api/rules.
func (d *Daemon) apiRules(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	out := RulesJSON{ReloadStatus: d.Status()}
	now := d.now()
	hour, err := d.store.RuleCounts(r.Context(), now.Add(-time.Hour))
	if err != nil {
		d.storeFailed(w, err)
		return
	}
	day, err := d.store.RuleCounts(r.Context(), now.Add(-24*time.Hour))
	if err != nil {
		d.storeFailed(w, err)
		return
	}
	if out.Nodes, err = d.nodes(r.Context()); err != nil {
		d.storeFailed(w, err)
		return
	}
	held := d.held.snapshot()
	for _, name := range out.Names {
		out.Activity = append(out.Activity, RuleActivity{Rule: name, LastHour: hour[name], LastDay: day[name], Held: held[name]})
	}
	d.replyAdmin(w, http.StatusOK, out)
}

// heldCounts counts, per rule, the matches held back by its state.
type heldCounts struct {
	mu sync.Mutex
	n  map[string]int64
}

// add counts one held match of rule.
func (h *heldCounts) add(rule string) {
	h.mu.Lock()
	if h.n == nil {
		h.n = map[string]int64{}
	}
	h.n[rule]++
	h.mu.Unlock()
}

// snapshot copies the counts.
func (h *heldCounts) snapshot() map[string]int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return maps.Clone(h.n)
}

// DryRunJSON is the answer of POST /api/dry-run.
type DryRunJSON struct {
	ID      string        `json:"id"`
	Key     string        `json:"key"`
	Event   string        `json:"event"`
	Action  string        `json:"action,omitempty"`
	Version string        `json:"rules_version"`
	Rules   []ExplainJSON `json:"rules"`
}

// ExplainJSON is one rule's explanation in a dry-run.
type ExplainJSON struct {
	Rule string `json:"rule"`
	// Outcome is fired, or why not (engine.Outcome).
	Outcome   engine.Outcome `json:"outcome"`
	Reason    string         `json:"reason,omitempty"`
	StoppedBy string         `json:"stopped_by,omitempty"`
	// Condition is the condition part by part, with each part's value.
	Condition *engine.Step   `json:"condition,omitempty"`
	Actions   []RenderedJSON `json:"actions,omitempty"`
	Errors    []string       `json:"errors,omitempty"`
	State     *StateJSON     `json:"state,omitempty"`
}

// StateJSON is what a rule's throttle, window or digest did in a
// dry-run (engine.StepInfo).
type StateJSON struct {
	Key         string     `json:"key,omitempty"`
	Count       int        `json:"count,omitempty"`
	AtLeast     int        `json:"at_least,omitempty"`
	Throttled   bool       `json:"throttled,omitempty"`
	NextAllowed *time.Time `json:"next_allowed,omitempty"`
	Due         *time.Time `json:"due,omitempty"`
	Reason      string     `json:"reason,omitempty"`
}

// stateView is info as the API shows it (nil for nil).
func stateView(info *engine.StepInfo) *StateJSON {
	if info == nil {
		return nil
	}
	out := &StateJSON{Key: info.Key, Count: info.Count, AtLeast: info.AtLeast, Throttled: info.Throttled, Reason: info.Reason}
	if !info.NextAllowed.IsZero() {
		out.NextAllowed = &info.NextAllowed
	}
	if !info.Due.IsZero() {
		out.Due = &info.Due
	}
	return out
}

// RenderedJSON is an action a dry-run rendered, and the request it
// would send (secrets masked). Nothing is sent.
type RenderedJSON struct {
	Type    string         `json:"type"`
	Name    string         `json:"name"`
	Params  map[string]any `json:"params"`
	Request string         `json:"request,omitempty"`
}

// apiDryRun is POST /api/dry-run: the running rules over the posted
// event (one Wassenger webhook body), explained rule by rule with the
// actions they would render. It sends nothing and stores nothing; rules
// that remember are judged as on their first event (state is not read).
// A rule that would fire, or whose state would take the event, while it
// or its key is muted is muted, as intake records it (see record): its
// outcome says so, with no actions and no state. An event the loop
// guard recognises as the echo of hookd's own group change is skipped by
// rules without self: true, as at intake.
func (d *Daemon) apiDryRun(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	body, err := readBody(w, r, d.cfg.MaxBody)
	if err != nil {
		d.badRequest(w, "body: "+err.Error())
		return
	}
	snap := d.snap.Load()
	evs, err := event.ParseProjected(body, snap.rules.Projection())
	switch {
	case err != nil:
		d.badRequest(w, err.Error()+": post one Wassenger webhook event (JSON with event and data)")
		return
	case len(evs) > 1:
		// message:out:failed and :sent deliveries batch up to 25 items.
		d.badRequest(w, fmt.Sprintf("the body is a batch of %d events (a JSON array): post one of its elements, the answer is about one event", len(evs)))
		return
	}
	ev := evs[0]
	out := DryRunJSON{ID: ev.ID, Key: ev.Key, Event: ev.Name, Action: ev.Action, Version: snap.rules.Hash}
	mutes, now := d.mutedNow(), d.now()
	reqs := requests.New(snap.rules, snap.router)
	// As intake does: the group:update of a change hookd asked for fires
	// only rules with self: true.
	for _, x := range snap.rules.ExplainOwn(ev, d.recogniseOwn(r.Context(), snap.rules, ev, now)) {
		ej := ExplainJSON{Rule: x.Rule.Name, Outcome: x.Outcome, Reason: x.Reason, StoppedBy: x.StoppedBy, Condition: x.Condition, State: stateView(x.State)}
		if reason, ok := mutedReason(mutes, x, now); ok {
			ej.Outcome, ej.Reason, ej.State, x.Actions = engine.OutcomeMuted, reason, nil, nil
		}
		for _, a := range x.Actions {
			rj := RenderedJSON{Type: a.Action.Type, Name: a.Action.Name, Params: httpx.MaskParams(a.Action.Type, a.Params, a.Action.Secrets()...)}
			text, unbuilt := reqs.Build(ev, a)
			if unbuilt != nil {
				// The daemon would dead-letter it: an error, as hookd
				// dry-run counts it.
				ej.Errors = append(ej.Errors, unbuilt.Error())
			}
			rj.Request = text
			ej.Actions = append(ej.Actions, rj)
		}
		for _, e := range x.Errors {
			ej.Errors = append(ej.Errors, e.Error())
		}
		out.Rules = append(out.Rules, ej)
	}
	d.replyAdmin(w, http.StatusOK, out)
}

// mutedReason says why the daemon would record x's match as muted at
// now, as record does: x fired, or its state took the event, and its
// rule, or the key its state is kept under, is muted. ok is false when
// it is not muted.
func mutedReason(mutes muteSet, x engine.RuleExplanation, now time.Time) (reason string, ok bool) {
	if x.Outcome != engine.OutcomeFired && x.Outcome != engine.OutcomeHeld {
		return "", false
	}
	key := ""
	if x.State != nil {
		key = x.State.Key
	}
	until, mutedKey, ok := mutes.mute(x.Rule.Name, key, now)
	if !ok {
		return "", false
	}
	what := "the rule"
	if mutedKey != "" {
		what = "key " + mutedKey + " of the rule"
	}
	return fmt.Sprintf("%s is muted until %s: the daemon records the match as muted and runs nothing", what, until.UTC().Format(time.RFC3339)), true
}
