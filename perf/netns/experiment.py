"""The congested-uplink experiment on the virtual node: a high-priority iperf3 TCP flow
from pod-hi against a UDP flood from pod-lo, per mode (priority, fifo: through the
forwarder; kernel: kernel_path.py). perf/virtual_node.py is its command line; the
congestion integration test and perf/harness.py call it directly.

  * The UDP flood's receiver (iperf3 -s in remote) drops in its socket buffer when it
    loses the CPU race (UdpRcvbufErrors), which made the flood look 25-35% lossy even
    through unshaped testpmd; the flood client asks for -w 2M (both ends; capped by
    net.core.rmem_max, which cannot be set per netns) and the loss went to ~0.1%.
  * The flood is interrupted only after the TCP client returns (not on a timer): under
    FIFO the TCP handshake can take seconds of SYN retries, and a flood that ended
    first would let the TCP flow finish uncongested.
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import os
import re
import shutil
import signal
import subprocess
import sys
import time

from . import kernel_path
from .common import Failure, ignore_signals, log, tail
from .host import ensure_hugepages, remove_dpdk_leftovers, worker_cpu_seconds
from .icmp import RTT_PROBE, rtt_result
from .iperf import flood_result, intervals, iperf_error, tcp_result
from .results import combine_runs, histogram_quantile, parse_class_counter, parse_class_drops
from .virtual_node import (CLASS_NAMES, KERNEL_MODE, MODES, PLUMBINGS, POD_HI_GW, REMOTE_IP, TCP_PORT, UDP_PORT,
                           VirtualNode)

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_GATEWAY = os.path.join(REPO_ROOT, "build", "gateway", "dscp-gateway")
FLOOD_WARMUP_S = 1.5  # flood alone before the TCP flow starts
FLOOD_MAX_EXTRA_S = 40  # upper bound on the TCP client's connect + result exchange
REQUIRED_TOOLS = ["ip", "ethtool", "iperf3", "sysctl", "mount", "mountpoint", "nsenter", "unshare"]


def run_mode(node: VirtualNode, mode: str) -> dict:
    if mode == KERNEL_MODE:
        return run_kernel_mode(node)
    fwd = node.start_forwarder(mode)
    result: dict = {}
    try:
        result = measure_repeated(node, mode)
    finally:
        # SIGINT: the gateway (and testpmd) print final counters on the way out.
        result["forwarder_exit"] = node.stop_forwarder(fwd, first=signal.SIGINT, grace=10.0)
        remove_dpdk_leftovers(node.dpdk_file_prefix(mode))
    out, err = node.read_log(f"forwarder-{mode}", "out"), node.read_log(f"forwarder-{mode}", "err")
    result["drops"] = parse_class_drops(out + "\n" + err, CLASS_NAMES[mode]) \
        if node.args.forwarder == "gateway" else {}
    for counter in ("aqm_drops", "ecn_marks"):
        result[counter] = parse_class_counter(out, CLASS_NAMES[mode], counter)
    result["aqm"] = getattr(node.args, "aqm", True)
    result["pod_ecn"] = getattr(node.args, "pod_ecn", False)
    result["pod_cc"] = node.pod_congestion_control()
    result["shaper_bps"] = node.args.shaper_mbit * 1_000_000
    result["namespace_drops"] = {m.group(1): int(m.group(2)) for m in re.finditer(
        r"^\s*namespace\s+(\S+)\s.*?\bdrops=(\d+)", out, re.M)}
    result["forwarder_stdout_tail"] = tail(out, 80)
    result["forwarder_stderr_tail"] = tail(err, 20)
    return result


def run_kernel_mode(node: VirtualNode) -> dict:
    result: dict = {}
    try:
        kernel_path.setup(node)
        result = measure_repeated(node, KERNEL_MODE)
        result["drops"] = kernel_path.class_drops(node)
        result["shaped"] = True
        result["pod_cc"] = node.pod_congestion_control()
        tc = node.sh(["tc", "-s", "class", "show", "dev", "up0"], "node", check=False)
        result["tc_class_stats_tail"] = tail(tc.stdout, 60)
    finally:
        kernel_path.teardown(node)
    return result


def measure_repeated(node: VirtualNode, mode: str) -> dict:
    """measure() --repeat times; one run is returned as it is, several as medians."""
    runs = []
    for i in range(max(1, getattr(node.args, "repeat", 1))):
        if i:
            time.sleep(1.0)  # let the queues drain between runs
        runs.append(measure(node, mode))
    return runs[0] if len(runs) == 1 else combine_runs(runs)


def measure(node: VirtualNode, mode: str) -> dict:
    a = node.args
    node.set_pod_ecn(getattr(a, "pod_ecn", False))
    if getattr(a, "pod_cc", None):
        node.set_pod_congestion_control(a.pod_cc)
    servers = [node.spawn(node.iperf3() + ["-s", "-1", "--json", "-p", str(port)], "remote",
                          name=f"server-{kind}-{mode}") for kind, port in (("tcp", TCP_PORT), ("udp", UDP_PORT))]
    time.sleep(0.5)
    res: dict = {}
    flood = None
    probe = None
    host_probe = None
    try:
        if not a.no_flood:
            # The flood runs until the TCP flow is done and is then interrupted
            # (iperf3 still prints its JSON), so a TCP flow whose start is delayed
            # by SYN losses is still measured entirely under the flood.
            flood_t = FLOOD_WARMUP_S + a.duration + FLOOD_MAX_EXTRA_S
            flood = node.spawn(node.iperf3() + ["-c", REMOTE_IP, "-p", str(UDP_PORT), "-u", "-b", f"{a.flood_mbit}M",
                                "-l", "1400", "-w", "2M", "-t", f"{flood_t:.0f}", "--json"], "pod-lo",
                               name=f"flood-{mode}")
            t_flood = time.monotonic()
            time.sleep(FLOOD_WARMUP_S)
            if flood.poll() is not None:
                raise Failure(f"UDP flood client exited early: {iperf_error(node.read_log(f'flood-{mode}'))}")
        else:
            t_flood = time.monotonic()
        t_tcp = time.monotonic()
        node.log(f"{mode}: TCP from pod-hi for {a.duration} s"
                 + ("" if a.no_flood else f" under a {a.flood_mbit} Mbit/s UDP flood"))
        tcp = node.spawn(node.iperf3() + ["-c", REMOTE_IP, "-p", str(TCP_PORT), "-t", str(a.duration), "--json",
                          "--connect-timeout", "10000"], "pod-hi", name=f"tcp-{mode}")
        probe_hz = getattr(a, "rtt_probe_hz", 0) or 0
        if probe_hz > 0:
            probe = node.spawn([sys.executable, "-c", RTT_PROBE, REMOTE_IP, str(probe_hz)], "pod-hi",
                               name=f"rtt-{mode}")
            # The same probe to the node's end of pod-hi's veth, which never crosses the
            # forwarder: what this host's CPUs and kernel add under the same load.
            host_probe = node.spawn([sys.executable, "-c", RTT_PROBE, POD_HI_GW, str(probe_hz)], "pod-hi",
                                    name=f"rtt-host-{mode}")
        cpu_start = worker_cpu_seconds(node.forwarder_pid) if mode != KERNEL_MODE else None
        sojourn_start = hi_class_sojourn(node, mode)
        try:
            tcp.wait(timeout=a.duration + FLOOD_MAX_EXTRA_S - 5)
        except subprocess.TimeoutExpired:
            node.log(f"{mode}: TCP client hung, killing it")
        t_tcp_end = time.monotonic()
        res.update(sojourn_percentiles(sojourn_start, hi_class_sojourn(node, mode)))
        if cpu_start is not None:
            cpu_end = worker_cpu_seconds(node.forwarder_pid)
            if cpu_end is not None and t_tcp_end > t_tcp:
                # Share of one CPU the forwarding lcore got while the TCP flow ran.
                res["forwarder_worker_cpu_share"] = (cpu_end - cpu_start) / (t_tcp_end - t_tcp)
        if probe is not None:
            time.sleep(0.3)  # replies still in flight
            node.stop(probe, first=signal.SIGINT, grace=2.0)
            res.update(rtt_result(node.read_log(f"rtt-{mode}")))
            node.stop(host_probe, first=signal.SIGINT, grace=2.0)
            res.update(rtt_result(node.read_log(f"rtt-host-{mode}"), prefix="host_rtt"))
        node.stop(tcp, first=signal.SIGINT, grace=2.0)
        res.update(tcp_result(node.read_log(f"tcp-{mode}")))
        if flood is not None:
            if flood.poll() is not None:
                node.log(f"{mode}: warning: the UDP flood ended before the TCP flow")
            node.stop(flood, first=signal.SIGINT, grace=5.0)
            for s in servers:  # the one-off servers exit after their test; let them print
                try:
                    s.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass
            window = (t_tcp - t_flood, t_tcp_end - t_flood)
            res.update(flood_result(node.read_log(f"flood-{mode}"),
                                    node.read_log(f"server-udp-{mode}"), window))
    finally:
        for s in servers:
            node.stop(s, grace=1.0)
        if flood is not None and flood.poll() is None:
            node.stop(flood)
        for p in (probe, host_probe):
            if p is not None and p.poll() is None:
                node.stop(p)
    res["intervals"] = {"high": intervals(node.read_log(f"server-tcp-{mode}"), t_tcp - t_flood),
                        "low": [] if a.no_flood else intervals(node.read_log(f"server-udp-{mode}"), 0.0)}
    res["low_bps_while_high_sends"] = rate_while_sending(res["intervals"]["low"], res["intervals"]["high"])
    return res


def hi_class_sojourn(node: VirtualNode, mode: str) -> dict | None:
    """pod-hi's class's queue sojourn histogram from the gateway's /v1/stats, or None
    (kernel mode, testpmd, or the REST read failed: the run goes on without it)."""
    if mode == KERNEL_MODE or node.args.forwarder != "gateway":
        return None
    try:
        classes = node.stats()["classes"]
    except (Failure, OSError, KeyError, ValueError):
        return None
    return next((c.get("queue_sojourn_seconds") for c in classes if c.get("name") == CLASS_NAMES[mode][0]), None)


def sojourn_percentiles(start: dict | None, end: dict | None) -> dict:
    """p50/p99 of the time pod-hi's packets waited in the gateway's class queue between two
    readings, interpolated within histogram buckets as Prometheus's histogram_quantile
    does. Set beside the RTT, it splits the probe's delay into queue and path."""
    if not start or not end:
        return {}
    counts = [b - a for a, b in zip(start["bucket_counts"], end["bucket_counts"])]
    cumulative = itertools.accumulate(counts)
    buckets = list(zip(end["upper_bounds"] + [float("inf")], cumulative))
    if not buckets or buckets[-1][1] <= 0:
        return {}
    return {"queue_sojourn_packets": buckets[-1][1],
            **{f"queue_sojourn_p{q}_ms": 1000 * histogram_quantile(buckets, q / 100) for q in (50, 99)}}


