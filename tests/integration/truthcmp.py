#!/usr/bin/env python3
"""Compare altair --dags output (with --dag-detail full) against an
altair-gen ground-truth file. Standard library only.

Rules:
  * a truth trace with lost_frames=false must come out exactly once, with
    the same node-id set, per node the same parent set, service and
    operation (and kind unless --ignore-kind), and no incomplete flag;
  * a truth trace with lost_frames=true must come out at most once with a
    subset of its nodes; if a present node's parent is absent the output must
    be flagged incomplete;
  * an output trace that matches no truth trace is a failure;
  * anomaly labels: an 'error' anomaly trace must carry the error flag.
Each trace is one check. Last line: "N passed, N failed".
"""
import json
import shutil
import subprocess
import sys
import tempfile


def load_jsonl(path):
    out = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise SystemExit(f"{path}:{n}: bad JSON: {e}")
    return out


def compare(truth, dags, ignore_kind=False, label=""):
    passed = failed = 0
    msgs = []
    by_id = {}
    for d in dags:
        by_id.setdefault(d["trace_id"], []).append(d)
    seen = set()
    for t in truth:
        tid = t["trace_id"]
        seen.add(tid)
        outs = by_id.get(tid, [])
        tn = {n["id"]: n for n in t["nodes"]}
        err = None
        if not t["lost_frames"]:
            if len(outs) != 1:
                err = f"expected 1 output trace, got {len(outs)}"
            else:
                o = outs[0]
                spans = {s["id"]: s for s in o.get("spans", [])}
                if set(spans) != set(tn):
                    miss = sorted(set(tn) - set(spans))[:3]
                    extra = sorted(set(spans) - set(tn))[:3]
                    err = f"node sets differ: missing {miss} extra {extra}"
                else:
                    for nid, n in tn.items():
                        s = spans[nid]
                        if set(s["parents"]) != set(n["parents"]):
                            err = f"node {nid}: parents {sorted(s['parents'])} != {sorted(n['parents'])}"
                        elif s["service"] != n["service"] or s["operation"] != n["operation"]:
                            err = f"node {nid}: {s['service']}/{s['operation']} != {n['service']}/{n['operation']}"
                        elif not ignore_kind and s["kind"] != n["kind"]:
                            err = f"node {nid}: kind {s['kind']} != {n['kind']}"
                        if err:
                            break
                    if err is None and "incomplete" in o["flags"]:
                        err = "flagged incomplete but lost no frames"
                    if err is None and o["nodes"] != len(tn):
                        err = f"nodes {o['nodes']} != {len(tn)}"
                    if err is None and t.get("anomaly") == "error" and "error" not in o["flags"]:
                        err = "error anomaly without the error flag"
        else:
            if len(outs) > 1:
                err = f"lost-frame trace came out {len(outs)} times"
            elif outs:
                o = outs[0]
                spans = {s["id"]: s for s in o.get("spans", [])}
                if not set(spans) <= set(tn):
                    err = "lost-frame trace has nodes the truth does not"
                else:
                    dangling = any(p not in spans for s in spans.values() for p in s["parents"])
                    if dangling and "incomplete" not in o["flags"]:
                        err = "a parent is missing but the trace is not flagged incomplete"
        if err:
            failed += 1
            msgs.append(f"{label}trace {tid} ({t.get('template')}): {err}")
        else:
            passed += 1
    for tid, outs in by_id.items():
        if tid not in seen:
            failed += 1
            msgs.append(f"{label}trace {tid}: output trace not in the truth")
    return passed, failed, msgs



def run_scenarios(names, run, prefix):
    """Run run(name, tmpdir) -> [errors] for every scenario name, print
    "ok"/"FAIL" lines and the closing "N passed, N failed"; keep the
    outputs only when something failed. Returns the exit status."""
    tmp = tempfile.mkdtemp(prefix=prefix)
    passed = failed = 0
    try:
        for n in names:
            try:
                errs = run(n, tmp)
            except subprocess.TimeoutExpired as e:
                errs = [f"timed out: {e}"]
            if errs:
                failed += 1
                print(f"FAIL {n}:")
                for e in errs:
                    print(f"     {e}")
            else:
                passed += 1
    finally:
        if failed == 0:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"(outputs kept in {tmp})")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0

def main(argv):
    ignore_kind = "--ignore-kind" in argv
    args = [a for a in argv[1:] if not a.startswith("--")]
    if len(args) != 2:
        print("usage: truthcmp.py [--ignore-kind] TRUTH.jsonl DAGS.jsonl", file=sys.stderr)
        return 2
    p, f, msgs = compare(load_jsonl(args[0]), load_jsonl(args[1]), ignore_kind)
    for m in msgs[:50]:
        print(m)
    print(f"{p} passed, {f} failed")
    return 1 if f else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
