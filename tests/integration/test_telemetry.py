#!/usr/bin/env python3
"""Telemetry and shutdown on the real binary: altair runs on a capture
without --once; the stock dpdk-telemetry.py reads every /altair/* command
while it runs; SIGTERM then drains every trace and writes the outputs.
Then what an operator sees while it runs and when it cannot start: the
progress lines (none with --quiet), and the memory report when the pools
do not fit -m.

usage: test_telemetry.py ALTAIR ALTAIR_GEN      closing line "N passed, N failed"
"""
import json
import os
import shutil
import select
import signal
import subprocess
import sys
import tempfile
import time

passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print(f"FAIL {name}: {detail}")


def query(prefix, cmd):
    p = subprocess.run(["dpdk-telemetry.py", "-f", prefix], input=cmd + "\n", capture_output=True,
                       text=True, timeout=20)
    for line in p.stdout.splitlines():
        line = line.strip().lstrip("-> ").strip()
        if line.startswith("{") and cmd in line:
            return json.loads(line)[cmd]
    raise RuntimeError(f"no answer to {cmd}: {p.stdout!r} {p.stderr!r}")


def main(argv):
    altair, gen = argv[1], argv[2]
    if shutil.which("dpdk-telemetry.py") is None:
        print("dpdk-telemetry.py not installed (Debian package dpdk)")
        print("0 passed, 1 failed")
        return 1
    prefix = f"teltest{os.getpid()}"
    with tempfile.TemporaryDirectory() as d:
        pcap, truth = os.path.join(d, "t.pcap"), os.path.join(d, "t.jsonl")
        # 2000 records/s: the capture spans a few epochs, and epochs end
        # while it is read (no warm-up)
        g = subprocess.run([gen, "--format", "atr", "--traces", "300", "--seed", "3", "--rate", "2000",
                            "--out", pcap, "--truth", truth], capture_output=True, text=True, check=True)
        packets = int(dict(kv.split("=") for kv in g.stderr.split() if "=" in kv)["packets"])
        dags, summ = os.path.join(d, "d.jsonl"), os.path.join(d, "s.json")
        proc = subprocess.Popen([altair, "-l", "0-1", "--no-huge", "-m", "512", "--no-pci", "--file-prefix", prefix,
                                 "--log-level", "lib.eal:error", "--vdev", f"net_pcap0,rx_pcap={pcap}", "--",
                                 "--idle-advance-ms", "0", "--source-warmup-ms", "0", "--dags", dags,
                                 "--summary", summ,
                                 "--max-nodes", "65536", "--max-traces", "16384", "--quiet"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            stats = None
            for _ in range(100):            # wait until the capture is read
                time.sleep(0.1)
                try:
                    stats = query(prefix, "/altair/stats")
                except (RuntimeError, json.JSONDecodeError, subprocess.TimeoutExpired):
                    continue
                if stats and stats.get("rx_packets") == packets:
                    break
            check("stats: every packet received", stats is not None and stats["rx_packets"] == packets,
                  f"{stats} vs {packets}")
            if stats is not None:
                check("stats: records decoded, none final yet with time standing still",
                      stats["records_decoded"] > 0 and stats["records_pending"] + stats["records_in_trace"] ==
                      stats["records_decoded"], stats)
            w = query(prefix, "/altair/workers")
            check("workers", w["worker0"]["rx_packets"] == packets and w["worker0"]["rx_queues"] == 1, w)
            # every per-worker counter (DP_WORKER_COUNTERS) is answered by name
            names = {"rx_packets", "rx_bytes", "multiseg_frames", "nested_fragments", "dag_lines",
                     "dag_lines_dropped", "detail_truncated", "epochs_dropped", "epoch_waits", "busy_tsc",
                     "steer_frames_out", "steer_frames_in", "steer_waits", "steer_dropped_records",
                     "steer_ring_full", "steer_no_buffer", "records_decoded", "busy_us", "watermark_ns"}
            check("workers: every counter", names <= w["worker0"].keys(), sorted(names - w["worker0"].keys()))
            m = query(prefix, "/altair/memory")
            check("memory", m["worker0"]["nodes_capacity"] == 65536 and m["worker0"]["pipeline_bytes"] > 0, m)
            pt = query(prefix, "/altair/ports")
            check("ports", pt["port0"]["ipackets"] == packets and pt["port0"]["rss"] == "none", pt)
            e = query(prefix, "/altair/epoch")
            check("epoch: an object; the last epoch's numbers once one was written",
                  isinstance(e, dict) and e.get("epochs_written", -1) >= 0 and
                  (e["epochs_written"] == 0 or
                   {"epoch", "start_ns", "records", "traces_closed", "late", "processing_delay_us"} <= e.keys()), e)
            # without --epochs: epochs are still written (merged, published), no line is
            check("epoch: the epoch shown is counted, with no --epochs file",
                  "epoch" in e and e["epochs_written"] >= 1 and e.get("epoch_lines") == 0, e)
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                out, err = proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                out, err = proc.communicate()
        check("SIGTERM: exit 0", proc.returncode == 0, err[-500:])
        check("--quiet: no progress line", "packets (" not in out, out[-500:])
        if os.path.exists(summ):
            s = json.load(open(summ))
            check("SIGTERM: every trace drained", s["traces"]["by_closed_by"]["drain"] > 0 and
                  s["records"]["by_outcome"]["in_trace"] == s["records"]["decoded"] and
                  sum(1 for _ in open(dags)) == sum(1 for _ in open(truth)), s["traces"])
            o = s["outputs"]
            check("summary: epochs written as telemetry counts them, no --epochs lines",
                  o.get("epochs_written", 0) >= 2 and o["epoch_lines"] == 0, o)
            check("summary: every frame counted under one encapsulation (none)",
                  s["packets"]["encapsulation"]["none"] == packets and s["ports"][0]["rss"] == "none",
                  (s["packets"]["encapsulation"], s["ports"]))
        else:
            check("SIGTERM: summary written", False)

        # Progress lines while it runs (not --quiet), on stdout.
        p = subprocess.Popen([altair, "-l", "0-1", "--no-huge", "-m", "512", "--no-pci", "--file-prefix", prefix + "p",
                              "--log-level", "lib.eal:error", "--vdev", f"net_pcap0,rx_pcap={pcap}", "--",
                              "--progress-ms", "300", "--max-nodes", "65536", "--max-traces", "16384"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # wait for lines as they come (start-up takes longer on a loaded
        # machine), at most 20 s; then stop it
        seen, deadline = [], time.time() + 20
        while len(seen) < 4 and time.time() < deadline and p.poll() is None:
            r, _, _ = select.select([p.stdout], [], [], 0.5)
            if r:
                ln = p.stdout.readline()
                if not ln:
                    break
                seen.append(ln)
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=30)
        out = "".join(seen) + out
        lines = [x for x in out.splitlines() if x.startswith("altair: ") and " packets (" in x]
        check("progress: a line every --progress-ms", p.returncode == 0 and len(lines) >= 3 and
              f"{packets} packets" in lines[-1] and "dropped: 0 at the port" in lines[-1], out[-1500:])

        # Pools too big for -m: the report names every item in bytes, the
        # settings that size it and the -m that fits.
        p = subprocess.run([altair, "-l", "0-1", "--no-huge", "-m", "512", "--no-pci", "--file-prefix", prefix + "m",
                            "--log-level", "lib.eal:error", "--vdev", f"net_pcap0,rx_pcap={pcap}", "--", "--once",
                            "--quiet"], capture_output=True, text=True, timeout=60)
        need = ["memory taken at start", "pipeline per worker", "epoch statistics per worker",
                "epoch statistics, control lcore", "16 x", "stats-ops, stats-shapes", "max-nodes", "total",
                "give -m"]
        check("memory: the report when pools do not fit -m", p.returncode == 1 and all(x in p.stderr for x in need),
              p.stderr[-2500:])
        # Run-time messages go through the "altair" log type: --log-level
        # altair:emerg silences them (the exit status still tells).
        p = subprocess.run([altair, "-l", "0-1", "--no-huge", "-m", "512", "--no-pci", "--file-prefix", prefix + "m",
                            "--log-level", "lib.eal:error", "--log-level", "altair:emerg", "--vdev",
                            f"net_pcap0,rx_pcap={pcap}", "--", "--once", "--quiet"],
                           capture_output=True, text=True, timeout=60)
        check("log: messages under the altair log type", p.returncode == 1 and "memory taken" not in p.stderr,
              p.stderr[-1000:])
    for p in (prefix, prefix + "p", prefix + "m"):
        shutil.rmtree(f"/var/run/dpdk/{p}", ignore_errors=True)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
