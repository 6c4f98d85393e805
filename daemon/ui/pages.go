package ui

import (
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Answers of the admin API, as far as the pages read them.
type (
	event struct {
		ID         string          `json:"id"`
		Key        string          `json:"key"`
		Event      string          `json:"event"`
		Action     string          `json:"action"`
		ReceivedAt time.Time       `json:"received_at"`
		Rules      []string        `json:"rules"`
		Errors     []string        `json:"errors"`
		Muted      []string        `json:"muted"`
		Body       json.RawMessage `json:"body"`
		Jobs       []job           `json:"jobs"`
	}
	job struct {
		ID        int64      `json:"id"`
		EventKey  string     `json:"event_key"`
		Source    string     `json:"source"`
		Rule      string     `json:"rule"`
		Type      string     `json:"type"`
		Name      string     `json:"name"`
		State     string     `json:"state"`
		Attempts  int        `json:"attempts"`
		NextAt    *time.Time `json:"next_at"`
		Reason    string     `json:"last_reason"`
		LastError string     `json:"last_error"`
		Response  string     `json:"response"`
		UpdatedAt time.Time  `json:"updated_at"`
		History   []attempt  `json:"history"`
	}
	attempt struct {
		N        int       `json:"n"`
		At       time.Time `json:"at"`
		Outcome  string    `json:"outcome"`
		Reason   string    `json:"reason"`
		Status   int       `json:"status"`
		Error    string    `json:"error"`
		Response string    `json:"response"`
	}
	ruleCount struct {
		Fired  int `json:"fired"`
		Muted  int `json:"muted"`
		Errors int `json:"errors"`
		Dead   int `json:"dead"`
	}
	activity struct {
		Rule     string    `json:"rule"`
		LastHour ruleCount `json:"last_1h"`
		LastDay  ruleCount `json:"last_24h"`
		Held     int64     `json:"held_since_start"`
	}
	rules struct {
		File        string     `json:"file"`
		Version     string     `json:"version"`
		LoadedAt    time.Time  `json:"loaded_at"`
		Rules       int        `json:"rules"`
		LastAttempt time.Time  `json:"last_attempt"`
		LastError   string     `json:"last_error"`
		Names       []string   `json:"names"`
		Activity    []activity `json:"activity"`
		Nodes       []node     `json:"nodes"`
	}
	node struct {
		Name         string    `json:"name"`
		RulesVersion string    `json:"rules_version"`
		RulesLoaded  time.Time `json:"rules_loaded_at"`
		SeenAt       time.Time `json:"seen_at"`
	}
	mute struct {
		ID      int64      `json:"id"`
		Rule    string     `json:"rule"`
		Key     string     `json:"key"`
		Reason  string     `json:"reason"`
		By      string     `json:"by"`
		Until   time.Time  `json:"until"`
		EndedAt *time.Time `json:"ended_at"`
		Active  bool       `json:"active"`
	}
	dryRun struct {
		Key     string    `json:"key"`
		Event   string    `json:"event"`
		Action  string    `json:"action"`
		Version string    `json:"rules_version"`
		Rules   []explain `json:"rules"`
	}
	explain struct {
		Rule      string     `json:"rule"`
		Outcome   string     `json:"outcome"`
		Reason    string     `json:"reason"`
		StoppedBy string     `json:"stopped_by"`
		Condition *step      `json:"condition"`
		Actions   []rendered `json:"actions"`
		Errors    []string   `json:"errors"`
	}
	step struct {
		Expr     string  `json:"expr"`
		Value    any     `json:"value"`
		Error    string  `json:"error"`
		Skipped  string  `json:"skipped"`
		Op       string  `json:"op"`
		Left     *step   `json:"left"`
		Right    *step   `json:"right"`
		Operands []*step `json:"operands"`
	}
	rendered struct {
		Type    string         `json:"type"`
		Name    string         `json:"name"`
		Params  map[string]any `json:"params"`
		Request string         `json:"request"`
	}
)

// Children are a step's parts, for the template.
func (s *step) Children() []*step {
	if s.Left != nil || s.Right != nil {
		return []*step{s.Left, s.Right}
	}
	return s.Operands
}

// funcs are the templates' helpers.
var funcs = template.FuncMap{
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04:05Z")
	},
	"pretty": func(raw json.RawMessage) string {
		var v any
		if json.Unmarshal(raw, &v) != nil {
			return string(raw)
		}
		// The page escapes it: show < as <, not \u003c.
		var b strings.Builder
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		_ = enc.Encode(v)
		return strings.TrimSuffix(b.String(), "\n")
	},
	"value": func(v any) string {
		var b strings.Builder
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(v)
		return strings.TrimSuffix(b.String(), "\n")
	},
	"deref": func(t *time.Time) time.Time { return *t },
	"list":  func(s ...string) []string { return s },
	"join":  strings.Join,
	"base":  filepath.Base,
	// short is the start of a rules version (a SHA-256), as git shows a
	// commit.
	"short": func(v string) string {
		if len(v) > 12 {
			return v[:12]
		}
		return v
	},
	"eventURL": eventURL,
}

