#!/usr/bin/env python3
"""Template swaps under traffic: altair runs with 2 workers on a capture
while /altair/templates/reload swaps two template files in and out 1,000
times (A: learned from normal traffic; B: A without the shapes of the login
requests). Every trace must come out exactly once, the records balance,
every trace is checked exactly once, and each flagged trace carries the
generation it was checked against: login traces are flagged only under a
B generation, never under an A one. Every replaced model is freed by the
end. Run it from an AddressSanitizer build to check the frees (meson setup
build-asan-dp -Db_sanitize=address; meson test -C build-asan-dp templates-swap).

usage: test_swap.py ALTAIR ALTAIR_GEN ALTAIR_LEARN [SWAPS]     closing line "N passed, N failed"
"""
import json
import os
import signal
import socket
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
        print(f"FAIL {name}: {str(detail)[:2000]}")


class Telemetry:
    """The DPDK telemetry socket, spoken directly (dpdk-telemetry.py costs
    a process per command)."""

    def __init__(self, prefix, timeout=30):
        path = f"/var/run/dpdk/{prefix}/dpdk_telemetry.v2"
        if os.geteuid() != 0:
            path = os.path.join(os.environ.get("XDG_RUNTIME_DIR", "/tmp"), "dpdk", prefix, "dpdk_telemetry.v2")
        deadline = time.time() + timeout
        while True:
            try:
                self.s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
                self.s.connect(path)
                info = json.loads(self.s.recv(16384).decode())
                self.max_len = info.get("max_output_len", 16384)
                return
            except OSError:
                self.s.close()
                if time.time() > deadline:
                    raise
                time.sleep(0.05)

    def __call__(self, cmd):
        self.s.send(cmd.encode())
        return json.loads(self.s.recv(self.max_len).decode())[cmd.split(",")[0]]


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, check=True, **kw)