def rate_while_sending(low: list, high: list) -> float | None:
    """Mean flood rate over the flood's intervals that lie inside the TCP flow's full
    one-second intervals: low_bps's window runs until the TCP client returns, which
    includes its result exchange after the flow stopped sending and gave the flood the port."""
    full = [iv for iv in high if iv[1] - iv[0] >= 0.9]
    if not full:
        return None
    start, end = full[0][0], full[-1][1]
    inside = [iv[2] for iv in low if start <= iv[0] and iv[1] <= end]
    return sum(inside) / len(inside) if inside else None


def preflight(args) -> None:
    if os.geteuid() != 0:
        raise Failure("must run as root (creates network namespaces and runs DPDK)")
    tools = REQUIRED_TOOLS + (["dpdk-testpmd"] if args.forwarder == "testpmd" else []) + \
        (["tc", "iptables"] if KERNEL_MODE in getattr(args, "mode_list", []) else [])
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        raise Failure(f"missing tools: {', '.join(missing)} "
                      "(Debian packages: iproute2 ethtool iperf3 procps util-linux dpdk)")
    if args.forwarder == "gateway" and not os.access(args.gateway_binary, os.X_OK):
        raise Failure(f"gateway binary not found or not executable: {args.gateway_binary} (build it with meson/ninja, "
                      "or pass --gateway-binary, or use --forwarder testpmd)")
    ensure_hugepages(512, log=lambda msg: log(msg, "virtual-node"))


