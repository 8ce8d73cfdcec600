#!/usr/bin/env python3
"""Live capture through net_af_packet, as on a mirrored port: a network
namespace of our own holds a veth pair (va, vb; MTU 1500) and altair reads
vb with --vdev net_af_packet0,iface=vb. The kernel reassembles IPv4
fragments for that driver, so every Jaeger batch, up to 65 KB, reaches
altair as one frame; the port's mbufs must hold it.

  1. altair-gen Jaeger compact traffic with full batches (--max-payload
     65000, --mtu 1500: the big ones are fragmented) is replayed onto va
     with tcpreplay at its capture pace; --dags must equal the generator's
     truth exactly.
  2. The unmodified Ruby and Node Jaeger clients (clients/mesh.rb, mesh.js)
     run in the namespace and send their batches, up to ~65,000 bytes,
     across the veth to an address that only a static neighbour entry
     names (nothing answers, nothing else is sent); --dags must match what
     they recorded creating.

Each altair run ends with SIGTERM once its port has been quiet for a second
(the --once idle rule, taken from outside). Needs root (exit 77 = skipped
otherwise); everything it creates is removed on exit.

usage: test_af_packet.py ALTAIR ALTAIR_GEN     closing line "N passed, N failed"
"""
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import truthcmp  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
NS = f"altair-afp-{os.getpid()}"
# The recommended ring for full batches (docs/configuration.md): 16 slots
# of 65280 bytes per block, 512 slots.
VDEV = "net_af_packet0,iface=vb,qpairs=1,blocksz=1044480,framesz=65280,framecnt=512"
PEER_IP, SINK_IP, SINK_MAC = "10.231.0.1", "10.231.0.2", "02:00:0a:e7:00:02"

passed = failed = 0
ns_made = False
procs = []
prefixes = []                   # EAL runtime directories to remove


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print(f"FAIL {name}: {detail}")


def sh(*args, **kw):
    return subprocess.run(list(args), check=True, capture_output=True, text=True, **kw)


def nsx(*args, **kw):
    return sh("ip", "netns", "exec", NS, *args, **kw)


def cleanup():
    global ns_made
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()
    if ns_made:
        subprocess.run(["ip", "netns", "del", NS], capture_output=True)
        ns_made = False
    for prefix in prefixes:
        shutil.rmtree(f"/var/run/dpdk/{prefix}", ignore_errors=True)


def on_signal(sig, frame):
    cleanup()
    sys.exit(128 + sig)


def telemetry(prefix, cmd):
    """One command on altair's telemetry socket; None while it is not up."""
    path = f"/var/run/dpdk/{prefix}/dpdk_telemetry.v2"
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as s:
            s.settimeout(2)
            s.connect(path)
            s.recv(16384)               # the greeting
            s.send(cmd.encode())
            return json.loads(s.recv(1 << 20).decode()).get(cmd)
    except (OSError, ValueError):
        return None


def link_tx(dev):
    return int(nsx("cat", f"/sys/class/net/{dev}/statistics/tx_packets").stdout)


def start_altair(altair, d, tag):
    prefix = f"afp{os.getpid()}{tag}"
    prefixes.append(prefix)
    out = {k: os.path.join(d, f"{tag}-{k}") for k in ("dags", "summary", "stdout", "stderr")}
    p = subprocess.Popen(["ip", "netns", "exec", NS, altair, "-l", "0-1", "--no-huge", "-m", "512", "--no-pci",
                          "--file-prefix", prefix, "--log-level", "lib.eal:error", "--vdev", VDEV, "--",
                          "--dag-detail", "full", "--dags", out["dags"], "--summary", out["summary"],
                          "--max-nodes", "131072", "--max-traces", "16384"],
                         stdout=open(out["stdout"], "w"), stderr=open(out["stderr"], "w"))
    procs.append(p)
    # The telemetry commands are registered once the port runs.
    for _ in range(150):
        if p.poll() is not None or telemetry(prefix, "/altair/stats") is not None:
            break
        time.sleep(0.1)
    return p, prefix, out