def main(argv):
    altair, gen, learn = argv[1], argv[2], argv[3]
    swaps = int(argv[4]) if len(argv) > 4 else 1000
    traces = int(argv[5]) if len(argv) > 5 else 150000
    prefix = f"swaptest{os.getpid()}"
    eal = ["--no-huge", "-m", "1536", "--no-pci", "--log-level", "lib.eal:error"]
    with tempfile.TemporaryDirectory() as d:
        p = lambda n: os.path.join(d, n)
        # templates A from a clean sample, B without the login shapes
        run([gen, "--format", "atr", "--traces", "4000", "--seed", "41", "--out", p("learn.pcap")])
        run([altair, "-l", "0-1", *eal, "--file-prefix", prefix + "l", "--vdev",
             f"net_pcap0,rx_pcap={p('learn.pcap')}", "--", "--once", "--idle-exit-ms", "300", "--quiet",
             "--dags", p("learn.jsonl"), "--dag-detail", "full", "--out-blocks", "1024"])
        run([learn, "-q", "-o", p("A.tmpl"), p("learn.jsonl")])
        login = set()
        with open(p("A.tmpl")) as f:
            lines = f.readlines()
        cluster = None
        for ln in lines:
            fl = ln.rstrip("\n").split("\t")
            if fl[0] == "tree" and fl[2] == "0" and fl[6] == "POST /login":
                cluster = fl[1]
        check("A has a login cluster", cluster is not None)
        with open(p("B.tmpl"), "w") as f:
            for ln in lines:
                fl = ln.split("\t")
                if fl[0] in ("shape", "family") and fl[3] == cluster:
                    login.add(fl[1])
                    continue
                f.write(ln)
        # traffic: normal traces, 2 workers, steering between them
        # (no truth file: a login trace is one whose shape B left out)
        g = run([gen, "--format", "atr", "--traces", str(traces), "--rate", "400000", "--seed", "42",
                 "--out", p("t.pcap")])
        gs = dict(kv.split("=") for kv in g.stderr.split() if "=" in kv)
        packets, n_traces = int(gs["packets"]), int(gs["traces"])
        proc = subprocess.Popen([altair, "--lcores", "0@0,1@0,2@1", *eal, "--file-prefix", prefix,
                                 "--vdev", f"net_pcap0,rx_pcap={p('t.pcap')}", "--",
                                 "--workers", "2", "--templates", p("A.tmpl"), "--latency-factor", "0",
                                 "--dags", p("d.jsonl"), "--flagged", p("f.jsonl"), "--summary", p("s.json"),
                                 "--idle-advance-ms", "200", "--quiet", "--max-nodes", "1048576",
                                 # the capture (6 s) is shorter than the warm-up,
                                 # which would hold it whole: pools, not swaps,
                                 # would then be under test
                                 "--source-warmup-ms", "0",
                                 "--max-traces", "65536", "--steer-wait-ms", "200",
                                 # room for the lines while the control lcore,
                                 # sharing a CPU with worker 0, falls behind
                                 "--out-blocks", "1024"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        gen_file = {}
        rx = []
        try:
            tel = Telemetry(prefix)
            # the socket is up before the application registers its commands
            for _ in range(300):
                first = tel("/altair/templates")
                if first is not None or proc.poll() is not None:
                    break
                time.sleep(0.02)
            if first is None or proc.poll() is not None:
                raise RuntimeError(f"altair did not come up: {first}")
            gen_file[first["generation"]] = "A"
            rx.append(tel("/altair/stats")["rx_packets"])
            bad = None
            t0 = time.time()
            i = during = 0
            # swap until at least `swaps` were made and the capture is read
            while bad is None and (i < swaps or i % 2 == 1):
                which = "B" if i % 2 == 0 else "A"
                r = tel(f"/altair/templates/reload,{p(which + '.tmpl')}")
                if not (r.get("ok") == 1 and r.get("published") == 1):
                    bad = r
                    break
                gen_file[r["generation"]] = which
                i += 1
                if i % 50 == 0:
                    n = tel("/altair/stats")["rx_packets"]
                    if n < packets:
                        during = i
                    elif i >= swaps:
                        break
            swaps = i
            rx.append(tel("/altair/stats")["rx_packets"])
            t_swaps = time.time() - t0
            check("every reload accepted and published", bad is None, bad)
            r = tel(f"/altair/templates/reload,{p('nope.tmpl')}")
            check("a missing file is refused with its reason", r.get("ok") == 0 and "cannot open" in r.get("error", ""), r)
            with open(p("bad.tmpl"), "w") as f:
                f.write("altair-templates\t1\nshape\t12\t1\t0\t0\t0\n")
            r = tel(f"/altair/templates/reload,{p('bad.tmpl')}")
            check("a bad file is refused with its line and reason",
                  r.get("ok") == 0 and r.get("error", "").startswith("line 2:"), r)
            t = tel("/altair/templates")
            check("the last good file stays in force", gen_file.get(t.get("generation")) == ("B" if swaps % 2 else "A"), t)
            print(f"swaps: {swaps} in {t_swaps:.2f} s, {during} of them while packets were arriving "
                  f"(received at the first and last swap: {rx} of {packets})")
            check("swaps while packets were arriving", rx[0] < packets and during >= 50, rx)
            # wait for the whole capture, then drain
            for _ in range(600):
                if tel("/altair/stats")["rx_packets"] == packets:
                    break
                time.sleep(0.1)
            an = tel("/altair/anomalies")
            check("/altair/anomalies lists recent flagged traces",
                  an["flagged"] == 0 or (len(an["recent"]) > 0 and "0" in an["recent"]), an)
        finally:
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=300)
            if proc.returncode != 0:
                print(err[-3000:])
        check("altair exits 0 (accounting balances, no sanitizer report)", proc.returncode == 0 and
              "AddressSanitizer" not in err and "LeakSanitizer" not in err, err[-3000:])
        with open(p("s.json")) as f:
            s = json.load(f)
        closed = s["traces"]["closed"]
        check("records balance", sum(s["records"]["by_outcome"].values()) == s["records"]["decoded"], s["records"])
        seen = {}
        login_total = 0
        with open(p("d.jsonl")) as f:
            for ln in f:
                o = json.loads(ln)
                seen[o["trace_id"]] = seen.get(o["trace_id"], 0) + 1
                login_total += o["shape"] in login
        check("every trace exactly once", len(seen) == n_traces and max(seen.values()) == 1,
              f"{len(seen)} of {n_traces}; outputs {s['outputs']}")
        check("every trace checked once", s["anomalies"]["checked"] == closed == n_traces, s["anomalies"])
        tp = s["templates"]
        check("every swap counted, every replaced model freed",
              tp["swaps"] == swaps and tp["freed"] == swaps and tp["superseded"] == 0, tp)
        flagged = {}
        with open(p("f.jsonl")) as f:
            for ln in f:
                o = json.loads(ln)
                flagged[o["trace_id"]] = o
        check("no flagged trace twice", len(flagged) == s["anomalies"]["flagged_lines"] == s["anomalies"]["flagged"],
              (len(flagged), s["anomalies"]))
        wrong = [(k, o["templates_generation"], gen_file.get(o["templates_generation"]))
                 for k, o in flagged.items()
                 if o["shape"] in login and gen_file.get(o["templates_generation"]) != "B"]
        a_login = [k for k, o in flagged.items() if gen_file.get(o["templates_generation"]) is None]
        n_login = sum(1 for k, o in flagged.items() if o["shape"] in login)
        print(f"flagged {len(flagged)} traces; {n_login} login traces flagged, all under B generations; "
              f"{login_total} login traces in all")
        check("login traces flagged only under a B generation", not wrong, wrong[:5])
        check("every flagged generation was published", not a_login, a_login[:5])
        check("some login traces were checked under B", n_login > 0)
        dflag = {k for k, _ in seen.items()}
        check("flagged lines are traces of the capture", set(flagged) <= dflag)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
