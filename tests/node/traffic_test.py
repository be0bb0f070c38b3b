"""Traffic on an attached node (issue 9, "Tests"): the virtual node of perf/netns/ in its
`attach` plumbing (one uplink up0 with IPv4 + IPv6 addresses, default routes and a route in
a second table; pods routed behind the node; a remote "router"), the gateway put in place
with `dscp-gateway node attach --uplink up0` and run inside the node.

One case per run (--case), one behaviour each:
  fail_open   ping and TCP from pod-hi to the remote work with no gateway running and with
              it running; the remote sees pod-hi's DSCP (46, ray-training is critical) only
              while the gateway runs (tshark on the remote's eth0).
  sigkill     SIGKILL of the gateway under an iperf3 TCP flow: iperf3 succeeds and its
              longest stall (0.1 s intervals) is <= 1 s; a restarted gateway marks again
              (and, with run's own hand-over, again no stall over 1 s).
  sigterm     SIGTERM: the gateway drains and exits; the node stays on the fail-open path
              (attached, ping and TCP work).
  ingress     frames remote -> pod-hi arrive while the gateway's uplink RX counter
              (/v1/stats) stays flat: the uplink's XDP program bypasses the gateway.
The harness (bounds, cleanup, exit codes) is node_case.py's.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import node_case  # noqa: E402  (puts perf/ on the path for netns)
from node_case import check  # noqa: E402
import netns  # noqa: E402
from netns.iperf import iperf_json  # noqa: E402
from netns.virtual_node import POD_HI_IP, REMOTE_IP, TCP_PORT, VirtualNode  # noqa: E402

CRITICAL_DSCP = 46  # PRIORITY_POLICY: ray-training (pod-hi) is critical, EF
MAX_GAP_S = 1.0
INTERVAL_S = 0.1

# ------------------------------------------------------------------------- probes
class DscpCapture:
    """tshark on the remote's eth0: the DSCP of every IPv4 packet from `source` (pod-hi)."""

    def __init__(self, node: VirtualNode, name: str, source: str = POD_HI_IP):
        self.node, self.name = node, name
        self.proc = node.spawn(["tshark", "-i", "eth0", "-n", "-l", "-f", f"ip src {source}",
                                "-T", "fields", "-e", "ip.dsfield.dscp"], "remote", name,
                               stop_signal=signal.SIGINT)
        deadline = time.monotonic() + 20
        while "Capturing on" not in node.read_log(name, "err"):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise netns.Failure(f"tshark did not start: {netns.tail(node.read_log(name, 'err'))}")
            time.sleep(0.1)

    def stop(self) -> list[int]:
        time.sleep(0.3)  # the last frames still in flight
        self.node.stop(self.proc, first=signal.SIGINT, grace=5.0)
        return [int(v) for v in self.node.read_log(self.name).split() if v.isdigit()]


def tcp_works(node: VirtualNode, tag: str) -> bool:
    """A 1 s iperf3 TCP flow pod-hi -> remote completes and moves data."""
    server = node.spawn(["iperf3", "-s", "-1", "-p", str(TCP_PORT)], "remote", f"tcp-server-{tag}")
    time.sleep(0.3)
    client = node.spawn(["iperf3", "-c", REMOTE_IP, "-p", str(TCP_PORT), "-t", "1", "--json",
                         "--connect-timeout", "3000"], "pod-hi", f"tcp-client-{tag}")
    try:
        client.wait(timeout=20)
    except subprocess.TimeoutExpired:
        pass
    node.stop(client, grace=1.0)
    node.stop(server, grace=1.0)
    report = iperf_json(node.read_log(f"tcp-client-{tag}")) or {}
    received = report.get("end", {}).get("sum_received", {}).get("bytes", 0)
    return client.returncode == 0 and received > 0


def ping_works(node: VirtualNode, tries: int = 3) -> bool:
    return any(node.ping("pod-hi", REMOTE_IP) for _ in range(tries))


def node_status(node: VirtualNode) -> dict:
    return json.loads(node.node_command("status", "--json").stdout)


