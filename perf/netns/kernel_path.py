"""Mode `kernel` (the kernel peer, the seed's approach) puts no forwarder in the path: gw
bridges gwk and gwu (a plain Linux bridge), node marks DSCP per pod with iptables
(mangle POSTROUTING -s POD -j DSCP --set-dscp N, the same classes as `priority`) and
shapes up0 with HTB at the shaper rate, one leaf per class chosen by DSCP (tc filter u32
match ip dsfield), served by HTB priority, with the gateway's accounting: 24 bytes of
framing (overhead 24, mpu 84), 1 ms burst and a 1024-packet pfifo per class. Per-class
drops are the leaf qdiscs' drop counters.
"""

from __future__ import annotations

import json

from .common import Failure
from .virtual_node import POD_HI_IP, POD_LO_IP, VirtualNode

# PRIORITY_POLICY as iptables + HTB. (class, DSCP, HTB minor, HTB prio); standard is
# HTB's default class, so unmarked traffic lands there as in the gateway.
KERNEL_CLASSES = [("critical", 46, 10, 0), ("high", 34, 20, 1), ("standard", 0, 30, 2), ("scavenger", 8, 40, 3)]
KERNEL_POD_DSCP = {POD_HI_IP: 46, POD_LO_IP: 8}  # ray-training -> critical, batch-jobs -> scavenger
KERNEL_QUEUE_PACKETS = 1024  # the gateway's queues.depth
FRAMING_OVERHEAD = 24  # the gateway's shaper.framingOverhead


def setup(node: VirtualNode) -> None:
    """The seed's approach: gw is a plain bridge; node marks with iptables and shapes
    up0 with HTB whose leaves are chosen by DSCP (see the module docstring)."""
    rate = node.args.shaper_mbit * 1_000_000
    if rate <= 0:
        raise Failure("mode kernel needs a shaper rate (--shaper-mbit > 0)")
    node.detach_xdp("gw", ["gwk", "gwu"])
    node.sh(["ip", "link", "add", "br0", "type", "bridge"], role="gw")
    for dev in ("gwk", "gwu"):
        node.sh(["ip", "link", "set", dev, "master", "br0"], role="gw")
    node.sh(["ip", "link", "set", "br0", "up"], role="gw")
    for ip, dscp in KERNEL_POD_DSCP.items():
        node.sh(["iptables", "-w", "-t", "mangle", "-A", "POSTROUTING", "-o", "up0", "-s", ip,
                 "-j", "DSCP", "--set-dscp", str(dscp)], role="node")
    # The gateway's derived burst: 1 ms at the rate, at least two jumbo frames.
    burst = max(rate // 8 // 1000, 2 * (9216 + FRAMING_OVERHEAD))
    acct = ["burst", f"{burst}b", "cburst", f"{burst}b", "overhead", str(FRAMING_OVERHEAD), "mpu",
            str(60 + FRAMING_OVERHEAD)]
    low = max(rate // 200, 8000)  # what each lower class is guaranteed; the top class gets the rest
    tc = ["tc"]
    node.sh(tc + ["qdisc", "add", "dev", "up0", "root", "handle", "1:", "htb", "default", "30"], role="node")
    node.sh(tc + ["class", "add", "dev", "up0", "parent", "1:", "classid", "1:1", "htb", "rate", f"{rate}bit",
                  "ceil", f"{rate}bit"] + acct, role="node")
    for name, dscp, minor, prio in KERNEL_CLASSES:
        class_rate = rate - (len(KERNEL_CLASSES) - 1) * low if prio == 0 else low
        node.sh(tc + ["class", "add", "dev", "up0", "parent", "1:1", "classid", f"1:{minor}", "htb",
                      "rate", f"{class_rate}bit", "ceil", f"{rate}bit", "prio", str(prio)] + acct, role="node")
        node.sh(tc + ["qdisc", "add", "dev", "up0", "parent", f"1:{minor}", "handle", f"{minor}:", "pfifo",
                      "limit", str(KERNEL_QUEUE_PACKETS)], role="node")
        if dscp != 0:
            node.sh(tc + ["filter", "add", "dev", "up0", "parent", "1:", "protocol", "ip", "prio", "1", "u32",
                          "match", "ip", "dsfield", f"{dscp << 2:#04x}", "0xfc", "flowid", f"1:{minor}"],
                    role="node")
    node.log(f"kernel path up: bridge in gw, iptables DSCP + HTB {rate / 1e6:.0f} Mbit/s on node:up0")
    node.wait_ready(None, "kernel")


def class_drops(node: VirtualNode) -> dict:
    r = node.sh(["tc", "-s", "-j", "qdisc", "show", "dev", "up0"], role="node", check=False)
    names = {f"1:{minor}": name for name, _, minor, _ in KERNEL_CLASSES}
    drops: dict = {}
    try:
        for q in json.loads(r.stdout or "[]"):
            if q.get("parent") in names:
                drops[names[q["parent"]]] = int(q.get("drops", 0))
    except (ValueError, TypeError, AttributeError):
        pass
    return {name: drops[name] for name, _, _, _ in KERNEL_CLASSES if name in drops}


def teardown(node: VirtualNode) -> None:
    node.sh(["tc", "qdisc", "del", "dev", "up0", "root"], role="node", check=False)
    node.sh(["iptables", "-w", "-t", "mangle", "-F", "POSTROUTING"], role="node", check=False)
    node.sh(["ip", "link", "del", "br0"], role="gw", check=False)
