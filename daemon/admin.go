package daemon

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/julienschmidt/httprouter"
	"golang.org/x/crypto/bcrypt"

	"github.com/hookd/hookd/actions/secret"
)

// DefaultSessionTTL is how long a console session lasts after sign-in.
const DefaultSessionTTL = 12 * time.Hour

// Names of the admin credential's carriers.
const (
	// AdminKeyHeader carries the admin key of a script (or
	// Authorization: Bearer KEY).
	AdminKeyHeader = "X-Hookd-Admin-Key"
	// SessionCookie is the console's session cookie, set by POST
	// /ui/login.
	SessionCookie = "hookd_session"
	// CSRFHeader carries the session's CSRF token on every request that
	// changes something (or the form field csrf_token).
	CSRFHeader = "X-CSRF-Token"
)

// ReadAdminKeyFile reads the bcrypt hash of the admin key from path (one
// line, as `htpasswd -nbBC 12 "" KEY | tr -d ':\n'` prints it) and checks
// that it is one.
func ReadAdminKeyFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("admin key file: %w", err)
	}
	h := strings.TrimSpace(string(b))
	if _, err := bcrypt.Cost([]byte(h)); err != nil {
		return "", fmt.Errorf("admin key file %s: not a bcrypt hash (%v): write one with htpasswd -nbBC 12 \"\" KEY | tr -d ':\\n' > %s", path, err, path)
	}
	return h, nil
}

// adminAuth checks the admin credential and keeps the console's
// sessions in memory (a restart signs everyone out).
type adminAuth struct {
	// keyHash is the SHA-256 of Config.AdminKey (hasKey) or, with a
	// bcrypt hash, of the last key that matched it (a cache, so that
	// bcrypt runs once per key, not per request).
	mu       sync.Mutex
	hasKey   bool
	keyHash  [sha256.Size]byte
	bcrypt   []byte
	verified bool
	// sessions are keyed by the SHA-256 of the session id, so that a
	// lookup takes no time that depends on a secret.
	sessions map[[sha256.Size]byte]session
	ttl      time.Duration
	now      func() time.Time
}

// session is one signed-in browser.
type session struct {
	csrf    string
	expires time.Time
}

// newAdminAuth returns the checker of key or hash; nil when neither is
// set (the admin API and the console are off).
func newAdminAuth(key secret.String, hash string, ttl time.Duration, now func() time.Time) (*adminAuth, error) {
	a := &adminAuth{sessions: map[[sha256.Size]byte]session{}, ttl: ttl, now: now}
	switch {
	case !key.IsZero() && hash != "":
		return nil, errors.New("both an admin key and an admin key file: set one of HOOKD_ADMIN_KEY and --admin-key-file")
	case !key.IsZero():
		if len(key.Reveal()) < 16 {
			return nil, errors.New("HOOKD_ADMIN_KEY is shorter than 16 characters: use a long random secret (openssl rand -hex 32)")
		}
		a.hasKey, a.keyHash = true, sha256.Sum256([]byte(key.Reveal()))
	case hash != "":
		if _, err := bcrypt.Cost([]byte(hash)); err != nil {
			return nil, fmt.Errorf("admin key hash: %w", err)
		}
		a.bcrypt = []byte(hash)
	default:
		return nil, nil
	}
	return a, nil
}

// adminKeyIs reports whether the admin key (key, or the key of the
// bcrypt hash) is webhookKey.
func adminKeyIs(key secret.String, hash string, webhookKey secret.String) bool {
	if webhookKey.IsZero() {
		return false
	}
	if !key.IsZero() {
		return key.Reveal() == webhookKey.Reveal()
	}
	return hash != "" && bcrypt.CompareHashAndPassword([]byte(hash), []byte(webhookKey.Reveal())) == nil
}

// checkKey reports whether given is the admin key, in constant time
// (hashing first hides the key's length).
func (a *adminAuth) checkKey(given string) bool {
	if given == "" {
		return false
	}
	h := sha256.Sum256([]byte(given))
	a.mu.Lock()
	known, want := a.hasKey || a.verified, a.keyHash
	a.mu.Unlock()
	if known && subtle.ConstantTimeCompare(h[:], want[:]) == 1 {
		return true
	}
	if a.bcrypt == nil || bcrypt.CompareHashAndPassword(a.bcrypt, []byte(given)) != nil {
		return false
	}
	a.mu.Lock()
	a.verified, a.keyHash = true, h
	a.mu.Unlock()
	return true
}

