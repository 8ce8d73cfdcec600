#!/usr/bin/env bash
# Capture the UDP output of the unmodified Ruby and Node Jaeger clients.
#
# Usage: capture.sh OUTDIR
#
# Creates a private network namespace (lo only, MTU 1500), records
#   OUTDIR/clients.pcap        Jaeger agent UDP (6831 compact, 6832 binary) plus
#                              every IPv4 fragment
#   OUTDIR/clients-truth.jsonl the spans both programs created (ground truth)
# and prints packet, fragment and span counts. Needs root (netns); run setup.sh first.
# The namespace and the processes started here are always removed on exit.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${1:?usage: capture.sh OUTDIR}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
ns="altair-clients-$$"
filter='udp and (port 6831 or port 6832 or (ip[6:2] & 0x3fff != 0))'
client_timeout=25

tcpdump_pid=""
sink_pid=""
ruby_pid=""
node_pid=""
ns_made=0

stop_pid() { # pid signal
    local pid="$1" sig="$2" i
    [ -n "$pid" ] || return 0
    kill -0 "$pid" 2>/dev/null || return 0
    kill "-$sig" "$pid" 2>/dev/null || true
    for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local rc=$?
    # clients run under timeout(1), which passes TERM on to them
    stop_pid "$ruby_pid" TERM
    stop_pid "$node_pid" TERM
    stop_pid "$tcpdump_pid" INT
    stop_pid "$sink_pid" TERM
    if [ "$ns_made" = 1 ]; then
        ip netns del "$ns" 2>/dev/null || true
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_for() { # file pattern seconds
    local i
    for i in $(seq $(( $3 * 10 ))); do
        grep -q "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "capture: timed out waiting for '$2' in $1" >&2
    cat "$1" >&2 || true
    return 1
}

[ -d "$here/node_modules/jaeger-client" ] || { echo "capture: run setup.sh first" >&2; exit 1; }
rm -f "$out/clients.pcap" "$out/ruby-truth.jsonl" "$out/node-truth.jsonl" \
      "$out/clients-truth.jsonl" "$out/tcpdump.log" "$out/sink.log"

ip netns add "$ns"
ns_made=1
ip netns exec "$ns" ip link set lo mtu 1500 up

# `ip netns exec` execs the command, so $! is tcpdump's / the sink's own pid.
ip netns exec "$ns" tcpdump -i lo -nn -s 0 -B 65536 -U -Z root -w "$out/clients.pcap" "$filter" \
    2>"$out/tcpdump.log" &
tcpdump_pid=$!
wait_for "$out/tcpdump.log" 'listening on' 10

ip netns exec "$ns" python3 -u "$here/sink.py" 127.0.0.1 6831 6832 >"$out/sink.log" 2>&1 &
sink_pid=$!
wait_for "$out/sink.log" 'sink: ready' 10

start_ms=$(( $(date +%s%N) / 1000000 ))
# Both clients run at once, so their datagrams interleave on the wire.
timeout "$client_timeout" ip netns exec "$ns" ruby "$here/mesh.rb" "$out/ruby-truth.jsonl" &
ruby_pid=$!
(cd "$here" && exec timeout "$client_timeout" ip netns exec "$ns" node "$here/mesh.js" "$out/node-truth.jsonl") &
node_pid=$!
ruby_rc=0; node_rc=0
wait "$ruby_pid" || ruby_rc=$?
wait "$node_pid" || node_rc=$?
ruby_pid=""; node_pid=""
# Let tcpdump catch up: it writes each packet as it reads it (-U), and
# SIGINT makes it stop reading, so wait until the file stops growing.
prev=-1; still=0
for i in $(seq 100); do
    size=$(stat -c %s "$out/clients.pcap" 2>/dev/null || echo 0)
    if [ "$size" = "$prev" ]; then still=$((still + 1)); else still=0; fi
    [ "$still" -ge 4 ] && break
    prev=$size
    sleep 0.25
done
stop_pid "$tcpdump_pid" INT; tcpdump_pid=""
stop_pid "$sink_pid" TERM; sink_pid=""
ip netns del "$ns"; ns_made=0
end_ms=$(( $(date +%s%N) / 1000000 ))

if [ "$ruby_rc" != 0 ] || [ "$node_rc" != 0 ]; then
    echo "capture: client failed (ruby rc=$ruby_rc, node rc=$node_rc)" >&2
    exit 1
fi
cat "$out/ruby-truth.jsonl" "$out/node-truth.jsonl" >"$out/clients-truth.jsonl"

# A capture that lost packets is no ground truth (a loaded machine can make
# the kernel drop bursts of 65,000-byte batches): exit 3 so the caller can
# capture again.
# On lo the filter sees every packet twice (out and in) and tcpdump keeps one.
captured=$(sed -n 's/^\([0-9]*\) packets captured.*/\1/p' "$out/tcpdump.log")
received=$(sed -n 's/^\([0-9]*\) packets received by filter.*/\1/p' "$out/tcpdump.log")
if ! grep -q '^0 packets dropped by kernel' "$out/tcpdump.log" || [ $(( 2 * ${captured:-0} )) != "${received:--1}" ]; then
    echo "capture: tcpdump lost packets: $(grep -E 'captured|received|dropped' "$out/tcpdump.log" | tr '\n' ' ')" >&2
    exit 3
fi

count() { tcpdump -nn -r "$out/clients.pcap" "$1" 2>/dev/null | wc -l; }
echo "capture: $out/clients.pcap (clients + teardown $(( end_ms - start_ms )) ms)"
echo "  packets:            $(count 'ip')"
echo "  fragments:          $(count 'ip[6:2] & 0x3fff != 0') (first: $(count 'ip[6:2] & 0x3fff == 0x2000'), non-first: $(count 'ip[6:2] & 0x1fff != 0'))"
echo "  datagrams 6831:     $(count 'udp dst port 6831') (fragmented: $(count 'udp dst port 6831 and ip[6:2] & 0x2000 != 0'))"
echo "  datagrams 6832:     $(count 'udp dst port 6832') (fragmented: $(count 'udp dst port 6832 and ip[6:2] & 0x2000 != 0'))"
echo "  unfragmented w/ DF: $(count 'ip[6:2] & 0x4000 != 0')"
sed 's/^/  /' "$out/sink.log" | grep -v 'ready' || true
python3 - "$out/clients-truth.jsonl" <<'PY'
import json, sys, collections
spans = collections.Counter(); traces = collections.defaultdict(set)
for line in open(sys.argv[1]):
    s = json.loads(line)
    spans[s["client"]] += 1
    traces[s["client"]].add(s["trace_id"])
for c in sorted(spans):
    print("  truth %-5s %4d spans in %3d traces" % (c, spans[c], len(traces[c])))
print("  truth total %4d spans in %3d traces -> %s" % (
    sum(spans.values()), sum(len(t) for t in traces.values()), sys.argv[1]))
PY
