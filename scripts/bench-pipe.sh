#!/usr/bin/env bash
# Pipeline benchmark on full-size simulator captures: builds into
# build-bench, generates an ATR/1 capture (~2M records) and a Jaeger compact
# capture (~1M spans) and runs bench_pipe on both (one JSON line per figure).
#   scripts/bench-pipe.sh [--reps N] [--keep]
set -euo pipefail
cd "$(dirname "$0")/.."
reps=5
keep=0
while [[ $# -gt 0 ]]; do
	case "$1" in
	--reps) reps="$2"; shift 2 ;;
	--keep) keep=1; shift ;;
	*) echo "usage: $0 [--reps N] [--keep]" >&2; exit 2 ;;
	esac
done
build=build-bench
if [[ ! -f $build/build.ninja ]]; then
	meson setup "$build" --buildtype=release >/dev/null
fi
ninja -C "$build" app/altair-gen/altair-gen tests/bench/bench_pipe >/dev/null
gen=$build/app/altair-gen/altair-gen
bench=$build/tests/bench/bench_pipe
tmp=$(mktemp -d /tmp/altair-bench-XXXXXX)
[[ $keep -eq 1 ]] || trap 'rm -rf "$tmp"' EXIT
"$gen" --format atr --traces 100000 --rate 1000000 --seed 1 --out "$tmp/atr.pcap" >&2
"$gen" --format jaeger-compact --traces 60000 --rate 1000000 --seed 2 --out "$tmp/jaeger-compact.pcap" >&2
"$bench" "$tmp/atr.pcap" --reps "$reps" --format-label atr
"$bench" "$tmp/jaeger-compact.pcap" --reps "$reps" --format-label jaeger-compact
[[ $keep -eq 0 ]] || echo "captures kept in $tmp" >&2
