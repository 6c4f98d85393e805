package httpx

import (
	"net"
	"net/http"
	"time"
)

// Timeouts of the client NewClient builds. The whole attempt is bounded
// by the context the caller passes to Do (delivery.timeout).
const (
	DialTimeout           = 10 * time.Second
	TLSHandshakeTimeout   = 10 * time.Second
	ResponseHeaderTimeout = 30 * time.Second
	// MaxRedirects is how many same-host redirects a request follows.
	MaxRedirects = 5
)

// NewClient returns an HTTP client for action targets: dial, TLS
// handshake and response header timeouts, proxies from the environment,
// and a strict redirect policy (see CheckRedirect).
func NewClient() *http.Client {
	dialer := &net.Dialer{Timeout: DialTimeout, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   TLSHandshakeTimeout,
		ResponseHeaderTimeout: ResponseHeaderTimeout,
		ExpectContinueTimeout: time.Second,
	}
	return &http.Client{Transport: tr, CheckRedirect: CheckRedirect}
}

// CheckRedirect is the redirect policy of NewClient's client. It follows
// a redirect only when it keeps the method (so a POST is never turned
// into a GET that drops the body), stays on the same host (so headers
// like Token never reach another host) and does not go from https to
// http, at most MaxRedirects times. Otherwise the 3xx answer is returned
// as it is, and Classify makes it a permanent failure: a target that
// redirects elsewhere is misconfigured.
func CheckRedirect(req *http.Request, via []*http.Request) error {
	if len(via) == 0 {
		return nil
	}
	first := via[0]
	switch {
	case len(via) > MaxRedirects,
		req.Method != first.Method,
		req.URL.Host != first.URL.Host,
		first.URL.Scheme == "https" && req.URL.Scheme != "https":
		return http.ErrUseLastResponse
	}
	return nil
}

// Options are what an HTTP integration takes besides its connection.
type Options struct {
	// HTTPClient sends the requests (default NewClient()).
	HTTPClient *http.Client
	// Now is the clock Retry-After dates are read against (default
	// time.Now).
	Now func() time.Time
}

// WithDefaults fills what o leaves out.
func (o Options) WithDefaults() Options {
	if o.HTTPClient == nil {
		o.HTTPClient = NewClient()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}
