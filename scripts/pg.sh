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
#   url     print the connection URL (it names the password file, see below).
#   psql    run psql as crawlmaster on its database; extra args go to psql.
#
# Environment:
#   CRAWLMASTER_PGDATA  data directory        (default <repo>/.data/pg)
#   CRAWLMASTER_PGPORT  TCP port on 127.0.0.1 (default 15432)
#   CRAWLMASTER_PGBIN   server binaries       (default /usr/lib/postgresql/15/bin)
#
# The unix socket lives in "<data dir>sock" (default <repo>/.data/pgsock), the
# start/stop lock in "<data dir>.lock", server logs in "<data dir>/log/".
#
# Authentication: scram-sha-256 for the "crawlmaster" role, over TCP and the
# socket. Its password is generated on first start and kept, mode 0600, in the
# pgpass file "<data dir>.pgpass" (default <repo>/.data/pg.pgpass). The URL
# printed names that file (passfile=..., understood by pgx and libpq), so the
# URL and every log line that shows it carry no secret. "crawlmaster" is not a
# superuser: it owns its database and has CREATEDB (see ensure_role). The
# superuser "postgres" is reachable only by peer authentication over the socket
# as the OS user that runs the cluster, i.e. by this script. pg_hba.conf and
# pg_ident.conf are regenerated on every start; a cluster made by an older
# checkout (trust auth, "crawlmaster" the bootstrap superuser) is converted in
# place on its next start (migrate_legacy), its data kept.
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
# The bootstrap superuser, used by this script only (peer auth, see write_hba).
readonly SU_USER=postgres
# pg_ident.conf map that lets the cluster's OS user in as SU_USER.
readonly IDENT_MAP=crawlmaster_pgsh
# Temporary superuser of migrate_legacy (exists only while it runs).
readonly MIGRATE_USER=crawlmaster_pgsh_migrate
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
PASS_FILE=${PGDATA_DIR}.pgpass
# passfile names a file, not a secret. '+' would read as a space in a URL query.
URL="postgres://$DB_USER@$LISTEN_ADDR:$PG_PORT/$DB_NAME?sslmode=disable&passfile=${PASS_FILE//+/%2B}"
readonly PGBIN PGDATA_DIR PG_PORT DATA_PARENT SOCK_DIR LOCK_FILE PASS_FILE URL

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
	env -u PGSERVICE -u PGSERVICEFILE -u PGOPTIONS -u PGHOSTADDR -u PGPASSWORD -u PGPASSFILE \
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
	# The bootstrap superuser is "postgres"; "crawlmaster" is created by
	# ensure_role, without superuser.
	if ! as_pg "$PGBIN/initdb" -D "$tmp" -U "$SU_USER" --auth-local=peer --auth-host=scram-sha-256 \
		--encoding=UTF8 --locale=C >"$out" 2>&1; then
		cat "$out" >&2
		rm -f -- "$out"
		rm -rf -- "$tmp"
		die "initdb failed for $PGDATA_DIR (output above)"
	fi
	rm -f -- "$out"

	write_hba "$tmp" || true
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

# shared_buffers_mb: an eighth of the machine's RAM, between 128 MB and
# 2 GB. The frontier's indexes take about 120 bytes per URL (1.2 GB at 10
# million URLs; BENCHMARKS-scale.md) and every admission probes the URL
# key index at a random place: once they outgrow shared_buffers each probe
# copies a page in from the kernel's cache and the crawl slows. PostgreSQL
# maps the buffers lazily, so a cluster that stays small uses little.
shared_buffers_mb() {
	local kb
	kb=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo 2>/dev/null) || kb=""
	[[ $kb =~ ^[0-9]+$ ]] || kb=$((2 * 1024 * 1024))
	local mb=$((kb / 1024 / 8))
	((mb < 128)) && mb=128
	((mb > 2048)) && mb=2048
	printf '%d\n' "$mb"
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
shared_buffers = $(shared_buffers_mb)MB
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

