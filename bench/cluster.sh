#!/usr/bin/env bash
# One SQLite node against a cluster of three nodes (embedded NATS,
# JetStream R3), in interleaved rounds: each round runs the floor, one
# node and the cluster at full speed with intake alone (--fire none),
# then one node and the cluster at full speed and at a fixed rate with
# three actions per event. Tables and JSON go to bench-out/ (git-ignored).
#
#   bench/cluster.sh                  # three rounds, about 12 minutes on 2 cores
#   ROUNDS=5 RATE=200 bench/cluster.sh
set -euo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-bench-out}
rounds=${ROUNDS:-3}
rate=${RATE:-200}
mkdir -p "$out"
go build -o "$out/hookd-load" ./cmd/hookd-load
go build -o "$out/hookd" ./cmd/hookd
load() { "$out/hookd-load" --hookd "$out/hookd" --duration 6s "$@"; }
for i in $(seq 1 "$rounds"); do
  echo "== round $i of $rounds: intake alone; $(cut -d' ' -f1-3 /proc/loadavg)"
  load --scenarios floor,full,cluster --fire none --json-out "$out/cluster-intake-$i.json" | tee "$out/cluster-intake-$i.txt"
  echo "== round $i of $rounds: 3 actions per event, full speed and $rate events/s; $(cut -d' ' -f1-3 /proc/loadavg)"
  load --scenarios full,cluster,fixed,cluster-fixed --rate "$rate" --json-out "$out/cluster-actions-$i.json" | tee "$out/cluster-actions-$i.txt"
done
