#!/usr/bin/env python3
"""Hostile input on the real binary: random and truncated payloads on every
tracing port, malformed L2/L3/L4 headers and fragment garbage, mixed with a
valid capture. altair must exit 0, count every packet under one outcome
(sums balance), reject the garbage by reason and still reconstruct every
trace of the valid part exactly.

usage: test_hostile.py ALTAIR ALTAIR_GEN    closing line "N passed, N failed"
"""
import json
import os
import random
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import truthcmp  # noqa: E402

PORTS = [7839, 6831, 6832, 7831]


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ipv4(payload, proto=17, frag=0x4000, ident=1, total=None, ihl=5):
    total = total if total is not None else 20 + len(payload)
    h = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, total & 0xFFFF, ident, frag, 64, proto, 0,
                    bytes([198, 18, 0, 9]), bytes([198, 19, 0, 1]))
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return h + payload


def udp(sport, dport, payload, length=None):
    return struct.pack("!HHHH", sport, dport, length if length is not None else 8 + len(payload), 0) + payload


def eth(l3, ethertype=0x0800):
    return b"\x02\0\0\0\0\x02" + b"\x02\0\0\0\0\x01" + struct.pack("!H", ethertype) + l3


def hostile_frames(rng):
    frames = []
    atr_hdr = b"ATR1" + bytes([1, 0]) + struct.pack("<HII", 1, 7, 1)
    for i in range(3000):
        port = rng.choice(PORTS)
        kind = i % 10
        if kind == 0:      # random bytes
            p = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 300)))
        elif kind == 1:    # ATR header with hostile lengths
            rec = bytearray(48)
            rec[0:16] = os.urandom(16)
            rec[16:24] = struct.pack("<Q", 5)
            rec[40] = rng.randint(0, 255)              # parent_count
            rec[44] = rng.randint(0, 255)
            rec[45] = rng.randint(0, 255)
            rec[46:48] = struct.pack("<H", rng.randint(0, 65535))
            p = atr_hdr + bytes(rec)
            port = 7839
        elif kind == 2:    # Jaeger-looking headers, then garbage
            p = (b"\x82\x81\x00\x09emitBatch" if rng.random() < .5 else b"\x80\x01\x00\x04\0\0\0\x09emitBatch") + \
                bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 200)))
            port = 6831 if p[0] == 0x82 else 6832
        elif kind == 3:    # X-Trace-looking text with bad metadata
            p = b"X-Trace Report ver 1.0\nX-Trace: " + os.urandom(8).hex().encode() + b"\nTimestamp: x\n"
            port = 7831
        elif kind == 4:    # deep Thrift nesting
            p = b"\x82\x81\x00\x09emitBatch" + b"\x1c" * 200
            port = 6831
        else:
            p = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 64)))
        frames.append(eth(ipv4(udp(40000 + i % 1000, port, p))))
    for i in range(500):     # malformed L2..L4
        k = i % 6
        if k == 0:
            frames.append(os.urandom(rng.randint(1, 13)))                       # runt
        elif k == 1:
            frames.append(eth(ipv4(udp(1, 7839, b"x" * 40))[:rng.randint(1, 27)]))  # truncated IP/UDP
        elif k == 2:
            frames.append(eth(ipv4(udp(1, 7839, b"x" * 40), total=4000)))       # IP length beyond frame
        elif k == 3:
            frames.append(eth(ipv4(udp(1, 7839, b"x" * 40, length=3))))         # UDP length < 8
        elif k == 4:
            frames.append(eth(ipv4(os.urandom(100), frag=0x2000 | rng.randint(0, 8000), ident=rng.randint(0, 65535))))
        else:
            frames.append(eth(b"\x60" + os.urandom(60), 0x86DD))               # IPv6 garbage
    return frames


def read_pcap(path):
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    assert magic == 0xA1B2C3D4, "expected a microsecond little-endian pcap"
    off, out = 24, []
    while off + 16 <= len(data):
        ts, tu, cl, ol = struct.unpack("<IIII", data[off:off + 16])
        out.append((ts, tu, data[off + 16:off + 16 + cl]))
        off += 16 + cl
    return data[:24], out


def main(argv):
    altair, gen = argv[1], argv[2]
    rng = random.Random(7839)
    passed = failed = 0
    with tempfile.TemporaryDirectory() as d:
        valid, truth = os.path.join(d, "v.pcap"), os.path.join(d, "t.jsonl")
        subprocess.run([gen, "--format", "atr", "--traces", "200", "--seed", "5", "--out", valid, "--truth", truth],
                       check=True, capture_output=True)
        hdr, recs = read_pcap(valid)
        bad = hostile_frames(rng)
        # interleave: the garbage lands between valid frames, with their timestamps
        mixed = []
        for i, (ts, tu, fr) in enumerate(recs):
            mixed.append((ts, tu, fr))
            for _ in range(len(bad) // len(recs) + 1):
                if bad:
                    mixed.append((ts, tu, bad.pop()))
        mixed += [(recs[-1][0], recs[-1][1], b) for b in bad]
        out = os.path.join(d, "h.pcap")
        with open(out, "wb") as f:
            f.write(hdr)
            for ts, tu, fr in mixed:
                f.write(struct.pack("<IIII", ts, tu, len(fr), len(fr)) + fr)
        dags, summ = os.path.join(d, "d.jsonl"), os.path.join(d, "s.json")
        p = subprocess.run([altair, "-l", "0-1", "--no-huge", "-m", "512", "--no-pci", "--file-prefix",
                            f"hostile{os.getpid()}", "--log-level", "lib.eal:error", "--vdev",
                            f"net_pcap0,rx_pcap={out}", "--", "--once", "--idle-exit-ms", "500",
                            "--dag-detail", "full", "--dags", dags, "--summary", summ, "--quiet",
                            "--max-nodes", "65536", "--max-traces", "16384"],
                           capture_output=True, text=True, timeout=120)

        def check(name, ok, detail=""):
            nonlocal passed, failed
            if ok:
                passed += 1
            else:
                failed += 1
                print(f"FAIL {name}: {detail}")

        check("exit 0", p.returncode == 0, p.stderr[-1000:])
        if p.returncode == 0:
            s = json.load(open(summ))
            pk = s["packets"]
            check("packets balance", sum(pk["by_outcome"].values()) == pk["received"] == len(mixed),
                  f"{pk['received']} received, {len(mixed)} sent, {pk['by_outcome']}")
            check("records balance", sum(s["records"]["by_outcome"].values()) == s["records"]["decoded"])
            rej = {k: v for k, v in pk["by_outcome"].items() if k.startswith("rejected_")}
            mal = {k: v for k, v in pk["by_outcome"].items() if k.startswith("malformed_")}
            check("payloads rejected by reason", len(rej) >= 4, rej)
            check("malformed frames counted by reason", len(mal) >= 3, mal)
            print(f"rejected: {rej}")
            print(f"malformed: {mal}")
            # the garbage may open junk traces (random IDs); every valid trace must still be exact
            t = truthcmp.load_jsonl(truth)
            o = [x for x in truthcmp.load_jsonl(dags) if any(x["trace_id"] == y["trace_id"] for y in t)]
            ok, bad_n, msgs = truthcmp.compare(t, o)
            check("valid traces exact", bad_n == 0, msgs[:5])
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
