package daemon

import (
	"net/http"
	"strings"

	"github.com/julienschmidt/httprouter"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/hookd/hookd/daemon/ui"
	"github.com/hookd/hookd/event"
	"github.com/hookd/hookd/store"
)

func (d *Daemon) routes() http.Handler {
	r := httprouter.New()
	r.HandleMethodNotAllowed = true
	r.MethodNotAllowed = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		switch {
		case req.URL.Path == "/webhooks/wassenger":
			d.refuse(w, req, http.StatusMethodNotAllowed, "method", "method "+req.Method+" not allowed here; Wassenger sends POST")
		case d.adminAuth == nil && adminPath(req.URL.Path):
			reply(w, http.StatusNotFound, problem{Error: adminOff})
		default:
			// The router has set Allow to the path's methods.
			reply(w, http.StatusMethodNotAllowed, problem{Error: "method " + req.Method + " not allowed on " + req.URL.Path + ": use " + w.Header().Get("Allow")})
		}
	})
	r.NotFound = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		switch {
		case d.adminAuth == nil && adminPath(req.URL.Path):
			reply(w, http.StatusNotFound, problem{Error: adminOff})
		case strings.HasPrefix(req.URL.Path, "/api/"):
			reply(w, http.StatusNotFound, problem{Error: "no admin API path " + req.URL.Path + ": the endpoints are /api/rules, /api/events, /api/jobs, /api/mutes and /api/dry-run (docs/daemon.md#admin-api)"})
		default:
			reply(w, http.StatusNotFound, problem{Error: "no such path; webhooks go to POST /webhooks/wassenger"})
		}
	})
	r.POST("/webhooks/wassenger", d.intake)
	r.GET("/healthz", d.healthz)
	r.Handler(http.MethodGet, "/metrics", promhttp.HandlerFor(d.metrics.registry, promhttp.HandlerOpts{}))
	// The admin API and the console: the admin credential only (see
	// admin), never the webhook key.
	r.GET("/api/mutes", d.admin(d.apiMutes))
	r.POST("/api/mutes", d.admin(d.apiAddMute))
	r.DELETE("/api/mutes/:id", d.admin(d.apiEndMute))
	d.consoleRoutes(r)
	if d.adminAuth == nil {
		return r
	}
	// The console's pages (/ui/...) over this API; the rest passes on.
	c, err := ui.New(r)
	if err != nil {
		d.log.Error("the console is off", "err", err)
		return r
	}
	return c
}

// adminPath reports whether path is the admin API's or the console's.
func adminPath(path string) bool {
	return path == "/ui" || strings.HasPrefix(path, "/ui/") || strings.HasPrefix(path, "/api/")
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
