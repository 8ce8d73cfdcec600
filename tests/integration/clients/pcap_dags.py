#!/usr/bin/env python3
"""Reference oracle: decode a Jaeger-agent pcap into the appliance's DAG JSON lines.

Usage: pcap_dags.py CAPTURE.pcap > DAGS.jsonl   [--stats]

Independent of the appliance and the client libraries (standard library only): reads
a classic libpcap file, reassembles IPv4 fragments, decodes emitBatch in Thrift
compact (UDP 6831) or binary (UDP 6832), groups spans by trace id and prints one
line per trace in the format check_dags.py reads (closed_by "drain"). Used to prove
that the ground truth written by mesh.rb / mesh.js matches what went on the wire:
    pcap_dags.py clients.pcap > ref.jsonl && check_dags.py clients-truth.jsonl ref.jsonl
With --stats it prints wire observations (fields present, tag layouts, parent
repetition) to stderr.
"""
import collections
import json
import struct
import sys

# ---------------------------------------------------------------- pcap / IPv4


def read_pcap(path):
    with open(path, "rb") as f:
        data = f.read()
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        end = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        end = ">"
    else:
        raise SystemExit("%s: not a classic pcap file" % path)
    linktype = struct.unpack(end + "I", data[20:24])[0] & 0x0FFFFFFF
    off = 24
    while off + 16 <= len(data):
        _, _, incl, _ = struct.unpack(end + "IIII", data[off:off + 16])
        off += 16
        yield linktype, data[off:off + incl]
        off += incl


def ip_packet(linktype, frame):
    if linktype == 1:  # Ethernet (what tcpdump -i lo records)
        etype = struct.unpack(">H", frame[12:14])[0]
        return frame[14:] if etype == 0x0800 else None
    if linktype == 113:  # Linux cooked
        return frame[16:] if struct.unpack(">H", frame[14:16])[0] == 0x0800 else None
    if linktype in (101, 228):  # raw IPv4
        return frame
    return None


def udp_datagrams(path, stats):
    """Yields (dst_port, payload) for UDP datagrams, reassembling IPv4 fragments."""
    pending = {}
    for linktype, frame in read_pcap(path):
        ip = ip_packet(linktype, frame)
        if not ip or ip[0] >> 4 != 4 or ip[9] != 17:
            continue
        ihl = (ip[0] & 15) * 4
        total = struct.unpack(">H", ip[2:4])[0]
        ident, fl = struct.unpack(">HH", ip[4:8])
        body = ip[ihl:total]
        mf, offset = fl & 0x2000, (fl & 0x1FFF) * 8
        if mf or offset:
            stats["fragments"] += 1
            key = (ip[12:16], ip[16:20], ident)
            parts = pending.setdefault(key, {})
            parts[offset] = (body, mf)
            ends = [o + len(b) for o, (b, m) in parts.items() if not m]
            if not ends:
                continue
            buf, pos = b"", 0
            for o in sorted(parts):
                if o != pos:
                    break
                buf += parts[o][0]
                pos += len(parts[o][0])
            if pos != ends[0]:
                continue
            del pending[key]
            stats["reassembled"] += 1
            stats["max_fragments"] = max(stats["max_fragments"], len(parts))
            body = buf
        dport = struct.unpack(">H", body[2:4])[0]
        yield dport, body[8:]
    stats["incomplete"] += len(pending)


# ---------------------------------------------------------------- Thrift


class Compact:
    def __init__(self, b):
        self.b, self.p = b, 0

    def byte(self):
        self.p += 1
        return self.b[self.p - 1]

    def varint(self):
        shift = v = 0
        while True:
            c = self.byte()
            v |= (c & 0x7F) << shift
            shift += 7
            if not c & 0x80:
                return v

    def zz(self):
        v = self.varint()
        return (v >> 1) ^ -(v & 1)

    def binary(self):
        n = self.varint()
        self.p += n
        return self.b[self.p - n:self.p]

    def message(self):
        assert self.byte() == 0x82, "compact protocol id"
        vt = self.byte()
        seqid = self.varint()
        name = self.binary().decode()
        return name, vt >> 5, seqid, self.struct()

    def value(self, t):
        if t in (1, 2):
            return t == 1
        if t == 3:
            return self.byte()
        if t in (4, 5, 6):
            return self.zz()
        if t == 7:
            self.p += 8
            return struct.unpack("<d", self.b[self.p - 8:self.p])[0]
        if t == 8:
            return self.binary()
        if t in (9, 10):
            h = self.byte()
            n, et = h >> 4, h & 15
            if n == 15:
                n = self.varint()
            if et in (1, 2):
                return [self.byte() == 1 for _ in range(n)]
            return [self.value(et) for _ in range(n)]
        if t == 11:
            n = self.varint()
            kv = self.byte() if n else 0
            return {self.value(kv >> 4): self.value(kv & 15) for _ in range(n)}
        if t == 12:
            return self.struct()
        raise ValueError("compact type %d" % t)

    def struct(self):
        out, last = {}, 0
        while True:
            h = self.byte()
            if h == 0:
                return out
            delta, t = h >> 4, h & 15
            fid = last + delta if delta else self.zz()
            out[fid] = self.value(t)
            last = fid


