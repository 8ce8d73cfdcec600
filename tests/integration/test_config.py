#!/usr/bin/env python3
"""Configuration checks on the real binary (no EAL needed):
every drivers-config file loads and its values show in --check-config;
bad files, keys, values and options are refused naming the culprit."""
import os
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
    ]
    for name, args, msg in cases:
        p = run(*args)
        check(name, p.returncode == 2 and msg in p.stderr, f"rc {p.returncode}, stderr {p.stderr.strip()!r}")
    # options override the file
    p = run("--config", ini("[pipeline]\ngap-ms = 500\n"), "--gap-ms", "700")
    check("option overrides file", "gap-ms = 700" in p.stdout, p.stdout)
    p = run("--config", ini("[pipeline]\ngap-ms = 500\n"))
    check("file overrides default", "gap-ms = 500" in p.stdout, p.stdout)

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
