#!/usr/bin/env python3
"""Readable report of an altair run: report.py DAGS.jsonl EPOCHS.jsonl SUMMARY.json"""
import collections
import json
import sys


def jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def ms(ns):
    return f"{ns / 1e6:9.3f} ms"


def main(argv):
    if len(argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    dags, epochs = jsonl(argv[1]), jsonl(argv[2])
    with open(argv[3]) as f:
        s = json.load(f)

    pk, rec, tr = s["packets"], s["records"], s["traces"]
    print("== Altair report ==")
    print(f"packets {pk['received']}: " + ", ".join(f"{k} {v}" for k, v in pk["by_outcome"].items()))
    print(f"records {rec['decoded']}: " + ", ".join(f"{k} {v}" for k, v in rec["by_outcome"].items()) +
          f" (late {rec['late']})")
    print(f"traces  {tr['closed']}: " + ", ".join(f"{k} {v}" for k, v in tr["by_closed_by"].items() if v) +
          f"; flagged {tr['flagged']}")
    print(f"epochs  {len(epochs)} (processing delay p50 {s['epoch_delay_ms']['p50']:.3f} ms, "
          f"p99 {s['epoch_delay_ms']['p99']:.3f} ms); wall {s['wall_s']:.2f} s, busy {s['busy_s']:.3f} s")

    shapes = collections.Counter()
    example = {}
    for d in dags:
        shapes[d["shape"]] += 1
        if d["shape"] not in example:
            root = next((sp for sp in d.get("spans", []) if not sp["parents"]), None)
            example[d["shape"]] = (f"{root['service']}/{root['operation']}" if root else "?", d["nodes"])
    print("\n-- trace shapes (structure classes), most common first --")
    for sh, n in shapes.most_common(10):
        ent, nodes = example[sh]
        print(f"  {sh}  {n:6d} traces  {nodes:4d} nodes  entry {ent}")
    if len(shapes) > 10:
        print(f"  ... {len(shapes) - 10} more shapes")

    lat = {}
    for e in epochs:
        for o in e["latency"]:
            k = (o["service"], o["operation"])
            c, p99 = lat.get(k, (0, 0))
            lat[k] = (c + o["count"], max(p99, o["p99_ns"]))
    print("\n-- slowest operations (worst per-epoch p99) --")
    for (svc, op), (c, p99) in sorted(lat.items(), key=lambda kv: -kv[1][1])[:10]:
        print(f"  {svc + '/' + op:44s} p99 {ms(p99)}  ({c} spans)")

    pairs = collections.Counter()
    for e in epochs:
        for p in e["top_pairs"]:
            pairs[(p["caller"], p["callee"])] += p["count"]
    print("\n-- top service pairs (caller -> callee) --")
    for (a, b), c in pairs.most_common(10):
        print(f"  {a:>20s} -> {b:20s} {c:8d} calls")

    flagged = [d for d in dags if set(d["flags"]) - {"late_records"}]
    print(f"\n-- flagged traces ({len(flagged)}) --")
    for d in flagged[:10]:
        print(f"  {d['trace_id']}  {d['nodes']:4d} nodes  {ms(d['duration_ns'])}  {','.join(d['flags'])}")
    if len(flagged) > 10:
        print(f"  ... {len(flagged) - 10} more (see the --dags file)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
