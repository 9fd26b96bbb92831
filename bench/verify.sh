#!/usr/bin/env bash
# Runs one peer against a fresh websim and prints its JSON line, its
# /usr/bin/time -v CPU seconds and max RSS, and websim's own counters
# (requests, disallowed_hits, misdirected) after a SIGTERM.
#
#   bench/verify.sh raw|colly|scrapy [DOMAINS] [CONCURRENCY] [websim flags...]
#   e.g. bench/verify.sh colly 2000 64 --latency-median 100ms --latency-sigma 1.0 --latency-max 2s
#
# Extra peer flags go in PEER_FLAGS (e.g. PEER_FLAGS="--visitors 64").
# A fresh websim per run matters: "flaky" home pages answer 503 only to
# the first request. Builds into $WORK (default /tmp/bench-verify).
set -euo pipefail
tool=${1:?usage: verify.sh raw|colly|scrapy [DOMAINS] [CONCURRENCY] [websim flags...]}
domains=${2:-2000}
conc=${3:-64}
shift $(( $# < 3 ? $# : 3 ))
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=${WORK:-/tmp/bench-verify}
mkdir -p "$work"

(cd "$root" && go build -o "$work/websim" ./cmd/websim)
case $tool in
  raw)    (cd "$root" && go build -o "$work/rawlimit" ./bench/rawlimit); cmd=("$work/rawlimit") ;;
  colly)  (cd "$root/bench/colly" && go build -o "$work/colly" .); cmd=("$work/colly") ;;
  scrapy) cmd=("$root/bench/scrapy/run.sh") ;;
  *) echo "unknown tool $tool" >&2; exit 2 ;;
esac

dir=$(mktemp -d "$work/run-$tool.XXXX")
"$work/websim" --domains "$domains" --seed 1 --listen 127.0.0.1:0 --out "$dir/web" "$@" 2>"$dir/websim.log" &
wpid=$!
trap 'kill "$wpid" 2>/dev/null || true' EXIT
for _ in $(seq 200); do [[ -s $dir/web/addr ]] && break; sleep 0.05; done
addr=$(cat "$dir/web/addr")

# shellcheck disable=SC2086
/usr/bin/time -v -o "$dir/time" "${cmd[@]}" --list "$dir/web/tranco.csv" --websim "$addr" \
  --concurrency "$conc" --timeout 5s ${PEER_FLAGS:-} >"$dir/out.json" 2>"$dir/stderr"
kill -TERM "$wpid"; wait "$wpid" || true
trap - EXIT

truth=$(awk -F, 'NR>1 && $4=="done" && $6=="200"' "$dir/web/ground-truth.csv" | wc -l)
cpu=$(awk -F': ' '/User time/{u=$2} /System time/{s=$2} END{printf "%.2f", u+s}' "$dir/time")
rss=$(awk -F': ' '/Maximum resident/{printf "%.1f", $2/1024}' "$dir/time")
elapsed=$(awk -F': ' '/Elapsed/{print $2}' "$dir/time")
ws=$(grep -o 'msg="shutting down".*' "$dir/websim.log" | grep -o 'requests=[0-9]* disallowed_hits=[0-9]* misdirected=[0-9]*')
cat "$dir/out.json"
echo "cpu_s=$cpu max_rss_mib=$rss elapsed=$elapsed truth_done_200=$truth websim: $ws (files in $dir)"