// eventURL is the console page of the event with key. A key holds
// slashes and may hold empty parts (group:update/ID/restrict//true/...):
// escaped whole, it stays one path segment that no router cleans.
func eventURL(key string) string { return "/ui/events/" + url.PathEscape(key) }

// apiEventPath is the admin API's path of the event with key, escaped as
// eventURL escapes it.
func apiEventPath(key string) string { return "/api/events/" + url.PathEscape(key) }

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	// The console is off (404) without an admin credential: ask the API.
	if _, err := c.call(r, http.MethodGet, "/ui/session", nil, "", nil); err != nil {
		var ae *apiError
		if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
			c.fail(w, r, err)
			return
		}
	}
	c.render(w, http.StatusOK, "login", page{Title: "Sign in", Error: r.URL.Query().Get("error"), Data: nextOf(r.URL.Query().Get("next"))})
}

// nextOf is a console path to go to after signing in (never off-site).
func nextOf(n string) string {
	if strings.HasPrefix(n, "/ui/") && !strings.HasPrefix(n, "//") && !strings.Contains(n, "\\") {
		return n
	}
	return "/ui/events"
}

// signIn posts the form's key to the API's POST /ui/login and passes its
// session cookie on.
func (c *Console) signIn(w http.ResponseWriter, r *http.Request) {
	next := nextOf(r.PostFormValue("next"))
	h, err := c.call(r, http.MethodPost, "/ui/login", map[string]string{"key": r.PostFormValue("key")}, "", nil)
	if err != nil {
		var ae *apiError
		if errors.As(err, &ae) && ae.Status != http.StatusNotFound {
			c.render(w, ae.Status, "login", page{Title: "Sign in", Error: ae.Msg, Data: next})
			return
		}
		c.fail(w, r, err)
		return
	}
	for _, ck := range h.Values("Set-Cookie") {
		w.Header().Add("Set-Cookie", ck)
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (c *Console) signOut(w http.ResponseWriter, r *http.Request) {
	h, err := c.call(r, http.MethodPost, "/ui/logout", struct{}{}, r.PostFormValue("csrf_token"), nil)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	for _, ck := range h.Values("Set-Cookie") {
		w.Header().Add("Set-Cookie", ck)
	}
	http.Redirect(w, r, "/ui/login", http.StatusSeeOther)
}

// eventsData is the events page.
type eventsData struct {
	Filter url.Values
	Events []event
	// Next and Self are the console URLs of the older events and of
	// this list's rows (polled). A URL goes whole into an href, where
	// html/template keeps its query as it is.
	Next, Self string
}

func (c *Console) eventsPage(w http.ResponseWriter, r *http.Request) {
	csrf, ok := c.sessionOf(w, r)
	if !ok {
		return
	}
	in := r.URL.Query()
	q := url.Values{}
	for _, k := range []string{"event", "rule", "state", "since", "cursor"} {
		if v := strings.TrimSpace(in.Get(k)); v != "" {
			q.Set(k, v)
		}
	}
	q.Set("limit", "50")
	var out struct {
		Events []event `json:"events"`
		Next   string  `json:"next_cursor"`
	}
	p := page{Title: "Events", Nav: "events", CSRF: csrf}
	if _, err := c.call(r, http.MethodGet, "/api/events?"+q.Encode(), nil, "", &out); err != nil {
		var ae *apiError
		if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest {
			c.fail(w, r, err)
			return
		}
		p.Error = ae.Msg
	}
	q.Del("limit")
	q.Del("cursor")
	d := eventsData{Filter: q, Events: out.Events}
	if out.Next != "" {
		n := url.Values{}
		for k, v := range q {
			n[k] = v
		}
		n.Set("cursor", out.Next)
		d.Next = "/ui/events?" + n.Encode()
	}
	self := url.Values{}
	for k, v := range in {
		self[k] = v
	}
	self.Set("fragment", "rows")
	d.Self = "/ui/events?" + self.Encode()
	p.Data = d
	if in.Get("fragment") == "rows" {
		c.renderTemplate(w, http.StatusOK, "events", "rows", p)
		return
	}
	c.render(w, http.StatusOK, "events", p)
}

// eventData is one event's page.
type eventData struct {
	Event   event
	Explain *dryRun
	// ExplainError says why the explain is missing.
	ExplainError string
	Self         string
}

func (c *Console) eventPage(w http.ResponseWriter, r *http.Request) {
	csrf, ok := c.sessionOf(w, r)
	if !ok {
		return
	}
	key := r.PathValue("key")
	var ev event
	if _, err := c.call(r, http.MethodGet, apiEventPath(key), nil, "", &ev); err != nil {
		c.fail(w, r, err)
		return
	}
	d := eventData{Event: ev, Self: eventURL(key)}
	p := page{Title: "Event " + ev.Event, Nav: "events", CSRF: csrf, Msg: r.URL.Query().Get("msg"), Error: r.URL.Query().Get("error"), Data: &d}
	if r.URL.Query().Get("fragment") == "jobs" {
		c.renderTemplate(w, http.StatusOK, "event", "jobs", p)
		return
	}
	// The explain of the running rules: a dry-run sends nothing.
	if len(ev.Body) > 0 {
		var dr dryRun
		if _, err := c.call(r, http.MethodPost, "/api/dry-run", ev.Body, csrf, &dr); err != nil {
			d.ExplainError = err.Error()
		} else {
			d.Explain = &dr
		}
	}
	c.render(w, http.StatusOK, "event", p)
}

// jobsData is the jobs page.
type jobsData struct {
	State  string
	States []string
	Jobs   []job
	Next   string
	Self   string
}

func (c *Console) jobsPage(w http.ResponseWriter, r *http.Request) {
	csrf, ok := c.sessionOf(w, r)
	if !ok {
		return
	}
	in := r.URL.Query()
	state := in.Get("state")
	if state == "" {
		state = "dead"
	}
	if state == "all" {
		state = ""
	}
	q := url.Values{"limit": {"100"}}
	if state != "" {
		q.Set("state", state)
	}
	if cur := in.Get("cursor"); cur != "" {
		q.Set("cursor", cur)
	}
	var out struct {
		Jobs []job  `json:"jobs"`
		Next string `json:"next_cursor"`
	}
	if _, err := c.call(r, http.MethodGet, "/api/jobs?"+q.Encode(), nil, "", &out); err != nil {
		c.fail(w, r, err)
		return
	}
	if state == "" {
		state = "all"
	}
	self := "/ui/jobs?state=" + url.QueryEscape(state)
	c.render(w, http.StatusOK, "jobs", page{Title: "Jobs", Nav: "jobs", CSRF: csrf, Msg: in.Get("msg"), Error: in.Get("error"),
		Data: jobsData{State: state, States: []string{"dead", "retrying", "pending", "done", "all"}, Jobs: out.Jobs, Next: out.Next, Self: self}})
}

// jobsAction retries, cancels or deletes the checked jobs (op and ids),
// or one (row: "retry 12").
func (c *Console) jobsAction(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		c.render(w, http.StatusBadRequest, "error", page{Title: "Error", Error: "form: " + err.Error()})
		return
	}
	op, ids := r.PostFormValue("op"), r.PostForm["ids"]
	if row := r.PostFormValue("row"); row != "" {
		var id string
		op, id, _ = strings.Cut(row, " ")
		ids = []string{id}
	}
	to := back(r, "/ui/jobs")
	var req struct {
		IDs []int64 `json:"ids"`
	}
	for _, s := range ids {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			http.Redirect(w, r, withMsg(to, "error", "not a job id: "+s), http.StatusSeeOther)
			return
		}
		req.IDs = append(req.IDs, n)
	}
	if len(req.IDs) == 0 {
		http.Redirect(w, r, withMsg(to, "error", "tick the jobs to "+op+" first"), http.StatusSeeOther)
		return
	}
	if op != "retry" && op != "cancel" && op != "delete" {
		http.Redirect(w, r, withMsg(to, "error", "no operation "+strconv.Quote(op)), http.StatusSeeOther)
		return
	}
	var res struct {
		Jobs int `json:"jobs"`
	}
	if _, err := c.call(r, http.MethodPost, "/api/jobs/"+op, req, r.PostFormValue("csrf_token"), &res); err != nil {
		c.failBack(w, r, to, err)
		return
	}
	http.Redirect(w, r, withMsg(to, "msg", op+": "+strconv.Itoa(res.Jobs)+" job(s)"), http.StatusSeeOther)
}

