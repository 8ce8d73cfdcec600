#!/usr/bin/env python3
"""Altair appliance benchmark driver (called by scripts/bench.sh).

Runs the real altair binary on large pre-generated altair-gen captures replayed
once through net_pcap (page-cached with `cat FILE >/dev/null` before every
timed run), and dpdk-testpmd (rxonly) on the same captures for the I/O ceiling.
Prints one JSON line per measured figure, then one line per target with
"pass": true/false. Runs are interleaved round-robin over the configurations
(rep 1 of every config, then rep 2, ...) so that ratios compare runs made in the
same period of a noisy machine; figures are medians over --reps.

Rates:
  active_wall_s = wall_s - idle_exit_ms/1000  (wall_s runs from the worker launch
                  to the end of the drain; a --once run ends only after every
                  port was idle for --idle-exit-ms, so that idle tail is removed;
                  the drain of the open traces at the end stays in)
  rec_per_s            = records.decoded / active_wall_s          (all workers)
  rec_per_s_per_worker = rec_per_s / workers
  rec_per_busy_worker_s = records.decoded / busy_s   (busy_s: worker busy time
                  summed over workers, idle polling excluded)
"""
import argparse
import json
import os
import queue
import re
import statistics
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NODE_BYTES = 80          # sizeof(struct alt_node) (lib/base/alt_base.h)
MIB = 1 << 20

CAPTURES = {
    # name: altair-gen arguments
    "atr": ["--format", "atr", "--traces", "220000", "--rate", "1000000", "--seed", "1"],
    "jaeger": ["--format", "jaeger-compact", "--traces", "140000", "--rate", "1000000", "--seed", "2"],
    # ATR/1 senders in TRACE_AFFINE mode (one trace per frame, source port from the trace ID)
    "atr-affine": ["--format", "atr", "--affine", "--traces", "220000", "--rate", "1000000", "--seed", "1"],
    # TS workload: 1.3 M records per second of event time, >= 5 s of event time
    "ts": ["--format", "atr", "--traces", "450000", "--rate", "1300000", "--seed", "3"],
    # tiny capture for the pool-size calibration
    "tiny": ["--format", "atr", "--traces", "200", "--rate", "100000", "--seed", "4"],
}

LCORES = {
    1: (["-l", "0-1"], "control lcore 0 on CPU 0, worker lcore 1 on CPU 1"),
    2: (["--lcores", "0@0,1@0,2@1"],
        "control lcore 0 on CPU 0 SHARED with worker 0 (lcore 1, CPU 0), worker 1 (lcore 2) on CPU 1"),
}


def emit(obj):
    print(json.dumps(obj, sort_keys=False), flush=True)


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def page_cache(path):
    with open(path, "rb") as f:
        while f.read(1 << 24):
            pass