# write_hba DIR regenerates DIR/pg_hba.conf and DIR/pg_ident.conf. It
# returns 0 if either changed, 1 if both were already up to date.
write_hba() {
	local dir=$1 changed=1 hba ident
	hba=$(
		cat <<EOF
# Generated by scripts/pg.sh on every start: edit the script, not this file.
# The cluster listens on 127.0.0.1 and on a socket in its own directory only.
# The superuser is reachable only by peer authentication over the socket as
# the OS user that runs the cluster (scripts/pg.sh itself); every other role
# authenticates with a scram-sha-256 password, over TCP and over the socket.
# No replication connections.
# TYPE  DATABASE  USER        ADDRESS         METHOD
local   all       $SU_USER                    peer map=$IDENT_MAP
host    all       $SU_USER    127.0.0.1/32    reject
local   all       all                         scram-sha-256
host    all       all         127.0.0.1/32    scram-sha-256
EOF
	)
	ident=$(
		cat <<EOF
# Generated by scripts/pg.sh on every start: the OS user that runs the cluster
# may connect as the superuser over the socket (see pg_hba.conf).
# MAPNAME           SYSTEM-USERNAME  PG-USERNAME
$IDENT_MAP  $PG_OS_USER  $SU_USER
EOF
	)
	if [[ ! -f $dir/pg_hba.conf || $(<"$dir/pg_hba.conf") != "$hba" ]]; then
		write_owned "$dir/pg_hba.conf" <<<"$hba"
		changed=0
	fi
	if [[ ! -f $dir/pg_ident.conf || $(<"$dir/pg_ident.conf") != "$ident" ]]; then
		write_owned "$dir/pg_ident.conf" <<<"$ident"
		changed=0
	fi
	return $changed
}

# su_psql DB [psql args...] runs psql as the superuser on database DB, over
# the socket, as the cluster's OS user (peer authentication; the trust of an
# older checkout's cluster works too). Output is unaligned tuples only.
su_psql() {
	local db=$1 psql
	shift
	psql=$(find_client psql)
	as_pg env -u PGSERVICE -u PGSERVICEFILE -u PGOPTIONS -u PGHOSTADDR -u PGPASSWORD -u PGPASSFILE \
		PGCONNECT_TIMEOUT=10 "$psql" -X -q -t -A -w -v ON_ERROR_STOP=1 \
		-h "$SOCK_DIR" -p "$PG_PORT" -U "$SU_USER" -d "$db" "$@"
}

# legacy_psql ROLE [psql args...]: psql on database postgres as ROLE over the
# socket, for a cluster still trusting every local connection (older checkouts).
legacy_psql() {
	local role=$1 psql
	shift
	psql=$(find_client psql)
	pg_client "$psql" -X -q -t -A -w -v ON_ERROR_STOP=1 -h "$SOCK_DIR" -p "$PG_PORT" -U "$role" -d postgres "$@"
}

