#!/usr/bin/env bash
# How hookd's cost grows with the number of rules (10 to 10,000) and with
# the event's size, at full speed, each run against its own floor. Also
# intake alone (no actions) and the store's --sync normal, to separate
# the disk, the delivery and the CPU. Output goes to bench-out/ (git-ignored).
#
#   bench/scaling.sh          # about three minutes on a 2-core machine
set -euo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-bench-out}
mkdir -p "$out"
go build -o "$out/hookd-load" ./cmd/hookd-load
go build -o "$out/hookd" ./cmd/hookd
load() { "$out/hookd-load" --hookd "$out/hookd" --scenarios floor,full --duration 5s "$@"; }

for n in 10 100 1000 10000; do
  echo "== $n rules"
  load --rules-count "$n" --json-out "$out/rules-$n.json" | sed -n '/scenario  events/,/^$/p'
done
for pad in 0 16384 65536; do
  echo "== payload + $pad bytes"
  load --pad "$pad" --json-out "$out/pad-$pad.json" | sed -n '/scenario  events/,/^$/p'
done
echo "== intake alone (--fire none)"
load --fire none --json-out "$out/fire-none.json" | sed -n '/scenario  events/,/^$/p'
echo "== --sync normal"
load --sync normal --json-out "$out/sync-normal.json" | sed -n '/scenario  events/,/^$/p'
echo "== --sync normal, intake alone"
load --sync normal --fire none --json-out "$out/sync-normal-fire-none.json" | sed -n '/scenario  events/,/^$/p'
