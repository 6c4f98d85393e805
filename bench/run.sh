#!/usr/bin/env bash
# hookd's load measurement: the default scenarios (floor, floor+decode,
# hookd at full speed, at half that rate and at 1,000 events/s) with a
# 10,000-rule reload, then a CPU profile and an execution trace of hookd
# at full speed. Tables, JSON and profiles go to bench-out/ (git-ignored);
# generated rules files live in a temp folder and are removed.
#
#   bench/run.sh              # about two minutes on a 2-core machine
#   OUT=/some/dir bench/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-bench-out}
mkdir -p "$out"
go build -o "$out/hookd-load" ./cmd/hookd-load
go build -o "$out/hookd" ./cmd/hookd
load() { "$out/hookd-load" --hookd "$out/hookd" "$@"; }

echo "== main run: default scenarios + reload to 10,000 rules"
load --reload-rules 10000 --json-out "$out/main.json" | tee "$out/main.txt"

echo "== profile: hookd at full speed (runs as hookd-load hookd, with pprof and trace)"
load --scenarios floor,full --duration 5s \
  --cpuprofile "$out/hookd.cpu" --trace "$out/hookd.trace" --json-out "$out/profile.json" | tee "$out/profile.txt"
go tool pprof -top -nodecount=30 "$out/hookd-load" "$out/hookd.cpu" > "$out/cpu-top.txt" 2>/dev/null
go tool pprof -top -cum -nodecount=60 "$out/hookd-load" "$out/hookd.cpu" > "$out/cpu-cum.txt" 2>/dev/null
go tool trace -pprof=syscall "$out/hookd.trace" > "$out/syscall.prof" 2>/dev/null
go tool pprof -top -cum -nodecount=40 "$out/hookd-load" "$out/syscall.prof" > "$out/syscall-cum.txt" 2>/dev/null
echo "profiles: $out/cpu-top.txt $out/cpu-cum.txt $out/syscall-cum.txt"
