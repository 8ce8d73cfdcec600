#!/usr/bin/env python3
"""Integration tests: run the real altair binary (DPDK, --no-huge, net_pcap
vdev) on altair-gen captures and check its outputs exactly against the
generator's ground truth and the accounting invariants.

usage: test_appliance.py ALTAIR ALTAIR_GEN RSS_SPLIT [SCENARIO ...]
Closing line: "N passed, N failed" (one check per scenario).
"""
import collections
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import truthcmp  # noqa: E402

SEED = 7
# name: (altair-gen arguments, altair arguments, options)
SCENARIOS = {
    "atr": (["--format", "atr", "--traces", "300"], [], {}),
    "atr-affine": (["--format", "atr", "--affine", "--traces", "300"], [], {}),
    "jaeger-compact": (["--format", "jaeger-compact", "--traces", "300"], [], {}),
    "jaeger-binary": (["--format", "jaeger-binary", "--traces", "300"], [], {}),
    "xtrace": (["--format", "xtrace", "--traces", "200"], [], {}),
    "jaeger-fragmented": (["--format", "jaeger-compact", "--traces", "400", "--flush-us", "20000",
                           "--mtu", "1500"], [], {"need_reassembly": True}),
    "jaeger-binary-fragmented-ipv6": (["--format", "jaeger-binary", "--traces", "300", "--flush-us", "20000",
                                       "--mtu", "1500", "--ipv6"], [], {"need_reassembly": True}),
    "atr-vlan-noise": (["--format", "atr", "--traces", "300", "--vlan", "42", "--noise", "0.3"], [], {"noise": True}),
    "atr-qinq-ipv6-noise": (["--format", "atr", "--traces", "300", "--qinq", "100,200", "--ipv6",
                             "--noise", "0.3"], [], {"noise": True}),
    "jaeger-qinq-noise": (["--format", "jaeger-binary", "--traces", "200", "--qinq", "7,8",
                           "--noise", "0.2", "--mtu", "1500", "--flush-us", "10000"], [], {"noise": True}),
    "atr-loss": (["--format", "atr", "--traces", "300", "--loss", "0.03"], [], {"loss": True}),
    "atr-anomalies": (["--format", "atr", "--traces", "300", "--anomaly-rate", "0.2"], [], {}),
    # A capture shorter than the warm-up, with the warm-up off: epochs pass
    # while the replay runs.
    "atr-slow": (["--format", "atr", "--traces", "400", "--rate", "2000"], ["--source-warmup-ms", "0"],
                 {"closed_by": ["gap", "closes_trace"], "min_epochs": 3}),
    "jaeger-slow": (["--format", "jaeger-compact", "--traces", "300", "--rate", "2000"], ["--source-warmup-ms", "0"],
                    {"closed_by": ["gap"], "min_epochs": 3}),
    "atr-2workers": (["--format", "atr", "--traces", "600", "--rate", "5000"], [],
                     {"workers": 2, "closed_by": ["closes_trace"]}),
    "jaeger-2workers-fragmented": (["--format", "jaeger-compact", "--traces", "600", "--rate", "5000",
                                    "--flush-us", "20000"], [], {"workers": 2, "need_reassembly": True}),
    "xtrace-2workers": (["--format", "xtrace", "--traces", "300"], [], {"workers": 2}),
    # Node pool far too small for a 2 s gap: the oldest traces close early by
    # pressure (flagged truncated), later records of them come out as late
    # fragments, and nothing is lost or crashes.
    "atr-pressure": (["--format", "atr", "--traces", "400", "--rate", "2000", "--no-closes-trace"],
                     ["--max-nodes", "2048", "--max-traces", "256"], {"pressure": True}),
    # Remote-mirroring encapsulations around every frame (noise included).
    "encap-gre": (["--format", "atr", "--traces", "150", "--encap", "gre", "--noise", "0.1"], [],
                  {"encap": "gre", "noise": True}),
    "encap-gre-ip-ipv6": (["--format", "jaeger-binary", "--traces", "150", "--encap", "gre-ip", "--encap-ipv6",
                           "--flush-us", "20000"], [], {"encap": "gre", "need_reassembly": True}),
    "encap-erspan2": (["--format", "jaeger-compact", "--traces", "150", "--encap", "erspan2", "--vlan", "9",
                       "--flush-us", "20000"], [], {"encap": "erspan2", "need_reassembly": True}),
    "encap-erspan3": (["--format", "atr", "--traces", "150", "--encap", "erspan3", "--erspan3-subheader",
                       "--encap-ipv6"], [], {"encap": "erspan3"}),
    "encap-vxlan": (["--format", "xtrace", "--traces", "150", "--encap", "vxlan", "--qinq", "3,4",
                     "--noise", "0.1"], [], {"encap": "vxlan", "noise": True}),
    # Two RX queues filled as NIC RSS on the UDP source port would fill them
    # (two pcap ports): TRACE_AFFINE frames reach their owner, nothing is
    # steered (per-worker counters), every trace still comes out whole.
    "atr-affine-l4src-2queues": (["--format", "atr", "--affine", "--traces", "600", "--rate", "5000"],
                                 ["--steer-by", "l4-src"],
                                 {"workers": 2, "split": ("l4-src", 2), "no_steering": True}),
    # Two RX queues filled by IP/UDP RSS: batches of one trace land on both
    # workers; steering by trace ID keeps each trace on one worker.
    "jaeger-ipudp-2queues": (["--format", "jaeger-compact", "--traces", "600", "--rate", "5000",
                              "--emitters-per-service", "4"], [],
                             {"workers": 2, "split": ("ip-udp", 2)}),
    "atr-custom-port": (["--format", "atr", "--traces", "100", "--port", "9999"],
                        ["--udp-ports", "atr=9999"], {}),
}

