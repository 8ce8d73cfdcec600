#!/usr/bin/env bash
# Install the Debian 12 packages Altair builds, tests and runs with.
# Idempotent: installs only what is missing. Needs root (or sudo).
#   scripts/setup.sh            build + run dependencies
#   scripts/setup.sh --clients  also what the real-client integration test needs
set -euo pipefail

pkgs=(build-essential pkg-config meson ninja-build python3
      dpdk dpdk-dev libdpdk-dev libnuma-dev libhyperscan-dev libcunit1-dev libpcap-dev
      tcpdump iproute2)
if [[ "${1:-}" == "--clients" ]]; then
	pkgs+=(ruby ruby-jaeger-client tcpreplay)
	# A machine with its own Node.js (e.g. NodeSource, which bundles npm)
	# keeps it: Debian's npm would conflict with it.
	command -v node >/dev/null || pkgs+=(nodejs)
	command -v npm >/dev/null || pkgs+=(npm)
fi

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

SUDO=""
if [[ $(id -u) -ne 0 ]]; then
	command -v sudo >/dev/null || { echo "setup: need root to install: ${missing[*]}" >&2; exit 1; }
	SUDO=sudo
fi
echo "setup: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >/dev/null
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
