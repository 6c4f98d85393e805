package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// requestTimeout bounds one request, connecting included.
const requestTimeout = 30 * time.Second

// rawConn is one keep-alive HTTP/1.1 connection that posts the payload
// again and again with a new event id. It writes a request prepared once
// (the id is overwritten in place, so a request allocates nothing) and
// reads the answer with net/http's parser: the generator costs the
// server's CPU little and leaves its own CPU to the sink, so that the
// floor measures the server, not the generator.
type rawConn struct {
	ctx  context.Context
	host string
	req  []byte // the whole request
	idAt int    // where the event id starts in req
	c    net.Conn
	br   *bufio.Reader
	stop func() bool // undoes the close-on-cancel of c
}

// newRawConn prepares posts of pl to target (an http:// URL); it
// connects on the first post. ctx ends every post in flight.
func newRawConn(ctx context.Context, target string, pl *payload) (*rawConn, error) {
	u, err := url.Parse(target)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return nil, fmt.Errorf("target %q: want an http://HOST:PORT/... URL", target)
	}
	head := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: hookd-load\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n",
		u.RequestURI(), u.Host, pl.Size)
	req := append([]byte(head), pl.with(strings.Repeat("0", idLen))...)
	return &rawConn{ctx: ctx, host: u.Host, req: req, idAt: len(head) + len(pl.before)}, nil
}

// post sends the payload with id (idLen bytes) and reads the answer; it
// returns the status, or 0 on a transport error (the connection is then
// dropped and the next post connects again).
func (rc *rawConn) post(id string) int {
	if len(id) != idLen {
		panic(fmt.Sprintf("hookd-load: event id %q is not %d bytes", id, idLen))
	}
	if rc.c == nil {
		if err := rc.dial(); err != nil {
			return 0
		}
	}
	copy(rc.req[rc.idAt:], id)
	_ = rc.c.SetDeadline(time.Now().Add(requestTimeout))
	if _, err := rc.c.Write(rc.req); err != nil {
		rc.close()
		return 0
	}
	resp, err := http.ReadResponse(rc.br, nil)
	if err != nil {
		rc.close()
		return 0
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil || resp.Close {
		rc.close()
	}
	return resp.StatusCode
}

func (rc *rawConn) dial() error {
	d := net.Dialer{Timeout: requestTimeout}
	c, err := d.DialContext(rc.ctx, "tcp", rc.host)
	if err != nil {
		return err
	}
	rc.c, rc.br = c, bufio.NewReader(c)
	rc.stop = context.AfterFunc(rc.ctx, func() { c.Close() })
	return nil
}

// close drops the connection.
func (rc *rawConn) close() {
	if rc.c == nil {
		return
	}
	rc.stop()
	rc.c.Close()
	rc.c, rc.br = nil, nil
}
