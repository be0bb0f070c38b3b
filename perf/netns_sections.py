"""The sections of perf/harness.py that run on the netns virtual node (perf/netns/):
afxdp (dscp-gateway vs testpmd io over AF_XDP on veth), congestion (priority, FIFO
and the kernel peer behind a shaped uplink) and podlimit (a pod's egress limit: the
gateway's pod shaper vs TBF on ifb)."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import time

from bench_util import SectionError, cpu_share, log, median, ratio
from netns import Failure, remove_dpdk_leftovers, worker_cpu_seconds
from netns import experiment, pod_limit
from netns.iperf import iperf_json, tcp_result
from netns.results import format_table
from netns.virtual_node import KERNEL_MODE, REMOTE_IP, TCP_PORT, UDP_PORT, VirtualNode

SHAPER_MBIT = 200
# iperf3 counts TCP payload; the shaper counts wire bytes. MTU 1500 with timestamps:
# 1448 payload bytes per 1514-byte frame + 24 bytes of framing = 1538 on the wire.
TCP_WIRE_PER_GOODPUT = 1538 / 1448
# The flood's 1400-byte UDP payloads: + 8 UDP + 20 IPv4 + 14 Ethernet + 24 framing.
UDP_WIRE_PER_GOODPUT = 1466 / 1400
DIAGNOSTIC_SHAPER_BURST = "512KiB"  # ~21 ms at 200 Mbit/s instead of the derived 1 ms
HIGH_SHAPER_MBIT = 1000  # the AQM target's second rate, if the virtual node can carry it
# pod-hi's TCP congestion control in the congestion section. Not the host's default: new
# namespaces inherit it, and where that is BBR (this host), CE marks are ignored and every
# AQM variant measures the same thing. Cubic is Linux's default and reacts to CE.
POD_CC = "cubic"
# The priority mode's AQM variants: (result key, shaper Mbit/s, CoDel on, TCP asks for ECN,
# pod-hi's congestion control). "priority" is the gateway's default (CoDel on, marking
# ECN-capable packets, dropping none of the others: aqm.dropNonEct false); the pods' TCP
# does not ask for ECN unless told to (net.ipv4.tcp_ecn=1), so both are measured, and the
# tail-drop queues of before. "priority_ecn_bbr" shows what a BBR sender gets (no target).
AQM_VARIANTS = [
    ("priority", SHAPER_MBIT, True, False, POD_CC),
    ("priority_ecn", SHAPER_MBIT, True, True, POD_CC),
    ("priority_no_aqm", SHAPER_MBIT, False, False, POD_CC),
    ("priority_no_aqm_ecn", SHAPER_MBIT, False, True, POD_CC),
]
BBR_VARIANTS = [("priority_ecn_bbr", SHAPER_MBIT, True, True, "bbr")]
HIGH_RATE_VARIANTS = [
    ("priority_1g", HIGH_SHAPER_MBIT, True, False, POD_CC),
    ("priority_1g_ecn", HIGH_SHAPER_MBIT, True, True, POD_CC),
    ("priority_1g_no_aqm", HIGH_SHAPER_MBIT, False, False, POD_CC),
]
POD_LIMIT_MBIT, POD_OTHER_MBIT = 50, 100  # podlimit: pod-hi's limit, pod-lo's UDP rate
FRAME_PER_GOODPUT = 1514 / 1448  # the pod limit counts Ethernet frames without framing


class NetnsSections:
    """Mixed into Harness (profile, reps, args, results, path, binary)."""

    def node_args(self) -> argparse.Namespace:
        return argparse.Namespace(
            prefix=self.args.netns_prefix, keep=False, lcores="0-1", forwarder="gateway",
            gateway_binary=self.binary("gateway", "dscp-gateway"), shaper_mbit=0, forwarder_rt=self.args.forwarder_rt,
            traffic_cpus=None, duration=self.profile["afxdp_duration"], no_flood=True, flood_mbit=2 * SHAPER_MBIT,
            repeat=1, rtt_probe_hz=0, mode_list=["priority", "kernel"], json_out=None, shaper_burst=None,
            aqm=True, pod_ecn=False, pod_cc=None,
            # The gateway sets up 1024 rx/tx descriptors per port; testpmd would take the PMD's
            # default (2048 for af_xdp), i.e. rings twice as deep: match them.
            testpmd_extra="--rxd=1024 --txd=1024 --burst=32")

    def with_node(self, body) -> None:
        args = self.node_args()
        for forwarder in ("gateway", "testpmd"):
            args.forwarder = forwarder
            experiment.preflight(args)
        args.forwarder = "gateway"
        node = VirtualNode(args)
        try:
            node.build()
            body(node)
        except Failure as e:
            node.failed = True
            raise SectionError(str(e)) from e
        finally:
            node.teardown()

    def afxdp_measure(self, node, fwd: str, rep: int, pid: int) -> dict:
        a = node.args
        d = a.duration
        res: dict = {}
        # TCP goodput, pod-hi -> remote, no flood.
        srv = node.spawn(node.iperf3() + ["-s", "-1", "--json", "-p", str(TCP_PORT)], "remote",
                         name=f"afxdp-tcp-server-{fwd}-{rep}")
        time.sleep(0.3)
        cli = node.spawn(node.iperf3() + ["-c", REMOTE_IP, "-p", str(TCP_PORT), "-t", str(d), "--json",
                                          "--connect-timeout", "5000"], "pod-hi", name=f"afxdp-tcp-{fwd}-{rep}")
        c1, m1 = worker_cpu_seconds(pid), time.monotonic()
        try:
            cli.wait(timeout=d + 20)
        except subprocess.TimeoutExpired:
            pass
        res["tcp_worker_cpu_share"] = cpu_share(c1, worker_cpu_seconds(pid), time.monotonic() - m1)
        node.stop(cli, first=signal.SIGINT, grace=2.0)
        node.stop(srv, grace=2.0)
        t = tcp_result(node.read_log(f"afxdp-tcp-{fwd}-{rep}"))
        res["tcp_bps"] = t["high_bps"]
        share = res["tcp_worker_cpu_share"]
        res["tcp_bps_per_cpu"] = t["high_bps"] / share if share else None
        res["tcp_retransmits"] = t.get("high_retransmits")
        if t.get("high_error"):
            res["tcp_error"] = t["high_error"]
        # 64-byte frames: 18 B UDP payload + 8 UDP + 20 IP + 14 Ethernet = 60 B (+ FCS).
        srv = node.spawn(node.iperf3() + ["-s", "-1", "--json", "-p", str(UDP_PORT)], "remote",
                         name=f"afxdp-udp-server-{fwd}-{rep}")
        time.sleep(0.3)
        cli = node.spawn(node.iperf3() + ["-c", REMOTE_IP, "-p", str(UDP_PORT), "-u", "-l", "18", "-b", "10G",
                                          "-w", "2M", "-t", str(d), "--json"], "pod-lo",
                         name=f"afxdp-udp-{fwd}-{rep}")
        try:
            cli.wait(timeout=d + 20)
        except subprocess.TimeoutExpired:
            pass
        node.stop(cli, first=signal.SIGINT, grace=2.0)
        try:
            srv.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        node.stop(srv, grace=1.0)
        res.update(udp_rates(node.read_log(f"afxdp-udp-server-{fwd}-{rep}"),
                             node.read_log(f"afxdp-udp-{fwd}-{rep}")))
        return res

    def section_afxdp(self) -> None:
        runs: dict = {"gateway": [], "testpmd": []}

        def body(node):
            node.args.shaper_mbit = 0  # unshaped: a forwarding comparison
            order = ["gateway", "testpmd"]
            if self.profile["afxdp_restart"]:
                for rep in range(self.reps):
                    for fwd in (order if rep % 2 == 0 else order[::-1]):
                        runs[fwd].append(self.afxdp_with_forwarder(node, fwd, [rep])[0])
            else:
                for fwd in order:
                    runs[fwd].extend(self.afxdp_with_forwarder(node, fwd, list(range(self.reps))))

        self.with_node(body)
        a = {}
        for fwd in ("gateway", "testpmd"):
            a[f"{fwd}_tcp_bps"] = median([r["tcp_bps"] for r in runs[fwd]])
            a[f"{fwd}_tcp_retransmits"] = median([r.get("tcp_retransmits") for r in runs[fwd]])
            a[f"{fwd}_udp64_pps"] = median([r.get("udp64_rx_pps") for r in runs[fwd]])
            a[f"{fwd}_udp64_sent_pps"] = median([r.get("udp64_tx_pps") for r in runs[fwd]])
            a[f"{fwd}_tcp_worker_cpu_share"] = median([r.get("tcp_worker_cpu_share") for r in runs[fwd]])
            a[f"{fwd}_tcp_bps_per_cpu"] = median([r.get("tcp_bps_per_cpu") for r in runs[fwd]])
        a["ratio_tcp"] = ratio(a["gateway_tcp_bps"], a["testpmd_tcp_bps"])
        a["ratio_udp64"] = ratio(a["gateway_udp64_pps"], a["testpmd_udp64_pps"])
        a["ratio_tcp_per_cpu"] = ratio(a["gateway_tcp_bps_per_cpu"], a["testpmd_tcp_bps_per_cpu"])
        a["testpmd_args"] = self.node_args().testpmd_extra
        a["runs"] = runs
        a["duration_s"] = self.profile["afxdp_duration"]
        a["restart_forwarder_each_rep"] = self.profile["afxdp_restart"]
        self.results["afxdp"] = a

    def afxdp_with_forwarder(self, node, fwd: str, reps: list[int]) -> list[dict]:
        node.args.forwarder = fwd
        p = node.start_forwarder("priority")
        out = []
        try:
            for rep in reps:
                r = self.afxdp_measure(node, fwd, rep, p.pid)
                r["loadavg"] = os.getloadavg()[0]
                out.append(r)
                log(f"afxdp rep {rep + 1}/{self.reps} {fwd}: TCP {r['tcp_bps'] / 1e6:.0f} Mbit/s, "
                    f"UDP64 {(r.get('udp64_rx_pps') or 0) / 1e3:.0f} kpps received")
        finally:
            node.stop(p, first=signal.SIGINT, grace=10.0)
            remove_dpdk_leftovers(node.dpdk_file_prefix("priority"))
        return out

    def section_congestion(self) -> None:
        variants = AQM_VARIANTS + ([] if self.args.quick else HIGH_RATE_VARIANTS + available(BBR_VARIANTS))
        modes = [v[0] for v in variants] + ["floor", "fifo", KERNEL_MODE]
        report: dict = {}

        def run_variant(node, key: str, mode: str, shaper_mbit: int, aqm: bool, pod_ecn: bool, pod_cc: str) -> None:
            a = node.args
            a.shaper_mbit, a.flood_mbit, a.aqm, a.pod_ecn = shaper_mbit, 2 * shaper_mbit, aqm, pod_ecn
            a.pod_cc = pod_cc
            report[key] = r = experiment.run_mode(node, mode)
            log(f"congestion {key}: high {(r.get('high_bps') or 0) / 1e6:.1f} Mbit/s, "
                f"rtt p50/p99 {r.get('rtt_p50_ms')}/{r.get('rtt_p99_ms')} ms (queue p50/p99 "
                f"{r.get('queue_sojourn_p50_ms')}/{r.get('queue_sojourn_p99_ms')}), retransmits "
                f"{r.get('high_retransmits')}, drops {r.get('drops')}, codel {r.get('aqm_drops')}, "
                f"ce {r.get('ecn_marks')}")

        def body(node):
            a = node.args
            a.forwarder = "gateway"
            a.no_flood = False
            a.duration = self.profile["congestion_duration"]
            a.repeat = self.reps
            a.rtt_probe_hz = self.profile["probe_hz"]
            report.update({"forwarder": "gateway", "shaper_bps": SHAPER_MBIT * 1_000_000, "shaped": True,
                           "duration_s": a.duration, "flood_bps": 2 * SHAPER_MBIT * 1_000_000, "modes": modes,
                           "repeat": self.reps, "rtt_probe_hz": a.rtt_probe_hz,
                           "loadavg_start_1_5_15": list(os.getloadavg()), "cpus": os.cpu_count()})
            report["pod_cc"] = POD_CC
            for key, shaper_mbit, aqm, pod_ecn, pod_cc in variants:
                run_variant(node, key, "priority", shaper_mbit, aqm, pod_ecn, pod_cc)
            for mode in ("floor", "fifo", KERNEL_MODE):
                run_variant(node, mode, mode, SHAPER_MBIT, True, False, POD_CC)
            if not self.args.quick:
                # Diagnostic, not a target: the same priority run with a deeper shaper bucket,
                # to tell lost shaper credit while the polling lcore is preempted from the
                # gateway being too slow (docs/performance.md).
                a.shaper_burst = DIAGNOSTIC_SHAPER_BURST
                try:
                    run_variant(node, "diagnostic", "priority", SHAPER_MBIT, True, False, POD_CC)
                    r = report.pop("diagnostic")
                finally:
                    a.shaper_burst = None
                report["diagnostics"] = {f"priority_shaper_burst_{DIAGNOSTIC_SHAPER_BURST}": r}
            report["loadavg_end_1_5_15"] = list(os.getloadavg())

        self.with_node(body)
        with open(self.path("congestion.txt"), "w") as f:
            f.write(format_table(report) + "\n")
        log("\n" + format_table(report))
        c = report
        for r in [c[m] for m in modes] + list(c.get("diagnostics", {}).values()):
            shaper = r.get("shaper_bps") or c["shaper_bps"]
            r["high_share_of_shaper"] = ratio(r.get("high_bps"), shaper)
            r["high_wire_share_of_shaper"] = ratio((r.get("high_bps") or 0) * TCP_WIRE_PER_GOODPUT, shaper)
            r["low_wire_share_of_shaper"] = ratio((r.get("low_bps_while_high_sends") or 0) * UDP_WIRE_PER_GOODPUT,
                                                  shaper)
        c["ratio_priority_to_kernel"] = ratio(c["priority"].get("high_bps"), c["kernel"].get("high_bps"))
        self.results["congestion"] = c


    def section_podlimit(self) -> None:
        """A pod's kubernetes.io/egress-bandwidth: the gateway's pod shaper against TBF on
        ifb (the bandwidth CNI plugin), perf/netns/pod_limit.py."""
        report: dict = {"limit_bps": POD_LIMIT_MBIT * 1_000_000}

        def body(node):
            a = node.args
            a.shaper_mbit, a.flood_mbit, a.no_flood = 0, POD_OTHER_MBIT, False
            a.duration, a.repeat, a.rtt_probe_hz = self.profile["congestion_duration"], 1, self.profile["probe_hz"]
            for mode in pod_limit.LIMIT_MODES:
                r = report[mode] = pod_limit.run_limit_mode(node, mode, report["limit_bps"])
                r["wire_share_of_limit"] = ratio((r.get("high_bps") or 0) * FRAME_PER_GOODPUT, report["limit_bps"])
                log(f"podlimit {mode}: {(r.get('high_bps') or 0) / 1e6:.1f} Mbit/s of {POD_LIMIT_MBIT}, "
                    f"rtt p99 {r.get('rtt_p99_ms')} ms, other pod {(r.get('low_bps') or 0) / 1e6:.1f} Mbit/s")

        self.with_node(body)
        self.results["podlimit"] = report


def available(variants: list) -> list:
    """The variants whose congestion control this kernel has (BBR is a module elsewhere)."""
    try:
        with open("/proc/sys/net/ipv4/tcp_available_congestion_control") as f:
            have = f.read().split()
    except OSError:
        return []
    return [v for v in variants if v[4] in have]


def udp_rates(server_text: str, client_text: str) -> dict:
    """64-byte UDP: packets per second received by the iperf3 server (datagrams that
    arrived: packets - lost, over its measured time) and offered by the client."""
    res: dict = {"udp64_rx_pps": None, "udp64_tx_pps": None}
    server = iperf_json(server_text) or {}
    client = iperf_json(client_text) or {}
    end = server.get("end", {})
    s = end.get("sum_received") or end.get("sum") or {}
    if s.get("seconds"):
        packets = s.get("packets", 0)
        lost = s.get("lost_packets", 0)
        res["udp64_rx_pps"] = (packets - lost) / s["seconds"]
        res["udp64_lost_percent"] = s.get("lost_percent")
    cs = client.get("end", {}).get("sum", {})
    if cs.get("seconds"):
        res["udp64_tx_pps"] = cs.get("packets", 0) / cs["seconds"]
    if server.get("error"):
        res["udp64_error"] = server["error"]
    return res
