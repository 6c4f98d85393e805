// Command hookd-load is hookd's load harness. In one run it starts a bare
// HTTP floor server (httprouter, read the body, answer 200), the same floor
// plus encoding/json into map[string]any, and `hookd serve` with a
// generated rules file and a local sink standing in for Wassenger, Slack
// and a webhook target. It sends a recorded event (unique ids) over
// loopback with a fixed number of keep-alive connections, at full speed
// (closed loop) and at fixed rates (open loop, latency measured from the
// intended send time), and prints one row per scenario: events/s
// accepted, the ratio to the floor of the same run, reply latency,
// event-to-action latency, errors and the server's peak RSS.
//
// Usage:
//
//	go run ./cmd/hookd-load                       # the default scenarios, about a minute
//	go run ./cmd/hookd-load --smoke               # a few seconds: does the harness work?
//	go run ./cmd/hookd-load --reload-rules 10000  # also measure a 10,000-rule reload under load
//	go run ./cmd/hookd-load --cpuprofile cpu.prof # profile hookd under full load
//	go run ./cmd/hookd-load --scenarios floor,full,state --fire none --rounds 5  # the medians of five rounds in turn
//	go run ./cmd/hookd-load rules --count 1000    # print a generated rules file
//	go run ./cmd/hookd-load --scenarios full,cluster,fixed,cluster-fixed  # one SQLite node against a cluster of three
//
// Servers run as child processes, pinned to CPU 0 with taskset when it is
// available and the machine has two CPUs or more; the generator and the
// sink then run on CPU 1. The cluster scenarios start three hookd nodes,
// each with an embedded NATS server (--cluster-peers), on every CPU, and
// spread the connections over them. Everything listens on 127.0.0.1 and
// stops by itself.
package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// selfEnv marks a child process started from the harness's own binary;
// the smoke test's TestMain reads it to act as that child.
const selfEnv = "HOOKD_LOAD_SELF"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run dispatches to the hidden subcommands (the floor servers, hookd
// itself, the rules generator) or runs the load harness.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "floor":
			return runFloor(ctx, args[1:], stdout, stderr)
		case "hookd":
			return runHookd(args[1:], stdout, stderr)
		case "rules":
			return runRules(args[1:], stdout, stderr)
		}
	}
	return runLoad(ctx, args, stdout, stderr)
}
