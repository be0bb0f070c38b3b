#!/usr/bin/env python3
"""The node's XDP programs on veths between two namespaces, with no gateway running.

  dx-remote: dx-r0 10.77.0.1 ══ dx-up ─[dg_uplink]─> dgw-gateway ══ dgw-kernel 10.77.0.2 :dx-node
                                 <──────────────────[dg_kernel_leg]──┘ (fail-open)

The node's address and MAC sit on dgw-kernel as after `node attach` (the plumbing is not
under test here). Checks: the three programs attach; ping and TCP (iperf3) both ways
through the fail-open and ingress-redirect paths; counters say which path carried them;
a second attach replaces the programs in place; detach leaves no program and no pin.

Runs in a private mount namespace with its own bpffs, so its pins never meet the host's.
Exit 77 (skip) when not root.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "perf"))
from netns.icmp import ICMP_PING  # noqa: E402

NODE, REMOTE = "dx-node", "dx-remote"
REMOTE_ADDR, NODE_ADDR = "10.77.0.1", "10.77.0.2"
UPLINK, GATEWAY_LEG, KERNEL_LEG = "dx-up", "dgw-gateway", "dgw-kernel"
PIN_NAMES = ["dg_legs", "dg_xdp_counters", "dg_heartbeat"]


class Failure(Exception):
    pass


def run(*cmd: str, ns: str | None = None, check: bool = True, timeout: float = 30) -> str:
    full = (["ip", "netns", "exec", ns] if ns else []) + list(cmd)
    done = subprocess.run(full, capture_output=True, text=True, timeout=timeout)
    if check and done.returncode != 0:
        raise Failure(f"{' '.join(full)}: exit {done.returncode}: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout


def expect(condition: bool, what: str) -> None:
    print(("ok   " if condition else "FAIL ") + what, flush=True)
    if not condition:
        raise Failure(what)


class Tool:
    def __init__(self, path: str):
        self.path = path

    def __call__(self, command: str, *extra: str) -> str:
        return run(self.path, "--netns", NODE, command, *extra, "--uplink", UPLINK)

    def status(self) -> dict[str, str]:
        return dict(line.split(" ", 1) for line in self("status").splitlines() if " " in line)


def xdp_programs(ns: str) -> dict[str, int]:
    links = json.loads(run("ip", "-j", "-n", ns, "link", "show"))
    return {link["ifname"]: link["xdp"]["prog"]["id"] for link in links if "xdp" in link}


def ping(ns: str, address: str) -> bool:
    return subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", ICMP_PING, address],
                          timeout=10).returncode == 0


def tcp_flow(reverse: bool) -> int:
    """Bytes received by a 1 s iperf3 TCP flow node -> remote (or back with reverse)."""
    server = subprocess.Popen(["ip", "netns", "exec", REMOTE, "iperf3", "-s", "-1", "-B", REMOTE_ADDR],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(50):
            if run("ss", "-Hltn", f"src {REMOTE_ADDR}:5201", ns=REMOTE).strip():
                break
            subprocess.run(["sleep", "0.1"])
        output = run("iperf3", "-c", REMOTE_ADDR, "-t", "1", "-J", *(["-R"] if reverse else []),
                     ns=NODE, timeout=20)
        return int(json.loads(output)["end"]["sum_received"]["bytes"])
    finally:
        server.kill()
        server.wait()


def build_namespaces() -> None:
    for ns in (NODE, REMOTE):
        run("ip", "netns", "add", ns)
        run("ip", "-n", ns, "link", "set", "lo", "up")
        run("sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", ns=ns)
    run("ip", "link", "add", UPLINK, "netns", NODE, "type", "veth", "peer", "name", "dx-r0", "netns", REMOTE)
    run("ip", "-n", NODE, "link", "add", KERNEL_LEG, "type", "veth", "peer", "name", GATEWAY_LEG)
    uplink_mac = json.loads(run("ip", "-j", "-n", NODE, "link", "show", UPLINK))[0]["address"]
    run("ip", "-n", NODE, "link", "set", KERNEL_LEG, "address", uplink_mac)
    run("ip", "-n", REMOTE, "addr", "add", f"{REMOTE_ADDR}/24", "dev", "dx-r0")
    run("ip", "-n", NODE, "addr", "add", f"{NODE_ADDR}/24", "dev", KERNEL_LEG)
    # XDP frames leave unfinished checksums unfinished: senders compute them. The remote's
    # GRO gives its veth the NAPI that the kernel leg's redirect (via dx-up) needs.
    run("ethtool", "-K", KERNEL_LEG, "tso", "off", "gso", "off", "tx", "off", ns=NODE)
    run("ethtool", "-K", "dx-r0", "tso", "off", "gso", "off", "tx", "off", "gro", "on", ns=REMOTE)
    for ns, links in ((NODE, (UPLINK, KERNEL_LEG, GATEWAY_LEG)), (REMOTE, ("dx-r0",))):
        for link in links:
            run("ip", "-n", ns, "link", "set", link, "mtu", "1500", "up")


def remove_namespaces() -> None:
    for ns in (NODE, REMOTE):
        subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL)


def scenario(tool: Tool) -> None:
    tool("attach")
    programs = xdp_programs(NODE)
    expect(set(programs) == {UPLINK, GATEWAY_LEG, KERNEL_LEG}, f"programs on the three legs: {programs}")
    status = tool.status()
    expect(status["gateway_leg.mode"] == "native" and status["uplink.mode"] == "native",
           "veths take native XDP")
    # "unknown" on kernels without CONFIG_XDP_SOCKETS_DIAG.
    expect(status["gateway_sockets_bound"] in ("0", "unknown"), "no gateway socket bound")

    expect(ping(NODE, REMOTE_ADDR), "ping node -> remote (fail-open egress, redirected ingress)")
    expect(ping(REMOTE, NODE_ADDR), "ping remote -> node")
    egress = tcp_flow(reverse=False)
    expect(egress > 0, f"TCP node -> remote: {egress} bytes in 1 s")
    ingress = tcp_flow(reverse=True)
    expect(ingress > 0, f"TCP remote -> node: {ingress} bytes in 1 s")

    status = tool.status()
    failed_open = int(status["counter.fail_open_stale_heartbeat_frames"])
    bypassed = int(status["counter.bypass_to_kernel_frames"])
    # No gateway ever beat: every egress frame failed open on the heartbeat.
    expect(failed_open >= 1000, f"egress frames failed open: {failed_open}")
    expect(bypassed >= 1000, f"ingress frames redirected to the kernel leg: {bypassed}")
    expect(int(status["counter.to_gateway_frames"]) == 0, "no frame went to a gateway socket")
    expect(int(status["counter.bypass_unavailable_frames"]) == 0
           and int(status["counter.fail_open_unavailable_frames"]) == 0, "no frame fell back to XDP_PASS")

    # Fresh heartbeat, still no socket: the other fail-open reason. A long staleness keeps
    # the beat fresh however slowly the ping starts on a loaded machine.
    tool("stale-after", "60000000000")
    tool("beat")
    expect(ping(NODE, REMOTE_ADDR), "ping with a fresh heartbeat and no socket")
    expect(int(tool.status()["counter.fail_open_no_socket_frames"]) >= 1, "counted as no socket")

    tool("attach")
    again = xdp_programs(NODE)
    expect(set(again) == set(programs) and all(again[leg] != programs[leg] for leg in again),
           f"second attach replaced every program in place: {programs} -> {again}")
    expect(ping(NODE, REMOTE_ADDR), "ping after the second attach")

    tool("detach")
    expect(xdp_programs(NODE) == {}, "detach leaves no XDP program")
    left = [name for name in PIN_NAMES if os.path.exists(f"/sys/fs/bpf/{name}")]
    expect(left == [], f"detach removes the pins ({left})")
    tool("detach")
    print("ok   detach with nothing attached succeeds", flush=True)


def run_on_namespaces(scenario_fn, failure_hint: str = "") -> int:
    """Re-runs this script in a private mount namespace with its own bpffs (pins never meet
    the host's), then runs scenario_fn() between namespaces built and removed here."""
    if os.environ.get("DX_PRIVATE_BPFFS") != "1":
        env = dict(os.environ, DX_PRIVATE_BPFFS="1")
        return subprocess.run(["unshare", "--mount", "--propagation", "private", sys.executable,
                               os.path.abspath(sys.argv[0]), *sys.argv[1:]], env=env).returncode
    subprocess.run(["mount", "-t", "bpf", "bpf", "/sys/fs/bpf"], check=True)
    remove_namespaces()
    try:
        build_namespaces()
        scenario_fn()
        return 0
    except (Failure, subprocess.TimeoutExpired) as error:
        print(f"FAIL {error}{failure_hint}", flush=True)
        return 1
    finally:
        remove_namespaces()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tool", required=True)
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("skip: needs root")
        return 77
    return run_on_namespaces(lambda: scenario(Tool(args.tool)))


if __name__ == "__main__":
    sys.exit(main())