# migrate_legacy converts, in place and keeping its data, a cluster made by an
# older scripts/pg.sh: there initdb made "crawlmaster" the bootstrap superuser
# (OID 10, owner of the system catalogs) and pg_hba.conf trusted everyone.
# PostgreSQL 16 refuses to take superuser from the bootstrap superuser, and in
# 15 a non-superuser owning pg_authid could grant itself its rows, so that
# role is renamed to "postgres" instead (it keeps OID 10 and the catalogs), a
# new non-superuser "crawlmaster" is created, and transfer_ownership hands it
# what the old role owned outside the catalogs. A session cannot rename its own
# role, hence a temporary superuser for the rename (dropped by ensure_role).
# Every step is idempotent, so an interrupted migration resumes at the next
# start. It runs while the old trust rules are still loaded; write_hba
# replaces them afterwards. Other sessions of the old role keep working (as
# "postgres") until they disconnect.
migrate_legacy() {
	local name
	if name=$(su_psql postgres -c 'SELECT rolname FROM pg_roles WHERE oid = 10' 2>/dev/null); then
		[[ $name == "$SU_USER" ]] ||
			die "in $PGDATA_DIR the bootstrap superuser is '$name' although a role '$SU_USER' exists; rename them by hand or recreate the cluster"
		return 0
	fi
	name=$(legacy_psql "$DB_USER" -c 'SELECT rolname FROM pg_roles WHERE oid = 10' 2>/dev/null) ||
		die "cannot connect to the cluster in $PGDATA_DIR as superuser: not as '$SU_USER' (peer authentication as OS user $PG_OS_USER)," \
			"nor as '$DB_USER' (trust, clusters made by older checkouts); see $PGDATA_DIR/log/"
	[[ $name == "$DB_USER" ]] ||
		die "in $PGDATA_DIR the bootstrap superuser is '$name', expected '$DB_USER' (older checkouts) or '$SU_USER'"
	info "converting the cluster in $PGDATA_DIR in place (data kept): superuser '$DB_USER' becomes '$SU_USER'," \
		"a new non-superuser '$DB_USER' owns its databases, trust gives way to scram-sha-256"
	legacy_psql "$DB_USER" >/dev/null <<EOF || die "creating the temporary superuser $MIGRATE_USER failed"
SET client_min_messages = warning;
DO \$\$ BEGIN
	IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$MIGRATE_USER') THEN
		CREATE ROLE $MIGRATE_USER SUPERUSER LOGIN;
	END IF;
END \$\$;
EOF
	legacy_psql "$MIGRATE_USER" >/dev/null <<EOF || die "renaming role $DB_USER to $SU_USER failed"
BEGIN;
ALTER ROLE $DB_USER RENAME TO $SU_USER;
CREATE ROLE $DB_USER LOGIN NOSUPERUSER CREATEDB;
COMMIT;
EOF
	# Objects the old role made in the system databases (unlikely) change
	# owner too; the databases themselves stay the superuser's.
	local db
	for db in postgres template1; do
		transfer_ownership "$db" 0
	done
}

# transfer_ownership DB ALTER_DB gives role DB_USER, in database DB, what the
# bootstrap superuser (OID 10) owns outside the system schemas: schemas,
# tables, views, sequences, routines, types (not extensions and their
# members). With ALTER_DB=1 the database itself too, in the same transaction,
# so a database owned by OID 10 is one not yet (fully) transferred.
transfer_ownership() {
	local db=$1 alter_db=$2
	info "giving role $DB_USER what the superuser owns in database $db"
	su_psql "$db" >/dev/null <<EOF || die "transferring ownership in database $db to $DB_USER failed"
SET client_min_messages = warning;
BEGIN;
DO \$\$
DECLARE
	r record;
BEGIN
	FOR r IN SELECT n.nspname FROM pg_namespace n
		WHERE n.nspowner = 10 AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
			AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_namespace'::regclass AND d.objid = n.oid AND d.deptype = 'e')
	LOOP
		EXECUTE format('ALTER SCHEMA %I OWNER TO $DB_USER', r.nspname);
	END LOOP;
	-- Tables first: their indexes, and the sequences of their serial and
	-- identity columns, follow them.
	FOR r IN SELECT c.oid::regclass AS rel, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relowner = 10 AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
			AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
			AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
		ORDER BY c.relkind = 'S'
	LOOP
		CONTINUE WHEN (SELECT relowner FROM pg_class WHERE oid = r.rel) <> 10;
		EXECUTE format('ALTER %s %s OWNER TO $DB_USER',
			CASE r.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
				WHEN 'f' THEN 'FOREIGN TABLE' WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END, r.rel);
	END LOOP;
	FOR r IN SELECT p.oid::regprocedure AS fn FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
		WHERE p.proowner = 10 AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
			AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
	LOOP
		EXECUTE format('ALTER ROUTINE %s OWNER TO $DB_USER', r.fn);
	END LOOP;
	-- Enums, ranges, domains and standalone composite types (array and
	-- multirange types and table row types follow their owners).
	FOR r IN SELECT t.oid::regtype AS typ, t.typtype FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
		WHERE t.typowner = 10 AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
			AND (t.typtype IN ('e', 'r', 'd') OR (t.typtype = 'c' AND (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c'))
			AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_type'::regclass AND d.objid = t.oid AND d.deptype = 'e')
	LOOP
		EXECUTE format('ALTER %s %s OWNER TO $DB_USER', CASE r.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END, r.typ);
	END LOOP;
	IF $alter_db = 1 THEN
		EXECUTE format('ALTER DATABASE %I OWNER TO $DB_USER', current_database());
	END IF;
END
\$\$;
COMMIT;
EOF
}

# ensure_role makes sure role DB_USER exists with exactly the attributes it
# needs, drops migrate_legacy's temporary superuser, finishes any ownership
# transfer and creates database DB_NAME, owned by DB_USER, if it is missing.
#
# CREATEDB: the tests (internal/pgtest) and the benchmarks create and drop a
# database per test or run through the same URL as the master. CREATEDB is not
# superuser: the role can drop only the databases it owns, terminate only its
# own sessions, and reads no other role's data. A second, admin-only role
# would keep CREATEDB away from the master, but every tool that creates
# databases would then need a second URL and password, for a private cluster
# on loopback whose only user is this checkout.
ensure_role() {
	local out line exists=0
	local -a legacy=()
	out=$(
		su_psql postgres <<EOF
SET client_min_messages = warning;
DO \$\$ BEGIN
	IF EXISTS (SELECT FROM pg_roles WHERE rolname = '$MIGRATE_USER') THEN
		DROP ROLE $MIGRATE_USER;
	END IF;
	IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$DB_USER') THEN
		CREATE ROLE $DB_USER LOGIN NOSUPERUSER CREATEDB;
	ELSIF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$DB_USER' AND rolcanlogin AND NOT rolsuper
			AND rolcreatedb AND NOT rolcreaterole AND NOT rolreplication AND NOT rolbypassrls) THEN
		ALTER ROLE $DB_USER LOGIN NOSUPERUSER CREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
	END IF;
END \$\$;
SELECT 'exists' FROM pg_database WHERE datname = '$DB_NAME';
SELECT 'legacy ' || datname FROM pg_database
	WHERE datdba = 10 AND datallowconn AND datname NOT IN ('postgres', 'template0', 'template1') ORDER BY datname;
EOF
	) || die "cannot set up role $DB_USER as superuser $SU_USER over $SOCK_DIR (see $PGDATA_DIR/log/)"
	while IFS= read -r line; do
		case $line in
		exists) exists=1 ;;
		legacy\ *) legacy+=("${line#legacy }") ;;
		esac
	done <<<"$out"
	for line in "${legacy[@]}"; do
		transfer_ownership "$line" 1
	done
	((exists)) && return 0
	info "creating database $DB_NAME"
	su_psql postgres -c "CREATE DATABASE $DB_NAME OWNER $DB_USER" >&2 ||
		die "CREATE DATABASE $DB_NAME failed"
}

