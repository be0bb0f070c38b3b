#!/usr/bin/env python3
"""The hand-over between the node's XDP programs and DPDK 22.11's net_af_xdp, measured
with dpdk-testpmd (io forwarding between the two legs) on the namespaces of
xdp_node_test.py:

  * ReleaseLegsForGateway, then testpmd with xdp_prog= on both legs: the PMD attaches
    its own instances, frames reach its socket (to_gateway counts), ping works;
  * a stale heartbeat (no beat for 250 ms) makes the PMD's instance bypass its live socket;
  * kill -9 under an iperf3 TCP flow: the programs stay, the flow goes on through the
    fail-open path with no gap over 1 s;
  * a start without release fails and its exit detaches the program that was there
    (why the gateway must restore on every exit); restore brings the node back;
  * a clean exit (port close) detaches both programs; restore brings the node back.

Private bpffs in a private mount namespace; testpmd runs --in-memory with its own
--file-prefix. Exit 77 (skip) when not root or without dpdk-testpmd.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import xdp_node_test as node  # noqa: E402
from xdp_node_test import NODE, REMOTE, NODE_ADDR, REMOTE_ADDR, UPLINK, GATEWAY_LEG  # noqa: E402

IPERF_INTERVAL = 0.1


class Testpmd:
    def __init__(self, bpf_dir: str, log_path: str):
        command = ["nsenter", f"--net=/var/run/netns/{NODE}", "dpdk-testpmd", "-l", "0,1",
                   "--in-memory", "--file-prefix", "dx-testpmd", "-m", "128",
                   "--vdev", f"net_af_xdp0,iface={GATEWAY_LEG},xdp_prog={bpf_dir}/dg_kernel_leg.bpf.o",
                   "--vdev", f"net_af_xdp1,iface={UPLINK},xdp_prog={bpf_dir}/dg_uplink.bpf.o",
                   "--", "--forward-mode=io", "--nb-cores=1", "--total-num-mbufs=8192"]
        self.log = open(log_path, "a")
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=self.log,
                                        stderr=subprocess.STDOUT, start_new_session=True)

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def quit(self) -> int:
        """testpmd's own exit: Enter on stdin stops forwarding and closes the ports."""
        self.process.stdin.write(b"\n")
        self.process.stdin.flush()
        return self.process.wait(timeout=60)


def wait_for_new_programs(old: dict[str, int], timeout: float = 60) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        programs = node.xdp_programs(NODE)
        if all(leg in programs and programs[leg] != old.get(leg) for leg in (UPLINK, GATEWAY_LEG)):
            return programs
        time.sleep(0.05)
    return node.xdp_programs(NODE)