class Bench:
    def __init__(self, args):
        self.a = args
        self.altair = os.path.join(ROOT, args.build, "app/altair/altair")
        self.gen = os.path.join(ROOT, args.build, "app/altair-gen/altair-gen")
        self.split_tool = os.path.join(ROOT, args.build, "tests/bench/rss_split")
        self.dir = args.dir
        os.makedirs(self.dir, exist_ok=True)
        self.seq = 0
        self.meta = {}

    # ---- captures ----
    def capture(self, name):
        pcap = os.path.join(self.dir, f"{name}.pcap")
        metaf = pcap + ".meta.json"
        gargs = CAPTURES[name]
        meta = None
        if os.path.exists(pcap) and os.path.exists(metaf):
            with open(metaf) as f:
                meta = json.load(f)
            if meta.get("args") != gargs or os.path.getsize(pcap) != meta.get("pcap_bytes"):
                meta = None
        if meta is None:
            log(f"generating {pcap}")
            p = subprocess.run([self.gen] + gargs + ["--out", pcap], capture_output=True, text=True)
            if p.returncode != 0:
                sys.exit(f"bench: altair-gen failed: {p.stderr}")
            kv = dict(re.findall(r"(\w+)=([\d.]+)", p.stderr + p.stdout))
            meta = {"args": gargs, "records": int(kv["records"]), "packets": int(kv["packets"]),
                    "traces": int(kv["traces"]), "event_seconds": float(kv["seconds"]),
                    "pcap_bytes": os.path.getsize(pcap)}
            with open(metaf, "w") as f:
                json.dump(meta, f)
        self.meta[name] = meta
        return pcap, meta

    def mem_args(self, mb):
        """Hugepages when the machine has enough free (as the product runs),
        else ordinary memory (--no-huge). --huge-unlink: a run that ends
        (or is killed at its timeout) leaves no hugepage files holding
        memory, which would push later runs onto --no-huge."""
        if self.a.hugepages == "no" or (self.a.hugepages == "auto" and huge_free_mb() < mb):
            return ["--no-huge", "-m", str(mb)]
        return ["--socket-mem", str(mb), "--huge-unlink"]

    def split(self, name, mode, nq=2):
        """The capture spread over nq pcaps as NIC RSS (mode l4-src or ip-udp)
        spreads it over nq queues: nq net_pcap ports stand in for nq queues."""
        pcap, _ = self.capture(name)
        prefix = os.path.join(self.dir, f"{name}.{mode}")
        outs = [f"{prefix}.{i}.pcap" for i in range(nq)]
        if not all(os.path.exists(o) and os.path.getmtime(o) >= os.path.getmtime(pcap) for o in outs):
            log(f"splitting {pcap} ({mode}, {nq} queues)")
            p = subprocess.run([self.split_tool, "--mode", mode, "--queues", str(nq), pcap, prefix],
                               capture_output=True, text=True)
            if p.returncode != 0:
                sys.exit(f"bench: rss_split failed: {p.stderr}")
        return outs

    # ---- altair ----
    def run_altair(self, name, workers, extra=(), mem_mb=None, label=None, wrap=None, pcaps=None):
        pcap, meta = self.capture(name)
        pcaps = pcaps or [pcap]
        self.seq += 1
        tag = f"{label or name}-w{workers}-{self.seq}"
        prefix = f"altbench{os.getpid()}_{self.seq}"
        summ = os.path.join(self.dir, f"run-{tag}.summary.json")
        epochs = os.path.join(self.dir, f"run-{tag}.epochs.jsonl")
        timef = os.path.join(self.dir, f"run-{tag}.time.txt")
        for f in (summ, epochs):
            if os.path.exists(f):
                os.unlink(f)
        lc, _ = LCORES[workers]
        mem = mem_mb or self.a.mem_mb
        vdevs = []
        for i, pc in enumerate(pcaps):
            vdevs += ["--vdev", f"net_pcap{i},rx_pcap={pc}"]
        cmd = [self.altair] + lc + self.mem_args(mem) + ["--no-pci", "--file-prefix", prefix,
                                    "--log-level", "lib.eal:error"] + vdevs + [
                                    "--", "--once", "--idle-exit-ms", str(self.a.idle_exit_ms),
                                    "--epochs", epochs, "--summary", summ, "--quiet",
                                    "--workers", str(workers)] + list(extra)
        full = (wrap or []) + ["/usr/bin/time", "-v", "-o", timef] + cmd
        for pc in pcaps:
            page_cache(pc)
        p = subprocess.run(full, capture_output=True, text=True, timeout=self.a.timeout)
        rss_kb = None
        if os.path.exists(timef):
            m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(timef).read())
            rss_kb = int(m.group(1)) if m else None
        if p.returncode != 0 or not os.path.exists(summ):
            log(f"altair failed rc={p.returncode} ({tag}): {' '.join(cmd)}\n{p.stderr[-2000:]}")
            return {"ok": False, "rc": p.returncode, "cmd": " ".join(cmd), "stderr": p.stderr[-500:]}
        with open(summ) as f:
            s = json.load(f)
        rec = s["records"]["decoded"]
        pk = s["packets"]["received"]
        active = s["wall_s"] - self.a.idle_exit_ms / 1000.0
        r = {
            "ok": True, "cmd": " ".join(cmd), "records": rec, "packets": pk,
            "records_expected": meta["records"],
            "wall_s": s["wall_s"], "active_wall_s": active, "busy_s": s["busy_s"],
            "rec_per_s": rec / active if active > 0 else None,
            "rec_per_s_per_worker": rec / active / workers if active > 0 else None,
            "rec_per_busy_worker_s": rec / s["busy_s"] if s["busy_s"] > 0 else None,
            "pkt_per_s": pk / active if active > 0 else None,
            "pkt_per_busy_worker_s": pk / s["busy_s"] if s["busy_s"] > 0 else None,
            "memory": s.get("memory", {}), "rss_kb": rss_kb,
            "epoch_delay_ms": s.get("epoch_delay_ms", {}),
            "epoch_lines": s["outputs"]["epoch_lines"],
            "pressure": s["traces"]["by_closed_by"].get("pressure", 0),
            "by_closed_by": s["traces"]["by_closed_by"],
            "dropped_no_memory": s["records"]["by_outcome"].get("dropped_no_memory", 0),
            "steered": s["records"].get("steered", 0),
            "per_worker": s.get("per_worker", []),
            # what was built, to check before a rate is reported
            "traces_closed": s["traces"]["closed"],
            "traces_digest": s.get("traces_digest"),
            "late": s["records"].get("late", 0),
            "late_fragments": s["traces"].get("late_fragments", 0),
        }
        if not self.a.keep:
            for f in (summ, epochs, timef):
                if os.path.exists(f):
                    os.unlink(f)
        return r

    def verify(self, runs, reference=None):
        """A run's output must be right before its rate counts: no late
        record, no late fragment, and (given a 1-worker reference digest)
        exactly the traces, with the same records, that one worker closes.
        Runs that fail are marked ok=False with the reason."""
        if self.a.no_verify:
            return runs
        for r in runs:
            if not r.get("ok"):
                continue
            why = []
            if r["late"] or r["late_fragments"]:
                why.append(f"{r['late']} late records, {r['late_fragments']} late fragments")
            if reference is not None and r["traces_digest"] != reference:
                why.append(f"closed traces differ from one worker's (digest {r['traces_digest']} != {reference})")
            if why:
                r["ok"] = False
                r["stderr"] = "; ".join(why)
                log(f"run rejected: {r['stderr']}")
        return runs

    def summarize(self, bench, name, workers, runs, **kw):
        ok = [r for r in runs if r.get("ok")]
        out = {"bench": bench, "capture": name, "workers": workers, "lcores": LCORES[workers][1],
               "reps": len(ok), "failed_runs": len(runs) - len(ok)}
        out.update(kw)
        if not ok:
            out["error"] = runs[-1].get("stderr", "") if runs else "no runs"
            return out
        meta = self.meta[name]
        out.update({
            "records": ok[0]["records"], "records_expected": meta["records"],
            "packets": ok[0]["packets"], "event_seconds": meta["event_seconds"],
            "pcap_bytes": meta["pcap_bytes"],
            "rec_per_s": med(r["rec_per_s"] for r in ok),
            "rec_per_s_per_worker": med(r["rec_per_s_per_worker"] for r in ok),
            "rec_per_busy_worker_s": med(r["rec_per_busy_worker_s"] for r in ok),
            "pkt_per_s": med(r["pkt_per_s"] for r in ok),
            "pkt_per_busy_worker_s": med(r["pkt_per_busy_worker_s"] for r in ok),
            "active_wall_s": med(r["active_wall_s"] for r in ok),
            "busy_s": med(r["busy_s"] for r in ok),
            "rec_per_s_runs": [round(r["rec_per_s"]) for r in ok],
            "rec_per_busy_worker_s_runs": [round(r["rec_per_busy_worker_s"]) for r in ok],
            "memory": {k: med(r["memory"].get(k) for r in ok) for k in ok[0]["memory"]},
            "nodes_peak_bytes": med(r["memory"].get("nodes_peak", 0) * NODE_BYTES for r in ok),
            "rss_peak_kb": med(r["rss_kb"] for r in ok),
            "epoch_delay_ms": {"p50": med(r["epoch_delay_ms"].get("p50") for r in ok),
                               "p99": med(r["epoch_delay_ms"].get("p99") for r in ok),
                               "p99_max": max(r["epoch_delay_ms"].get("p99", 0) for r in ok)},
            "epoch_lines": ok[0]["epoch_lines"],
            "closed_by": ok[0]["by_closed_by"],
            "pressure_closes": max(r["pressure"] for r in ok),
            "steered_records": ok[0]["steered"],
            "traces_closed": ok[0]["traces_closed"],
            "traces_digest": ok[0]["traces_digest"],
            "verified": "no late record or fragment" + (", same traces as 1 worker" if workers > 1 else ""),
            "cmd": ok[0]["cmd"],
        })
        return out

    # ---- testpmd ----
    def run_testpmd(self, name):
        pcap, meta = self.capture(name)
        self.seq += 1
        prefix = f"tpbench{os.getpid()}_{self.seq}"
        cmd = ["dpdk-testpmd", "-l", "0-1"] + self.mem_args(1024) + ["--no-pci", "--file-prefix", prefix,
               "--log-level", "lib.eal:error", "--vdev", f"net_pcap0,rx_pcap={pcap}", "--",
               "-i", "--forward-mode=rxonly", "--no-flush-rx", "--record-core-cycles",
               "--total-num-mbufs=16384"]
        page_cache(pcap)
        p = subprocess.Popen(["stdbuf", "-oL", "-eL"] + cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, bufsize=1)
        q = queue.Queue()

        def reader():
            for line in p.stdout:
                q.put((time.monotonic(), line))
            q.put((time.monotonic(), None))
        threading.Thread(target=reader, daemon=True).start()
        lines = []

        def send(s):
            p.stdin.write(s + "\n")
            p.stdin.flush()

        def drain(until=None, timeout=30.0):
            end = time.monotonic() + timeout
            while time.monotonic() < end:
                try:
                    t, line = q.get(timeout=0.05)
                except queue.Empty:
                    if until is None:
                        return None
                    continue
                if line is None:
                    return None
                lines.append((t, line))
                if until is not None and until(line):
                    return (t, line)
            return None
        # the prompt has no newline: wait for the "Done" that ends "Checking link statuses..."
        drain(lambda l: l.strip() == "Done", timeout=30)
        time.sleep(0.3)
        drain()
        t0 = time.monotonic()
        send("start")
        samples = []
        target = meta["packets"]
        last_change = time.monotonic()
        last = -1
        while time.monotonic() - last_change < 3.0:
            send("show port stats 0")
            time.sleep(0.01)
            got = drain(lambda l: re.search(r"RX-packets:\s+\d+\s+RX-missed", l) is not None, timeout=5)
            if got is None:
                break
            n = int(re.search(r"RX-packets:\s+(\d+)", got[1]).group(1))
            samples.append((got[0], n))
            if n != last:
                last, last_change = n, time.monotonic()
            if n >= target:
                break
        send("stop")
        time.sleep(0.5)
        send("quit")
        try:
            p.stdin.close()
        except OSError:
            pass
        drain(None, timeout=1)
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
        while drain(None, timeout=0.2) is not None:
            pass
        text = "".join(l for _, l in lines)
        m = re.search(r"CPU cycles/packet=([\d.]+) \((?:busy|total) cycles=(\d+) / total \S+ packets=(\d+)\) "
                      r"at (\d+) MHz", text)
        r = {"ok": m is not None, "cmd": " ".join(cmd) + "  (stdin: start; show port stats 0 every 10 ms; stop)",
             "packets": last}
        if m:
            cpp, mhz = float(m.group(1)), int(m.group(4))
            r["cycles_per_packet"] = cpp
            r["pkt_per_busy_s"] = mhz * 1e6 / cpp
        done = next((t for t, n in samples if n >= target), None)
        if done is not None:
            r["wall_s"] = done - t0   # upper bound: includes the 'start' command and 10 ms sampling
            r["pkt_per_s"] = target / r["wall_s"]
        return r

    # ---- main parts ----
    def part_rates(self, want, captures):
        names = [n for n in captures if n in want]
        res = {}
        runs = {}
        for n in names:
            self.capture(n)
        for rep in range(self.a.reps):
            for n in names:
                log(f"altair {n} workers=1 rep {rep + 1}/{self.a.reps}")
                runs.setdefault((n, 1), []).append(self.run_altair(n, 1, extra=self.a.rate_pools.split()))
        for n in names:
            self.verify(runs[(n, 1)])
            s = self.summarize("altair", n, 1, runs[(n, 1)], input="one net_pcap port (one RX queue)")
            res[(n, 1)] = s
            emit(s)
        if "scaling" in want:
            res.update(self.part_scaling(captures))
        return res

    def part_scaling(self, names):
        """1 vs 2 workers on the same traffic arriving on two RX queues (two
        net_pcap ports, filled as NIC RSS would fill two queues): ATR/1
        TRACE_AFFINE with RSS on the UDP source port (steer-by l4-src: no
        record crosses lcores), Jaeger with RSS on IP addresses + UDP ports
        (records steered to their trace's owner)."""
        plan = {"atr": ("atr-affine", "l4-src", ["--steer-by", "l4-src"]),
                "jaeger": ("jaeger", "ip-udp", [])}
        res = {}
        for n in names:
            cap, mode, extra = plan[n]
            pcaps = self.split(cap, mode)
            pair = {1: [], 2: []}
            for rep in range(self.a.reps):
                for w in (1, 2):
                    log(f"altair {cap} ({mode} queues) workers={w} rep {rep + 1}/{self.a.reps}")
                    pair[w].append(self.run_altair(cap, w, extra=extra + self.a.rate_pools.split(), pcaps=pcaps,
                                                   label=f"{cap}-{mode}"))
            self.verify(pair[1])
            ref = next((r["traces_digest"] for r in pair[1] if r.get("ok")), None)
            if ref is None:
                log(f"no verified 1-worker run of {cap}: the 2-worker runs cannot be checked")
            self.verify(pair[2], reference=ref if ref is not None else "none")
            for w in (1, 2):
                s = self.summarize("altair", cap, w, pair[w], input=f"two net_pcap ports as {mode} RSS queues",
                                   steered=[r.get("steered") for r in pair[w] if r.get("ok")])
                emit(s)
                res[(f"{cap}-{mode}", w)] = s
            ok = [(a, b) for a, b in zip(pair[1], pair[2]) if a.get("ok") and b.get("ok")]
            if ok:
                ratio = med(b["rec_per_s"] / a["rec_per_s"] for a, b in ok)
                emit({"bench": "scaling", "capture": cap, "rss": mode,
                      "ratio_2w_over_1w_wall": ratio,
                      "ratios_wall_runs": [round(b["rec_per_s"] / a["rec_per_s"], 3) for a, b in ok],
                      "note": "same input, same two ports; per rep then median"})
                res[("ratio", n)] = ratio
        return res

    def calibrate_pools(self):
        """pipeline_bytes as a function of --max-nodes and --max-traces (1 worker)."""
        n0, t0 = 65536, 16384
        pts = {}
        for n, t in ((n0, t0), (2 * n0, t0), (n0, 2 * t0)):
            r = self.run_altair("tiny", 1, ["--max-nodes", str(n), "--max-traces", str(t)], label="calib")
            if not r.get("ok"):
                return None
            pts[(n, t)] = r["memory"]["pipeline_bytes"]
        per_node = (pts[(2 * n0, t0)] - pts[(n0, t0)]) / n0
        per_trace = (pts[(n0, 2 * t0)] - pts[(n0, t0)]) / t0
        fixed = pts[(n0, t0)] - per_node * n0 - per_trace * t0
        return {"bytes_per_node_slot": per_node, "bytes_per_trace_slot": per_trace, "fixed_bytes": fixed}

    def part_templates(self, names):
        """The cost of anomaly detection: templates learned (altair-learn)
        from a one-worker run of the same capture, then one worker with and
        without --templates, alternating, same pools; the ratio per pair, then
        the median. Both outputs must verify (no late record or fragment)."""
        learn = os.path.join(ROOT, self.a.build, "app/altair-learn/altair-learn")
        res = {}
        for n in names:
            pcap, _ = self.capture(n)
            dags = os.path.join(self.dir, f"learn-{n}.dags.jsonl")
            tmpl = os.path.join(self.dir, f"learn-{n}.tmpl")
            log(f"templates for {n}: --dags full, then altair-learn")
            r = self.run_altair(n, 1, extra=self.a.rate_pools.split() + ["--dags", dags, "--dag-detail", "full"],
                                label=f"{n}-learn")
            if not r.get("ok"):
                log(f"templates: the learning run failed: {r.get('stderr')}")
                continue
            p = subprocess.run([learn, "-o", tmpl, "-q", dags], capture_output=True, text=True)
            os.unlink(dags)
            if p.returncode != 0:
                log(f"templates: altair-learn failed: {p.stderr[-500:]}")
                continue
            pair = {"off": [], "on": []}
            for rep in range(self.a.reps):
                for mode in ("off", "on"):
                    extra = self.a.rate_pools.split() + (["--templates", tmpl] if mode == "on" else [])
                    log(f"altair {n} templates {mode} rep {rep + 1}/{self.a.reps}")
                    pair[mode].append(self.run_altair(n, 1, extra=extra, label=f"{n}-tmpl-{mode}"))
            self.verify(pair["off"])
            self.verify(pair["on"])
            for mode in ("off", "on"):
                emit(self.summarize("altair", n, 1, pair[mode], templates=mode))
            ok = [(a, b) for a, b in zip(pair["off"], pair["on"]) if a.get("ok") and b.get("ok")]
            if ok:
                ratio = med(b["rec_per_s"] / a["rec_per_s"] for a, b in ok)
                emit({"bench": "templates_cost", "capture": n, "ratio_on_over_off": ratio,
                      "ratios_runs": [round(b["rec_per_s"] / a["rec_per_s"], 3) for a, b in ok],
                      "note": "1 worker, same pools, per rep then median; cost = 1 - ratio"})
                res[("templates", n)] = ratio
        return res

    def part_ts(self):
        name = "ts"
        pcap, meta = self.capture(name)
        mem = self.a.ts_mem_mb
        runs = []
        for rep in range(self.a.reps):
            log(f"altair ts (default pools) rep {rep + 1}/{self.a.reps}")
            runs.append(self.run_altair(name, 1, mem_mb=mem))
        s = self.summarize("ts_workload", name, 1, runs,
                           gen=" ".join([os.path.relpath(self.gen, ROOT)] + CAPTURES[name]),
                           pools="default (--max-nodes 1048576 --max-traces 131072)")
        emit(s)
        ok = [r for r in runs if r.get("ok")]
        if not ok:
            return {"ts": s}
        calib = self.calibrate_pools()
        if calib:
            emit(dict(bench="pool_calibration", **calib,
                      note="marginal pipeline_bytes per --max-nodes slot (incl. parent-ext pool = max_nodes/8) "
                           "and per --max-traces slot, from 3 runs on a tiny capture"))
        need_n = max(r["memory"]["nodes_peak"] for r in ok)
        need_t = max(r["memory"]["traces_peak"] for r in ok)
        # smallest pools with 0 pressure closes: start at the observed peaks, grow 2 % until clean
        n, t = max(need_n, 1024), max(need_t, 16)
        best = None
        for _ in range(8):
            log(f"altair ts --max-nodes {n} --max-traces {t}")
            r = self.run_altair(name, 1, ["--max-nodes", str(n), "--max-traces", str(t)], mem_mb=mem, label="tsmin")
            if r.get("ok") and r["pressure"] == 0 and r["dropped_no_memory"] == 0:
                best = (n, t, r)
                break
            n, t = int(n * 1.02) + 1, int(t * 1.02) + 1
        out = {"bench": "ts_min_pools", "capture": name, "nodes_peak_default": need_n, "traces_peak_default": need_t}
        if best:
            n, t, r = best
            # minimality probes: 2 % less of either pool must cause pressure
            probes = {}
            for k, (pn, pt) in {"nodes_minus_2pct": (int(n * 0.98), t), "traces_minus_2pct": (n, int(t * 0.98))}.items():
                pr = self.run_altair(name, 1, ["--max-nodes", str(pn), "--max-traces", str(pt)], mem_mb=mem,
                                     label="tsprobe")
                probes[k] = {"max_nodes": pn, "max_traces": pt, "pressure_closes": pr.get("pressure"),
                             "dropped_no_memory": pr.get("dropped_no_memory")}
            out.update({"max_nodes": n, "max_traces": t, "pressure_closes": 0,
                        "pipeline_bytes": r["memory"]["pipeline_bytes"],
                        "pipeline_mib": r["memory"]["pipeline_bytes"] / MIB,
                        "node_pool_bytes": n * NODE_BYTES,
                        "held_bytes_nodes_peak_x80": r["memory"]["nodes_peak"] * NODE_BYTES,
                        "memory": r["memory"], "rss_peak_kb": r["rss_kb"],
                        "rec_per_s": r["rec_per_s"], "epoch_delay_ms": r["epoch_delay_ms"],
                        "probes": probes, "cmd": r["cmd"]})
            if calib:
                out["held_bytes_est"] = (r["memory"]["nodes_peak"] * calib["bytes_per_node_slot"] +
                                         r["memory"]["traces_peak"] * calib["bytes_per_trace_slot"])
                out["fixed_bytes"] = calib["fixed_bytes"]
        else:
            out["error"] = "no pool size up to +17 % of the peaks ran without pressure closes"
        emit(out)
        return {"ts": s, "ts_min": out}

    def part_io(self, names, altair_res):
        res = {}
        for n in names:
            runs = []
            for rep in range(self.a.reps):
                log(f"testpmd {n} rep {rep + 1}/{self.a.reps}")
                runs.append(self.run_testpmd(n))
            ok = [r for r in runs if r.get("ok")]
            out = {"bench": "io_ceiling_testpmd", "capture": n, "reps": len(ok),
                   "packets": self.meta[n]["packets"],
                   "pkt_per_busy_s": med(r.get("pkt_per_busy_s") for r in ok),
                   "cycles_per_packet": med(r.get("cycles_per_packet") for r in ok),
                   "pkt_per_s_wall": med(r.get("pkt_per_s") for r in ok),
                   "pkt_per_busy_s_runs": [round(r["pkt_per_busy_s"]) for r in ok],
                   "cmd": ok[0]["cmd"] if ok else runs[-1].get("cmd")}
            a = altair_res.get((n, 1))
            if a and out["pkt_per_busy_s"]:
                out["altair_pkt_per_busy_worker_s"] = a["pkt_per_busy_worker_s"]
                out["altair_fraction_busy"] = a["pkt_per_busy_worker_s"] / out["pkt_per_busy_s"]
                if out["pkt_per_s_wall"]:
                    out["altair_pkt_per_s_wall"] = a["pkt_per_s"]
                    out["altair_fraction_wall"] = a["pkt_per_s"] / out["pkt_per_s_wall"]
            out["note"] = ("testpmd rxonly, one lcore; pkt_per_busy_s from --record-core-cycles (cycles only "
                           "counted for bursts that returned packets, like altair's busy_s); pkt_per_s_wall from "
                           "polling 'show port stats' every 10 ms (coarse, upper bound on time)")
            emit(out)
            res[n] = out
        return res


