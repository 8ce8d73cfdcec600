#!/usr/bin/env bash
# Idempotent setup for the real-client capture harness.
# Installs (only when missing): ruby, ruby-jaeger-client, nodejs, npm, tcpdump,
# iproute2 from Debian, then `npm ci` the pinned Node jaeger-client into
# tests/integration/clients/node_modules.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

need=()
command -v ruby    >/dev/null 2>&1 || need+=(ruby)
command -v node    >/dev/null 2>&1 || need+=(nodejs)
# npm ships inside some nodejs builds (e.g. NodeSource); only ask Debian for it
# when no npm binary exists, otherwise the packages conflict.
command -v npm     >/dev/null 2>&1 || need+=(npm)
command -v tcpdump >/dev/null 2>&1 || need+=(tcpdump)
command -v ip      >/dev/null 2>&1 || need+=(iproute2)
dpkg-query -W -f='${Status}' ruby-jaeger-client 2>/dev/null | grep -q 'install ok installed' \
    || need+=(ruby-jaeger-client)

if ((${#need[@]})); then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    echo "setup: installing ${need[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${need[@]}"
fi

ruby -e 'require "jaeger/client"' \
    || { echo "setup: ruby cannot load jaeger/client" >&2; exit 1; }

cd "$here"
want="$(node -p 'require("./package.json").dependencies["jaeger-client"]')"
have="$(node -p 'try{require("./node_modules/jaeger-client/package.json").version}catch(e){""}' 2>/dev/null || true)"
if [ "$have" != "$want" ]; then
    echo "setup: npm ci (jaeger-client $want)"
    npm ci --no-audit --no-fund --loglevel=error
fi
node -e 'require("jaeger-client")' \
    || { echo "setup: node cannot load jaeger-client" >&2; exit 1; }
echo "setup: ok (ruby $(ruby -e 'print RUBY_VERSION'), node $(node --version), jaeger-client $want)"
