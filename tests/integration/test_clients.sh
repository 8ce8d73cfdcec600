#!/usr/bin/env bash
# Real clients: the unmodified Ruby (Thrift compact, 6831) and Node (Thrift
# binary, 6832) Jaeger clients instrument a small mesh inside a private
# network namespace (lo MTU 1500, so big batches are IP-fragmented); the
# capture is fed to altair and its --dags output is compared with the spans
# the client programs recorded creating. Both clients keep their default
# flush settings (Ruby: every 10 s, Node: every 1 s), so one trace's spans
# reach the wire in several batches, seconds apart: no span may be late.
# usage: test_clients.sh ALTAIR [RSS_SPLIT]   (needs root: network namespaces;
#        with RSS_SPLIT the capture is also run on two workers)
set -euo pipefail
altair="$(realpath "${1:?usage: test_clients.sh ALTAIR [RSS_SPLIT]}")"
split="${2:+$(realpath "$2")}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
work="$(mktemp -d -t altair-clients.XXXXXX)"
trap 'rm -rf "$work" /var/run/dpdk/clients$$ /var/run/dpdk/clients2w$$' EXIT

if [[ $(id -u) -ne 0 ]]; then
	echo "test_clients: needs root for network namespaces"
	echo "0 passed, 1 failed"
	exit 1
fi
"$here/clients/setup.sh" >/dev/null
for attempt in 1 2 3; do
	rc=0
	"$here/clients/capture.sh" "$work" >"$work/capture.log" 2>&1 || rc=$?
	[[ $rc -eq 3 ]] || break
	echo "capture attempt $attempt lost packets; capturing again"
done
if [[ $rc -ne 0 ]]; then
	cat "$work/capture.log"
	echo "0 passed, 1 failed"
	exit 1
fi
tail -n 5 "$work/capture.log"
check() { # summary dags label
python3 - "$1" "$3" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
pk, rec = s["packets"], s["records"]
assert sum(pk["by_outcome"].values()) == pk["received"], pk
assert sum(rec["by_outcome"].values()) == rec["decoded"], rec
bad = {k: v for k, v in pk["by_outcome"].items() if k.startswith(("malformed", "rejected", "fragment_dropped"))}
assert not bad, bad
assert s["datagrams"]["reassembled"] > 0, "no fragmented batch was reassembled"
# The clients batch as they do by default (Ruby every 10 s, Node every 1 s):
# no span may fall behind the watermark, no trace may come out in pieces.
assert rec["late"] == 0, f"{rec['late']} spans late"
assert s["traces"]["late_fragments"] == 0, f"{s['traces']['late_fragments']} late fragments"
print(f"altair ({sys.argv[2]}): {pk['received']} packets, {s['datagrams']['reassembled']} datagrams reassembled, "
      f"{rec['decoded']} spans, {s['traces']['closed']} traces")
PY
}

# One worker on the whole capture.
"$altair" -l 0-1 --no-huge -m 512 --no-pci --file-prefix clients$$ --log-level lib.eal:error \
	--vdev "net_pcap0,rx_pcap=$work/clients.pcap" -- --once --idle-exit-ms 500 \
	--dag-detail full --dags "$work/dags.jsonl" --summary "$work/summary.json" \
	--max-nodes 65536 --max-traces 16384 --quiet
check "$work/summary.json" "$work/dags.jsonl" "1 worker"
python3 "$here/clients/check_dags.py" "$work/clients-truth.jsonl" "$work/dags.jsonl"

# Two workers on two RX queues filled as NIC RSS on IP addresses and UDP
# ports fills them: each client's batches on one queue, the spans of other
# workers' traces steered to their owner, whose watermark waits for both.
if [[ -n "$split" ]]; then
	"$split" --mode ip-udp --queues 2 "$work/clients.pcap" "$work/q" 2>/dev/null
	"$altair" --lcores 0@0,1@0,2@1 --no-huge -m 1024 --no-pci --file-prefix clients2w$$ \
		--log-level lib.eal:error \
		--vdev "net_pcap0,rx_pcap=$work/q.0.pcap" --vdev "net_pcap1,rx_pcap=$work/q.1.pcap" -- \
		--once --idle-exit-ms 500 --workers 2 --steer-wait-ms 200 \
		--dag-detail full --dags "$work/dags2.jsonl" --summary "$work/summary2.json" \
		--max-nodes 65536 --max-traces 16384 --quiet
	check "$work/summary2.json" "$work/dags2.jsonl" "2 workers"
	python3 "$here/clients/check_dags.py" "$work/clients-truth.jsonl" "$work/dags2.jsonl"
fi
