"""ICMP from inside a namespace with a raw socket (iputils-ping is not always installed;
a raw socket needs nothing but root): a one-shot reachability check and an RTT probe."""

from __future__ import annotations

# One ICMP echo with a 1 s timeout, run inside a namespace (iputils-ping is not
# always installed; a raw socket needs nothing but root). Exit 0 on a reply.
ICMP_PING = r"""
import os, socket, struct, sys, time
def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff); s += s >> 16
    return ~s & 0xffff
ident, dst = os.getpid() & 0xffff, sys.argv[1]
body = struct.pack("!HH", ident, 1) + b"dscp-gateway-ready"
pkt = struct.pack("!BBH", 8, 0, 0) + body
pkt = struct.pack("!BBH", 8, 0, csum(pkt)) + body
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
s.sendto(pkt, (dst, 0))
deadline = time.monotonic() + 1.0
while (left := deadline - time.monotonic()) > 0:
    s.settimeout(left)
    try:
        data, addr = s.recvfrom(2048)
    except socket.timeout:
        break
    ihl = (data[0] & 0x0f) * 4
    typ, _, _, rid, _ = struct.unpack("!BBHHH", data[ihl:ihl + 8])
    if typ == 0 and rid == ident and addr[0] == dst:
        sys.exit(0)
sys.exit(1)
"""

# ICMP echo at a fixed rate until SIGINT/SIGTERM, run inside a namespace. Prints
# "S seq t" per probe sent and "R seq rtt_ms" per reply, line-buffered.
RTT_PROBE = r"""
import os, select, signal, socket, struct, sys, time
sys.stdout.reconfigure(line_buffering=True)
def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff); s += s >> 16
    return ~s & 0xffff
dst, interval = sys.argv[1], 1.0 / float(sys.argv[2])
ident = (os.getpid() + 0x5a5a) & 0xffff
sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
stop = []
signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
signal.signal(signal.SIGINT, lambda *_: stop.append(1))
sent, seq = {}, 0
t0 = next_send = time.monotonic()
while not stop:
    now = time.monotonic()
    if now >= next_send:
        seq = (seq + 1) & 0xffff
        body = struct.pack("!HH", ident, seq) + b"dscp-gateway-rtt-probe" + bytes(18)
        pkt = struct.pack("!BBH", 8, 0, 0) + body
        try:
            sock.sendto(struct.pack("!BBH", 8, 0, csum(pkt)) + body, (dst, 0))
        except OSError:  # e.g. ENOBUFS: counts as lost
            pass
        sent[seq] = now
        print(f"S {seq} {now - t0:.4f}")
        next_send = max(next_send + interval, now)
    ready, _, _ = select.select([sock], [], [], max(0.0, next_send - time.monotonic()))
    if ready:
        data, addr = sock.recvfrom(2048)
        t = time.monotonic()
        ihl = (data[0] & 0x0f) * 4
        typ, _, _, rid, rseq = struct.unpack("!BBHHH", data[ihl:ihl + 8])
        if typ == 0 and rid == ident and rseq in sent:
            print(f"R {rseq} {(t - sent.pop(rseq)) * 1000:.3f}")
"""


def percentile(values: list, p: float) -> float | None:
    if not values:
        return None
    v = sorted(values)
    rank = p / 100 * (len(v) - 1)
    low = int(rank)
    high = min(low + 1, len(v) - 1)
    return v[low] + (v[high] - v[low]) * (rank - low)


def rtt_result(text: str) -> dict:
    """RTT percentiles of the probe's replies. Probes sent in the last second before it
    was stopped are not counted as lost (their replies may still have been queued)."""
    sent, rtts = {}, {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "S":
            sent[int(parts[1])] = float(parts[2])
        elif len(parts) == 3 and parts[0] == "R":
            rtts[int(parts[1])] = float(parts[2])
    if not sent:
        return {"rtt_p50_ms": None, "rtt_p99_ms": None, "rtt_loss_pct": None, "rtt_probes": 0}
    last = max(sent.values())
    counted = [seq for seq, t in sent.items() if t <= last - 1.0 or seq in rtts]
    lost = sum(1 for seq in counted if seq not in rtts)
    values = list(rtts.values())
    return {"rtt_p50_ms": percentile(values, 50), "rtt_p99_ms": percentile(values, 99),
            "rtt_max_ms": max(values) if values else None,
            "rtt_loss_pct": 100.0 * lost / len(counted) if counted else None, "rtt_probes": len(sent)}