# read_password prints the password of DB_USER kept in PASS_FILE, if any.
read_password() {
	local pw
	[[ -f $PASS_FILE && -r $PASS_FILE ]] || return 1
	pw=$(awk -F: -v h="$LISTEN_ADDR" -v u="$DB_USER" '$1 == h && $4 == u { print $5; exit }' "$PASS_FILE") || return 1
	[[ $pw =~ ^[0-9a-f]{32,}$ ]] || return 1
	printf '%s\n' "$pw"
}

# pass_file_text PASSWORD prints PASS_FILE's contents. pgx looks up
# "localhost" for any unix socket, libpq the socket directory.
pass_file_text() {
	cat <<EOF
# Generated by scripts/pg.sh: the password of role $DB_USER of the private
# PostgreSQL cluster in $PGDATA_DIR (pgpass format; the URL that
# "scripts/pg.sh url" prints names this file as its passfile). Keep it 0600.
$LISTEN_ADDR:*:*:$DB_USER:$1
localhost:*:*:$DB_USER:$1
$SOCK_DIR:*:*:$DB_USER:$1
EOF
}

# ensure_pass_file keeps PASS_FILE private and up to date, creating it with a
# new random password (192 bits, hex: nothing to escape in pgpass or SQL) if
# it holds none. It returns 0 when it made a new password, 1 otherwise.
ensure_pass_file() {
	local pw text new=1
	[[ ! -e $PASS_FILE || -f $PASS_FILE ]] || die "$PASS_FILE exists but is not a regular file"
	if ! pw=$(read_password); then
		pw=$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n') || die "cannot read /dev/urandom"
		[[ $pw =~ ^[0-9a-f]{48}$ ]] || die "could not generate a password"
		info "generating a password for role $DB_USER in $PASS_FILE"
		new=0
	fi
	text=$(pass_file_text "$pw")
	if [[ $new == 0 || $(<"$PASS_FILE") != "$text" ]]; then
		if ! (umask 077 && printf '%s\n' "$text" >"$PASS_FILE.tmp.$$" && mv -f -- "$PASS_FILE.tmp.$$" "$PASS_FILE"); then
			rm -f -- "$PASS_FILE.tmp.$$"
			die "cannot write $PASS_FILE"
		fi
	elif [[ $(stat -c %a -- "$PASS_FILE") != 600 ]]; then
		chmod 0600 -- "$PASS_FILE" || die "chmod 0600 $PASS_FILE failed"
	fi
	return $new
}

