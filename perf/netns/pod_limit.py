"""Per-pod egress limits on the virtual node (kubernetes.io/egress-bandwidth): pod-hi
annotated with a limit sends iperf3 TCP (with an ICMP RTT probe) while pod-lo, unlimited,
sends UDP at a fixed rate; the gateway's port shaper is off, so only the pod limit acts.

  gateway  the annotation in the PodList: the gateway's pod shaper (gateway/pod_shaper.h)
  tbf      the kernel's way, as the bandwidth CNI plugin does it: pod-hi's host-side veth
           (vhi) redirects its ingress to an ifb device (u32 match-all + mirred), shaped by
           a TBF qdisc (rate, the same burst as the gateway, latency 25 ms); the gateway
           only forwards.

Reported per mode: the TCP flow's rate and its error against the limit, RTT p50/p99, the
UDP flow's delivered rate (the other pod must be unaffected), and the host's CPU seconds
(user+system+softirq from /proc/stat) per second of the run: the gateway's worker
busy-polls one core in both modes, so the difference is what the limiter costs elsewhere.
"""

from __future__ import annotations

import argparse
import os
import signal
import time

from . import experiment
from .host import remove_dpdk_leftovers
from .virtual_node import POD_HI_IP, VirtualNode

IFB = "dgifb"
TBF_LATENCY_MS = 25  # the bandwidth plugin's latencyInMillis
LIMIT_MODES = ("gateway", "tbf")


def host_cpu_seconds() -> float:
    with open("/proc/stat") as f:
        fields = f.readline().split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq = (int(x) for x in fields[:7])
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def burst_bytes(limit_bps: int) -> int:
    """The gateway's pod bucket (PodShaper::kBucketMicros): 10 ms at the rate, at least two
    jumbo frames, so both limiters may save up the same."""
    return max(limit_bps // 8 // 100, 2 * (9216 + 24))


def setup_tbf(node: VirtualNode, limit_bps: int) -> None:
    node.sh(["ip", "link", "add", IFB, "type", "ifb"], role="node")
    node.sh(["ip", "link", "set", IFB, "up"], role="node")
    node.sh(["tc", "qdisc", "add", "dev", "vhi", "handle", "ffff:", "ingress"], role="node")
    node.sh(["tc", "filter", "add", "dev", "vhi", "parent", "ffff:", "protocol", "all", "u32", "match", "u32",
             "0", "0", "action", "mirred", "egress", "redirect", "dev", IFB], role="node")
    node.sh(["tc", "qdisc", "add", "dev", IFB, "root", "tbf", "rate", f"{limit_bps}bit",
             "burst", str(burst_bytes(limit_bps)), "latency", f"{TBF_LATENCY_MS}ms"], role="node")


def teardown_tbf(node: VirtualNode) -> None:
    node.sh(["tc", "qdisc", "del", "dev", "vhi", "handle", "ffff:", "ingress"], role="node", check=False)
    node.sh(["ip", "link", "del", IFB], role="node", check=False)


def run_limit_mode(node: VirtualNode, mode: str, limit_bps: int) -> dict:
    node.pod_annotations = {POD_HI_IP: {"kubernetes.io/egress-bandwidth": str(limit_bps)}} \
        if mode == "gateway" else {}
    if mode == "tbf":
        setup_tbf(node, limit_bps)
    fwd = node.start_forwarder("priority", name=f"forwarder-{mode}")
    result: dict = {}
    try:
        cpu0, t0 = host_cpu_seconds(), time.monotonic()
        result = experiment.measure(node, "priority")
        result["host_cpu_per_s"] = (host_cpu_seconds() - cpu0) / (time.monotonic() - t0)
        if mode == "gateway":
            stats = node.stats()
            result["pod_shaper"] = stats.get("pod_shaper", {})
    finally:
        result["forwarder_exit"] = node.stop_forwarder(fwd, first=signal.SIGINT, grace=10.0)
        remove_dpdk_leftovers(node.dpdk_file_prefix("priority"))
        if mode == "tbf":
            tc = node.sh(["tc", "-s", "qdisc", "show", "dev", IFB], role="node", check=False)
            result["tbf_stats"] = tc.stdout
            teardown_tbf(node)
    result["limit_bps"] = limit_bps
    result["rate_error_pct"] = 100.0 * (result.get("high_bps", 0.0) - limit_bps) / limit_bps
    return result


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit-mbit", type=int, default=50, help="pod-hi's egress limit (default %(default)s)")
    ap.add_argument("--other-mbit", type=int, default=100, help="pod-lo's UDP rate (default %(default)s)")
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--modes", default=",".join(LIMIT_MODES))
    ap.add_argument("--rtt-probe-hz", type=float, default=50)
    ap.add_argument("--json-out", default=None)
    ap.add_argument("--gateway-binary", default=experiment.DEFAULT_GATEWAY)
    own, rest = ap.parse_known_args(argv)
    args = experiment.parse_args(["--modes", "priority", "--shaper-mbit", "0", "--duration", str(own.duration),
                                  "--flood-mbit", str(own.other_mbit), "--rtt-probe-hz", str(own.rtt_probe_hz),
                                  "--gateway-binary", own.gateway_binary] + rest)
    args.limit_bps = own.limit_mbit * 1_000_000
    args.limit_modes = [m for m in own.modes.split(",") if m]
    if any(m not in LIMIT_MODES for m in args.limit_modes):
        ap.error(f"--modes takes {', '.join(LIMIT_MODES)}")
    args.json_out = own.json_out or args.json_out.replace("virtual-node", "pod-limit")
    return args


def run(args: argparse.Namespace) -> dict:
    return experiment.on_virtual_node(args, lambda node: measure_limit_modes(node, args))


def measure_limit_modes(node: VirtualNode, args: argparse.Namespace) -> dict:
    report = {"limit_bps": args.limit_bps, "other_bps": args.flood_mbit * 1_000_000,
              "duration_s": args.duration, "rtt_probe_hz": args.rtt_probe_hz,
              "loadavg_start": os.getloadavg()[0], "cpus": os.cpu_count()}
    for mode in args.limit_modes:
        report[mode] = run_limit_mode(node, mode, args.limit_bps)
    report["loadavg_end"] = os.getloadavg()[0]
    return report
