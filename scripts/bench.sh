#!/usr/bin/env bash
# Appliance benchmark: runs the real altair binary (build/) on large
# pre-generated simulator captures replayed once through net_pcap, and the
# stock dpdk-testpmd on the same captures for the I/O ceiling. Prints one
# JSON line per figure and one per target (pass/fail). See docs/performance.md.
#
#   scripts/bench.sh [--reps N] [--dir DIR] [--only atr,jaeger,scaling,ts,io] [--captures atr,jaeger] [--perf] ...
#   scripts/bench.sh --help
#
# Needs: build/ built (ninja -C build), dpdk-testpmd, /usr/bin/time, python3;
# perf for --perf. No hugepages, no NIC. Captures are cached in --dir
# (default /tmp/altair-bench, ~1.2 GB) and reused when present.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${ALTAIR_BUILD:-build}
if [[ ! -x $build/app/altair/altair || ! -x $build/app/altair-gen/altair-gen ]]; then
	echo "bench: $build/app/altair/altair or altair-gen missing: run 'ninja -C $build' first" >&2
	exit 2
fi
exec python3 scripts/bench.py --build "$build" "$@"
