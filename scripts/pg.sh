#!/usr/bin/env bash
# scripts/pg.sh - manage crawlmaster's private PostgreSQL 15 cluster (dev and tests).
#
# Usage: scripts/pg.sh start|stop|status|url|psql [psql args...]
#
#   start   initialise the cluster on first use, start it, wait until it accepts
#           connections and print its URL as the last line of stdout. Idempotent:
#           if it is already running it just prints the URL. Safe to run
#           concurrently (serialised with flock).
#   stop    fast shutdown (pg_ctl -m fast). Idempotent.
#   status  exit 0 if the cluster is running, 3 if not.
#   url     print the connection URL.
#   psql    run psql against the crawlmaster database; extra args go to psql.
#
# Environment:
#   CRAWLMASTER_PGDATA  data directory        (default <repo>/.data/pg)
#   CRAWLMASTER_PGPORT  TCP port on 127.0.0.1 (default 15432)
#   CRAWLMASTER_PGBIN   server binaries       (default /usr/lib/postgresql/15/bin)
#
# The unix socket lives in "<data dir>sock" (default <repo>/.data/pgsock), the
# start/stop lock in "<data dir>.lock", server logs in "<data dir>/log/".
#
# PostgreSQL refuses to run as root: when this script runs as root, initdb and
# pg_ctl run as the "postgres" OS user (which must be able to reach the data
# directory); otherwise they run as the current user. If PostgreSQL 15 is
# missing and we are root, it is installed with apt-get (Debian 12 ships 15).
# The Debian-packaged default cluster (15/main on port 5432), if any, is left
# alone: this cluster uses its own port, socket dir and data dir.

set -euo pipefail
umask 022

readonly PG_MAJOR=15
readonly DB_USER=crawlmaster
readonly DB_NAME=crawlmaster
readonly LISTEN_ADDR=127.0.0.1
readonly LOCK_TIMEOUT_SECS=600
readonly START_TIMEOUT_SECS=120
readonly BIND_RETRY_SECS=90

die() {
	printf 'pg.sh: error: %s\n' "$*" >&2
	exit 1
}

info() {
	printf 'pg.sh: %s\n' "$*" >&2
}

usage() {
	cat >&2 <<'EOF'
usage: scripts/pg.sh start|stop|status|url|psql [psql args...]
  env: CRAWLMASTER_PGDATA (default <repo>/.data/pg), CRAWLMASTER_PGPORT (default 15432),
       CRAWLMASTER_PGBIN (default /usr/lib/postgresql/15/bin)
EOF
}

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
REPO_ROOT=$(cd -- "$SCRIPT_DIR/.." && pwd -P)
readonly SCRIPT_DIR REPO_ROOT

PGBIN=${CRAWLMASTER_PGBIN:-/usr/lib/postgresql/$PG_MAJOR/bin}
PGDATA_DIR=${CRAWLMASTER_PGDATA:-$REPO_ROOT/.data/pg}
PG_PORT=${CRAWLMASTER_PGPORT:-15432}

