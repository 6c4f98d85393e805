package daemon

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/hookd/hookd/engine"
	"github.com/hookd/hookd/event"
	"github.com/hookd/hookd/store"
)

// reply writes a JSON answer.
func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

type problem struct {
	Error string `json:"error"`
}

// refuse answers a 4xx or 5xx with a short reason and counts it.
func (d *Daemon) refuse(w http.ResponseWriter, r *http.Request, status int, reason, msg string) {
	d.metrics.rejected.WithLabelValues(reason).Inc()
	d.log.Info("webhook refused", "status", status, "reason", reason, "remote", r.RemoteAddr, "detail", msg)
	reply(w, status, problem{Error: msg})
}

// authorized checks the webhook key from ?key=, X-Hookd-Key or a bearer
// token, in constant time (hashing first hides the key's length).
func (d *Daemon) authorized(r *http.Request) bool {
	if d.cfg.WebhookKey.IsZero() {
		return true
	}
	given := queryValue(r.URL.RawQuery, "key")
	if given == "" {
		given = r.Header.Get("X-Hookd-Key")
	}
	if given == "" {
		given = strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	}
	a := sha256.Sum256([]byte(given))
	return subtle.ConstantTimeCompare(a[:], d.keyHash[:]) == 1
}

// isJSON reports whether a Content-Type names JSON: application/json or
// any +json type, with or without parameters.
func isJSON(contentType string) bool {
	// The common case without parsing (and allocating).
	if ct, _, _ := strings.Cut(contentType, ";"); strings.EqualFold(strings.TrimSpace(ct), "application/json") {
		return true
	}
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}

// raiseMaxBody ends the reason of a 413: Wassenger sends the event again
// until it disables the webhook, so its operator has to raise the limit.
const raiseMaxBody = "; start hookd serve with a larger --max-body to accept it"

const unauthorized = "missing or wrong key: add ?key=SECRET to the webhook URL (or an X-Hookd-Key header) with the value of HOOKD_WEBHOOK_KEY"

type accepted struct {
	Accepted   int `json:"accepted"`
	Duplicates int `json:"duplicates"`
}

// intake is POST /webhooks/wassenger: it validates the request, decodes
// the events, evaluates the rules, and commits events and jobs to the
// store before answering 200.
func (d *Daemon) intake(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	start := time.Now()
	if !d.authorized(r) {
		d.refuse(w, r, http.StatusUnauthorized, "unauthorized", unauthorized)
		return
	}
	if !isJSON(r.Header.Get("Content-Type")) {
		d.refuse(w, r, http.StatusUnsupportedMediaType, "content_type", fmt.Sprintf("content type %q: send the event as JSON with Content-Type: application/json", r.Header.Get("Content-Type")))
		return
	}
	if r.ContentLength > d.cfg.MaxBody {
		d.refuse(w, r, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("body of %d bytes is over the limit of %d bytes%s", r.ContentLength, d.cfg.MaxBody, raiseMaxBody))
		return
	}
	body, err := readBody(w, r, d.cfg.MaxBody)
	defer bodies.put(body)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			d.refuse(w, r, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("body is over the limit of %d bytes%s", d.cfg.MaxBody, raiseMaxBody))
			return
		}
		d.refuse(w, r, http.StatusBadRequest, "read", "could not read the body: "+err.Error())
		return
	}
	snap := d.snap.Load()
	events, err := event.ParseProjected(body, snap.rules.Projection())
	if err != nil {
		reason := "bad_json"
		if errors.Is(err, event.ErrNoEvent) {
			reason = "no_event"
		}
		d.refuse(w, r, http.StatusBadRequest, reason, err.Error())
		return
	}
	now := d.now()
	recs := make([]store.Record, len(events))
	results := make([]*engine.Result, len(events))
	mutes := d.mutedNow()
	for i, ev := range events {
		ev.Own = d.recogniseOwn(r.Context(), snap.rules, ev, now)
		res := snap.rules.EvaluateAt(ev, now)
		results[i] = res
		recs[i] = record(ev, res, now, mutes, d.cfg.MaxStateKeys)
	}
	// Until its jobs are pushed, a refill of the queue waits (see
	// delivery.Deliverer.Adding).
	d.delivery.Adding()
	defer d.delivery.Added()
	outcomes, err := d.store.Accept(r.Context(), recs)
	if err != nil {
		d.log.Error("store unavailable; webhook answered 503 so the sender retries", "err", err)
		w.Header().Set("Retry-After", "15")
		d.refuse(w, r, http.StatusServiceUnavailable, "store", "events could not be stored; retry later")
		return
	}
	var out accepted
	debug := d.log.Enabled(r.Context(), slog.LevelDebug)
	for i, o := range outcomes {
		ev := events[i]
		if o.Duplicate {
			out.Duplicates++
			d.metrics.duplicates.Inc()
			d.log.Debug("duplicate event acknowledged", "event", ev.Name, "key", ev.Key)
			continue
		}
		out.Accepted++
		d.metrics.events.WithLabelValues(eventLabel(ev.Name), actionLabel(ev.Action)).Inc()
		for _, f := range results[i].Fired {
			if !slices.Contains(recs[i].Event.Muted, f.Rule.Name) {
				d.metrics.ruleMatches.WithLabelValues(f.Rule.Name).Inc()
			}
		}
		for _, name := range recs[i].Event.Muted {
			d.metrics.muted.WithLabelValues(name).Inc()
		}
		for j, so := range o.Steps {
			st := &recs[i].Steps[j]
			switch {
			case so.Fired:
				d.metrics.ruleMatches.WithLabelValues(st.Rule).Inc()
			case so.Capped:
				d.metrics.stateCapped.WithLabelValues(st.Rule).Inc()
				d.log.Warn("rule state is full: a new key was not counted (raise --max-state-keys or narrow the rule's key)", "rule", st.Rule, "key", st.Key, "cap", d.cfg.MaxStateKeys, "event", ev.Name)
			default:
				d.held.add(st.Rule)
			}
		}
		for _, e := range results[i].Errors {
			d.metrics.ruleErrors.WithLabelValues(e.Rule).Inc()
			d.log.Warn("rule failed on event", "event", ev.Name, "key", ev.Key, "err", e.Error())
		}
		if debug {
			d.log.Debug("event accepted", "event", ev.Name, "action", ev.Action, "key", ev.Key, "rules", len(recs[i].Event.Rules), "muted", len(recs[i].Event.Muted), "jobs", len(o.Jobs))
		}
		d.delivery.Push(o.Jobs...)
	}
	d.metrics.intakeSeconds.Observe(time.Since(start).Seconds())
	replyAccepted(w, out)
}