def stop_altair(p, prefix, out, expect_packets=None, timeout=30):
    """Wait until the port is quiet for a second (or has every packet
    expected), then SIGTERM; returns (exit status, summary or None)."""
    last, still = -1, 0
    deadline = time.monotonic() + timeout
    while p.poll() is None and time.monotonic() < deadline:
        st = telemetry(prefix, "/altair/stats")
        rx = st["rx_packets"] if st else -1
        still = still + 1 if rx == last else 0
        last = rx
        if still >= 10 or (expect_packets is not None and rx >= expect_packets and still >= 3):
            break
        time.sleep(0.1)
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
    try:
        rc = p.wait(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = p.wait()
    summary = json.load(open(out["summary"])) if os.path.exists(out["summary"]) else None
    if rc != 0:
        print(open(out["stderr"]).read()[-2000:])
    return rc, summary


def pcap_figures(path):
    """Packets, IPv4 fragments, datagrams (whole or first fragment) and the
    largest UDP payload of a classic pcap of untagged IPv4 frames."""
    with open(path, "rb") as f:
        data = f.read()
    off, packets, frags, dgrams, largest = 24, 0, 0, 0, 0
    while off + 16 <= len(data):
        cl = struct.unpack("<I", data[off + 8:off + 12])[0]
        fr = data[off + 16:off + 16 + cl]
        off += 16 + cl
        packets += 1
        fl = struct.unpack("!H", fr[20:22])[0]
        if fl & 0x3FFF:
            frags += 1
        if fl & 0x1FFF == 0:
            dgrams += 1
            largest = max(largest, struct.unpack("!H", fr[38:40])[0] - 8)
    return packets, frags, dgrams, largest


def summary_checks(name, s, rc):
    check(f"{name}: exit 0", rc == 0, f"rc {rc}")
    if s is None:
        check(f"{name}: summary written", False)
        return
    pk, rec = s["packets"], s["records"]
    check(f"{name}: packets balance", sum(pk["by_outcome"].values()) == pk["received"], pk)
    check(f"{name}: records balance", sum(rec["by_outcome"].values()) == rec["decoded"], rec)
    bad = {k: v for k, v in pk["by_outcome"].items() if k.startswith(("malformed", "rejected", "fragment_dropped"))}
    check(f"{name}: nothing truncated, malformed or rejected", not bad, bad)
    port = s["ports"][0]
    check(f"{name}: no frame lost at the port", port["imissed"] == 0 and port["rx_nombuf"] == 0, port)


def ring_settings(altair, d):
    """A ring the driver would misread is refused before the port starts; a
    framesz too small for full batches is named with the fix."""
    prefixes.append(f"afp{os.getpid()}ring")

    def run(vdev):
        return subprocess.run(["ip", "netns", "exec", NS, altair, "-l", "0-1", "--no-huge", "-m", "512", "--no-pci",
                               "--file-prefix", f"afp{os.getpid()}ring", "--log-level", "lib.eal:error",
                               "--vdev", vdev, "--", "--once", "--idle-exit-ms", "200", "--quiet",
                               "--max-nodes", "65536", "--max-traces", "16384"],
                              capture_output=True, text=True, timeout=60)
    r = run("net_af_packet0,iface=vb,blocksz=65536,framesz=65280,framecnt=64")
    check("blocksz not a multiple of framesz: refused", r.returncode == 1 and
          "blocksz=65536 is not a multiple of framesz=65280" in r.stderr, f"rc {r.returncode}: {r.stderr[-600:]}")
    r = run("net_af_packet0,iface=vb")
    check("default framesz: the cut is named", r.returncode == 0 and "framesz=2048" in r.stderr and
          "blocksz=1044480,framesz=65280" in r.stderr, f"rc {r.returncode}: {r.stderr[-600:]}")


def generated(altair, gen, d):
    pcap, truth = os.path.join(d, "g.pcap"), os.path.join(d, "g-truth.jsonl")
    sh(gen, "--format", "jaeger-compact", "--max-payload", "65000", "--mtu", "1500", "--traces", "3000",
       "--rate", "40000", "--flush-ms", "1000-2000", "--emitters-per-service", "1", "--seed", "11",
       "--out", pcap, "--truth", truth)
    packets, frags, dgrams, largest = pcap_figures(pcap)
    p, prefix, out = start_altair(altair, d, "gen")
    check("generated: altair up", p.poll() is None, open(out["stderr"]).read()[-2000:])
    if p.poll() is not None:
        return
    tx0 = link_tx("va")
    r = subprocess.run(["ip", "netns", "exec", NS, "tcpreplay", "-q", "-i", "va", pcap],
                       capture_output=True, text=True, timeout=60)
    sent = link_tx("va") - tx0
    check("generated: tcpreplay sent every packet", r.returncode == 0 and sent == packets,
          f"rc {r.returncode}, {sent} of {packets} on the wire: {r.stderr[-500:]}")
    rc, s = stop_altair(p, prefix, out, expect_packets=dgrams)
    summary_checks("generated", s, rc)
    t = truthcmp.load_jsonl(truth)
    spans = sum(len(x["nodes"]) for x in t)
    if s is not None:
        check("generated: one frame per datagram (reassembled by the kernel)",
              s["packets"]["received"] == dgrams, f"{s['packets']['received']} frames, {dgrams} datagrams")
        check("generated: every span decoded", s["records"]["decoded"] == spans,
              f"{s['records']['decoded']} of {spans}")
        print(f"generated: {packets} packets on the wire ({frags} fragments), {dgrams} Jaeger compact batches "
              f"(largest {largest} bytes); altair: {s['packets']['received']} frames, "
              f"{s['records']['decoded']} of {spans} spans, {s['traces']['closed']} traces")
    ok, bad, msgs = truthcmp.compare(t, truthcmp.load_jsonl(out["dags"]) if os.path.exists(out["dags"]) else [])
    check("generated: --dags equals the truth", bad == 0 and ok == len(t), msgs[:5])


def real_clients(altair, d):
    setup = subprocess.run([os.path.join(HERE, "clients", "setup.sh")], capture_output=True, text=True)
    check("clients: setup", setup.returncode == 0, setup.stdout[-500:] + setup.stderr[-500:])
    if setup.returncode != 0:
        return
    nsx("ip", "addr", "add", f"{PEER_IP}/24", "dev", "va")
    nsx("ip", "neigh", "replace", SINK_IP, "lladdr", SINK_MAC, "dev", "va", "nud", "permanent")
    p, prefix, out = start_altair(altair, d, "cli")
    check("clients: altair up", p.poll() is None, open(out["stderr"]).read()[-2000:])
    if p.poll() is not None:
        return
    tx0 = link_tx("va")
    rb, js = os.path.join(d, "ruby-truth.jsonl"), os.path.join(d, "node-truth.jsonl")
    cl = [subprocess.Popen(["timeout", "40", "ip", "netns", "exec", NS, "ruby",
                            os.path.join(HERE, "clients", "mesh.rb"), rb, SINK_IP],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True),
          subprocess.Popen(["timeout", "40", "ip", "netns", "exec", NS, "node",
                            os.path.join(HERE, "clients", "mesh.js"), js, SINK_IP],
                           cwd=os.path.join(HERE, "clients"),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)]
    procs.extend(cl)
    outs = [c.communicate()[0] for c in cl]
    check("clients: both ran", all(c.returncode == 0 for c in cl), [o[-500:] for o in outs])
    time.sleep(0.5)
    wire = link_tx("va") - tx0
    rc, s = stop_altair(p, prefix, out)
    summary_checks("clients", s, rc)
    truth = os.path.join(d, "clients-truth.jsonl")
    with open(truth, "w") as f:
        for path in (rb, js):
            if os.path.exists(path):
                f.write(open(path).read())
    spans = sum(1 for _ in open(truth))
    if s is not None:
        print(f"clients: {wire} packets on the wire, altair: {s['packets']['received']} frames "
              f"({s['packets']['by_outcome']}), {s['records']['decoded']} of {spans} spans, "
              f"{s['traces']['closed']} traces")
        check("clients: every span decoded", s["records"]["decoded"] == spans, f"{s['records']['decoded']} of {spans}")
        check("clients: fragmented batches arrived whole", wire > s["packets"]["received"],
              f"{wire} packets on the wire, {s['packets']['received']} frames")
    c = subprocess.run([sys.executable, os.path.join(HERE, "clients", "check_dags.py"), truth, out["dags"]],
                       capture_output=True, text=True)
    print("clients: check_dags: " + (c.stdout.strip().splitlines() or ["?"])[-1])
    check("clients: --dags matches the clients' spans", c.returncode == 0, c.stdout[-2000:])


def main(argv):
    global ns_made
    altair, gen = os.path.abspath(argv[1]), os.path.abspath(argv[2])
    if os.geteuid() != 0:
        print("test_af_packet: skipped: needs root (network namespace, veth pair, packet socket)")
        return 77
    for tool in ("ip", "tcpreplay"):
        if shutil.which(tool) is None:
            print(f"test_af_packet: {tool} not installed")
            print("0 passed, 1 failed")
            return 1
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        sh("ip", "netns", "add", NS)
        ns_made = True
        nsx("sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
        nsx("ip", "link", "set", "lo", "up")
        nsx("ip", "link", "add", "va", "mtu", "1500", "type", "veth", "peer", "name", "vb", "mtu", "1500")
        nsx("ip", "link", "set", "vb", "address", SINK_MAC)
        nsx("ip", "link", "set", "va", "up")
        nsx("ip", "link", "set", "vb", "up")
        with tempfile.TemporaryDirectory() as d:
            ring_settings(altair, d)
            generated(altair, gen, d)
            real_clients(altair, d)
    finally:
        cleanup()
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