# Senders that behave like real tracing agents: every emitter flushes on its
# own timer, 50 ms to 5 s (batches also leave when full), for 25-30 s of
# traffic, well past the warm-up, with the appliance's default time model.
# Every trace must come out whole and no record may be late, whatever the
# format, however many workers, however the capture is split over queues:
# by NIC RSS on IP and ports, on the UDP source port (ATR/1 TRACE_AFFINE),
# or by sending host (one mirror port per group of hosts).
AGENTS = ["--traces", "1500", "--rate", "1000", "--flush-ms", "50-5000"]
for _fmt in ("atr", "jaeger-compact", "jaeger-binary", "xtrace"):
    SCENARIOS[f"agents-{_fmt}"] = (["--format", _fmt] + AGENTS, [], {"agents": True})
    SCENARIOS[f"agents-{_fmt}-2w-ipudp"] = (["--format", _fmt] + AGENTS, [],
                                           {"agents": True, "workers": 2, "split": ("ip-udp", 2)})
SCENARIOS.update({
    "agents-atr-3w-hosts": (["--format", "atr"] + AGENTS, [],
                            {"agents": True, "workers": 3, "split": ("src-host", 3)}),
    "agents-jaeger-compact-2w-hosts": (["--format", "jaeger-compact"] + AGENTS, [],
                                       {"agents": True, "workers": 2, "split": ("src-host", 2)}),
    "agents-jaeger-binary-3w-ipudp": (["--format", "jaeger-binary"] + AGENTS, [],
                                      {"agents": True, "workers": 3, "split": ("ip-udp", 3)}),
    "agents-atr-affine-3w-l4src": (["--format", "atr", "--affine"] + AGENTS, ["--steer-by", "l4-src"],
                                   {"agents": True, "workers": 3, "split": ("l4-src", 3), "any_steering": True}),
    # emitters that go quiet for 15 s and come back, hosts with clocks up to
    # 20 ms apart (a child span may then seem to end after its root: the
    # CLOSES_TRACE grace, 50 ms, must cover twice the skew)
    "agents-quiet-skew-2w": (["--format", "atr", "--traces", "3000", "--rate", "1000", "--flush-ms", "50-5000",
                              "--quiet", "0.3,15", "--skew-ms", "20", "--emitters-per-service", "3"], [],
                             {"agents": True, "workers": 2, "split": ("ip-udp", 2)}),
})