// rulesData is the rules page.
type rulesData struct {
	Rules rules
	Mutes []mute
	// Chart is, per rule, its counts for uPlot: fired, errors, muted,
	// dead in the last hour and the last day.
	Chart map[string]string
}

func (c *Console) rulesPage(w http.ResponseWriter, r *http.Request) {
	csrf, ok := c.sessionOf(w, r)
	if !ok {
		return
	}
	var d rulesData
	if _, err := c.call(r, http.MethodGet, "/api/rules", nil, "", &d.Rules); err != nil {
		c.fail(w, r, err)
		return
	}
	var ms struct {
		Mutes []mute `json:"mutes"`
	}
	if _, err := c.call(r, http.MethodGet, "/api/mutes?all=true", nil, "", &ms); err != nil {
		c.fail(w, r, err)
		return
	}
	d.Mutes = ms.Mutes
	d.Chart = map[string]string{}
	for _, a := range d.Rules.Activity {
		b, _ := json.Marshal([][]int{
			{a.LastHour.Fired, a.LastHour.Errors, a.LastHour.Muted, a.LastHour.Dead},
			{a.LastDay.Fired, a.LastDay.Errors, a.LastDay.Muted, a.LastDay.Dead},
		})
		d.Chart[a.Rule] = string(b)
	}
	q := r.URL.Query()
	c.render(w, http.StatusOK, "rules", page{Title: "Rules", Nav: "rules", CSRF: csrf, Msg: q.Get("msg"), Error: q.Get("error"), Data: d})
}