def parse_args(argv=None) -> argparse.Namespace:
    """perf/virtual_node.py's options (argv None: sys.argv), checked and completed."""
    ap = argparse.ArgumentParser(
        description="Congested-uplink experiment on a virtual node built from network namespaces: a "
                    "high-priority iperf3 TCP flow against a UDP flood, with namespace priorities and with FIFO.")
    ap.add_argument("--forwarder", choices=["gateway", "testpmd"], default="gateway",
                    help="gateway: dscp-gateway run --config; testpmd: plain io forwarding (baseline, no shaper)")
    ap.add_argument("--gateway-binary", default=DEFAULT_GATEWAY, help="default: %(default)s")
    ap.add_argument("--plumbing", choices=PLUMBINGS, default="attach",
                    help="attach: one uplink, the gateway put in place by `dscp-gateway node attach` and run in "
                         "the node; legacy: the forwarder in a namespace of its own between two veths "
                         "(default %(default)s; mode kernel and --forwarder testpmd use legacy)")
    ap.add_argument("--duration", type=int, default=10, help="TCP test seconds (default %(default)s)")
    ap.add_argument("--shaper-mbit", type=int, default=200, help="gateway port shaper (default %(default)s)")
    ap.add_argument("--flood-mbit", type=int, default=None, help="UDP flood rate (default 2x the shaper)")
    ap.add_argument("--no-flood", action="store_true", help="TCP alone, for a baseline")
    ap.add_argument("--modes", default="priority,fifo",
                    help="comma list of priority, floor (priority with a 10%% floor for scavenger), fifo "
                         "(through --forwarder) and kernel (no forwarder: bridge + iptables DSCP + HTB, the "
                         "seed's approach) (default %(default)s)")
    ap.add_argument("--repeat", type=int, default=1,
                    help="measurements per mode with the same forwarder; results are medians (default %(default)s)")
    ap.add_argument("--shaper-burst", default=None,
                    help="gateway shaper.burst, e.g. 512KiB (default: the gateway's, 1 ms at the rate)")
    ap.add_argument("--testpmd-extra", default="",
                    help="extra testpmd application arguments, e.g. '--rxd=1024 --txd=1024'")
    ap.add_argument("--rtt-probe-hz", type=float, default=0,
                    help="ICMP RTT probe from pod-hi at this rate while the TCP flow runs (default off)")
    ap.add_argument("--lcores", default="0-1", help="EAL -l for the forwarder (default %(default)s)")
    ap.add_argument("--traffic-cpus", default=None,
                    help="taskset CPU list for all iperf3 processes (default: unpinned)")
    ap.add_argument("--forwarder-rt", type=int, default=0, metavar="PRIO",
                    help="run the forwarder SCHED_FIFO at this priority (chrt), so other work on the host "
                         "cannot preempt its polling core; the kernel's RT throttling still leaves others 5%%")
    ap.add_argument("--aqm", choices=["on", "off"], default="on",
                    help="gateway CoDel per class (off: tail drop only, the policy's aqm: {codel: false}) "
                         "(default %(default)s)")
    ap.add_argument("--aqm-settings", default=None, metavar="KEYS",
                    help="with --aqm on: the classes' aqm keys, e.g. 'target: 250us, interval: 10ms'")
    ap.add_argument("--pod-ecn", action="store_true",
                    help="TCP in the pods asks for ECN (net.ipv4.tcp_ecn=1 in pod-hi); default 0")
    ap.add_argument("--pod-cc", default=None, metavar="ALGORITHM",
                    help="TCP congestion control in pod-hi (e.g. cubic, bbr; default: the host's, which "
                         "new namespaces inherit). BBR ignores ECN marks (docs/performance.md)")
    ap.add_argument("--prefix", default=None, help="namespace name prefix (default dg<pid%%10000>-)")
    ap.add_argument("--json-out", default=None,
                    help="result file (default /tmp/dscp-gateway-virtual-node-<timestamp>.json)")
    ap.add_argument("--keep", action="store_true", help="leave namespaces (and logs) in place for debugging")
    args = ap.parse_args(argv)
    if args.flood_mbit is None:
        args.flood_mbit = 2 * args.shaper_mbit
    args.gateway_binary = os.path.abspath(args.gateway_binary)
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if not modes or any(m not in MODES for m in modes):
        ap.error(f"--modes takes {', '.join(MODES)}")
    if args.repeat < 1:
        ap.error("--repeat must be >= 1")
    args.mode_list = modes
    args.aqm = args.aqm == "on"
    if KERNEL_MODE in modes or args.forwarder == "testpmd":
        args.plumbing = "legacy"  # both need the gw namespace between node and remote
    if args.duration < 1:
        ap.error("--duration must be >= 1")
    if args.json_out is None:
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        args.json_out = f"/tmp/dscp-gateway-virtual-node-{stamp}.json"
    return args