def run_altair(altair, pcaps, outdir, prefix, extra, workers=1):
    dags = os.path.join(outdir, "dags.jsonl")
    epochs = os.path.join(outdir, "epochs.jsonl")
    summary = os.path.join(outdir, "summary.json")
    # Two CPUs: with two workers the control lcore shares CPU 0 with worker 1.
    lcores = {1: ["-l", "0-1"], 2: ["--lcores", "0@0,1@0,2@1"],
              3: ["--lcores", "0@0,1@0,2@1,3@1"]}[workers]
    cmd = [altair] + lcores + ["--no-huge", "-m", "1024", "--no-pci", "--file-prefix", prefix,
           "--log-level", "lib.eal:error"]
    for i, pcap in enumerate(pcaps):
        cmd += ["--vdev", f"net_pcap{i},rx_pcap={pcap}"]
    cmd += ["--",
           "--once", "--idle-exit-ms", "500", "--dag-detail", "full", "--dags", dags, "--epochs", epochs,
           "--summary", summary, "--max-nodes", "262144", "--max-traces", "65536", "--quiet",
           "--workers", str(workers)] + extra
    if workers > 1:
        # Three lcores on two CPUs, and other tests running beside: a worker
        # may be off its CPU for several scheduler ticks, which the default
        # 2 ms steering wait does not cover (the drop would be counted, but
        # these tests check every trace exactly).
        cmd += ["--steer-wait-ms", "200"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    return p, dags, epochs, summary


def check_summary(s, need_reassembly=False, noise=False):
    errs = []
    pk = s["packets"]
    if sum(pk["by_outcome"].values()) != pk["received"]:
        errs.append(f"packet outcomes sum {sum(pk['by_outcome'].values())} != received {pk['received']}")
    rec = s["records"]
    if sum(rec["by_outcome"].values()) != rec["decoded"]:
        errs.append(f"record outcomes sum != decoded {rec['decoded']}")
    if rec["by_outcome"].get("pending", 0):
        errs.append("records pending after drain")
    if rec["decoded"] == 0:
        errs.append("no records decoded")
    bad = {k: v for k, v in pk["by_outcome"].items() if k.startswith(("malformed", "rejected", "fragment_dropped"))}
    if bad:
        errs.append(f"unexpected drops {bad}")
    if need_reassembly and s["datagrams"]["reassembled"] == 0:
        errs.append("no datagram was reassembled")
    if noise and not any(k.startswith("not_") for k in pk["by_outcome"]):
        errs.append("noise was not counted as not-tracing")
    return errs


def check_pressure(s, truth, dags):
    errs = []
    rec = s["records"]["by_outcome"]
    if s["traces"]["by_closed_by"].get("pressure", 0) == 0:
        errs.append("no pressure closes")
    if rec.get("dropped_no_memory", 0):
        errs.append(f"{rec['dropped_no_memory']} records dropped for memory: pressure should free it")
    if rec["in_trace"] + rec["late_fragment"] != s["records"]["decoded"]:
        errs.append("records lost under pressure")
    pressured = [d for d in dags if d["closed_by"] == "pressure"]
    if any("truncated" not in d["flags"] for d in pressured):
        errs.append("a pressure-closed trace is not flagged truncated")
    # every truth node comes out exactly once, spread over the pieces
    want = collections.Counter(n["id"] for t in truth for n in t["nodes"])
    got = collections.Counter(sp["id"] for d in dags for sp in d.get("spans", []))
    if want != got:
        errs.append(f"node multiset differs: {sum((want - got).values())} missing, {sum((got - want).values())} extra")
    if s["memory"]["nodes_peak"] > 2048:
        errs.append(f"nodes_peak {s['memory']['nodes_peak']} above the pool size")
    if not errs:
        print(f"ok   pressure: {len(pressured)} pressure closes, "
              f"{s['traces']['late_fragments']} late fragments, {len(dags)} trace lines")
    return errs


def run_scenario(name, altair, gen, split, tmp):
    gen_args, alt_args, opts = SCENARIOS[name]
    d = os.path.join(tmp, name)
    os.makedirs(d, exist_ok=True)
    pcap = os.path.join(d, "traffic.pcap")
    truth = os.path.join(d, "truth.jsonl")
    g = subprocess.run([gen, "--seed", str(SEED), "--out", pcap, "--truth", truth] + gen_args,
                       capture_output=True, text=True, timeout=120)
    if g.returncode != 0:
        return [f"altair-gen failed: {g.stderr.strip()}"]
    pcaps = [pcap]
    if opts.get("split"):
        # N pcap ports stand in for N RX queues filled by NIC RSS
        mode, nq = opts["split"]
        sp = subprocess.run([split, "--mode", mode, "--queues", str(nq), pcap, os.path.join(d, "q")],
                            capture_output=True, text=True, timeout=120)
        if sp.returncode != 0:
            return [f"rss_split failed: {sp.stderr.strip()}"]
        pcaps = [os.path.join(d, f"q.{i}.pcap") for i in range(nq)]
    p, dags, epochs, summary = run_altair(altair, pcaps, d, f"it_{name}_{os.getpid()}", alt_args,
                                          opts.get("workers", 1))
    if p.returncode != 0:
        return [f"altair exit {p.returncode}: {p.stderr.strip()[-2000:]}"]
    errs = []
    with open(summary) as f:
        s = json.load(f)
    errs += check_summary(s, opts.get("need_reassembly", False), opts.get("noise", False))
    t = truthcmp.load_jsonl(truth)
    o = truthcmp.load_jsonl(dags)
    if opts.get("pressure"):
        return errs + check_pressure(s, t, o)
    # Jaeger has no point events: the truth's events arrive as 0-length spans.
    ok, bad, msgs = truthcmp.compare(t, o, ignore_kind=any(a.startswith("jaeger") for a in gen_args))
    if bad:
        errs += msgs[:10] + [f"{bad} of {ok + bad} trace checks failed"]
    if len(t) == 0:
        errs.append("empty truth")
    if not opts.get("loss") and s["traces"]["closed"] != len(t):
        errs.append(f"closed {s['traces']['closed']} traces, truth has {len(t)}")
    if not any(a in gen_args for a in ("--vlan", "--qinq", "--encap")) and \
            s["packets"]["encapsulation"]["none"] != s["packets"]["received"]:
        errs.append(f"bare frames: encapsulation.none {s['packets']['encapsulation']['none']}, "
                    f"{s['packets']['received']} received")
    if opts.get("encap") and s["packets"]["encapsulation"].get(opts["encap"], 0) == 0:
        errs.append(f"no frame counted under encapsulation {opts['encap']}: {s['packets']['encapsulation']}")
    if opts.get("workers", 1) > 1:
        r = s["records"]
        if r["steered"] != r["steered_received"]:
            errs.append(f"steering: {r['steered']} records steered, {r['steered_received']} received")
        if opts.get("no_steering"):
            # every worker received and kept its own traces: nothing crossed lcores
            for w in s["per_worker"]:
                if w["records_decoded"] == 0 or w["records_steered_out"] or w["records_steered_in"]:
                    errs.append(f"worker {w['worker']}: decoded {w['records_decoded']}, steered out "
                                f"{w['records_steered_out']}, in {w['records_steered_in']}")
        elif r["steered"] == 0 and not opts.get("any_steering"):
            errs.append("nothing was steered between workers")
    for cb in opts.get("closed_by", []):
        if s["traces"]["by_closed_by"].get(cb, 0) == 0:
            errs.append(f"no trace closed by {cb}: {s['traces']['by_closed_by']}")
    ep = truthcmp.load_jsonl(epochs)
    if len(ep) < opts.get("min_epochs", 1):
        errs.append(f"{len(ep)} epoch lines, expected at least {opts.get('min_epochs', 1)}")
    if not ep:
        errs.append("no epoch lines")
    elif sum(e["traces_closed"] for e in ep) != s["traces"]["closed"]:
        errs.append("epoch traces_closed do not sum to the closed traces")
    elif sum(e["records"] for e in ep) != s["records"]["decoded"]:
        errs.append(f"epoch records sum {sum(e['records'] for e in ep)} != decoded {s['records']['decoded']}")
    if opts.get("agents"):
        if s["records"].get("late", 0) or s["traces"]["late_fragments"]:
            errs.append(f"{s['records'].get('late')} late records, {s['traces']['late_fragments']} late fragments")
        if s["traces"]["by_closed_by"].get("pressure", 0):
            errs.append("pressure closes")
    if not errs:
        print(f"ok   {name}: {len(t)} traces, {s['records']['decoded']} records, "
              f"{s['packets']['received']} packets, {len(ep)} epochs, "
              f"nodes peak {s['memory']['nodes_peak']}, traces peak {s['memory'].get('traces_peak')}")
    return errs


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    altair, gen, split = argv[1], argv[2], argv[3]
    names = argv[4:] or list(SCENARIOS)
    return truthcmp.run_scenarios(names, lambda n, tmp: run_scenario(n, altair, gen, split, tmp),
                                  "altair-it-")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