if [[ ! $PG_PORT =~ ^[0-9]{1,5}$ ]] || ((10#$PG_PORT < 1 || 10#$PG_PORT > 65535)); then
	die "CRAWLMASTER_PGPORT must be a TCP port number (1-65535), got '$PG_PORT'"
fi
PG_PORT=$((10#$PG_PORT))
[[ -n $PGDATA_DIR ]] || die "CRAWLMASTER_PGDATA is empty"
# Absolute path without trailing slashes; "/" itself makes no sense here.
[[ $PGDATA_DIR == /* ]] || PGDATA_DIR=$PWD/$PGDATA_DIR
while [[ $PGDATA_DIR == */ ]]; do PGDATA_DIR=${PGDATA_DIR%/}; done
[[ -n $PGDATA_DIR ]] || die "CRAWLMASTER_PGDATA must not be /"
# The path ends up quoted in postgresql.conf (unix_socket_directories).
[[ $PGDATA_DIR =~ ^[A-Za-z0-9._/+@-]+$ ]] ||
	die "CRAWLMASTER_PGDATA may only contain letters, digits and ._/+@- (got '$PGDATA_DIR')"

DATA_PARENT=$(dirname -- "$PGDATA_DIR")
SOCK_DIR=${PGDATA_DIR}sock
LOCK_FILE=${PGDATA_DIR}.lock
URL="postgres://$DB_USER@$LISTEN_ADDR:$PG_PORT/$DB_NAME?sslmode=disable"
readonly PGBIN PGDATA_DIR PG_PORT DATA_PARENT SOCK_DIR LOCK_FILE URL

if [[ $(id -u) -eq 0 ]]; then
	IS_ROOT=1
	PG_OS_USER=postgres
else
	IS_ROOT=0
	PG_OS_USER=$(id -un)
fi
readonly IS_ROOT PG_OS_USER

# as_pg CMD... runs a server-side command as the OS user that owns the cluster,
# from / (the caller's cwd may be unreadable for postgres) and without the lock
# fd, so that the postmaster does not inherit - and hold - the flock forever.
as_pg() {
	if ((IS_ROOT)); then
		(cd / && runuser -u postgres -- "$@" 9>&-)
	else
		(cd / && "$@" 9>&-)
	fi
}

have_server_bins() {
	[[ -x $PGBIN/initdb && -x $PGBIN/pg_ctl && -x $PGBIN/postgres ]]
}

APT_UPDATED=0

apt_update() {
	((APT_UPDATED)) && return 0
	export DEBIAN_FRONTEND=noninteractive
	apt-get -o DPkg::Lock::Timeout=300 -qq update </dev/null >&2 ||
		die "apt-get update failed (needed to install PostgreSQL packages)"
	APT_UPDATED=1
}

# apt_install PKG... installs Debian packages non-interactively (root only).
apt_install() {
	((IS_ROOT)) ||
		die "$* is not installed and we are not root; install it first, e.g.: sudo apt-get install -y $*"
	command -v apt-get >/dev/null 2>&1 ||
		die "$* is not installed and apt-get is not available; install PostgreSQL $PG_MAJOR and/or set CRAWLMASTER_PGBIN"
	info "installing $* with apt-get (one-time, may take a minute)"
	apt_update
	DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 -qq install -y --no-install-recommends "$@" </dev/null >&2 ||
		die "apt-get install $* failed"
}

ensure_server_bins() {
	have_server_bins && return 0
	[[ -z ${CRAWLMASTER_PGBIN:-} ]] ||
		die "CRAWLMASTER_PGBIN=$PGBIN does not contain initdb, pg_ctl and postgres"
	info "PostgreSQL $PG_MAJOR server binaries not found in $PGBIN"
	local pkg=postgresql-$PG_MAJOR
	if ((IS_ROOT)) && command -v apt-get >/dev/null 2>&1; then
		apt_update
		# Debian 12 has postgresql-15; elsewhere fall back to the default version.
		apt-cache show "$pkg" >/dev/null 2>&1 || pkg=postgresql
	fi
	apt_install "$pkg"
	have_server_bins ||
		die "installed $pkg but $PGBIN/{initdb,pg_ctl,postgres} are still missing (does this distribution ship PostgreSQL $PG_MAJOR?); set CRAWLMASTER_PGBIN"
}

# find_client NAME prints the path of a client binary (psql, pg_isready),
# installing postgresql-client if there is none.
find_client() {
	local name=$1
	if [[ -x $PGBIN/$name ]]; then
		printf '%s\n' "$PGBIN/$name"
		return 0
	fi
	if ! command -v "$name" >/dev/null 2>&1; then
		apt_install postgresql-client
	fi
	command -v "$name" || die "$name not found even after installing postgresql-client"
}

# pg_client CMD [ARGS...] runs a client binary against the cluster as the
# current user, without inheriting environment that could redirect it.
pg_client() {
	env -u PGSERVICE -u PGSERVICEFILE -u PGOPTIONS -u PGHOSTADDR \
		PGSSLMODE=disable PGCONNECT_TIMEOUT=10 "$@" 9>&-
}

is_running() {
	[[ -f $PGDATA_DIR/PG_VERSION ]] || return 1
	have_server_bins || return 1
	as_pg "$PGBIN/pg_ctl" status -D "$PGDATA_DIR" >/dev/null 2>&1
}

acquire_lock() {
	mkdir -p -- "$DATA_PARENT" || die "cannot create $DATA_PARENT"
	exec 9>>"$LOCK_FILE" || die "cannot open lock file $LOCK_FILE"
	flock -w "$LOCK_TIMEOUT_SECS" 9 ||
		die "timed out after ${LOCK_TIMEOUT_SECS}s waiting for $LOCK_FILE (another scripts/pg.sh start/stop is stuck?)"
}

# check_reachable DIR: the postgres OS user must be able to traverse every
# ancestor of DIR. We only ever chmod directories inside <repo>/.data (ours);
# anything else gets a clear error instead.
check_reachable() {
	local target=$1
	((IS_ROOT)) || return 0
	runuser -u postgres -- test -x "$target" 2>/dev/null && return 0
	local d="" part mode owner
	local -a parts
	IFS=/ read -r -a parts <<<"${target#/}"
	for part in "${parts[@]}"; do
		[[ -n $part ]] || continue
		d+=/$part
		[[ -d $d ]] || break
		runuser -u postgres -- test -x "$d" 2>/dev/null && continue
		if [[ $d == "$REPO_ROOT/.data" || $d == "$REPO_ROOT/.data/"* ]]; then
			info "making $d traversable for the postgres user (chmod a+x)"
			chmod a+x -- "$d" || die "chmod a+x $d failed"
			continue
		fi
		mode=$(stat -c %A -- "$d")
		owner=$(stat -c %U:%G -- "$d")
		die "the 'postgres' OS user cannot enter $d ($mode $owner), so it cannot reach $target." \
			"PostgreSQL refuses to run as root, so the cluster runs as 'postgres'." \
			"Fix: 'chmod o+x $d', or set CRAWLMASTER_PGDATA to a reachable path (e.g. /var/tmp/crawlmaster/pg)."
	done
	runuser -u postgres -- test -x "$target" 2>/dev/null ||
		die "the 'postgres' OS user cannot enter $target"
}

# fix_owner DIR makes sure DIR and everything below it belongs to the cluster's
# OS user (e.g. after it was created or touched by root).
fix_owner() {
	local d=$1 owner
	[[ -e $d ]] || return 0
	if ((IS_ROOT)); then
		if [[ -n $(find "$d" ! -user postgres -print -quit 2>/dev/null) ]]; then
			info "fixing ownership of $d (-> postgres)"
			chown -R postgres:postgres -- "$d" || die "chown -R postgres:postgres $d failed"
		fi
	else
		owner=$(stat -c %U -- "$d")
		[[ $owner == "$PG_OS_USER" && -z $(find "$d" ! -user "$PG_OS_USER" -print -quit 2>/dev/null) ]] ||
			die "$d is (partly) owned by '$owner', not by you ($PG_OS_USER), and only root can fix that." \
				"Run 'sudo chown -R $PG_OS_USER $d', run this script as root, or remove $d to start afresh."
	fi
}

# write_owned FILE: stdin -> FILE, owned by the cluster's OS user.
write_owned() {
	local file=$1
	cat >"$file.tmp.$$" || die "cannot write $file"
	if ((IS_ROOT)); then
		chown postgres:postgres -- "$file.tmp.$$" || die "chown $file failed"
	fi
	chmod 0600 -- "$file.tmp.$$"
	mv -f -- "$file.tmp.$$" "$file" || die "cannot write $file"
}

prepare_dirs() {
	if ((IS_ROOT)); then
		getent passwd postgres >/dev/null ||
			die "there is no 'postgres' OS user (normally created by the postgresql-common package)"
		command -v runuser >/dev/null 2>&1 || die "runuser (util-linux) not found"
	fi
	# Unix socket paths are limited to 107 bytes.
	local sock="$SOCK_DIR/.s.PGSQL.$PG_PORT.lock"
	((${#sock} <= 107)) ||
		die "socket path $sock is longer than 107 bytes; use a shorter CRAWLMASTER_PGDATA"
	if [[ ! -d $SOCK_DIR ]]; then
		mkdir -p -- "$SOCK_DIR" || die "cannot create socket dir $SOCK_DIR"
		if ((IS_ROOT)); then
			chown postgres:postgres -- "$SOCK_DIR" || die "chown $SOCK_DIR failed"
		fi
	fi
	fix_owner "$SOCK_DIR"
	check_reachable "$SOCK_DIR"
	if [[ -e $PGDATA_DIR ]]; then
		[[ -d $PGDATA_DIR ]] || die "$PGDATA_DIR exists but is not a directory"
		[[ -r $PGDATA_DIR && -x $PGDATA_DIR ]] ||
			die "$PGDATA_DIR is not accessible to you ($(stat -c '%A %U:%G' -- "$PGDATA_DIR")); run as root, or remove it to start afresh"
		# Never chown/chmod a directory that is not (or not yet) a cluster.
		if [[ ! -f $PGDATA_DIR/PG_VERSION && -n $(find "$PGDATA_DIR" -mindepth 1 -print -quit) ]]; then
			die "$PGDATA_DIR exists but is not a PostgreSQL data directory (no PG_VERSION) and is not empty; move it away or remove it"
		fi
		fix_owner "$PGDATA_DIR"
		# The server refuses data dirs with group/other permissions beyond 0750.
		local mode
		mode=$(stat -c %a -- "$PGDATA_DIR")
		if [[ $mode != 700 && $mode != 750 ]]; then
			info "fixing permissions of $PGDATA_DIR ($mode -> 700)"
			as_pg chmod 0700 "$PGDATA_DIR" || die "chmod 0700 $PGDATA_DIR failed"
		fi
		check_reachable "$PGDATA_DIR"
	fi
}

init_cluster() {
	if [[ -f $PGDATA_DIR/PG_VERSION ]]; then
		local ver
		ver=$(<"$PGDATA_DIR/PG_VERSION")
		[[ $ver == "$PG_MAJOR" ]] ||
			die "$PGDATA_DIR holds a PostgreSQL $ver cluster, this script runs $PG_MAJOR; remove it (rm -rf $PGDATA_DIR) to recreate"
		return 0
	fi
	if [[ -e $PGDATA_DIR ]]; then
		rmdir -- "$PGDATA_DIR" 2>/dev/null ||
			die "$PGDATA_DIR exists but is not a PostgreSQL data directory (no PG_VERSION) and is not empty; move it away or remove it"
	fi

	info "initialising a new PostgreSQL $PG_MAJOR cluster in $PGDATA_DIR"
	# initdb into a scratch dir and rename it into place, so an interrupted
	# initdb never leaves a half-made data dir behind. (We hold the lock.)
	local tmp=$PGDATA_DIR.initdb-tmp out
	rm -rf -- "$tmp"
	mkdir -m 0700 -- "$tmp" || die "cannot create $tmp"
	if ((IS_ROOT)); then
		chown postgres:postgres -- "$tmp" || die "chown $tmp failed"
	fi
	check_reachable "$tmp"
	out=$(mktemp) || die "mktemp failed"
	if ! as_pg "$PGBIN/initdb" -D "$tmp" -U "$DB_USER" --auth=trust \
		--encoding=UTF8 --locale=C >"$out" 2>&1; then
		cat "$out" >&2
		rm -f -- "$out"
		rm -rf -- "$tmp"
		die "initdb failed for $PGDATA_DIR (output above)"
	fi
	rm -f -- "$out"

	# Private throwaway cluster: it listens only on 127.0.0.1 and on a socket in
	# our own directory, so 'trust' auth is fine here (anyone who can connect
	# already has a shell on this machine). Never expose it beyond loopback.
	write_owned "$tmp/pg_hba.conf" <<'EOF'
# Generated by scripts/pg.sh: private dev/test cluster bound to loopback only,
# hence trust auth. TYPE  DATABASE  USER  ADDRESS  METHOD
local   all             all                     trust
host    all             all     127.0.0.1/32    trust
local   replication     all                     trust
host    replication     all     127.0.0.1/32    trust
EOF
	# Appending keeps the file's owner (postgres when we are root).
	printf '\n# crawlmaster settings, regenerated by scripts/pg.sh on every start\ninclude_if_exists = %s\n' \
		"'crawlmaster.conf'" >>"$tmp/postgresql.conf" || die "cannot edit $tmp/postgresql.conf"
	mv -- "$tmp" "$PGDATA_DIR" || die "cannot move $tmp to $PGDATA_DIR"
}

# wal_compression: lz4 is much cheaper on CPU than the built-in pglz ("on");
# use it when the server was built with it (Debian's is).
wal_compression_method() {
	local configure=""
	if [[ -x $PGBIN/pg_config ]]; then
		configure=$("$PGBIN/pg_config" --configure 2>/dev/null) || configure=""
	fi
	if [[ $configure == *--with-lz4* ]]; then
		printf 'lz4\n'
	else
		printf 'on\n'
	fi
}

# write_conf regenerates crawlmaster.conf (port/socket may change via env).
# It returns 0 if the file changed, 1 if it was already up to date.
write_conf() {
	local file=$PGDATA_DIR/crawlmaster.conf new wal_compression
	wal_compression=$(wal_compression_method)
	new=$(
		cat <<EOF
# Generated by scripts/pg.sh on every start: edit the script, not this file.
cluster_name = 'crawlmaster'
listen_addresses = '$LISTEN_ADDR'
port = $PG_PORT
unix_socket_directories = '$SOCK_DIR'
max_connections = 100
shared_buffers = 256MB
maintenance_work_mem = 128MB

# Durability stays at PostgreSQL's defaults: crawl state must survive a crash.
fsync = on
synchronous_commit = on
full_page_writes = on

# WAL: fewer, spread-out checkpoints for bursty crawl writes.
max_wal_size = 2GB
min_wal_size = 256MB
checkpoint_timeout = 15min
checkpoint_completion_target = 0.9
wal_compression = $wal_compression

# Logs go to <data dir>/log/, one file per weekday, recycled weekly.
logging_collector = on
log_directory = 'log'
log_filename = 'postgresql-%a.log'
log_truncate_on_rotation = on
log_rotation_age = 1d
log_rotation_size = 0
log_line_prefix = '%m [%p] %q%u@%d '
log_lock_waits = on
log_timezone = 'UTC'
timezone = 'UTC'
EOF
	)
	if [[ -f $file && $(<"$file") == "$new" ]]; then
		return 1
	fi
	write_owned "$file" <<<"$new"
}

wait_ready() {
	local isready deadline=$((SECONDS + START_TIMEOUT_SECS))
	isready=$(find_client pg_isready)
	until pg_client "$isready" -q -h "$LISTEN_ADDR" -p "$PG_PORT" -U "$DB_USER" -d postgres -t 2; do
		((SECONDS < deadline)) ||
			die "cluster at $PGDATA_DIR is running but not accepting connections on $LISTEN_ADDR:$PG_PORT after ${START_TIMEOUT_SECS}s; see $PGDATA_DIR/log/"
		sleep 0.2
	done
}

ensure_database() {
	local psql exists
	psql=$(find_client psql)
	exists=$(pg_client "$psql" -X -q -t -A -v ON_ERROR_STOP=1 -h "$LISTEN_ADDR" -p "$PG_PORT" -U "$DB_USER" -d postgres \
		-c "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'") ||
		die "cannot query $LISTEN_ADDR:$PG_PORT as $DB_USER (is this our cluster?)"
	[[ $exists == 1 ]] && return 0
	info "creating database $DB_NAME"
	pg_client "$psql" -X -q -v ON_ERROR_STOP=1 -h "$LISTEN_ADDR" -p "$PG_PORT" -U "$DB_USER" -d postgres \
		-c "CREATE DATABASE $DB_NAME OWNER $DB_USER" >&2 ||
		die "CREATE DATABASE $DB_NAME failed"
}

# warn_version_skew warns when the running server is older/newer than the
# installed binaries (after an apt upgrade): new backends of the old server
# then fail to load upgraded libraries such as plpgsql.so.
warn_version_skew() {
	local psql installed running
	psql=$(find_client psql)
	installed=$("$PGBIN/postgres" --version 2>/dev/null) || return 0
	running=$(pg_client "$psql" -X -q -t -A -h "$LISTEN_ADDR" -p "$PG_PORT" -U "$DB_USER" -d postgres \
		-c 'SHOW server_version' 2>/dev/null) || return 0
	[[ $installed =~ [0-9]+\.[0-9]+ ]] || return 0
	installed=${BASH_REMATCH[0]}
	[[ $running =~ [0-9]+\.[0-9]+ ]] || return 0
	running=${BASH_REMATCH[0]}
	if [[ $installed != "$running" ]]; then
		info "warning: the running server is PostgreSQL $running but $PGBIN has $installed;" \
			"restart it ('scripts/pg.sh stop && scripts/pg.sh start') or loading libraries like plpgsql may fail"
	fi
}

running_port() {
	sed -n 4p "$PGDATA_DIR/postmaster.pid" 2>/dev/null || true
}

# recent_logs prints the log files written by the latest start attempt
# (startup.log is truncated before each attempt).
recent_logs() {
	local f
	for f in "$PGDATA_DIR/startup.log" "$PGDATA_DIR"/log/postgresql-*.log; do
		if [[ -s $f && -n $(find "$f" -mmin -3 2>/dev/null) ]]; then
			printf '%s\n' "$f"
		fi
	done
}

show_start_logs() {
	local f
	while IFS= read -r f; do
		printf -- '--- last lines of %s ---\n' "$f" >&2
		tail -n 20 -- "$f" >&2 || true
	done < <(recent_logs)
}

# start_server starts the stopped cluster. Our port lies in Linux's ephemeral
# range (32768-60999), so a client socket (even one in TIME_WAIT, up to 60s)
# may own it for a while: a failed bind is retried for up to BIND_RETRY_SECS.
start_server() {
	local attempt=0 f bind_failed deadline=$((SECONDS + BIND_RETRY_SECS))
	while true; do
		attempt=$((attempt + 1))
		if [[ -f $PGDATA_DIR/startup.log ]]; then
			: >"$PGDATA_DIR/startup.log"
		fi
		# Fail clearly if something else (e.g. another cluster) listens there.
		if (exec 3<>"/dev/tcp/$LISTEN_ADDR/$PG_PORT") 2>/dev/null; then
			die "$LISTEN_ADDR:$PG_PORT is already in use by another program (not the cluster in $PGDATA_DIR); stop it or set CRAWLMASTER_PGPORT"
		fi
		if ((attempt == 1)); then
			info "starting PostgreSQL $PG_MAJOR on $LISTEN_ADDR:$PG_PORT (data $PGDATA_DIR)"
		fi
		if as_pg "$PGBIN/pg_ctl" start -D "$PGDATA_DIR" -w -t "$START_TIMEOUT_SECS" \
			-l "$PGDATA_DIR/startup.log" >/dev/null 2>"$PGDATA_DIR.pg_ctl.err"; then
			rm -f -- "$PGDATA_DIR.pg_ctl.err"
			return 0
		fi
		bind_failed=0
		while IFS= read -r f; do
			if grep -q 'could not bind IPv4 address' -- "$f"; then
				bind_failed=1
			fi
		done < <(recent_logs)
		((bind_failed && SECONDS < deadline)) || break
		if ((attempt == 1)); then
			info "could not bind $LISTEN_ADDR:$PG_PORT (probably a client's ephemeral or TIME_WAIT socket); retrying every 3s for up to ${BIND_RETRY_SECS}s"
		fi
		sleep 3
	done
	cat -- "$PGDATA_DIR.pg_ctl.err" >&2 2>/dev/null || true
	rm -f -- "$PGDATA_DIR.pg_ctl.err"
	show_start_logs
	die "pg_ctl start failed for $PGDATA_DIR on port $PG_PORT (logs above; is the port taken?)"
}

cmd_start() {
	acquire_lock
	ensure_server_bins
	prepare_dirs
	init_cluster
	local was_running=0
	if is_running; then
		was_running=1
		local port
		port=$(running_port)
		[[ -z $port || $port == "$PG_PORT" ]] ||
			die "the cluster in $PGDATA_DIR is already running on port $port, not $PG_PORT; run 'scripts/pg.sh stop' first"
		# Settings changed since it was started: apply what a reload can.
		if write_conf; then
			info "crawlmaster.conf changed; reloading (settings that need a restart apply after 'stop' + 'start')"
			as_pg "$PGBIN/pg_ctl" reload -D "$PGDATA_DIR" >/dev/null || die "pg_ctl reload failed for $PGDATA_DIR"
		fi
	else
		write_conf || true
		start_server
	fi
	wait_ready
	if ((was_running)); then
		warn_version_skew
	fi
	ensure_database
	printf '%s\n' "$URL"
}

cmd_stop() {
	if [[ ! -f $PGDATA_DIR/PG_VERSION ]] || ! have_server_bins; then
		info "no cluster in $PGDATA_DIR; nothing to stop"
		return 0
	fi
	acquire_lock
	if ! is_running; then
		info "not running ($PGDATA_DIR)"
		return 0
	fi
	as_pg "$PGBIN/pg_ctl" stop -D "$PGDATA_DIR" -m fast -w -t 60 >/dev/null ||
		die "pg_ctl stop -m fast failed for $PGDATA_DIR; see $PGDATA_DIR/log/"
	info "stopped ($PGDATA_DIR)"
}

cmd_status() {
	if is_running; then
		printf 'running: %s (pid %s, data %s)\n' "$URL" "$(head -n 1 "$PGDATA_DIR/postmaster.pid" 2>/dev/null)" "$PGDATA_DIR"
		return 0
	fi
	printf 'not running (data %s)\n' "$PGDATA_DIR"
	return 3
}

cmd_psql() {
	local psql
	psql=$(find_client psql)
	is_running || die "the cluster is not running; start it with: scripts/pg.sh start"
	exec env -u PGSERVICE -u PGSERVICEFILE -u PGHOSTADDR \
		PGHOST="$LISTEN_ADDR" PGPORT="$PG_PORT" PGUSER="$DB_USER" PGDATABASE="$DB_NAME" PGSSLMODE=disable \
		"$psql" "$@"
}

main() {
	local cmd=${1:-}
	[[ $# -gt 0 ]] && shift
	case $cmd in
	start) cmd_start ;;
	stop) cmd_stop ;;
	status) cmd_status ;;
	url) printf '%s\n' "$URL" ;;
	psql) cmd_psql "$@" ;;
	-h | --help | help)
		usage
		;;
	*)
		usage
		exit 2
		;;
	esac
}

main "$@"