def on_virtual_node(args: argparse.Namespace, measure) -> dict:
    """Builds the virtual node, returns measure(node) and removes the node again (also on
    errors and signals: see common.install_signal_handlers); raises Failure or Interrupted."""
    node = None
    try:
        preflight(args)
        node = VirtualNode(args)
        node.build()
        return measure(node)
    except Failure:
        if node:
            node.failed = True
        raise
    finally:
        if node:
            # No second Ctrl-C in the middle of the cleanup; it is bounded by timeouts.
            ignore_signals()
            node.teardown()


def run(args: argparse.Namespace) -> dict:
    """Measures every mode of args.mode_list on a virtual node. Returns the report that
    results.format_table prints; raises Failure or Interrupted."""
    return on_virtual_node(args, lambda node: measure_modes(node, args))


def measure_modes(node: VirtualNode, args: argparse.Namespace) -> dict:
    report = {"forwarder": args.forwarder, "plumbing": node.plumbing, "shaper_bps": args.shaper_mbit * 1_000_000,
              "shaped": args.forwarder == "gateway", "duration_s": args.duration,
              "flood_bps": None if args.no_flood else args.flood_mbit * 1_000_000,
              "modes": args.mode_list, "namespace_prefix": node.prefix, "repeat": args.repeat,
              "rtt_probe_hz": args.rtt_probe_hz,
              "started": datetime.datetime.now().isoformat(timespec="seconds"),
              "cpus": os.cpu_count(), "loadavg_start": os.getloadavg()[0],
              "loadavg_start_1_5_15": list(os.getloadavg())}
    if report["loadavg_start"] > (os.cpu_count() or 1):
        node.log(f"warning: host is busy (load {report['loadavg_start']:.1f} on {os.cpu_count()} CPUs); the "
                 "forwarder busy-polls a core, so expect lower and noisier numbers")
    for mode in args.mode_list:
        report[mode] = run_mode(node, mode)
    report["loadavg_end"] = os.getloadavg()[0]
    report["loadavg_end_1_5_15"] = list(os.getloadavg())
    return report
