package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/julienschmidt/httprouter"
)

// floorMaxBody is the body limit of the floor servers, hookd's default.
const floorMaxBody = 2 << 20

// floorReply is what the floor answers: the shape of hookd's answer.
var floorReply = []byte(`{"accepted":1,"duplicates":0}` + "\n")

// floorHandler is the floor's webhook handler: read the body as hookd
// does and answer 200; with decode, also decode it with encoding/json
// into map[string]any and answer 400 when that fails.
func floorHandler(decode bool) httprouter.Handle {
	return func(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, floorMaxBody))
		if err != nil {
			http.Error(w, "could not read the body", http.StatusBadRequest)
			return
		}
		if decode {
			var m map[string]any
			if err := json.Unmarshal(body, &m); err != nil {
				http.Error(w, "bad JSON", http.StatusBadRequest)
				return
			}
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(floorReply)
	}
}

// newFloorServer returns the floor's HTTP server: the same router and
// timeouts as hookd's daemon, so that the ratio to it is meaningful.
func newFloorServer(decode bool, logTo io.Writer) *http.Server {
	r := httprouter.New()
	r.POST("/webhooks/wassenger", floorHandler(decode))
	return &http.Server{
		Handler:           r,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       20 * time.Second,
		WriteTimeout:      25 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(slog.NewTextHandler(logTo, nil), slog.LevelWarn),
	}
}

// runFloor is the hidden `hookd-load floor [--decode] [--listen ADDR]`:
// it serves until ctx ends (SIGTERM) and prints "listening URL" on
// stdout once it accepts connections.
func runFloor(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("hookd-load floor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	decode := fs.Bool("decode", false, "also decode the body with encoding/json into map[string]any")
	listen := fs.String("listen", "127.0.0.1:0", "address to listen on")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(stderr, "hookd-load floor: listen on %s: %v (choose another --listen)\n", *listen, err)
		return 1
	}
	srv := newFloorServer(*decode, stderr)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	fmt.Fprintf(stdout, "listening http://%s\n", ln.Addr())
	select {
	case <-ctx.Done():
	case err := <-done:
		fmt.Fprintf(stderr, "hookd-load floor: serve: %v\n", err)
		return 1
	}
	shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shut); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintf(stderr, "hookd-load floor: shutdown: %v\n", err)
	}
	return 0
}
