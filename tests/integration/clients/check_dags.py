#!/usr/bin/env python3
"""Compare ground-truth spans with the traces the appliance closed.

Usage: check_dags.py EXPECTED.jsonl DAGS.jsonl

EXPECTED.jsonl: one span per line, as written by mesh.rb / mesh.js:
  {"trace_id": "<32 hex>", "id": "<16 hex>", "parents": ["<16 hex>", ...],
   "service": str, "operation": str, "start_us": int, "duration_us": int,
   "error": bool, "client": "ruby"|"node"}
DAGS.jsonl: one closed trace per line, as the appliance writes it:
  {"trace_id": "<32 hex>", "closed_by": ..., "nodes": N, ..., "spans": [
     {"id", "parents", "service", "operation", "start_ns", "duration_ns",
      "kind", "error"}, ...]}

Each truth trace is one check: exactly one output trace with its trace_id, the same
span id set, and per span the same parents (as a set), service, operation,
start_ns == start_us * 1000, duration_ns == duration_us * 1000, error flag, and
kind "span". Each output trace whose trace_id is not in the truth is one failed
check. Every mismatch is printed; the last line is exactly "N passed, N failed".
Exit status 1 on any failure (or unreadable input), else 0. Standard library only.
"""
import collections
import json
import re
import sys

TRACE_RE = re.compile(r"^[0-9a-f]{32}$")
SPAN_RE = re.compile(r"^[0-9a-f]{16}$")


def load_jsonl(path, what, problems):
    rows = []
    try:
        with open(path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except ValueError as e:
                    problems.append("%s %s:%d: not JSON: %s" % (what, path, lineno, e))
                    continue
                if not isinstance(obj, dict):
                    problems.append("%s %s:%d: not a JSON object" % (what, path, lineno))
                    continue
                rows.append((lineno, obj))
    except OSError as e:
        problems.append("%s: cannot read %s: %s" % (what, path, e))
    return rows


def fmt_set(values):
    return "[" + ", ".join(sorted(str(v) for v in values)) + "]"


def check_trace(trace_id, truth_spans, outputs):
    """Returns a list of mismatch strings for one truth trace."""
    errs = []
    if not outputs:
        return ["no output trace (expected %d spans)" % len(truth_spans)]
    if len(outputs) > 1:
        return ["%d output traces (lines %s), expected exactly one"
                % (len(outputs), ", ".join(str(n) for n, _ in outputs))]
    lineno, out = outputs[0]
    spans = out.get("spans")
    if not isinstance(spans, list):
        return ["output line %d: 'spans' is not a list" % lineno]

    got = {}
    for i, s in enumerate(spans):
        if not isinstance(s, dict):
            errs.append("output line %d: spans[%d] is not an object" % (lineno, i))
            continue
        sid = s.get("id")
        if not isinstance(sid, str) or not SPAN_RE.match(sid):
            errs.append("output line %d: spans[%d] has malformed id %r" % (lineno, i, sid))
            continue
        if sid in got:
            errs.append("span %s: appears %s times in output" % (
                sid, sum(1 for x in spans if isinstance(x, dict) and x.get("id") == sid)))
            continue
        got[sid] = s

    want = {s["id"]: s for s in truth_spans}
    missing = sorted(set(want) - set(got))
    extra = sorted(set(got) - set(want))
    for sid in missing:
        w = want[sid]
        errs.append("span %s (%s %s): missing from output" % (sid, w["service"], w["operation"]))
    for sid in extra:
        g = got[sid]
        errs.append("span %s (%s %s): not in truth" % (sid, g.get("service"), g.get("operation")))

    for sid in sorted(set(want) & set(got)):
        w, g = want[sid], got[sid]
        label = "span %s (%s %s)" % (sid, w["service"], w["operation"])
        gp = g.get("parents")
        if not isinstance(gp, list):
            errs.append("%s: parents is %r, not a list" % (label, gp))
        else:
            bad = [p for p in gp if not isinstance(p, str) or not SPAN_RE.match(p)]
            if bad:
                errs.append("%s: malformed parent ids %r" % (label, bad))
            elif set(gp) != set(w["parents"]):
                errs.append("%s: parents expected %s got %s" % (
                    label, fmt_set(set(w["parents"])), fmt_set(set(gp))))
        for key in ("service", "operation"):
            if g.get(key) != w[key]:
                errs.append("%s: %s expected %r got %r" % (label, key, w[key], g.get(key)))
        for key_ns, key_us in (("start_ns", "start_us"), ("duration_ns", "duration_us")):
            exp = w[key_us] * 1000
            val = g.get(key_ns)
            if type(val) is not int or val != exp:
                errs.append("%s: %s expected %d got %r" % (label, key_ns, exp, val))
        if g.get("error") is not w["error"]:
            errs.append("%s: error expected %s got %s" % (
                label, json.dumps(w["error"]), json.dumps(g.get("error"))))
        if g.get("kind") != "span":
            errs.append("%s: kind expected 'span' got %r" % (label, g.get("kind")))
    return errs


def main(argv):
    if len(argv) != 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    problems = []
    truth_rows = load_jsonl(argv[1], "truth", problems)
    dag_rows = load_jsonl(argv[2], "dags", problems)

    truth = collections.OrderedDict()
    for lineno, s in truth_rows:
        keys = ("trace_id", "id", "parents", "service", "operation", "start_us",
                "duration_us", "error")
        if any(k not in s for k in keys) or not TRACE_RE.match(str(s["trace_id"])) \
                or not SPAN_RE.match(str(s["id"])):
            problems.append("truth %s:%d: malformed span %r" % (argv[1], lineno, s))
            continue
        spans = truth.setdefault(s["trace_id"], [])
        if any(x["id"] == s["id"] for x in spans):
            problems.append("truth %s:%d: duplicate span %s in trace %s"
                            % (argv[1], lineno, s["id"], s["trace_id"]))
            continue
        spans.append(s)

    outputs = collections.defaultdict(list)
    for lineno, t in dag_rows:
        tid = t.get("trace_id")
        if not isinstance(tid, str) or not TRACE_RE.match(tid):
            problems.append("dags %s:%d: malformed trace_id %r" % (argv[2], lineno, tid))
            continue
        outputs[tid].append((lineno, t))

    for p in problems:
        print("ERROR " + p)

    passed = failed = 0
    for tid, spans in truth.items():
        errs = check_trace(tid, spans, outputs.get(tid, []))
        clients = ",".join(sorted({s.get("client", "?") for s in spans}))
        if errs:
            failed += 1
            print("FAIL trace %s (%s, %d spans): %d mismatches" % (tid, clients, len(spans), len(errs)))
            for e in errs:
                print("  " + e)
        else:
            passed += 1
    for tid in sorted(set(outputs) - set(truth)):
        for lineno, t in outputs[tid]:
            failed += 1
            n = len(t.get("spans") or [])
            print("FAIL trace %s: extra output trace (line %d, %d spans, closed_by %r)"
                  % (tid, lineno, n, t.get("closed_by")))

    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed or problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
