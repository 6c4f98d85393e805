// Package ui is hookd's web console at /ui/: server-rendered pages
// (html/template, embedded in the binary with the vendored htmx, Pico CSS
// and uPlot under static/) built on the admin API alone. Every page and
// form calls the API's handler in-process, as a request carrying the
// browser's session cookie, CSRF token and origin headers, so that the
// API's checks (the admin credential, CSRF, the same-origin check, the
// masking of secrets) guard the console too, and the console shows
// nothing the API does not answer.
package ui

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Console serves the console's pages under /ui/ and hands every other
// request to the API handler it was built on.
type Console struct {
	api   http.Handler
	pages map[string]*template.Template
	mux   *http.ServeMux
}

// New returns the console over api, the daemon's handler of /api/ and
// /ui/login (and of everything that is not a console page).
func New(api http.Handler) (*Console, error) {
	c := &Console{api: api, pages: map[string]*template.Template{}, mux: http.NewServeMux()}
	for _, p := range []string{"login", "events", "event", "jobs", "rules", "playground", "error"} {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/explain.html", "templates/"+p+".html")
		if err != nil {
			return nil, fmt.Errorf("console template %s: %w", p, err)
		}
		c.pages[p] = t
	}
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, fmt.Errorf("console static files: %w", err)
	}
	files := http.StripPrefix("/ui/static/", http.FileServerFS(static))
	m := c.mux
	m.Handle("/", api)
	m.Handle("GET /ui/static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		files.ServeHTTP(w, r)
	}))
	m.HandleFunc("GET /ui", redirect("/ui/events"))
	m.HandleFunc("GET /ui/{$}", redirect("/ui/events"))
	m.HandleFunc("GET /ui/login", c.loginPage)
	// After a wrong key the address bar shows /ui/signin: reloading it
	// is a GET.
	m.HandleFunc("GET /ui/signin", redirect("/ui/login"))
	m.HandleFunc("POST /ui/signin", c.signIn)
	m.HandleFunc("POST /ui/signout", c.signOut)
	m.HandleFunc("GET /ui/events", c.eventsPage)
	m.HandleFunc("GET /ui/events/{key...}", c.eventPage)
	m.HandleFunc("GET /ui/jobs", c.jobsPage)
	m.HandleFunc("POST /ui/jobs", c.jobsAction)
	m.HandleFunc("GET /ui/rules", c.rulesPage)
	m.HandleFunc("POST /ui/mutes", c.addMute)
	m.HandleFunc("POST /ui/mutes/{id}/end", c.endMute)
	m.HandleFunc("GET /ui/playground", c.playground)
	m.HandleFunc("POST /ui/playground", c.playground)
	// Any other address under /ui/ is a page that is not there; the
	// API's one GET there passes on.
	m.Handle("GET /ui/session", api)
	m.HandleFunc("GET /ui/", func(w http.ResponseWriter, r *http.Request) {
		c.render(w, http.StatusNotFound, "error", page{Title: "Not found",
			Error: "no console page " + r.URL.Path + ": the pages are Events, Jobs, Rules and Playground"})
	})
	return c, nil
}

// ServeHTTP serves a console page, or hands the request to the API.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) { c.mux.ServeHTTP(w, r) }

func redirect(to string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, to, http.StatusSeeOther) }
}

// apiError is an API answer that is not 2xx.
type apiError struct {
	Status int
	Msg    string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("the admin API answered %d: %s", e.Status, e.Msg)
}

// recorder is the in-process ResponseWriter of an API call.
type recorder struct {
	h      http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.h }
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}
func (r *recorder) WriteHeader(s int) {
	if r.status == 0 {
		r.status = s
	}
}

// call sends one request to the API as the browser's session: the
// browser's cookie and, for a change, the form's CSRF token and the
// browser's own Origin and Sec-Fetch-Site, which the API checks. It
// decodes a 2xx answer into out and returns the answer's headers. A
// json.RawMessage body is sent as it is, valid JSON or not, for the API
// to judge (the playground's pasted event); any other body is encoded.
func (c *Console) call(r *http.Request, method, path string, body any, csrf string, out any) (http.Header, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case json.RawMessage:
		rd = bytes.NewReader(b)
	default:
		enc, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encode %s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(enc)
	}
	req, err := http.NewRequestWithContext(r.Context(), method, path, rd)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Host, req.RemoteAddr, req.TLS = r.Host, r.RemoteAddr, r.TLS
	for _, h := range []string{"Cookie", "X-Forwarded-Proto"} {
		if v := r.Header.Get(h); v != "" {
			req.Header.Set(h, v)
		}
	}
	if method != http.MethodGet {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-CSRF-Token", csrf)
	}
	if changes(r) {
		// The browser's own: a cross-site form post stays cross-site.
		// (A page's GET that reads through a POST, the event page's
		// dry-run, is the console's own request.)
		for _, h := range []string{"Origin", "Sec-Fetch-Site"} {
			if v := r.Header.Get(h); v != "" {
				req.Header.Set(h, v)
			}
		}
	}
	rec := &recorder{h: http.Header{}}
	c.api.ServeHTTP(rec, req)
	if rec.status/100 != 2 {
		var p struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(rec.body.Bytes(), &p)
		if p.Error == "" {
			p.Error = strings.TrimSpace(rec.body.String())
		}
		return rec.h, &apiError{Status: rec.status, Msg: p.Error}
	}
	if out != nil {
		if err := json.Unmarshal(rec.body.Bytes(), out); err != nil {
			return rec.h, fmt.Errorf("decode %s %s: %w", method, path, err)
		}
	}
	return rec.h, nil
}