class Binary:
    def __init__(self, b):
        self.b, self.p = b, 0

    def take(self, fmt):
        n = struct.calcsize(fmt)
        self.p += n
        return struct.unpack(fmt, self.b[self.p - n:self.p])[0]

    def binary(self):
        n = self.take(">i")
        self.p += n
        return self.b[self.p - n:self.p]

    def message(self):
        v = self.take(">I")
        assert v >> 16 == 0x8001, "strict binary version"
        name = self.binary().decode()
        seqid = self.take(">i")
        return name, v & 0xFF, seqid, self.struct()

    def value(self, t):
        fmt = {2: ">?", 3: ">b", 4: ">d", 6: ">h", 8: ">i", 10: ">q"}.get(t)
        if fmt:
            return self.take(fmt)
        if t == 11:
            return self.binary()
        if t in (14, 15):
            et, n = self.take(">b"), self.take(">i")
            return [self.value(et) for _ in range(n)]
        if t == 13:
            kt, vt, n = self.take(">b"), self.take(">b"), self.take(">i")
            return {self.value(kt): self.value(vt) for _ in range(n)}
        if t == 12:
            return self.struct()
        raise ValueError("binary type %d" % t)

    def struct(self):
        out = {}
        while True:
            t = self.take(">b")
            if t == 0:
                return out
            fid = self.take(">h")
            out[fid] = self.value(t)


def u64(v):
    return "%016x" % (v & 0xFFFFFFFFFFFFFFFF)


# ---------------------------------------------------------------- main


def main(argv):
    args = [a for a in argv[1:] if a != "--stats"]
    if len(args) != 1:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    stats = collections.Counter()
    obs = collections.Counter()
    traces = collections.OrderedDict()
    for dport, payload in udp_datagrams(args[0], stats):
        proto = {6831: Compact, 6832: Binary}.get(dport)
        if not proto:
            continue
        name, mtype, seqid, args_struct = proto(payload).message()
        fmt = proto.__name__.lower()
        stats["datagrams_" + fmt] += 1
        obs["%s: message %s type %d seqid %d" % (fmt, name, mtype, seqid)] += 1
        batch = args_struct[1]
        obs["%s: Batch fields %s" % (fmt, sorted(batch))] += 1
        service = batch[1][1].decode()
        for sp in batch[2]:
            stats["spans_" + fmt] += 1
            obs["%s: Span fields %s" % (fmt, sorted(sp))] += 1
            tid = u64(sp.get(2, 0)) + u64(sp[1])
            sid = u64(sp[3])
            parents = set()
            if sp.get(4, 0):
                parents.add(u64(sp[4]))
            refs = sp.get(6, [])
            for r in refs:
                if u64(r.get(3, 0)) + u64(r[2]) == tid:
                    parents.add(u64(r[4]))
                else:
                    obs["%s: cross-trace references" % fmt] += 1
            if sp.get(4, 0):
                rep = any(r[1] == 0 and r[4] == sp[4] for r in refs)
                obs["%s: parentSpanId %s repeated as CHILD_OF ref" % (fmt, "IS" if rep else "NOT")] += 1
            error = False
            for tag in sp.get(10, []):
                obs["%s: Tag vType %d fields %s" % (fmt, tag[2], sorted(tag))] += 1
                if tag[1] == b"error" and tag[2] == 2 and tag.get(5) is True:
                    error = True
            traces.setdefault(tid, []).append({
                "id": sid, "parents": sorted(parents), "service": service,
                "operation": sp[5].decode(), "start_ns": sp[8] * 1000,
                "duration_ns": sp[9] * 1000, "kind": "span", "error": error,
            })
    for tid, spans in traces.items():
        ids = {s["id"] for s in spans}
        edges = sum(len(s["parents"]) for s in spans)
        roots = sum(1 for s in spans if not s["parents"])
        orphans = sum(1 for s in spans if any(p not in ids for p in s["parents"]))
        print(json.dumps({"trace_id": tid, "closed_by": "drain", "nodes": len(spans),
                          "edges": edges, "roots": roots, "orphans": orphans,
                          "flags": [], "spans": spans}))
    if "--stats" in argv:
        for k in sorted(stats):
            print("stat %s: %d" % (k, stats[k]), file=sys.stderr)
        for k in sorted(obs):
            print("obs  %s: %d" % (k, obs[k]), file=sys.stderr)
    return 1 if stats["incomplete"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
