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
# "S seq t" per probe sent and "R seq rtt_ms wakeup_ms" per reply, line-buffered.
# The RTT ends at the kernel's receive timestamp of the reply (SO_TIMESTAMPNS), not when
# this process got around to reading it: on a 2-core host busy with iperf3 and a polling
# worker the probe's own wakeup takes milliseconds at the tail, which is the host's
# scheduling, not the path's delay. wakeup_ms (read time - kernel stamp) is kept to show it.
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
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
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
        sent_at = time.time()  # the kernel's receive stamps are wall-clock time
        try:
            sock.sendto(struct.pack("!BBH", 8, 0, csum(pkt)) + body, (dst, 0))
        except OSError:  # e.g. ENOBUFS: counts as lost
            pass
        sent[seq] = sent_at
        print(f"S {seq} {now - t0:.4f}")
        next_send = max(next_send + interval, now)
    ready, _, _ = select.select([sock], [], [], max(0.0, next_send - time.monotonic()))
    if ready:
        data, ancillary, _, addr = sock.recvmsg(2048, 64)
        read_at = time.time()
        stamped_at = read_at
        for level, kind, value in ancillary:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                sec, nsec = struct.unpack("qq", value[:16])
                stamped_at = sec + nsec / 1e9
        ihl = (data[0] & 0x0f) * 4
        typ, _, _, rid, rseq = struct.unpack("!BBHHH", data[ihl:ihl + 8])
        if typ == 0 and rid == ident and rseq in sent:
            rtt_ms = (stamped_at - sent.pop(rseq)) * 1000
            print(f"R {rseq} {rtt_ms:.3f} {(read_at - stamped_at) * 1000:.3f}")
"""


def percentile(values: list, p: float) -> float | None:
    if not values:
        return None
    v = sorted(values)
    rank = p / 100 * (len(v) - 1)
    low = int(rank)
    high = min(low + 1, len(v) - 1)
    return v[low] + (v[high] - v[low]) * (rank - low)


def rtt_result(text: str, prefix: str = "rtt") -> dict:
    """RTT percentiles of the probe's replies (to the kernel's receive stamp), and the
    probe's own wakeup delay after that stamp. Probes sent in the last second before it
    was stopped are not counted as lost (their replies may still have been queued).
    Keys start with `prefix`: rtt_p50_ms, rtt_p99_ms, ..., rtt_wakeup_p99_ms."""
    sent, rtts, wakeups = {}, {}, []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "S":
            sent[int(parts[1])] = float(parts[2])
        elif len(parts) >= 3 and parts[0] == "R":
            rtts[int(parts[1])] = float(parts[2])
            if len(parts) == 4:
                wakeups.append(float(parts[3]))
    if not sent:
        return {f"{prefix}_p50_ms": None, f"{prefix}_p99_ms": None, f"{prefix}_max_ms": None,
                f"{prefix}_wakeup_p99_ms": None, f"{prefix}_loss_pct": None, f"{prefix}_probes": 0}
    last = max(sent.values())
    counted = [seq for seq, t in sent.items() if t <= last - 1.0 or seq in rtts]
    lost = sum(1 for seq in counted if seq not in rtts)
    values = list(rtts.values())
    return {f"{prefix}_p50_ms": percentile(values, 50), f"{prefix}_p99_ms": percentile(values, 99),
            f"{prefix}_max_ms": max(values) if values else None,
            f"{prefix}_wakeup_p99_ms": percentile(wakeups, 99),
            f"{prefix}_loss_pct": 100.0 * lost / len(counted) if counted else None, f"{prefix}_probes": len(sent)}
