"""Masqueraded egress on an attached virtual node (issue 12 part 1, podEgressStamp): the node
MASQUERADEs its pods' traffic to the remote, so the gateway sees the node's address; the
pods' class travels in the stamp the tc program on vhi/vlo writes before NAT.

  masquerade  (a) pod-hi (ray-training, critical) reaches the remote with the node's address
              and DSCP 46; (b) pod-lo (batch-jobs, scavenger) asking for EF (TOS 0xb8) is
              still marked 8; (c) the node's own datagrams, plain and with a stamp codepoint
              (TOS 0x04 = class 0's), arrive with DSCP 0; the counters moved.

The harness (namespaces, cleanup, SIGALRM bound, exit codes) is node_case.py's.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import node_case  # noqa: E402  (puts perf/ on the path for netns)
from node_case import check  # noqa: E402
from traffic_test import CRITICAL_DSCP, DscpCapture, ping_works, tcp_works  # noqa: E402
from netns.virtual_node import NODE_UP_IP, REMOTE_IP, VirtualNode  # noqa: E402

SCAVENGER_DSCP = 8  # PRIORITY_POLICY: batch-jobs (pod-lo) is scavenger, CS1
EF_TOS, STAMP_TOS = 0xb8, 0x04  # DSCP 46; DSCP 1 = dg_stamp_codepoint(0)

# Sends COUNT UDP datagrams with the given TOS byte to DST:PORT.
UDP_TOS_SEND = r"""
import socket, sys, time
dst, tos, count = sys.argv[1], int(sys.argv[2], 0), int(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, tos)
for i in range(count):
    s.sendto(b"x" * 100, (dst, 5399))
    time.sleep(0.05)
"""


def send_with_tos(node: VirtualNode, role: str, tos: int, count: int = 10) -> None:
    node.sh([sys.executable, "-c", UDP_TOS_SEND, REMOTE_IP, hex(tos), str(count)], role=role)


def dscp_summary(dscp: list[int]) -> str:
    return f"{len(dscp)} frames, DSCP values {sorted(set(dscp))}"


def case_masquerade(node: VirtualNode, _args: argparse.Namespace) -> None:
    node.masquerade_pods()
    node.pod_egress_stamp = True
    gateway = node.start_forwarder("priority", "gateway")
    time.sleep(1.5)  # the reconciler's first passes: veths stamped, pod map filled

    capture = DscpCapture(node, "dscp-pod-hi", source=NODE_UP_IP)
    check(ping_works(node), "masqueraded: ping pod-hi -> remote")
    check(tcp_works(node, "stamp-hi"), "masqueraded: TCP pod-hi -> remote")
    dscp = capture.stop()
    check(bool(dscp) and all(v == CRITICAL_DSCP for v in dscp),
          f"(a) remote sees pod-hi's traffic from the node's address with DSCP {CRITICAL_DSCP}",
          dscp_summary(dscp))

    capture = DscpCapture(node, "dscp-pod-lo", source=NODE_UP_IP)
    send_with_tos(node, "pod-lo", EF_TOS)
    dscp = capture.stop()
    check(bool(dscp) and all(v == SCAVENGER_DSCP for v in dscp),
          f"(b) pod-lo asking for EF is still marked {SCAVENGER_DSCP}", dscp_summary(dscp))

    for tos, what in ((0, "plain"), (STAMP_TOS, "with a forged stamp codepoint")):
        capture = DscpCapture(node, f"dscp-node-{tos}", source=NODE_UP_IP)
        send_with_tos(node, "node", tos)
        dscp = capture.stop()
        check(bool(dscp) and not any(dscp), f"(c) the node's own datagrams {what} arrive with DSCP 0",
              dscp_summary(dscp))

    stats = node.stats()
    stamp = stats.get("pod_stamp", {})
    xdp = stats.get("xdp", {})
    check(stamp.get("classified", 0) > 0 and stamp.get("interfaces") == 2,
          "the gateway classified stamped frames; both pod veths carry the stamp", str(stamp))
    check(xdp.get("pod_stamped_frames", 0) > 0 and xdp.get("stamp_forgeries", 0) >= 10,
          "the tc programs stamped pod frames and cleared the node's forged codepoints",
          f"pod_stamped_frames {xdp.get('pod_stamped_frames')}, stamp_forgeries {xdp.get('stamp_forgeries')}")
    node.stop_forwarder(gateway)
    filters = node.sh(["tc", "filter", "show", "dev", "vhi", "ingress"], role="node").stdout
    check("dg_pod_stamp" not in filters, "after the gateway's exit no stamp filter is left", filters.strip())


if __name__ == "__main__":
    sys.exit(node_case.run(__doc__.splitlines()[0], {"masquerade": case_masquerade}, "st", default_timeout=100))
