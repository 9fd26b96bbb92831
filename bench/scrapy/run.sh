#!/usr/bin/env bash
# Scrapy peer of crawlmaster's benchmark. Same flags as the Go peers:
#   bench/scrapy/run.sh --list tranco.csv --websim 127.0.0.1:PORT \
#       --concurrency N --timeout 5s [--limit N]
# Routes all traffic (robots.txt included) to websim as a plain-HTTP proxy
# via http_proxy, and runs Debian's Scrapy with /usr/bin/python3 (the
# python3 first on PATH may not see Debian's packages).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

websim=
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case ${args[i]} in
    --websim=*|-websim=*) websim=${args[i]#*=} ;;
    --websim|-websim) websim=${args[i+1]:-} ;;
  esac
done
if [[ -z $websim ]]; then
  echo "run.sh: --websim host:port is required" >&2
  exit 2
fi
if ! /usr/bin/python3 -c 'import scrapy' 2>/dev/null; then
  echo "run.sh: Scrapy missing: apt-get install -y python3-scrapy" >&2
  exit 2
fi

unset no_proxy NO_PROXY HTTP_PROXY https_proxy HTTPS_PROXY all_proxy ALL_PROXY
export http_proxy="http://$websim"
exec /usr/bin/python3 "$here/spider.py" "$@"
