#!/usr/bin/env bash
# The appliance's main job on a built-in input: install what is needed,
# build, generate a capture with altair-gen, run altair on it through DPDK's
# net_pcap driver (no NIC, no hugepages), and print a readable report.
# Outputs stay in out/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
out=out/demo
mkdir -p "$out"
build/app/altair-gen/altair-gen --format atr --traces 5000 --rate 20000 --anomaly-rate 0.05 \
	--seed 42 --out "$out/traffic.pcap" --truth "$out/truth.jsonl"
build/app/altair/altair -l 0-1 --no-huge -m 1024 --no-pci --file-prefix altair-demo \
	--log-level lib.eal:error --vdev "net_pcap0,rx_pcap=$out/traffic.pcap" -- \
	--once --dag-detail full --dags "$out/dags.jsonl" --epochs "$out/epochs.jsonl" \
	--summary "$out/summary.json" --max-nodes 262144 --max-traces 65536
echo
python3 scripts/report.py "$out/dags.jsonl" "$out/epochs.jsonl" "$out/summary.json"
echo
echo "outputs: $out/dags.jsonl (closed traces), $out/epochs.jsonl (per-epoch statistics), $out/summary.json"
