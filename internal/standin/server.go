// Package standin runs real HTTP servers on 127.0.0.1 that stand in for
// hookd's targets: Wassenger's REST API and any webhook endpoint. They
// record every request, can be told to fail or hang, and let a caller
// wait for a condition on what they received. Tests and the load
// harness use them; nothing here depends on package testing.
package standin

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"
)

// maxBody caps how much of a request body a stand-in reads.
const maxBody = 8 << 20

// Request is one request a stand-in received.
type Request struct {
	// Method is the HTTP method.
	Method string
	// Path is the URL path, e.g. "/v1/messages".
	Path string
	// Query holds the query parameters.
	Query url.Values
	// Header holds the request headers.
	Header http.Header
	// Body holds the request body.
	Body []byte
	// Time is when the request arrived.
	Time time.Time
	// Status is the status answered; 0 while the request is held and
	// for a request held until the client gave up.
	Status int
	// Failed reports that the request was not answered with a 2xx: a
	// programmed failure or hang, or an error answer of the stand-in.
	Failed bool
}

// fault is one programmed failure.
type fault struct {
	status int
	header http.Header
	body   string
	hang   bool
}

// Server is a recording HTTP server on 127.0.0.1 that answers with a
// handler, unless a programmed failure comes first. It is safe for
// concurrent use. The zero value is not usable; see NewServer.
type Server struct {
	srv     *httptest.Server
	handler http.Handler
	closing chan struct{}
	once    sync.Once

	mu      sync.Mutex
	reqs    []Request
	changed chan struct{} // closed and replaced on every change
	faults  []fault
	always  *fault
}

// NewServer starts a recording server on 127.0.0.1 that answers every
// request with h (after any programmed failure). Close it when done.
func NewServer(h http.Handler) *Server {
	s := &Server{handler: h, closing: make(chan struct{}), changed: make(chan struct{})}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// URL is the server's base URL, e.g. "http://127.0.0.1:43125".
func (s *Server) URL() string { return s.srv.URL }

// Close releases held requests and shuts the server down.
func (s *Server) Close() {
	s.once.Do(func() {
		close(s.closing)
		s.srv.CloseClientConnections()
		s.srv.Close()
	})
}

// FailNext makes the next n requests fail with status, header and body
// (e.g. 429 with Retry-After: 2, 503, 400). Programmed failures and
// hangs are consumed in the order they were added.
func (s *Server) FailNext(n int, status int, header http.Header, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.faults = append(s.faults, fault{status: status, header: header.Clone(), body: body})
	}
}

// HangNext makes the next n requests hang: they get no answer until the
// client gives up or the server closes.
func (s *Server) HangNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.faults = append(s.faults, fault{hang: true})
	}
}

// FailAll makes every request fail with status, header and body until
// Heal is called. Queued FailNext and HangNext failures still come first.
func (s *Server) FailAll(status int, header http.Header, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.always = &fault{status: status, header: header.Clone(), body: body}
}

// HangAll makes every request hang until Heal is called (requests
// already held stay held until their client gives up).
func (s *Server) HangAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.always = &fault{hang: true}
}

// Heal drops every programmed failure: requests are answered normally
// again.
func (s *Server) Heal() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
	s.always = nil
}

// Requests returns a copy of every request received so far, in arrival
// order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.snapshot()
}

func (s *Server) snapshot() []Request {
	out := make([]Request, len(s.reqs))
	copy(out, s.reqs)
	return out
}

// Count returns how many requests arrived so far, failed ones included.
func (s *Server) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.reqs)
}

// WaitFor waits until cond holds for the requests received so far, or
// ctx ends. cond is checked once at once and again after every request
// arrives or is answered; it runs without the server's lock held and
// must not keep the slice.
func (s *Server) WaitFor(ctx context.Context, cond func([]Request) bool) error {
	for {
		s.mu.Lock()
		reqs, changed := s.snapshot(), s.changed
		s.mu.Unlock()
		if cond(reqs) {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("standin: condition not met after %d requests: %w", len(reqs), ctx.Err())
		}
	}
}

// WaitCount waits until at least n requests have arrived, or ctx ends.
func (s *Server) WaitCount(ctx context.Context, n int) error {
	return s.WaitFor(ctx, func(r []Request) bool { return len(r) >= n })
}

// notify wakes WaitFor; call with s.mu held.
func (s *Server) notify() {
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, maxBody))
	s.mu.Lock()
	idx := len(s.reqs)
	s.reqs = append(s.reqs, Request{
		Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(),
		Header: r.Header.Clone(), Body: body, Time: time.Now(),
	})
	var f *fault
	if len(s.faults) > 0 {
		f = &s.faults[0]
		s.faults = s.faults[1:]
	} else if s.always != nil {
		f = s.always
	}
	s.notify()
	s.mu.Unlock()

	status := 0
	switch {
	case f != nil && f.hang:
		select {
		case <-r.Context().Done():
		case <-s.closing:
		}
	case f != nil:
		for k, vs := range f.header {
			for _, v := range vs {
				w.Header().Add(k, v)
			}
		}
		if w.Header().Get("Content-Type") == "" && f.body != "" {
			if strings.HasPrefix(strings.TrimSpace(f.body), "{") {
				w.Header().Set("Content-Type", "application/json")
			} else {
				w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			}
		}
		w.WriteHeader(f.status)
		_, _ = io.WriteString(w, f.body)
		status = f.status
	default:
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		sw := &statusWriter{ResponseWriter: w}
		s.handler.ServeHTTP(sw, r)
		status = sw.status
		if status == 0 {
			status = http.StatusOK
		}
	}

	s.mu.Lock()
	s.reqs[idx].Status = status
	s.reqs[idx].Failed = status < 200 || status > 299
	s.notify()
	s.mu.Unlock()
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Recorder is a generic webhook target: it records every request and
// answers 200 "ok" (what a Slack incoming webhook answers), or what
// Respond set.
type Recorder struct {
	*Server

	mu     sync.Mutex
	status int
	header http.Header
	body   string
}

// NewRecorder starts a Recorder on 127.0.0.1. Close it when done.
func NewRecorder() *Recorder {
	rec := &Recorder{status: http.StatusOK, body: "ok"}
	rec.Server = NewServer(http.HandlerFunc(rec.answer))
	return rec
}

// Respond sets the answer to every request that no programmed failure
// catches.
func (rec *Recorder) Respond(status int, header http.Header, body string) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.status, rec.header, rec.body = status, header.Clone(), body
}

func (rec *Recorder) answer(w http.ResponseWriter, _ *http.Request) {
	rec.mu.Lock()
	status, header, body := rec.status, rec.header, rec.body
	rec.mu.Unlock()
	for k, vs := range header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}