// start opens a session and returns its id and CSRF token.
func (a *adminAuth) start() (id, csrf string, expires time.Time, err error) {
	if id, err = randomToken(); err == nil {
		csrf, err = randomToken()
	}
	if err != nil {
		return "", "", time.Time{}, err
	}
	now := a.now()
	expires = now.Add(a.ttl)
	a.mu.Lock()
	defer a.mu.Unlock()
	for k, s := range a.sessions {
		if !now.Before(s.expires) {
			delete(a.sessions, k)
		}
	}
	a.sessions[sha256.Sum256([]byte(id))] = session{csrf: csrf, expires: expires}
	return id, csrf, expires, nil
}

// session returns the live session of id.
func (a *adminAuth) session(id string) (session, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	s, ok := a.sessions[sha256.Sum256([]byte(id))]
	if !ok || !a.now().Before(s.expires) {
		return session{}, false
	}
	return s, true
}

// end closes the session of id.
func (a *adminAuth) end(id string) {
	a.mu.Lock()
	delete(a.sessions, sha256.Sum256([]byte(id)))
	a.mu.Unlock()
}

// randomToken returns 32 random bytes, base64url-encoded.
func randomToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// Messages of refused admin requests.
const (
	adminOff       = "the admin API and the console are off: set HOOKD_ADMIN_KEY (or --admin-key-file) to turn them on"
	adminNeeded    = "admin credential required: send Authorization: Bearer KEY (or an X-Hookd-Admin-Key header) with the value of HOOKD_ADMIN_KEY, or sign in with POST /ui/login; the webhook key does not open the admin API"
	crossSite      = "cross-site request refused: send it from the console's own origin"
	csrfMissing    = "CSRF token missing or wrong: send the session's token (from POST /ui/login or GET /ui/session) in the X-CSRF-Token header or the csrf_token form field"
	adminKeyWrong  = "wrong admin key: send the value of HOOKD_ADMIN_KEY (or the key whose hash --admin-key-file holds); the webhook key does not open the admin API"
	sessionExpired = "no session, or it expired: sign in again with POST /ui/login"
)

// admin guards the admin API and the console: the admin key in a header
// (scripts), or a session cookie (the console) with, on every request
// that changes something, its CSRF token and a same-origin check. 404
// when no admin credential is set.
func (d *Daemon) admin(h httprouter.Handle) httprouter.Handle {
	return func(w http.ResponseWriter, r *http.Request, p httprouter.Params) {
		if d.adminAuth == nil {
			reply(w, http.StatusNotFound, problem{Error: adminOff})
			return
		}
		if key, ok := adminKeyOf(r); ok {
			if !d.adminAuth.checkKey(key) {
				d.refuseAdmin(w, r, http.StatusUnauthorized, "admin_key", adminKeyWrong)
				return
			}
			h(w, r, p)
			return
		}
		c, err := r.Cookie(SessionCookie)
		if err != nil {
			d.refuseAdmin(w, r, http.StatusUnauthorized, "admin_unauthorized", adminNeeded)
			return
		}
		s, ok := d.adminAuth.session(c.Value)
		if !ok {
			d.refuseAdmin(w, r, http.StatusUnauthorized, "admin_session", sessionExpired)
			return
		}
		if changes(r) {
			if !sameOrigin(r) {
				d.refuseAdmin(w, r, http.StatusForbidden, "cross_site", crossSite)
				return
			}
			if !validCSRF(r, s.csrf) {
				d.refuseAdmin(w, r, http.StatusForbidden, "csrf", csrfMissing)
				return
			}
		}
		h(w, r, p)
	}
}

