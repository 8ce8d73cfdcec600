#!/usr/bin/env python3
"""UDP sink for the capture netns: binds the Jaeger agent ports so the clients'
datagrams are consumed (no ICMP port-unreachable back to them) and counts what the
kernel delivered after reassembly. Runs until SIGTERM, then prints one summary line
per port. Usage: sink.py HOST PORT [PORT...]"""
import selectors
import signal
import socket
import sys


def main():
    host, ports = sys.argv[1], [int(p) for p in sys.argv[2:]]
    sel = selectors.DefaultSelector()
    stats = {}
    for port in ports:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        s.bind((host, port))
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, port)
        stats[port] = {"datagrams": 0, "bytes": 0, "max": 0, "heads": set()}
    running = [True]
    signal.signal(signal.SIGTERM, lambda *_: running.__setitem__(0, False))
    signal.signal(signal.SIGINT, lambda *_: running.__setitem__(0, False))
    print("sink: ready", flush=True)
    draining = False
    while running[0] or not draining:
        if not running[0]:
            draining = True  # one last non-blocking pass after SIGTERM
        for key, _ in sel.select(timeout=0 if draining else 0.1):
            while True:
                try:
                    data = key.fileobj.recv(70000)
                except BlockingIOError:
                    break
                st = stats[key.data]
                st["datagrams"] += 1
                st["bytes"] += len(data)
                st["max"] = max(st["max"], len(data))
                st["heads"].add(data[:4].hex(" "))
    for port, st in stats.items():
        print("sink: port %d: %d datagrams, %d bytes, largest %d, headers %s"
              % (port, st["datagrams"], st["bytes"], st["max"],
                 ",".join(sorted(st["heads"])) or "-"), flush=True)


if __name__ == "__main__":
    main()