def ping_eventually(ns: str, address: str, timeout: float = 30) -> bool:
    """testpmd attaches before its sockets are in xsks_map and before it forwards."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if node.ping(ns, address):
            return True
    return False


def counter(tool: node.Tool, name: str) -> int:
    return int(tool.status()[f"counter.{name}"])


def iperf_longest_gap(during) -> tuple[float, int]:
    """Runs a 4 s TCP flow node -> remote, calls during() after 1.5 s; returns the longest
    run of empty intervals and the bytes received."""
    server = subprocess.Popen(["ip", "netns", "exec", REMOTE, "iperf3", "-s", "-1", "-B", REMOTE_ADDR],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        client = subprocess.Popen(["ip", "netns", "exec", NODE, "iperf3", "-c", REMOTE_ADDR, "-t", "4",
                                   "-i", str(IPERF_INTERVAL), "-J"], stdout=subprocess.PIPE, text=True)
        time.sleep(1.5)
        during()
        output, _ = client.communicate(timeout=60)
        report = json.loads(output)
        node.expect("error" not in report, f"iperf3 completed ({report.get('error', 'no error')})")
        longest = current = 0.0
        for interval in report["intervals"]:
            current = current + interval["sum"]["seconds"] if interval["sum"]["bytes"] == 0 else 0.0
            longest = max(longest, current)
        return longest, int(report["end"]["sum_received"]["bytes"])
    finally:
        server.kill()
        server.wait()


def scenario(tool: node.Tool, bpf_dir: str, log_path: str) -> None:
    tool("attach")
    node_instances = node.xdp_programs(NODE)
    tool("release")
    tool("stale-after", "0")  # testpmd does not beat
    testpmd = Testpmd(bpf_dir, log_path)
    try:
        pmd_instances = wait_for_new_programs(node_instances)
        node.expect(pmd_instances.get(UPLINK, 0) not in (0, node_instances[UPLINK])
                    and pmd_instances.get(GATEWAY_LEG, 0) not in (0, node_instances[GATEWAY_LEG]),
                    f"the PMD attached its own instances: {node_instances} -> {pmd_instances}")
        node.expect(ping_eventually(NODE, REMOTE_ADDR), "ping node -> remote through testpmd")
        before = counter(tool, "to_gateway_frames")
        node.expect(node.ping(NODE, REMOTE_ADDR) and node.ping(REMOTE, NODE_ADDR), "ping both ways")
        node.expect(counter(tool, "to_gateway_frames") > before,
                    "frames reached the socket; the PMD's instance counts into the pinned counters")

        # A gateway that stops beating (hung, SIGSTOP) keeps its sockets: the heartbeat in
        # the shared map makes the PMD's instance fail open.
        tool("stale-after", "250000000")
        to_gateway, stale = counter(tool, "to_gateway_frames"), counter(tool, "fail_open_stale_heartbeat_frames")
        node.expect(node.ping(NODE, REMOTE_ADDR), "ping with the socket bound but the heartbeat stale")
        node.expect(counter(tool, "to_gateway_frames") == to_gateway
                    and counter(tool, "fail_open_stale_heartbeat_frames") > stale,
                    "stale heartbeat: frames bypass the live socket")
        tool("stale-after", "0")

        before = counter(tool, "fail_open_no_socket_frames")
        longest, received = iperf_longest_gap(testpmd.kill)
        node.expect(longest <= 1.0, f"TCP flow across kill -9: longest gap {longest:.1f} s, {received} bytes")
        node.expect(node.xdp_programs(NODE) == pmd_instances, "the PMD's programs stay after kill -9")
        node.expect(counter(tool, "fail_open_no_socket_frames") > before, "egress failed open: no socket")
        node.expect(node.ping(REMOTE, NODE_ADDR), "ping remote -> node after kill -9")

        testpmd = Testpmd(bpf_dir, log_path)
        code = testpmd.process.wait(timeout=120)
        node.expect(code != 0, f"a start without release fails (exit {code})")
        node.expect(GATEWAY_LEG not in node.xdp_programs(NODE),
                    "and its exit detached the program that was on the gateway leg")
        tool("restore")
        node.expect(node.ping(NODE, REMOTE_ADDR), "restore: ping node -> remote")

        tool("release")
        testpmd = Testpmd(bpf_dir, log_path)
        wait_for_new_programs(node.xdp_programs(NODE))
        node.expect(ping_eventually(NODE, REMOTE_ADDR), "ping through the restarted testpmd")
        node.expect(testpmd.quit() == 0, "testpmd exits cleanly")
        left = node.xdp_programs(NODE)
        node.expect(UPLINK not in left and GATEWAY_LEG not in left, f"port close detached both: {left}")
        node.expect(not node.ping(NODE, REMOTE_ADDR), "the node is cut off until restore")
        tool("restore")
        node.expect(node.ping(NODE, REMOTE_ADDR) and node.ping(REMOTE, NODE_ADDR), "restore: ping both ways")
        tool("detach")
    finally:
        testpmd.kill()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tool", required=True)
    parser.add_argument("--bpf-dir", required=True)
    args = parser.parse_args()
    if os.geteuid() != 0 or not shutil.which("dpdk-testpmd"):
        print("skip: needs root and dpdk-testpmd")
        return 77
    log_path = os.path.join(os.environ.get("MESON_BUILD_ROOT", "/tmp"), "xdp_handover_testpmd.log")
    bpf_dir = os.path.abspath(args.bpf_dir)
    return node.run_on_namespaces(lambda: scenario(node.Tool(args.tool), bpf_dir, log_path),
                                  f" (testpmd log: {log_path})")


if __name__ == "__main__":
    sys.exit(main())