def longest_stall(iperf_text: str) -> tuple[float, int]:
    """(longest run of consecutive zero-byte intervals in seconds, interval count) of an
    iperf3 --json client report."""
    report = iperf_json(iperf_text) or {}
    longest = current = 0.0
    intervals = report.get("intervals", [])
    for interval in intervals:
        s = interval.get("sum", {})
        if s.get("bytes", 0) == 0:
            current += s.get("seconds", INTERVAL_S)
            longest = max(longest, current)
        else:
            current = 0.0
    return longest, len(intervals)


def start_flow(node: VirtualNode, seconds: int, tag: str) -> tuple[subprocess.Popen, subprocess.Popen]:
    server = node.spawn(["iperf3", "-s", "-1", "-p", str(TCP_PORT)], "remote", f"flow-server-{tag}")
    time.sleep(0.3)
    # -b keeps the flow steady and the host usable (2 shared cores); -i 0.1 resolves stalls.
    client = node.spawn(["iperf3", "-c", REMOTE_IP, "-p", str(TCP_PORT), "-t", str(seconds), "-b", "50M",
                         "-i", str(INTERVAL_S), "--json", "--connect-timeout", "3000"], "pod-hi",
                        f"flow-client-{tag}")
    return server, client


def finish_flow(node: VirtualNode, flow: tuple[subprocess.Popen, subprocess.Popen], tag: str,
                seconds: int) -> tuple[int | None, str]:
    server, client = flow
    try:
        client.wait(timeout=seconds + 20)
    except subprocess.TimeoutExpired:
        pass
    node.stop(client, grace=1.0)
    node.stop(server, grace=1.0)
    return client.returncode, node.read_log(f"flow-client-{tag}")


# -------------------------------------------------------------------------- cases
def case_fail_open(node: VirtualNode, _args: argparse.Namespace) -> None:
    capture = DscpCapture(node, "dscp-no-gateway")
    check(ping_works(node), "no gateway: ping pod-hi -> remote (fail-open)")
    check(tcp_works(node, "no-gateway"), "no gateway: TCP pod-hi -> remote (fail-open)")
    dscp = capture.stop()
    check(bool(dscp) and not any(dscp), "no gateway: remote sees pod-hi's frames unmarked",
          f"{len(dscp)} frames, DSCP values {sorted(set(dscp))}")

    gateway = node.start_forwarder("priority", "gateway")
    capture = DscpCapture(node, "dscp-gateway")
    check(ping_works(node), "gateway running: ping pod-hi -> remote")
    check(tcp_works(node, "gateway"), "gateway running: TCP pod-hi -> remote")
    dscp = capture.stop()
    marked = sum(1 for v in dscp if v == CRITICAL_DSCP)
    check(bool(dscp) and marked == len(dscp), f"gateway running: remote sees DSCP {CRITICAL_DSCP} on pod-hi's frames",
          f"{marked} of {len(dscp)} frames, DSCP values {sorted(set(dscp))}")
    node.stop_forwarder(gateway)


def case_sigkill(node: VirtualNode, _args: argparse.Namespace) -> None:
    gateway = node.start_forwarder("priority", "gateway")
    seconds = 6
    flow = start_flow(node, seconds, "kill")
    time.sleep(2.5)
    node.log("SIGKILL to the gateway under the TCP flow")
    node.stop(gateway, first=signal.SIGKILL, grace=2.0)
    rc, text = finish_flow(node, flow, "kill", seconds)
    stall, count = longest_stall(text)
    check(rc == 0, "SIGKILL under iperf3: the flow survives (iperf3 exit 0)", f"exit {rc}")
    check(count >= seconds / INTERVAL_S * 0.8 and stall <= MAX_GAP_S,
          f"SIGKILL under iperf3: longest stall <= {MAX_GAP_S} s", f"{stall:.1f} s over {count} intervals")
    status = node_status(node)
    check(status.get("attached") is True, "after SIGKILL: the node stays attached", json.dumps(status)[:300])

    capture = DscpCapture(node, "dscp-restart")
    flow = start_flow(node, seconds, "restart")
    time.sleep(1.5)
    gateway = node.start_forwarder("priority", "gateway-restarted")
    rc, text = finish_flow(node, flow, "restart", seconds)
    stall, count = longest_stall(text)
    dscp = capture.stop()
    check(rc == 0, "restart under iperf3: the flow survives (iperf3 exit 0)", f"exit {rc}")
    check(CRITICAL_DSCP in dscp, "restart: marking resumes (remote sees DSCP 46 again)",
          f"{sum(1 for v in dscp if v == CRITICAL_DSCP)} of {len(dscp)} frames marked")
    check(stall <= MAX_GAP_S, f"restart under iperf3: longest stall <= {MAX_GAP_S} s",
          f"{stall:.1f} s over {count} intervals")
    node.stop_forwarder(gateway)