func (c *Console) addMute(w http.ResponseWriter, r *http.Request) {
	req := map[string]string{"rule": r.PostFormValue("rule"), "key": r.PostFormValue("key"),
		"for": r.PostFormValue("for"), "reason": r.PostFormValue("reason"), "by": "console"}
	if _, err := c.call(r, http.MethodPost, "/api/mutes", req, r.PostFormValue("csrf_token"), nil); err != nil {
		c.failBack(w, r, "/ui/rules", err)
		return
	}
	http.Redirect(w, r, withMsg("/ui/rules", "msg", "muted "+req["rule"]+" for "+req["for"]), http.StatusSeeOther)
}

func (c *Console) endMute(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, err := strconv.ParseInt(id, 10, 64); err != nil {
		http.Redirect(w, r, withMsg("/ui/rules", "error", "not a mute id: "+id), http.StatusSeeOther)
		return
	}
	if _, err := c.call(r, http.MethodDelete, "/api/mutes/"+id+"?by=console", nil, r.PostFormValue("csrf_token"), nil); err != nil {
		// A mute ended already (another tab, its end time) is a 404.
		c.failBack(w, r, "/ui/rules", err)
		return
	}
	http.Redirect(w, r, withMsg("/ui/rules", "msg", "mute "+id+" ended"), http.StatusSeeOther)
}

// playgroundData is the playground.
type playgroundData struct {
	Recent []event
	Body   string
	Result *dryRun
}

func (c *Console) playground(w http.ResponseWriter, r *http.Request) {
	csrf, ok := c.sessionOf(w, r)
	if !ok {
		return
	}
	var d playgroundData
	p := page{Title: "Playground", Nav: "playground", CSRF: csrf, Data: &d}
	var recent struct {
		Events []event `json:"events"`
	}
	if _, err := c.call(r, http.MethodGet, "/api/events?limit=20", nil, "", &recent); err != nil {
		c.fail(w, r, err)
		return
	}
	d.Recent = recent.Events
	if key := r.URL.Query().Get("event"); key != "" {
		var ev event
		if _, err := c.call(r, http.MethodGet, apiEventPath(key), nil, "", &ev); err != nil {
			p.Error = err.Error()
		} else {
			d.Body = funcs["pretty"].(func(json.RawMessage) string)(ev.Body)
		}
	}
	if r.Method == http.MethodPost {
		// The API judges the body, JSON or not: its 400 says what is
		// wrong and where (line and column), as it does for a script.
		d.Body = r.PostFormValue("body")
		var dr dryRun
		if _, err := c.call(r, http.MethodPost, "/api/dry-run", json.RawMessage(d.Body), r.PostFormValue("csrf_token"), &dr); err != nil {
			var ae *apiError
			if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest {
				c.fail(w, r, err)
				return
			}
			p.Error = ae.Msg
		} else {
			d.Result = &dr
		}
	}
	c.render(w, http.StatusOK, "playground", p)
}