def target(name, value, op, thr, unit, note=""):
    ok = value is not None and (value >= thr if op == ">=" else value <= thr)
    emit({"target": name, "value": value, "op": op, "threshold": thr, "unit": unit,
          "pass": bool(ok), "note": note})


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--dir", default="/tmp/altair-bench", help="capture cache and scratch directory")
    ap.add_argument("--only", default="atr,jaeger,scaling,ts,io,templates",
                    help="comma list of parts: atr, jaeger (1-worker rates), scaling (1 vs 2 workers on two "
                         "RX queues), ts, io, templates (1 worker with and without anomaly templates)")
    ap.add_argument("--captures", default="atr,jaeger",
                    help="comma list: which of atr, jaeger the rate, scaling and io parts run")
    ap.add_argument("--mem-mb", type=int, default=4096, help="EAL -m for the rate runs")
    ap.add_argument("--ts-mem-mb", type=int, default=4096, help="EAL -m for the TS workload")
    ap.add_argument("--idle-exit-ms", type=int, default=500)
    ap.add_argument("--hugepages", choices=("auto", "yes", "no"), default="auto",
                    help="auto: hugepages when enough are free (dpdk-hugepages.py -p 2M --setup 4G), else --no-huge")
    ap.add_argument("--timeout", type=int, default=300)
    ap.add_argument("--keep", action="store_true", help="keep per-run summary/epochs/time files in --dir")
    ap.add_argument("--rate-pools", default="--max-nodes 4194304 --max-traces 524288",
                    help="pool options of the rate and scaling runs: large enough that no trace closes by "
                         "pressure, or outputs would differ with the number of workers and no run would verify")
    ap.add_argument("--no-verify", action="store_true",
                    help="report rates of runs whose output is wrong too (only to measure an older binary)")
    ap.add_argument("--perf", action="store_true",
                    help="instead of the benchmark: perf record -g one 1-worker run per capture and print "
                         "the worker's hot spots")
    a = ap.parse_args()
    b = Bench(a)
    if a.perf:
        return perf_main(b)
    want = set(a.only.split(","))
    emit({"bench": "machine", "cpu": cpu_model(), "cpus": os.cpu_count(), "reps": a.reps,
          "idle_exit_ms": a.idle_exit_ms, "build": a.build, "hugepages_free_mb": huge_free_mb(),
          "hugepages": a.hugepages, "build_type": build_type(a.build),
          "altair_binary": binary_id(b.altair)})
    res = {}
    captures = [n for n in ("atr", "jaeger") if n in a.captures.split(",")]
    if not captures:
        sys.exit("bench: --captures: atr and/or jaeger")
    if want & {"atr", "jaeger", "scaling"}:
        res.update(b.part_rates(want, captures))
    if "io" in want:
        res.update({("io", k): v for k, v in b.part_io([n for n in captures if n in want or
                                                        not want & {"atr", "jaeger"}], res).items()})
    if "ts" in want:
        res.update(b.part_ts())
    if "templates" in want:
        res.update(b.part_templates(captures))
    # targets
    if ("atr", 1) in res:
        target("atr_records_per_s_1_worker", res[("atr", 1)]["rec_per_s"], ">=", 3e6, "records/s",
               f"per active wall second; per busy worker-second: {res[('atr', 1)]['rec_per_busy_worker_s']:.0f}")
    if ("jaeger", 1) in res:
        target("jaeger_compact_spans_per_s_1_worker", res[("jaeger", 1)]["rec_per_s"], ">=", 1e6, "spans/s",
               f"per busy worker-second: {res[('jaeger', 1)]['rec_per_busy_worker_s']:.0f}")
    for n in ("atr", "jaeger"):
        if ("ratio", n) in res:
            target(f"scaling_2w_over_1w_{n}", res[("ratio", n)], ">=", 1.7, "x",
                   "same input on two RX queues (two net_pcap ports filled as RSS would fill them); control lcore shares CPU 0 with worker 0")
    for n in ("atr", "jaeger"):
        if ("templates", n) in res:
            target(f"templates_cost_{n}", 1.0 - res[("templates", n)], "<=", 0.10, "fraction of 1-worker rate",
                   "1 - median rate with --templates / without, per rep")
    if "ts_min" in res:
        t = res["ts_min"]
        target("ts_workload_pools_bytes", t.get("pipeline_bytes"), "<=", 128 * MIB, "bytes",
               f"pipeline_bytes at the smallest pools without pressure (--max-nodes {t.get('max_nodes')} "
               f"--max-traces {t.get('max_traces')}); records held at peak x 80 B = "
               f"{t.get('held_bytes_nodes_peak_x80')}")
    p99s = {f"{k[0]}_w{k[1]}": v["epoch_delay_ms"]["p99"] for k, v in res.items()
            if isinstance(k, tuple) and len(k) == 2 and isinstance(k[1], int) and "epoch_delay_ms" in v}
    if "ts" in res and "epoch_delay_ms" in res["ts"]:
        p99s["ts_w1"] = res["ts"]["epoch_delay_ms"]["p99"]
    if p99s:
        worst = max(p99s, key=lambda k: p99s[k] or 0)
        target("epoch_delay_p99_ms", p99s[worst], "<=", 10.0, "ms",
               f"worst median p99 over the configurations ({worst}); all: " +
               ", ".join(f"{k}={v}" for k, v in p99s.items()))
    emit({"bench": "end", "altair_binary": binary_id(b.altair),
          "note": "if altair_binary differs from the machine line, the binary was rebuilt during the run"})
    return 0