// replyAccepted answers 200 with out, as reply would, without
// encoding/json's reflection on the busiest path.
func replyAccepted(w http.ResponseWriter, out accepted) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	b := make([]byte, 0, 48)
	b = append(b, `{"accepted":`...)
	b = strconv.AppendInt(b, int64(out.Accepted), 10)
	b = append(b, `,"duplicates":`...)
	b = strconv.AppendInt(b, int64(out.Duplicates), 10)
	b = append(b, "}\n"...)
	_, _ = w.Write(b)
}

// record turns an evaluated event into what the store keeps: the rules
// that fired and their jobs, the steps of the rules that remember (the
// store applies them, and adds those that fire), and the rules that
// matched while muted, which run nothing.
func record(ev *event.Event, res *engine.Result, now time.Time, mutes muteSet, maxKeys int) store.Record {
	rec := store.Record{Event: store.Event{ID: ev.Key, Name: ev.Name, Action: ev.Action, Body: ev.Raw, ReceivedAt: now}}
	for _, f := range res.Fired {
		if mutes.muted(f.Rule.Name, "", now) {
			rec.Event.Muted = append(rec.Event.Muted, f.Rule.Name)
			continue
		}
		rec.Event.Rules = append(rec.Event.Rules, f.Rule.Name)
		jobs, probs := jobsFor(ev.Key, f.Rule.Name, f.Actions, nil)
		rec.Jobs = append(rec.Jobs, jobs...)
		rec.Event.Errors = append(rec.Event.Errors, probs...)
	}
	if len(res.Steps) > 0 {
		rec.Steps = make([]store.Step, 0, len(res.Steps))
	}
	for _, st := range res.Steps {
		if mutes.muted(st.Rule.Name, st.Key, now) {
			rec.Event.Muted = append(rec.Event.Muted, st.Rule.Name)
			continue
		}
		rec.Steps = append(rec.Steps, stateStep(ev.Key, st, maxKeys))
	}
	for _, e := range res.Errors {
		rec.Event.Errors = append(rec.Event.Errors, e.Error())
	}
	return rec
}

// readBody reads the request body, up to max bytes: into a pooled buffer
// when the request says its length and it is small enough (see bodies),
// else in one allocation.
func readBody(w http.ResponseWriter, r *http.Request, max int64) ([]byte, error) {
	body := http.MaxBytesReader(w, r.Body, max)
	if r.ContentLength <= 0 {
		return io.ReadAll(body)
	}
	b := bodies.get(r.ContentLength)
	if _, err := io.ReadFull(body, b); err != nil {
		return b, err
	}
	return b, nil
}

// queryValue is url.Values.Get for one key of a raw query, without
// building the map: the first value given for key, unescaped.
func queryValue(rawQuery, key string) string {
	for rawQuery != "" {
		var pair string
		pair, rawQuery, _ = strings.Cut(rawQuery, "&")
		if strings.Contains(pair, ";") {
			continue // as net/url, which rejects such pairs
		}
		k, v, _ := strings.Cut(pair, "=")
		if k != key {
			if !strings.ContainsAny(k, "%+") {
				continue
			}
			if uk, err := url.QueryUnescape(k); err != nil || uk != key {
				continue
			}
		}
		if !strings.ContainsAny(v, "%+") {
			return v
		}
		if uv, err := url.QueryUnescape(v); err == nil {
			return uv
		}
	}
	return ""
}
