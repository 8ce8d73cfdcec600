#!/usr/bin/env python3
"""Configuration checks on the real binary (no EAL needed):
every drivers-config file loads and its values show in --check-config;
bad files, keys, values, options, contradictions and output files that
cannot be written are refused naming the culprit, with exit status 2 and,
for a run, before EAL starts."""
import os
import shutil
import subprocess
import sys
import tempfile

altair, cfgdir = sys.argv[1], sys.argv[2]
passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print(f"FAIL {name}: {detail}")


def run(*args):
    return subprocess.run([altair, "--check-config", "--"] + list(args), capture_output=True, text=True)


for f in sorted(os.listdir(cfgdir)):
    if not f.endswith(".ini"):
        continue
    path = os.path.join(cfgdir, f)
    p = run("--config", path)
    check(f"load {f}", p.returncode == 0, p.stderr)
    # every key=value in the file shows up in the effective configuration
    eff = dict(line.split(" = ", 1) for line in p.stdout.splitlines() if " = " in line)
    for line in open(path):
        line = line.strip()
        if not line or line.startswith((";", "#", "[")):
            continue
        k, v = (x.strip() for x in line.split("=", 1))
        want = {"yes": "yes", "no": "no"}.get(v, v)
        check(f"{f}: {k}", eff.get(k) == want, f"effective {eff.get(k)!r}, file {v!r}")

