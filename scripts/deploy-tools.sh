#!/usr/bin/env bash
# scripts/deploy-tools.sh - find (or install) the tools that check deploy/.
#
# Usage: scripts/deploy-tools.sh TOOL
#
# Prints the absolute path of TOOL as the last line of stdout, installing it
# first when it is missing. TOOL is one of:
#
#   promtool, prometheus
#       Debian's `prometheus` package (Prometheus 2.42 on Debian 12). Taken
#       from PATH when installed; otherwise the package is fetched with
#       `apt-get download` and unpacked under <repo>/.data/prometheus (no
#       root needed after the first `apt-get update`). Installing it with
#       `apt-get install` would also enable and start a system-wide
#       Prometheus on port 9090 (and pull in the node exporter): not
#       something a test run should leave behind on a developer's machine.
#   systemd-analyze, systemd-sysusers
#       Debian's `systemd` package, installed with apt-get when missing
#       (root only; it does not become the init system of a machine or
#       container that runs another).
#
# Environment:
#   CRAWLMASTER_PROMBIN  a directory holding prometheus and promtool (skips
#                        PATH and the download)
#
# Installs are serialised with flock on <repo>/.data/deploy-tools.lock, so
# concurrent test binaries do not unpack the package twice.

set -euo pipefail
umask 022

readonly LOCK_TIMEOUT_SECS=600

die() {
	printf 'deploy-tools.sh: error: %s\n' "$*" >&2
	exit 1
}

info() {
	printf 'deploy-tools.sh: %s\n' "$*" >&2
}

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
REPO_ROOT=$(cd -- "$SCRIPT_DIR/.." && pwd -P)
DATA_DIR=$REPO_ROOT/.data
PROM_DIR=$DATA_DIR/prometheus
readonly SCRIPT_DIR REPO_ROOT DATA_DIR PROM_DIR

IS_ROOT=0
if [[ $(id -u) -eq 0 ]]; then
	IS_ROOT=1
fi
readonly IS_ROOT

acquire_lock() {
	mkdir -p -- "$DATA_DIR" || die "cannot create $DATA_DIR"
	exec 9>>"$DATA_DIR/deploy-tools.lock" || die "cannot open $DATA_DIR/deploy-tools.lock"
	flock -w "$LOCK_TIMEOUT_SECS" 9 ||
		die "timed out after ${LOCK_TIMEOUT_SECS}s waiting for $DATA_DIR/deploy-tools.lock"
}

APT_UPDATED=0

apt_update() {
	((APT_UPDATED)) && return 0
	((IS_ROOT)) || die "apt-get update needs root; run it once as root (sudo apt-get update) and retry"
	info "apt-get update"
	DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 -qq update </dev/null >&2 ||
		die "apt-get update failed"
	APT_UPDATED=1
}

# apt_install PKG... installs Debian packages non-interactively (root only).
apt_install() {
	command -v apt-get >/dev/null 2>&1 ||
		die "$* is not installed and apt-get is not available; install it by hand"
	((IS_ROOT)) ||
		die "$* is not installed and we are not root; install it first, e.g.: sudo apt-get install -y --no-install-recommends $*"
	info "installing $* with apt-get (one-time, may take a minute)"
	if ! DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 -qq install -y --no-install-recommends "$@" </dev/null >&2; then
		apt_update
		DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 -qq install -y --no-install-recommends "$@" </dev/null >&2 ||
			die "apt-get install $* failed"
	fi
}

# download_prometheus unpacks Debian's prometheus package into PROM_DIR.
download_prometheus() {
	command -v apt-get >/dev/null 2>&1 && command -v dpkg-deb >/dev/null 2>&1 ||
		die "prometheus/promtool not found and apt-get/dpkg-deb are not available; install Prometheus and put promtool on PATH, or set CRAWLMASTER_PROMBIN"
	local tmp deb
	tmp=$(mktemp -d "$DATA_DIR/prometheus-download.XXXXXX") || die "mktemp failed"
	# apt fetches as the unprivileged _apt user when it can write there.
	chmod 0777 -- "$tmp"
	info "fetching Debian's prometheus package with apt-get download (one-time)"
	if ! (cd -- "$tmp" && apt-get -qq download prometheus </dev/null >&2); then
		apt_update
		(cd -- "$tmp" && apt-get -qq download prometheus </dev/null >&2) || {
			rm -rf -- "$tmp"
			die "apt-get download prometheus failed"
		}
	fi
	deb=$(find "$tmp" -maxdepth 1 -name 'prometheus_*.deb' -print -quit)
	[[ -n $deb ]] || {
		rm -rf -- "$tmp"
		die "apt-get download prometheus left no prometheus_*.deb"
	}
	# Unpack beside the target and rename it into place, so an interrupted
	# run never leaves a half-unpacked tree that looks installed.
	rm -rf -- "$tmp/root"
	dpkg-deb -x "$deb" "$tmp/root" || {
		rm -rf -- "$tmp"
		die "dpkg-deb -x $deb failed"
	}
	rm -rf -- "$PROM_DIR"
	mv -- "$tmp/root" "$PROM_DIR" || die "cannot move the unpacked package to $PROM_DIR"
	rm -rf -- "$tmp"
	info "unpacked $(basename -- "$deb") into $PROM_DIR"
}

find_prometheus_tool() {
	local name=$1
	if [[ -n ${CRAWLMASTER_PROMBIN:-} ]]; then
		[[ -x $CRAWLMASTER_PROMBIN/$name ]] || die "CRAWLMASTER_PROMBIN=$CRAWLMASTER_PROMBIN has no executable $name"
		printf '%s\n' "$CRAWLMASTER_PROMBIN/$name"
		return 0
	fi
	if command -v "$name" >/dev/null 2>&1; then
		command -v "$name"
		return 0
	fi
	local path=$PROM_DIR/usr/bin/$name
	if [[ ! -x $path ]]; then
		acquire_lock
		[[ -x $path ]] || download_prometheus
	fi
	[[ -x $path ]] || die "$path missing after unpacking Debian's prometheus package"
	"$path" --version >/dev/null 2>&1 || die "$path does not run ($path --version failed)"
	printf '%s\n' "$path"
}

find_systemd_tool() {
	local name=$1
	if ! command -v "$name" >/dev/null 2>&1; then
		acquire_lock
		command -v "$name" >/dev/null 2>&1 || apt_install systemd
	fi
	command -v "$name" || die "$name not found even after installing Debian's systemd package"
}

main() {
	[[ $# -eq 1 ]] || {
		printf 'usage: scripts/deploy-tools.sh promtool|prometheus|systemd-analyze|systemd-sysusers\n' >&2
		exit 2
	}
	case $1 in
	promtool | prometheus) find_prometheus_tool "$1" ;;
	systemd-analyze | systemd-sysusers) find_systemd_tool "$1" ;;
	-h | --help | help)
		sed -n '2,/^$/p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
		;;
	*)
		printf 'deploy-tools.sh: unknown tool %q\n' "$1" >&2
		exit 2
		;;
	esac
}

main "$@"