def huge_free_mb():
    try:
        info = open("/proc/meminfo").read()
        free = int(re.search(r"HugePages_Free:\s+(\d+)", info).group(1))
        size = int(re.search(r"Hugepagesize:\s+(\d+) kB", info).group(1))
        return free * size // 1024
    except (OSError, AttributeError):
        return 0


def cpu_model():
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        m = re.search(r"Model name:\s+(.*)", out)
        return m.group(1).strip() if m else None
    except OSError:
        return None


def binary_id(path):
    """mtime and size of the binary: other engineers may rebuild it during a run."""
    st = os.stat(path)
    return {"mtime": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(st.st_mtime)), "size": st.st_size}


def build_type(build):
    try:
        with open(os.path.join(ROOT, build, "meson-info/intro-buildoptions.json")) as f:
            return next(o["value"] for o in json.load(f) if o["name"] == "buildtype")
    except (OSError, StopIteration, ValueError):
        return None


def perf_main(b):
    for name in ("atr", "jaeger"):
        data = os.path.join(b.dir, f"perf-{name}.data")
        r = b.run_altair(name, 1, wrap=["perf", "record", "-g", "-o", data, "--"], label="perf")
        emit({"bench": "perf", "capture": name, "ok": r.get("ok"), "perf_data": data,
              "rec_per_busy_worker_s_under_perf": r.get("rec_per_busy_worker_s")})
        rep = subprocess.run(["perf", "report", "-i", data, "--no-children", "--comm", "rte-worker-1",
                              "--sort", "sym", "--stdio", "-g", "none", "--percent-limit", "1"],
                             capture_output=True, text=True).stdout
        if "%" not in rep:
            rep = subprocess.run(["perf", "report", "-i", data, "--no-children", "--sort", "comm,sym",
                                  "--stdio", "-g", "none", "--percent-limit", "1"],
                                 capture_output=True, text=True).stdout
        print(f"# perf report ({name}, worker thread, self time)\n" +
              "\n".join(l for l in rep.splitlines() if "%" in l), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
