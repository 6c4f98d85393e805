package daemon

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/julienschmidt/httprouter"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/hookd/hookd/event"
	"github.com/hookd/hookd/store"
)

func (d *Daemon) routes() http.Handler {
	r := httprouter.New()
	r.HandleMethodNotAllowed = true
	r.MethodNotAllowed = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		d.refuse(w, req, http.StatusMethodNotAllowed, "method", "method "+req.Method+" not allowed here; Wassenger sends POST")
	})
	r.NotFound = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		reply(w, http.StatusNotFound, problem{Error: "no such path; webhooks go to POST /webhooks/wassenger"})
	})
	r.POST("/webhooks/wassenger", d.intake)
	r.GET("/healthz", d.healthz)
	r.Handler(http.MethodGet, "/metrics", promhttp.HandlerFor(d.metrics.registry, promhttp.HandlerOpts{}))
	r.GET("/api/rules", d.guard(d.apiRules))
	r.GET("/api/events", d.guard(d.apiEvents))
	r.GET("/api/mutes", d.guard(d.apiMutes))
	r.POST("/api/mutes", d.guard(d.apiAddMute))
	r.DELETE("/api/mutes/:id", d.guard(d.apiEndMute))
	return r
}

// guard requires the webhook key on the API, which shows event data.
func (d *Daemon) guard(h httprouter.Handle) httprouter.Handle {
	return func(w http.ResponseWriter, r *http.Request, p httprouter.Params) {
		if !d.authorized(r) {
			d.refuse(w, r, http.StatusUnauthorized, "unauthorized", unauthorized)
			return
		}
		h(w, r, p)
	}
}

// healthz answers 200 while the store can be read and written, else 503
// with the reason, so that a container health check restarts (or a load
// balancer drains) a hookd that cannot accept events.
func (d *Daemon) healthz(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	if err := d.store.Writable(r.Context()); err != nil {
		reply(w, http.StatusServiceUnavailable, map[string]any{"status": "store cannot write", "reason": err.Error()})
		return
	}
	st, err := d.store.Stats(r.Context())
	if err != nil {
		reply(w, http.StatusServiceUnavailable, map[string]any{"status": "store unavailable", "reason": err.Error()})
		return
	}
	status := d.Status()
	reply(w, http.StatusOK, map[string]any{
		"status": "ok", "rules_version": status.Version, "rules_reload_error": status.LastError != "",
		"pending_jobs": st.Pending, "dead_letters": st.Dead, "queued": d.delivery.Depth(),
	})
}

func (d *Daemon) apiRules(w http.ResponseWriter, _ *http.Request, _ httprouter.Params) {
	reply(w, http.StatusOK, d.Status())
}

type eventJSON struct {
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
}

// apiEvents lists recent events and the rules they fired: ?limit= (50),
// ?event= (a name or glob), ?body=true to include the payloads.
func (d *Daemon) apiEvents(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	q := r.URL.Query()
	limit := 50
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			reply(w, http.StatusBadRequest, problem{Error: "limit must be a number from 1 to 1000"})
			return
		}
		limit = n
	}
	withBody := q.Get("body") == "true"
	out := []eventJSON{}
	err := d.store.Events(r.Context(), store.EventQuery{Name: q.Get("event"), Limit: limit}, func(e store.Event) error {
		ej := eventJSON{ID: wassengerID(e), Key: e.ID, Event: e.Name, Action: e.Action, ReceivedAt: e.ReceivedAt, Rules: nonNil(e.Rules), Errors: nonNil(e.Errors), Muted: nonNil(e.Muted)}
		if withBody && json.Valid(e.Body) {
			ej.Body = e.Body
		}
		out = append(out, ej)
		return nil
	})
	if err != nil {
		reply(w, http.StatusServiceUnavailable, problem{Error: "store unavailable: " + err.Error()})
		return
	}
	reply(w, http.StatusOK, map[string]any{"events": out})
}

// wassengerID is the id field (else entityId) of a stored event's body;
// the store keeps the event's identity key, not this id.
func wassengerID(e store.Event) string {
	evs, err := event.Parse(e.Body)
	if err != nil || len(evs) != 1 {
		return e.ID
	}
	return evs[0].ID
}

func nonNil(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}
