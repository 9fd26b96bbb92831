#!/usr/bin/env bash
# scripts/with-pg.sh CMD [ARGS...] — run CMD with the private PostgreSQL up.
#
# Starts the private cluster (scripts/pg.sh start, which creates and installs
# it when needed), runs CMD with the cluster's URL in
# $CRAWLMASTER_TEST_DATABASE_URL, and stops the cluster again if it was not
# running before, also when CMD fails or is interrupted. Exits with CMD's
# status. Used by `make test`, `make bench` and `make bench-scale`.
set -uo pipefail

(($# > 0)) || {
	echo "usage: scripts/with-pg.sh CMD [ARGS...]" >&2
	exit 2
}
pg=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)/pg.sh

started=
if ! "$pg" status >/dev/null 2>&1; then
	started=1
fi
stop() {
	if [[ -n $started ]]; then
		"$pg" stop >/dev/null
	fi
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

url=$("$pg" start | tail -n 1) && [[ $url == postgres://* ]] || exit 1
echo "database: $url"
CRAWLMASTER_TEST_DATABASE_URL=$url "$@"