def case_sigterm(node: VirtualNode, _args: argparse.Namespace) -> None:
    gateway = node.start_forwarder("priority", "gateway")
    node.log("SIGTERM to the gateway")
    rc = node.stop(gateway, first=signal.SIGTERM, grace=15.0)
    check(rc == 0, "SIGTERM: the gateway drains and exits 0", f"exit {rc}")
    status = node_status(node)
    check(status.get("attached") is True, "after SIGTERM: the node stays attached", json.dumps(status)[:300])
    check((status.get("programs") or {}).get("attached") is True, "after SIGTERM: the XDP programs stay attached",
          json.dumps(status.get("programs"))[:300])
    check(ping_works(node), "after SIGTERM: ping pod-hi -> remote (fail-open)")
    check(tcp_works(node, "after-term"), "after SIGTERM: TCP pod-hi -> remote (fail-open)")


# Sends COUNT UDP datagrams to pod-hi from the remote, paced over about a second.
UDP_SEND = r"""
import socket, sys, time
dst, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(count):
    s.sendto(b"x" * 200, (dst, port))
    time.sleep(0.002)
"""
# Counts datagrams until 2 s of silence; prints the count.
UDP_COUNT = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", int(sys.argv[1])))
s.settimeout(8)
n = 0
try:
    while True:
        s.recv(2048)
        n += 1
        s.settimeout(2)
except socket.timeout:
    pass
print(n, flush=True)
"""


def case_ingress(node: VirtualNode, _args: argparse.Namespace) -> None:
    gateway = node.start_forwarder("priority", "gateway")
    count, port = 400, 5301
    before = node.stats()["ports"]["uplink"]["rx_packets"]
    bypassed_before = bypassed_frames(node)
    receiver = node.spawn([sys.executable, "-c", UDP_COUNT, str(port)], "pod-hi", "udp-receiver")
    time.sleep(0.5)
    node.sh([sys.executable, "-c", UDP_SEND, POD_HI_IP, str(port), str(count)], role="remote")
    receiver.wait(timeout=20)
    received = int(node.read_log("udp-receiver").strip() or 0)
    after = node.stats()["ports"]["uplink"]["rx_packets"]
    bypassed = bypassed_frames(node) - bypassed_before
    check(received >= 0.95 * count, "ingress: remote -> pod-hi datagrams arrive", f"{received} of {count}")
    check(after == before, "ingress: the gateway's uplink RX counter stays flat",
          f"/v1/stats ports.uplink.rx_packets {before} -> {after}")
    check(bypassed >= received, "ingress: the uplink program bypassed them to the kernel leg",
          f"node status bypassed_frames +{bypassed}")
    node.stop_forwarder(gateway)


def bypassed_frames(node: VirtualNode) -> int:
    """Uplink frames the XDP program redirected to the kernel leg (`node status --json`)."""
    return int((node_status(node).get("programs") or {}).get("bypassed_frames", -1))


CASES = {"fail_open": case_fail_open, "sigkill": case_sigkill, "sigterm": case_sigterm, "ingress": case_ingress}


if __name__ == "__main__":
    sys.exit(node_case.run(__doc__.splitlines()[0], CASES, "dgn", default_timeout=100))
