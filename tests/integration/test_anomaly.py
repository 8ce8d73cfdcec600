#!/usr/bin/env python3
"""Anomaly detection, measured on the real binaries.

Offline: altair-gen writes a clean learning capture; altair writes its
closed traces in full detail; altair-learn learns templates from them.
altair-gen then writes a mixed capture from the same templates (another
seed) with 10 % of the traces carrying one anomaly each: an unexpected
edge, a missing subtree, an extra subtree or a latency outlier; altair
checks it against the templates and writes the flagged traces. Recall per
kind and the share of normal traces flagged are computed against the
generator's truth:
  structural kinds: flagged anomaly_shape or anomaly_edge   >= 95 %
  latency outliers: flagged anomaly_latency                 >= 95 %
  normal traces flagged with any anomaly                    <= 0.5 %
The filters' false-positive rate, sized for --bloom-fpr, is measured by
altair-learn --verify-fpr. Online: a clean capture of ~10 epochs with
--learn-epochs 2 (and --relearn-epochs 3) learns, swaps the templates in
and checks the rest.

usage: test_anomaly.py ALTAIR ALTAIR_GEN ALTAIR_LEARN [FORMAT]   closing line "N passed, N failed"
"""
import collections
import json
import os
import subprocess
import sys
import tempfile

passed = failed = 0
STRUCTURAL = ("unexpected_edge", "missing_subtree", "extra_subtree")
ANOMALY_FLAGS = {"anomaly_shape", "anomaly_edge", "anomaly_latency"}


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print(f"FAIL {name}: {str(detail)[:2000]}")


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed ({p.returncode}): {p.stderr[-2000:]}")
    return p


def altair(binary, pcap, prefix, args):
    return run([binary, "-l", "0-1", "--no-huge", "-m", "2048", "--no-pci", "--file-prefix", prefix,
                "--log-level", "lib.eal:error", "--vdev", f"net_pcap0,rx_pcap={pcap}", "--",
                "--once", "--idle-exit-ms", "500", "--quiet", "--max-nodes", "262144", "--max-traces", "65536",
                *args])


