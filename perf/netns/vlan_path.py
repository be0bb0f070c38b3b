"""A VLAN-tagged path through the attached virtual node (issue 12, 802.1p): frames the node
routes to VLAN_SUBNET leave its kernel leg (dgw-kernel) tagged VLAN_ID with priority 1 and
DEI set, the gateway reads them from dgw-gateway and sends them on up0 to the remote.

This host's kernel has no 802.1Q devices (CONFIG_VLAN_8021Q off), so the tag is pushed by a
tc egress program on dgw-kernel (tests/node/vlan_push.bpf.c, bpf_skb_vlan_push), which stores
it exactly as a VLAN sub-interface does: in the skb's hardware-accelerated tag, to be written
into the frame by a link that does not insert tags itself. The remote has no VLAN device
either: its stack drops the tagged frames, and a capture on its eth0 sees them as sent.

Found bringing it up (docs/architecture.md, "Observe-only mode and 802.1p priority"):
  * with tx-vlan-offload on (the veth default) the tag stays in skb metadata across the veth,
    XDP on dgw-gateway never sees it, and the frame reaches the gateway (and, fail-open, the
    uplink) untagged: the VLAN is lost. Turned off (`ethtool -K dgw-kernel txvlan off`), the
    kernel writes the tag into the frame before the veth and the gateway sees and keeps it;
    `node attach` now turns it off on dgw-kernel, as a real node needs it too.
  * the same holds the other way: a tag the sender left in metadata (the remote's eth0 with
    tx-vlan-offload on; on a real node, a NIC with rx-vlan-offload on) is gone in the uplink's
    XDP program, so tagged ingress bypassed to dgw-kernel arrives untagged.
"""

from __future__ import annotations

import re

from .node_plumbing import KERNEL_LEG
from .virtual_node import VirtualNode

VLAN_SUBNET, VLAN_REMOTE_IP = "10.201.42.0/24", "10.201.42.2"  # must match vlan_push.bpf.c
VLAN_ID, VLAN_SENT_PCP, VLAN_SENT_DEI = 42, 1, 1


def add_tagged_path(node: VirtualNode, bpf_object: str) -> None:
    """Routes VLAN_SUBNET out of the node's kernel leg with the tag pushed by bpf_object
    (after `node attach`, which leaves tx-vlan-offload off there; the remote's MAC is pinned,
    so no ARP has to cross the VLAN)."""
    remote_mac = node.mac("remote", "eth0")
    node.sh(["ip", "route", "add", VLAN_SUBNET, "dev", KERNEL_LEG], role="node")
    node.sh(["ip", "neigh", "replace", VLAN_REMOTE_IP, "lladdr", remote_mac, "dev", KERNEL_LEG, "nud", "permanent"],
            role="node")
    node.sh(["tc", "qdisc", "add", "dev", KERNEL_LEG, "clsact"], role="node")
    node.sh(["tc", "filter", "add", "dev", KERNEL_LEG, "egress", "bpf", "da", "obj", bpf_object, "sec", "tc"],
            role="node")


def kernel_leg_tx_vlan_offload(node: VirtualNode) -> str:
    """"on" or "off" (or what ethtool printed instead): tx-vlan-offload on dgw-kernel."""
    text = node.sh(["ethtool", "-k", KERNEL_LEG], role="node").stdout
    match = re.search(r"^tx-vlan-offload: (\w+)", text, re.M)
    return match.group(1) if match else text.strip()[:200]
