package daemon

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/hookd/hookd/engine"
	"github.com/hookd/hookd/store"
)

// MuteJSON is a mute as the API and `hookd mute list --json` show it.
type MuteJSON struct {
	ID        int64      `json:"id"`
	Rule      string     `json:"rule"`
	Key       string     `json:"key,omitempty"`
	Reason    string     `json:"reason"`
	By        string     `json:"by"`
	CreatedAt time.Time  `json:"created_at"`
	Until     time.Time  `json:"until"`
	EndedAt   *time.Time `json:"ended_at,omitempty"`
	EndedBy   string     `json:"ended_by,omitempty"`
	Active    bool       `json:"active"`
}

// MuteView is m as the API shows it at now.
func MuteView(m store.Mute, now time.Time) MuteJSON {
	out := MuteJSON{ID: m.ID, Rule: m.Rule, Key: m.Key, Reason: m.Reason, By: m.By, CreatedAt: m.CreatedAt, Until: m.Until, EndedBy: m.EndedBy, Active: m.Active(now)}
	if !m.EndedAt.IsZero() {
		at := m.EndedAt
		out.EndedAt = &at
	}
	return out
}

// MuteRequest is the body of POST /api/mutes.
type MuteRequest struct {
	Rule string `json:"rule"`
	// Key mutes one key of a rule that remembers ("" every key).
	Key string `json:"key"`
	// For is how long, as a period: 90s, 30m, 2h, 7d.
	For    string `json:"for"`
	Reason string `json:"reason"`
	By     string `json:"by"`
}

// NewMute checks a mute request against the rules (nil: any rule name)
// and returns the mute to store, or what is wrong with the request.
func NewMute(req MuteRequest, rules *engine.RuleSet, now time.Time) (store.Mute, error) {
	if req.Rule == "" {
		return store.Mute{}, errors.New("name the rule to mute")
	}
	if rules != nil {
		if err := CheckMuteRule(rules, req.Rule, req.Key); err != nil {
			return store.Mute{}, err
		}
	}
	d, err := engine.ParsePeriod(req.For)
	if err != nil || d <= 0 {
		return store.Mute{}, errors.New("for must be a period such as 30m, 2h or 7d, found " + strconv.Quote(req.For))
	}
	if req.Reason == "" {
		return store.Mute{}, errors.New("give a reason: it is recorded with the mute, for whoever wonders why the rule is quiet")
	}
	return store.Mute{Rule: req.Rule, Key: req.Key, Reason: req.Reason, By: req.By, Until: now.Add(d)}, nil
}

// CheckMuteRule checks the rule of a mute, and its key, against the
// rules: the rule must exist, and a key needs a rule that keeps keys.
func CheckMuteRule(rules *engine.RuleSet, rule, key string) error {
	r, ok := rules.Rule(rule)
	if !ok {
		return errors.New("no rule named " + strconv.Quote(rule) + rules.SuggestRule(rule))
	}
	if key != "" && r.KeySource() == "" {
		return errors.New("rule " + strconv.Quote(rule) + " keeps no keys (it has no window, throttle or digest key): mute the whole rule, without a key")
	}
	return nil
}

// apiAddMute is POST /api/mutes.
func (d *Daemon) apiAddMute(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	var req MuteRequest
	if err := decodeRequest(w, r, 64<<10, &req); err != nil {
		d.replyAdmin(w, http.StatusBadRequest, problem{Error: "body: " + err.Error() + `: send {"rule": "...", "for": "2h", "reason": "...", "key": "...", "by": "..."}`})
		return
	}
	if req.By == "" {
		req.By = "api"
	}
	now := d.now()
	m, err := NewMute(req, d.snap.Load().rules, now)
	if err != nil {
		d.replyAdmin(w, http.StatusBadRequest, problem{Error: err.Error()})
		return
	}
	m, err = d.store.AddMute(r.Context(), m)
	if err != nil {
		d.replyAdmin(w, http.StatusServiceUnavailable, problem{Error: "store unavailable: " + err.Error()})
		return
	}
	d.refreshMutes(r.Context())
	d.log.Info("rule muted", "id", m.ID, "rule", m.Rule, "key", m.Key, "until", m.Until, "by", m.By, "reason", d.masked(m.Reason))
	d.replyAdmin(w, http.StatusCreated, MuteView(m, now))
}

// apiMutes is GET /api/mutes: the mutes in force; ?all=true adds those
// that ended or expired (kept for the retention).
func (d *Daemon) apiMutes(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	if err := checkQuery(r, "all"); err != nil {
		d.badRequest(w, err.Error())
		return
	}
	all, err := boolParam(r, "all")
	if err != nil {
		d.badRequest(w, err.Error())
		return
	}
	now := d.now()
	list, err := d.store.Mutes(r.Context(), now, all)
	if err != nil {
		d.replyAdmin(w, http.StatusServiceUnavailable, problem{Error: "store unavailable: " + err.Error()})
		return
	}
	out := make([]MuteJSON, 0, len(list))
	for _, m := range list {
		out = append(out, MuteView(m, now))
	}
	d.replyAdmin(w, http.StatusOK, map[string]any{"mutes": out})
}

// apiEndMute is DELETE /api/mutes/:id (?by=NAME): it ends a mute now.
func (d *Daemon) apiEndMute(w http.ResponseWriter, r *http.Request, p httprouter.Params) {
	id, err := strconv.ParseInt(p.ByName("id"), 10, 64)
	if err != nil || id <= 0 {
		d.replyAdmin(w, http.StatusBadRequest, problem{Error: "the mute id is a positive number (GET /api/mutes lists them)"})
		return
	}
	if err := checkQuery(r, "by"); err != nil {
		d.replyAdmin(w, http.StatusBadRequest, problem{Error: err.Error()})
		return
	}
	by := r.URL.Query().Get("by")
	if by == "" {
		by = "api"
	}
	now := d.now()
	m, err := d.store.EndMute(r.Context(), id, by, now)
	switch {
	case errors.Is(err, store.ErrNoMute):
		d.replyAdmin(w, http.StatusNotFound, problem{Error: err.Error()})
		return
	case err != nil:
		d.replyAdmin(w, http.StatusServiceUnavailable, problem{Error: "store unavailable: " + err.Error()})
		return
	}
	d.refreshMutes(r.Context())
	d.log.Info("mute ended", "id", m.ID, "rule", m.Rule, "key", m.Key, "by", by)
	d.replyAdmin(w, http.StatusOK, MuteView(m, now))
}