def main(argv):
    alt, gen, learn = argv[1], argv[2], argv[3]
    fmt = argv[4] if len(argv) > 4 else "atr"
    prefix = f"anomtest{os.getpid()}"
    with tempfile.TemporaryDirectory() as d:
        p = lambda n: os.path.join(d, n)
        # 1. learn offline from a clean sample
        run([gen, "--format", fmt, "--traces", "20000", "--seed", "1", "--out", p("clean.pcap")])
        altair(alt, p("clean.pcap"), prefix, ["--dags", p("clean.jsonl"), "--dag-detail", "full",
                                              "--out-blocks", "4096", "--summary", p("clean.json")])
        with open(p("clean.json")) as f:
            cs = json.load(f)
        check("the learning sample is whole", cs["outputs"]["dag_lines_dropped"] == 0 and
              cs["outputs"]["dag_lines"] == 20000, cs["outputs"])
        lr = run([learn, "-o", p("t.tmpl"), "--report-lines", "8", "--verify-fpr", "0.001", p("clean.jsonl")])
        print(lr.stdout)
        # 2. check a mixed capture from the same templates
        g = run([gen, "--format", fmt, "--traces", "20000", "--seed", "2", "--anomaly-rate", "0.1",
                 "--anomaly-kinds", "unexpected_edge,missing_subtree,extra_subtree,latency",
                 "--latency-outlier", "25-100", "--out", p("mixed.pcap"), "--truth", p("mixed.truth")])
        altair(alt, p("mixed.pcap"), prefix, ["--templates", p("t.tmpl"), "--bloom-fpr", "0.001",
                                              "--flagged", p("flagged.jsonl"), "--epochs", p("epochs.jsonl"),
                                              "--summary", p("mixed.json")])
        truth = {}
        with open(p("mixed.truth")) as f:
            for ln in f:
                o = json.loads(ln)
                truth[o["trace_id"]] = (o["anomaly"], o["template"])
        flagged = {}
        with open(p("flagged.jsonl")) as f:
            for ln in f:
                o = json.loads(ln)
                check("a flagged line is in full detail with its generation and reasons",
                      "spans" in o and o.get("templates_generation") == 1 and o.get("anomalies") and
                      set(o["flags"]) & ANOMALY_FLAGS, ln[:300]) if not flagged else None
                flagged[o["trace_id"]] = o
        with open(p("mixed.json")) as f:
            s = json.load(f)
        an = s["anomalies"]
        # (on a loaded machine a trace may close early and come out in two parts)
        check("every trace checked", an["checked"] == s["traces"]["closed"] >= 20000, (an, s["traces"]))
        check("every flagged trace written once", len(flagged) == an["flagged"] == an["flagged_lines"], an)
        ep = collections.Counter()
        with open(p("epochs.jsonl")) as f:
            for ln in f:
                for k, v in json.loads(ln).get("anomalies", {}).items():
                    ep[k] += v
        check("per-epoch counts add up to the totals",
              ep["checked"] == an["checked"] and ep["flagged"] == an["flagged"] and
              all(ep[k] == an[k] for k in ANOMALY_FLAGS), (dict(ep), an))
        kinds = collections.Counter(a for a, _ in truth.values())
        hit = collections.Counter()
        missed = collections.defaultdict(collections.Counter)
        fp = collections.Counter()
        for tid, (a, tpl) in truth.items():
            fl = set(flagged[tid]["flags"]) if tid in flagged else set()
            if a == "none":
                if fl & ANOMALY_FLAGS:
                    fp[tpl] += 1
            elif a == "latency":
                if "anomaly_latency" in fl:
                    hit[a] += 1
                else:
                    missed[a][tpl] += 1
            elif fl & {"anomaly_shape", "anomaly_edge"}:
                hit[a] += 1
            else:
                missed[a][tpl] += 1
        print(f"mixed capture ({fmt}): {len(truth)} traces, {kinds['none']} normal")
        for k in STRUCTURAL + ("latency",):
            r = hit[k] / kinds[k] if kinds[k] else 0
            print(f"  {k:16s} {hit[k]:5d} of {kinds[k]:5d} flagged: recall {100 * r:.1f} %"
                  + (f"  (missed by template: {dict(missed[k])})" if missed[k] else ""))
            check(f"recall {k} >= 95 %", kinds[k] > 50 and r >= 0.95, (hit[k], kinds[k], dict(missed[k])))
        fpr = sum(fp.values()) / kinds["none"]
        print(f"  normal traces flagged: {sum(fp.values())} of {kinds['none']} = {100 * fpr:.3f} %"
              + (f"  (by template: {dict(fp)})" if fp else ""))
        check("normal traces flagged <= 0.5 %", fpr <= 0.005, dict(fp))
        t = s["templates"]
        print(f"  filters: shapes {t['shape_keys']} keys / {t['shape_bits']} bits / k {t['shape_k']}, "
              f"edges {t['edge_keys']} keys / {t['edge_bits']} bits / k {t['edge_k']}; target "
              f"{t['fpr_target']}, estimated {t['shape_fpr_estimate']:.2g} and {t['edge_fpr_estimate']:.2g}")

        # 3. online: learn the first epochs, then check
        run([gen, "--format", fmt, "--traces", "20000", "--rate", "30000", "--seed", "3",
             "--out", p("online.pcap")])
        altair(alt, p("online.pcap"), prefix, ["--learn-epochs", "3", "--relearn-epochs", "3",
                                               "--summary", p("online.json"), "--epochs", p("online.epochs")])
        with open(p("online.json")) as f:
            o = json.load(f)
        ot, oa = o["templates"], o["anomalies"]
        print(f"online: {ot['learned_builds']} templates learned (generation {ot['generation']}), "
              f"{oa['checked']} traces checked after the first, {oa['flagged']} flagged")
        check("online learning built and swapped in templates, then relearned",
              ot["learned_builds"] >= 2 and ot["swaps"] >= 2 and oa["checked"] > 5000, (ot, oa))
        check("online: few normal traces flagged", oa["flagged"] <= 0.01 * max(oa["checked"], 1), oa)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
