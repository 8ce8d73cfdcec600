#!/bin/bash
# Scaling on a many-core machine that has no packages installed: 1, 2, 4
# and 8 workers on the benchmark captures split over as many queues, plus
# the pipeline alone, new against an older build.
#
#   scripts/bench-manycore.sh --pack DIR [OLD_BUILD]   (here: copy the release
#       binaries of build-bench/, those of OLD_BUILD (optional) and the DPDK
#       libraries they load into DIR, with this script as DIR/run.sh)
#   DIR/run.sh                                        (there: OUT=... gives
#       where results.tar.gz goes; NA, NJ, NG, WS, REPS size the run)
#
# The DPDK drivers travel as files (-d); where Debian's DPDK is installed
# the script uses it instead.
if [ "${1:-}" = "--pack" ]; then
	set -e
	dir=${2:?usage: $0 --pack DIR [OLD_BUILD]}; old=${3:-}
	root=$(cd "$(dirname "$0")/.." && pwd)
	[ -f "$root/build-bench/build.ninja" ] || meson setup "$root/build-bench" --buildtype=release >/dev/null
	ninja -C "$root/build-bench" app/altair/altair app/altair-gen/altair-gen tests/bench/bench_pipe \
		tests/bench/rss_split >/dev/null
	mkdir -p "$dir/bin" "$dir/lib" "$dir/pmd"
	cp "$root/build-bench/app/altair/altair" "$dir/bin/altair-new"
	cp "$root/build-bench/app/altair-gen/altair-gen" "$root/build-bench/tests/bench/bench_pipe" \
		"$root/build-bench/tests/bench/rss_split" "$dir/bin/"
	if [ -n "$old" ]; then
		cp "$old/app/altair/altair" "$dir/bin/altair-old"
		cp "$old/tests/bench/bench_pipe" "$dir/bin/bench_pipe-old"
	fi
	pmds=/usr/lib/x86_64-linux-gnu/dpdk/pmds-23.0
	for p in net_pcap mempool_ring bus_vdev; do
		cp -L "$pmds/librte_$p.so.23" "$dir/pmd/" 2>/dev/null || cp -L "/usr/lib/x86_64-linux-gnu/librte_$p.so.23" "$dir/pmd/"
	done
	for f in "$dir"/bin/altair-* "$dir"/pmd/*; do ldd "$f" | awk '/=>/{print $3}'; done | sort -u |
		grep -v -e 'libc.so.6' -e 'libm.so.6' -e 'ld-linux' | xargs -I{} cp -L {} "$dir/lib/"
	cp "$0" "$dir/run.sh"
	echo "packed into $dir ($(du -sh "$dir" | cut -f1))"
	exit 0
fi
set -u
D=$(cd "$(dirname "$0")" && pwd)
[ -d /usr/lib/x86_64-linux-gnu/dpdk/pmds-23.0 ] || export LD_LIBRARY_PATH=$D/lib
OUT=${OUT:-/tmp/devout}
SCALE=${SCALE:-1}
R=/tmp/altres; rm -rf $R; mkdir -p $R
T=/tmp/altcap; mkdir -p $T
[ -d /usr/lib/x86_64-linux-gnu/dpdk/pmds-23.0 ] && PMD="" || PMD="-d $D/pmd/librte_mempool_ring.so.23 -d $D/pmd/librte_bus_vdev.so.23 -d $D/pmd/librte_net_pcap.so.23"
log() { echo "$(date +%T) $*" | tee -a $R/log.txt; }
{ nproc; lscpu | grep -E "Model name|Socket|NUMA node\(s\)|^CPU\(s\)"; free -g | head -2; } > $R/info.txt 2>&1
gen=$D/bin/altair-gen
NA=${NA:-$((100000 * SCALE))}; NJ=${NJ:-$((60000 * SCALE))}; NG=${NG:-30000}; WS=${WS:-"1 2 4 8"}; REPS=${REPS:-3}
$gen --format atr --traces $NA --rate 1000000 --seed 1 --out $T/atr.pcap 2>>$R/log.txt
$gen --format atr --affine --traces $NA --rate 1000000 --seed 1 --out $T/atra.pcap 2>>$R/log.txt
$gen --format jaeger-compact --traces $NJ --rate 1000000 --seed 2 --out $T/jc.pcap 2>>$R/log.txt
# senders like real agents (flush 50 ms - 5 s), 60 s of traffic
$gen --format jaeger-compact --traces $NG --rate 8000 --flush-ms 50-5000 --seed 3 \
	--emitters-per-service 4 --out $T/agents.pcap 2>>$R/log.txt
log "captures made"

# 1. the pipeline alone, one core: new vs old, alternating
for round in $(seq 1 $REPS); do
	for f in atr jc; do
		$D/bin/bench_pipe $T/$f.pcap --reps 3 --format-label "$f-new" >> $R/pipe.jsonl 2>>$R/log.txt
		[ -x $D/bin/bench_pipe-old ] && $D/bin/bench_pipe-old $T/$f.pcap --reps 3 --format-label "$f-old" >> $R/pipe.jsonl 2>>$R/log.txt
	done
done
log "bench_pipe done"

run() { # tag binary workers extra... -- pcaps...
	local tag=$1 bin=$2 w=$3; shift 3
	local extra=() vd=() i=0
	while [ $# -gt 0 ] && [ "$1" != "--" ]; do extra+=("$1"); shift; done
	shift
	for p in "$@"; do vd+=(--vdev "net_pcap$i,rx_pcap=$p"); i=$((i + 1)); done
	local t0=$(date +%s.%N)
	timeout 300 $D/bin/$bin -l 0-$w --no-huge -m 16384 --no-pci --file-prefix dv$$ --log-level lib.eal:error \
		$PMD "${vd[@]}" -- --once --idle-exit-ms 300 --quiet --workers $w \
		--summary $R/$tag.json --max-nodes 4194304 --max-traces 524288 "${extra[@]}" \
		>$R/$tag.out 2>&1
	echo "$tag rc=$? secs=$(echo "$(date +%s.%N) - $t0" | bc)" >> $R/log.txt
}
split() { # capture mode n
	$D/bin/rss_split --mode $2 --queues $3 $T/$1.pcap $T/$1-$2-$3 2>>$R/log.txt
	local ps=() i
	for i in $(seq 0 $(($3 - 1))); do ps+=($T/$1-$2-$3.$i.pcap); done
	echo "${ps[@]}"
}
# 2. scaling, every worker count, new binary; 1 and 2 workers also old
for w in $WS; do
	pa=$(split atra l4-src $w); pj=$(split jc ip-udp $w); pg=$(split agents ip-udp $w)
	for rep in $(seq 1 $REPS); do
		run atra-w$w-r$rep altair-new $w --steer-by l4-src -- $pa
		run jc-w$w-r$rep altair-new $w -- $pj
		run agents-w$w-r$rep altair-new $w -- $pg
		if [ $w -le 2 ]; then
			[ -x $D/bin/altair-old ] && run old-atra-w$w-r$rep altair-old $w --steer-by l4-src -- $pa
			[ -x $D/bin/altair-old ] && run old-jc-w$w-r$rep altair-old $w -- $pj
			[ -x $D/bin/altair-old ] && run old-agents-w$w-r$rep altair-old $w -- $pg
		fi
	done
	log "workers $w done"
done
mkdir -p $OUT
tar -C /tmp -czf $OUT/results.tar.gz altres
log "done"