# set_password gives DB_USER the password kept in PASS_FILE. It reaches psql
# on a pipe (not argv, which ps shows), statement logging is off for the
# session so that not even a failed ALTER ROLE writes it to the server log,
# and the server stores only its SCRAM verifier.
set_password() {
	local pw
	pw=$(read_password) || die "no password for $DB_USER in $PASS_FILE"
	printf '%s\n' \
		"SET log_statement = 'none';" \
		"SET log_min_error_statement = 'panic';" \
		"SET log_min_duration_statement = -1;" \
		"SET password_encryption = 'scram-sha-256';" \
		"ALTER ROLE $DB_USER PASSWORD '$pw';" |
		su_psql postgres >/dev/null || die "setting the password of role $DB_USER failed"
}

# login [passfile] connects to DB_NAME as DB_USER over TCP with the password
# from the given pgpass file (none if empty) and prints the server version.
login() {
	local psql
	psql=$(find_client psql)
	pg_client "$psql" -X -q -t -A -w \
		"host=$LISTEN_ADDR port=$PG_PORT user=$DB_USER dbname=$DB_NAME passfile=${1:-/dev/null}" \
		-c 'SHOW server_version'
}

# wait_scram waits until a connection without a password is refused, i.e.
# until the server has loaded the pg_hba.conf of write_hba (a reload is
# asynchronous).
wait_scram() {
	local i
	for ((i = 0; i < 100; i++)); do
		login "" >/dev/null 2>&1 || return 0
		sleep 0.1
	done
	die "the cluster in $PGDATA_DIR still lets $DB_USER in without a password after reloading pg_hba.conf"
}

# warn_version_skew RUNNING warns when the running server (version RUNNING)
# is older/newer than the installed binaries (after an apt upgrade): new
# backends of the old server then fail to load upgraded libraries such as
# plpgsql.so.
warn_version_skew() {
	local installed running=$1
	installed=$("$PGBIN/postgres" --version 2>/dev/null) || return 0
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
	migrate_legacy
	ensure_role
	# A new password is set before pg_hba.conf demands it.
	if ensure_pass_file; then
		set_password
	fi
	if write_hba "$PGDATA_DIR"; then
		info "pg_hba.conf changed; reloading"
		as_pg "$PGBIN/pg_ctl" reload -D "$PGDATA_DIR" >/dev/null || die "pg_ctl reload failed for $PGDATA_DIR"
		wait_scram
	fi
	local version
	if ! version=$(login "$PASS_FILE" 2>/dev/null); then
		# The role's password is not the file's (e.g. the file was replaced).
		info "role $DB_USER does not accept the password in $PASS_FILE; setting it again"
		set_password
		version=$(login "$PASS_FILE") ||
			die "cannot connect as $DB_USER with the password in $PASS_FILE (see $PGDATA_DIR/log/)"
	fi
	if ((was_running)); then
		warn_version_skew "$version"
	fi
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
	exec env -u PGSERVICE -u PGSERVICEFILE -u PGHOSTADDR -u PGPASSWORD \
		PGHOST="$LISTEN_ADDR" PGPORT="$PG_PORT" PGUSER="$DB_USER" PGDATABASE="$DB_NAME" PGSSLMODE=disable \
		PGPASSFILE="$PASS_FILE" "$psql" "$@"
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