with tempfile.TemporaryDirectory() as d:
    n_ini = [0]

    def ini(text):
        n_ini[0] += 1
        path = os.path.join(d, f"t{n_ini[0]}.ini")
        with open(path, "w") as fh:
            fh.write(text)
        return path

    cases = [
        ("unknown key", ["--config", ini("[pipeline]\ngap-msx = 5\n")], "unknown key 'gap-msx'"),
        ("unknown section", ["--config", ini("[pipe]\ngap-ms = 5\n")], "unknown section [pipe]"),
        ("key in wrong section", ["--config", ini("[pools]\ngap-ms = 5\n")], "unknown key 'gap-ms'"),
        ("bad value", ["--config", ini("[pipeline]\ngap-ms = soon\n")], "gap-ms: 'soon' is not"),
        ("out of range", ["--gap-ms", "0"], "--gap-ms: 0 is out of range"),
        ("bad bool", ["--once=maybe"], "--once: 'maybe' is not a boolean"),
        ("bad format", ["--udp-ports", "zipkin=9411"], "unknown format 'zipkin'"),
        ("port clash", ["--udp-ports", "atr=6831"], "share port 6831"),
        ("bad detail", ["--dag-detail", "all"], "'all' is not summary or full"),
        ("unknown option", ["--gapms", "5"], "unknown option '--gapms'"),
        ("missing file", ["--config", os.path.join(d, "nope.ini")], "cannot load config"),
        ("idle timeouts", ["--source-idle-min-ms", "5000", "--source-idle-max-ms", "1000"],
         "--source-idle-min-ms 5000 is above --source-idle-max-ms 1000"),
        ("rss l4-src against steer-by hash", ["--rss", "l4-src", "--steer-by", "hash"],
         "--rss l4-src and --steer-by hash contradict each other"),
        ("rss l4-src in a file against steer-by hash", ["--config", ini("[ports]\nrss = l4-src\n"),
                                                        "--steer-by", "hash"],
         "--rss l4-src and --steer-by hash contradict each other"),
        ("mbuf-size too small", ["--mbuf-size", "512"], "--mbuf-size 512 is below 1152"),
        ("output directory missing", ["--dags", os.path.join(d, "no-such-dir", "dags.jsonl")],
         f"--dags '{d}/no-such-dir/dags.jsonl': directory '{d}/no-such-dir' does not exist"),
        ("output directory missing, from a file",
         ["--config", ini(f"[outputs]\nepochs = {d}/no-such-dir/e.jsonl\n")],
         f"--epochs '{d}/no-such-dir/e.jsonl': directory '{d}/no-such-dir' does not exist"),
        ("output is a directory", ["--summary", d], f"--summary '{d}': it is a directory"),
        ("two outputs, one file", ["--dags", os.path.join(d, "same.jsonl"), "--epochs", os.path.join(d, "same.jsonl")],
         "--dags and --epochs are the same file"),
    ]
    for name, args, msg in cases:
        p = run(*args)
        check(name, p.returncode == 2 and msg in p.stderr, f"rc {p.returncode}, stderr {p.stderr.strip()!r}")
    # agreeing settings pass; rss = l4-src implies steer-by l4-src
    p = run("--rss", "l4-src", "--steer-by", "l4-src")
    check("rss l4-src with steer-by l4-src", p.returncode == 0, p.stderr)
    p = run("--rss", "l4-src")
    check("rss l4-src implies steer-by l4-src", "steer-by = l4-src" in p.stdout, p.stdout)
    p = run("--dags", "/dev/null", "--epochs", "/dev/null", "--summary", "-")
    check("/dev/null twice and stdout are fine", p.returncode == 0, p.stderr)
    p = run("--dags", os.path.join(d, "new.jsonl"))
    check("--check-config creates no output", p.returncode == 0 and not os.path.exists(os.path.join(d, "new.jsonl")),
          p.stderr)
    # A run checks its outputs before EAL starts (no "EAL:" line) and exits 2.
    p = subprocess.run([altair, "-l", "0-1", "--no-huge", "-m", "64", "--no-pci", "--file-prefix", f"cfg{os.getpid()}",
                        "--vdev", "net_null0", "--", "--once", "--dags", os.path.join(d, "nope", "d.jsonl")],
                       capture_output=True, text=True, timeout=60)
    check("run: bad output refused before EAL", p.returncode == 2 and "does not exist" in p.stderr and
          "EAL" not in p.stderr + p.stdout, f"rc {p.returncode}, {p.stderr.strip()!r}")
    p = subprocess.run([altair, "-l", "0-1", "--no-huge", "-m", "64", "--no-pci", "--file-prefix", f"cfg{os.getpid()}",
                        "--vdev", "net_null0", "--", "--rss", "l4-src", "--steer-by", "hash"],
                       capture_output=True, text=True, timeout=60)
    check("run: contradiction refused before EAL", p.returncode == 2 and "contradict" in p.stderr and
          "EAL" not in p.stderr + p.stdout, f"rc {p.returncode}, {p.stderr.strip()!r}")
    # Without hugepages and without --no-huge, the cause is named before EAL
    # (only where no hugepage is free: elsewhere EAL would start).
    free = 0
    hp = "/sys/kernel/mm/hugepages"
    for e in os.listdir(hp) if os.path.isdir(hp) else []:
        with open(os.path.join(hp, e, "free_hugepages")) as fh:
            free += int(fh.read())
    if free == 0:
        p = subprocess.run([altair, "-l", "0-1", "--no-pci", "--file-prefix", f"cfg{os.getpid()}", "--vdev",
                            "net_null0", "--", "--once"], capture_output=True, text=True, timeout=60)
        check("run: no hugepages named", p.returncode == 2 and "no free hugepages" in p.stderr and
              "--no-huge -m" in p.stderr and "EAL" not in p.stdout, f"rc {p.returncode}, {p.stderr.strip()!r}")
    else:
        print(f"note: {free} bytes of hugepages free here; the no-hugepage case is not run")
    # options override the file
    p = run("--config", ini("[pipeline]\ngap-ms = 500\n"), "--gap-ms", "700")
    check("option overrides file", "gap-ms = 700" in p.stdout, p.stdout)
    p = run("--config", ini("[pipeline]\ngap-ms = 500\n"))
    check("file overrides default", "gap-ms = 500" in p.stdout, p.stdout)

shutil.rmtree(f"/var/run/dpdk/cfg{os.getpid()}", ignore_errors=True)
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