// refuseAdmin answers a refused admin request and logs it (without the
// credential).
func (d *Daemon) refuseAdmin(w http.ResponseWriter, r *http.Request, status int, reason, msg string) {
	d.log.Info("admin request refused", "status", status, "reason", reason, "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr)
	reply(w, status, problem{Error: msg})
}

// adminKeyOf returns the admin key a request carries in a header.
func adminKeyOf(r *http.Request) (string, bool) {
	if k := r.Header.Get(AdminKeyHeader); k != "" {
		return k, true
	}
	if k, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		return k, true
	}
	return "", false
}

// changes reports whether a request may change something (all but GET,
// HEAD and OPTIONS).
func changes(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

// sameOrigin reports whether a browser request comes from a page of this
// server: Sec-Fetch-Site same-origin when the browser sends it, and an
// Origin (when sent) naming this host. A request with neither (not from
// a current browser) passes; the CSRF token still guards it.
func sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" {
		return false
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && u.Host != "" && strings.EqualFold(u.Host, r.Host)
}

// validCSRF reports whether the request carries the session's CSRF
// token, compared in constant time.
func validCSRF(r *http.Request, want string) bool {
	got := r.Header.Get(CSRFHeader)
	if got == "" && isForm(r.Header.Get("Content-Type")) {
		got = r.PostFormValue("csrf_token")
	}
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// isForm reports whether a Content-Type is an HTML form's.
func isForm(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && (mt == "application/x-www-form-urlencoded" || mt == "multipart/form-data")
}

// secureRequest reports whether the browser reached hookd over HTTPS:
// TLS here, or X-Forwarded-Proto: https from a proxy in front (the
// cookie then gets Secure; a proxy must not pass a client's own
// X-Forwarded-Proto through).
func secureRequest(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// sessionJSON is the answer of POST /ui/login and GET /ui/session.
type sessionJSON struct {
	CSRFToken string    `json:"csrf_token"`
	ExpiresAt time.Time `json:"expires_at"`
}

// login is POST /ui/login: the admin key in the form field key or JSON
// {"key": "..."}; it sets the session cookie and answers the CSRF token.
func (d *Daemon) login(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	if d.adminAuth == nil {
		reply(w, http.StatusNotFound, problem{Error: adminOff})
		return
	}
	if !sameOrigin(r) {
		d.refuseAdmin(w, r, http.StatusForbidden, "cross_site", crossSite)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	var key string
	if isForm(r.Header.Get("Content-Type")) {
		key = r.PostFormValue("key")
	} else {
		var body struct {
			Key string `json:"key"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			reply(w, http.StatusBadRequest, problem{Error: `send the admin key as JSON {"key": "..."} or the form field key`})
			return
		}
		key = body.Key
	}
	if !d.adminAuth.checkKey(key) {
		d.refuseAdmin(w, r, http.StatusUnauthorized, "admin_key", adminKeyWrong)
		return
	}
	id, csrf, expires, err := d.adminAuth.start()
	if err != nil {
		reply(w, http.StatusInternalServerError, problem{Error: err.Error()})
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: SessionCookie, Value: id, Path: "/", Expires: expires, MaxAge: int(d.adminAuth.ttl.Seconds()),
		HttpOnly: true, Secure: secureRequest(r), SameSite: http.SameSiteStrictMode,
	})
	d.log.Info("console sign-in", "remote", r.RemoteAddr, "expires", expires)
	reply(w, http.StatusOK, sessionJSON{CSRFToken: csrf, ExpiresAt: expires})
}

// logout is POST /ui/logout: it ends the session and clears the cookie.
func (d *Daemon) logout(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	if c, err := r.Cookie(SessionCookie); err == nil {
		d.adminAuth.end(c.Value)
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: secureRequest(r), SameSite: http.SameSiteStrictMode})
	reply(w, http.StatusOK, map[string]bool{"signed_out": true})
}

// sessionInfo is GET /ui/session: the session's CSRF token, for a page
// to send with its changes.
func (d *Daemon) sessionInfo(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		reply(w, http.StatusBadRequest, problem{Error: "signed in with a key, not a session: there is no CSRF token to give"})
		return
	}
	s, _ := d.adminAuth.session(c.Value)
	reply(w, http.StatusOK, sessionJSON{CSRFToken: s.csrf, ExpiresAt: s.expires})
}
