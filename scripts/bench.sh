#!/usr/bin/env bash
# scripts/bench.sh [harness flags...] — the `make bench` harness.
#
# Installs what the comparison needs on a fresh Debian machine (Scrapy from
# Debian's python3-scrapy; Colly from the Go module proxy), builds the
# binaries and peers into bin/, starts the private PostgreSQL, runs the
# 1,000,000-line Tranco import benchmark, the revisit benchmark, then bench/harness, which crawls
# the same websim list with the raw-limit fetcher, crawlmaster (mutual TLS,
# and again with tls.plaintext for what TLS costs), Colly and Scrapy
# (workloads cpu, latency, sites, polite; --workloads picks) and writes
# BENCHMARKS.md.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

if [[ ! -x /usr/bin/scrapy ]]; then
  echo "installing Debian's python3-scrapy"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q python3-scrapy >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q python3-scrapy >/dev/null; }
fi
go build -o bin/ ./cmd/master ./cmd/assistant ./cmd/websim ./bench/rawlimit ./bench/harness
(cd bench/colly && go build -o ../../bin/colly-bench .)
url=$(scripts/pg.sh start | tail -n 1)

if [[ ${SKIP_IMPORT_BENCH:-} != 1 ]]; then
  echo "== Tranco import benchmark (1,000,000 lines)"
  CRAWLMASTER_TEST_DATABASE_URL="$url" go test -run '^$' -bench ImportTranco1M -benchtime 1x -timeout 30m ./master/ | grep -E "import of|Benchmark"
fi
if [[ ${SKIP_REVISIT_BENCH:-} != 1 ]]; then
  echo "== revisit benchmark (15,000 changing pages, a minute each with conditional requests answered and ignored)"
  CRAWLMASTER_TEST_DATABASE_URL="$url" go test -run '^$' -bench BenchmarkRevisits -benchtime 1x -timeout 10m ./master/ | grep -E "revisits of|conditional requests|Benchmark"
fi
echo "== crawl benchmark"
bin/harness --database "$url" --bin bin "$@"