// changes reports whether the browser's request may change something.
func changes(r *http.Request) bool {
	return r.Method != http.MethodGet && r.Method != http.MethodHead
}

// sessionOf returns the CSRF token of the browser's session, or writes
// the answer (a redirect to sign in, the console off) and reports false.
func (c *Console) sessionOf(w http.ResponseWriter, r *http.Request) (string, bool) {
	var s struct {
		CSRF string `json:"csrf_token"`
	}
	if _, err := r.Cookie("hookd_session"); err != nil {
		c.toLogin(w, r)
		return "", false
	}
	if _, err := c.call(r, http.MethodGet, "/ui/session", nil, "", &s); err != nil {
		c.fail(w, r, err)
		return "", false
	}
	return s.CSRF, true
}

// toLogin sends the browser to the sign-in page, back here after.
func (c *Console) toLogin(w http.ResponseWriter, r *http.Request) {
	// A poll's fragment goes back to its whole page. A key in the
	// address (the webhook's ?key=, tried on the console) is no page's:
	// it is not carried on to the sign-in page and back.
	u := *r.URL
	q := u.Query()
	q.Del("fragment")
	q.Del("key")
	u.RawQuery = q.Encode()
	next := u.RequestURI()
	if r.Method != http.MethodGet {
		next = "/ui/events"
	}
	http.Redirect(w, r, "/ui/login?next="+url.QueryEscape(next), http.StatusSeeOther)
}

// refused is what a form refused by the API's CSRF or same-origin check
// says: most often a page loaded before this browser signed in again.
const refused = "Nothing was changed: the form carried the token of an earlier sign-in (this browser signed in again since the page was loaded), or came from another site. Go back, reload the page and try again."

// fail answers an error of the API: sign in again on 401, else a page
// that says what went wrong, with the API's status.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	status := http.StatusInternalServerError
	msg := err.Error()
	if errors.As(err, &ae) {
		switch ae.Status {
		case http.StatusUnauthorized:
			c.toLogin(w, r)
			return
		case http.StatusForbidden:
			msg = refused
		}
		status = ae.Status
	}
	c.render(w, status, "error", page{Title: "Error", Error: msg})
}

// failBack answers a form's error: back to the page to with the API's
// words when the user can act on them (400, 404, 409: a wrong field, a
// job or mute that changed meanwhile), else as fail does.
func (c *Console) failBack(w http.ResponseWriter, r *http.Request, to string, err error) {
	var ae *apiError
	if errors.As(err, &ae) && (ae.Status == http.StatusBadRequest || ae.Status == http.StatusNotFound || ae.Status == http.StatusConflict) {
		http.Redirect(w, r, withMsg(to, "error", ae.Msg), http.StatusSeeOther)
		return
	}
	c.fail(w, r, err)
}

// page is what every template gets.
type page struct {
	Title string
	Nav   string
	CSRF  string
	Msg   string
	Error string
	Data  any
}

// render writes a page with the console's security headers.
func (c *Console) render(w http.ResponseWriter, status int, name string, p page) {
	c.renderTemplate(w, status, name, "layout.html", p)
}

// renderTemplate writes the template tmpl of page name (a whole page, or
// a fragment that htmx polls).
func (c *Console) renderTemplate(w http.ResponseWriter, status int, name, tmpl string, p page) {
	var buf bytes.Buffer
	if err := c.pages[name].ExecuteTemplate(&buf, tmpl, p); err != nil {
		http.Error(w, "render "+name+": "+err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// back is where a form returns to: its back field when it is a console
// path, else def.
func back(r *http.Request, def string) string {
	b := r.PostFormValue("back")
	if strings.HasPrefix(b, "/ui/") && !strings.HasPrefix(b, "//") && !strings.Contains(b, "\\") {
		return b
	}
	return def
}

// withMsg adds a message to show to a console URL.
func withMsg(u, key, msg string) string {
	sep := "?"
	if strings.Contains(u, "?") {
		sep = "&"
	}
	return u + sep + key + "=" + url.QueryEscape(msg)
}
