#!/usr/bin/env python3
"""Epoch hand-off and output blocks on the real binary, with 1, 2 and 3
workers on the two-CPU lcore mappings (the control lcore shares CPU 0 with
worker 1), many short epochs and the capture split over RX queues:

* every epoch is written once: no epoch value appears twice in --epochs;
* no closed trace and no record escapes the epochs: the per-epoch sums of
  traces_closed and records equal the summary's totals, and no epoch's
  statistics were lost;
* full-detail --dags lines longer than a 64 KiB output block (they span
  blocks) come out exactly, with a worker sharing the control lcore's CPU.

usage: test_epochs.py ALTAIR ALTAIR_GEN RSS_SPLIT [SCENARIO ...]
Closing line: "N passed, N failed" (one check per scenario).
"""
import collections
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import truthcmp  # noqa: E402

# Two CPUs: the control lcore (0) shares CPU 0 with worker 1.
LCORES = {1: ["-l", "0-1"], 2: ["--lcores", "0@0,1@0,2@1"], 3: ["--lcores", "0@0,1@0,2@1,3@1"]}
ATR_2000 = ["--format", "atr", "--traces", "2000"]
# 30-40 epochs of 50 ms
ATR_SLOW = ATR_2000 + ["--rate", "20000"]
# X-Trace style HDFS reads of 330-390 nodes: full-detail lines of ~100 KiB
LONG = ["--format", "atr", "--traces", "300", "--rate", "20000", "--template", "hdfs-read",
        "--template", "web-checkout", "--template", "batch-report"]

# name: (altair-gen arguments, workers, epoch ms, RX queues (pcap ports), options)
SCENARIOS = {
    "1w-50ms": (ATR_SLOW, 1, 50, 1, {}),
    "2w-100ms-2queues": (ATR_2000, 2, 100, 2, {}),
    "2w-50ms-2queues": (ATR_SLOW, 2, 50, 2, {}),
    "3w-50ms-3queues": (ATR_SLOW, 3, 50, 3, {}),
    # worker 2 polls no queue: it is fed only through steering
    "3w-50ms-2queues": (ATR_SLOW, 3, 50, 2, {}),
    "2w-shared-cpu-long-lines": (LONG, 2, 50, 1, {"exact": True, "long_lines": True}),
}


def run(altair, pcaps, d, prefix, workers, epoch_ms):
    out = {k: os.path.join(d, k) for k in ("dags.jsonl", "epochs.jsonl", "summary.json")}
    cmd = [altair] + LCORES[workers] + ["--no-huge", "-m", "1024", "--no-pci", "--file-prefix", prefix,
                                        "--log-level", "lib.eal:error"]
    for i, pcap in enumerate(pcaps):
        cmd += ["--vdev", f"net_pcap{i},rx_pcap={pcap}"]
    cmd += ["--", "--once", "--idle-exit-ms", "500", "--dag-detail", "full", "--dags", out["dags.jsonl"],
            "--epochs", out["epochs.jsonl"], "--summary", out["summary.json"], "--max-nodes", "131072",
            "--max-traces", "32768", "--quiet", "--workers", str(workers), "--epoch-ms", str(epoch_ms),
            # other tests may run beside: a worker can be off its CPU for a while
            "--steer-wait-ms", "200"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    return p, out


def check_epochs(s, ep):
    errs = []
    twice = {e: n for e, n in collections.Counter(e["epoch"] for e in ep).items() if n > 1}
    if twice:
        errs.append(f"epochs written more than once: {twice}")
    closed = sum(e["traces_closed"] for e in ep)
    if closed != s["traces"]["closed"]:
        errs.append(f"epoch traces_closed sum {closed} != {s['traces']['closed']} traces closed")
    rec = s["records"]["by_outcome"]
    want = s["records"]["decoded"] - rec.get("dropped_no_memory", 0) - rec.get("dropped_steer_full", 0)
    got = sum(e["records"] for e in ep)
    if got != want:
        errs.append(f"epoch records sum {got} != {want} records that reached a trace")
    if s["outputs"]["epochs_lost"]:
        errs.append(f"{s['outputs']['epochs_lost']} epochs' statistics lost")
    if len(ep) < 3:
        errs.append(f"only {len(ep)} epoch lines")
    return errs


def run_scenario(name, altair, gen, split, tmp):
    gen_args, workers, epoch_ms, nq, opts = SCENARIOS[name]
    d = os.path.join(tmp, name)
    os.makedirs(d)
    pcap, truth = os.path.join(d, "traffic.pcap"), os.path.join(d, "truth.jsonl")
    g = subprocess.run([gen, "--seed", "7", "--out", pcap, "--truth", truth] + gen_args,
                       capture_output=True, text=True, timeout=120)
    if g.returncode != 0:
        return [f"altair-gen failed: {g.stderr.strip()}"]
    pcaps = [pcap]
    if nq > 1:
        sp = subprocess.run([split, "--mode", "ip-udp", "--queues", str(nq), pcap, os.path.join(d, "q")],
                            capture_output=True, text=True, timeout=120)
        if sp.returncode != 0:
            return [f"rss_split failed: {sp.stderr.strip()}"]
        pcaps = [os.path.join(d, f"q.{i}.pcap") for i in range(nq)]
    p, out = run(altair, pcaps, d, f"ep_{name}_{os.getpid()}", workers, epoch_ms)
    if p.returncode != 0:
        return [f"altair exit {p.returncode}: {p.stderr.strip()[-2000:]}"]
    with open(out["summary.json"]) as f:
        s = json.load(f)
    ep = truthcmp.load_jsonl(out["epochs.jsonl"])
    errs = check_epochs(s, ep)
    if s["records"]["steered"] != s["records"]["steered_received"]:
        errs.append(f"steering: {s['records']['steered']} sent, {s['records']['steered_received']} received")
    if opts.get("long_lines"):
        with open(out["dags.jsonl"]) as f:
            long_lines = sum(1 for line in f if len(line) > 64 * 1024)
        if long_lines == 0:
            errs.append("no --dags line spans two output blocks")
    if opts.get("exact"):
        t = truthcmp.load_jsonl(truth)
        o = truthcmp.load_jsonl(out["dags.jsonl"])
        ok, bad, msgs = truthcmp.compare(t, o)
        if bad:
            errs += msgs[:10] + [f"{bad} of {ok + bad} trace checks failed"]
        if s["traces"]["closed"] != len(t) or s["outputs"]["dag_lines"] != len(t):
            errs.append(f"{s['traces']['closed']} closed, {s['outputs']['dag_lines']} lines, truth {len(t)}")
    if not errs:
        print(f"ok   {name}: {len(ep)} epochs, {s['traces']['closed']} traces, "
              f"{s['records']['decoded']} records, epochs forced {s['outputs'].get('epochs_forced')}, "
              f"late partials {s['outputs'].get('epoch_late_partials')}")
    return errs


def main(argv):
    if len(argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    altair, gen, split = argv[1], argv[2], argv[3]
    names = argv[4:] or list(SCENARIOS)
    return truthcmp.run_scenarios(names, lambda n, tmp: run_scenario(n, altair, gen, split, tmp),
                                  "altair-ep-")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
