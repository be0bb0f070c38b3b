"""The virtual node: a Kubernetes node made of network namespaces, with a forwarder
between its uplink and the "remote" side as a bump in the wire over AF_XDP.

    pod-hi  eth0 10.201.1.2/24 --- vhi 10.201.1.1/24 \\
                                                     node (ip_forward) up0 10.201.9.1/24
    pod-lo  eth0 10.201.2.2/24 --- vlo 10.201.2.1/24 /                |
                                                                      | veth
                                              gw:  gwk  [forwarder]  gwu
                                                                      | veth
                                              remote: eth0 10.201.9.2/24 (iperf3 servers)

Every namespace is prefixed (default dg<pid%10000>-) so two runs can coexist;
interfaces are created directly inside their namespaces, so their names never meet
in the root namespace and need no prefix.

Findings from bringing this up over veth + AF_XDP (see also perf/README.md):
  * veth has no zero-copy AF_XDP: the PMD binds in copy mode, XDP runs in the veth's
    NAPI on the *sending* CPU, and the PMD's transmit goes through the generic (skb)
    xmit path, which delivers into the peer namespace on the forwarder's CPU.
  * Offloads: with tx-checksumming on, ping works but iperf3 TCP moves 0 bytes (the
    XDP copy path hands CHECKSUM_PARTIAL frames, holding only the pseudo-header sum,
    to the socket as they are, and the far end drops them as corrupt).
    tx-checksumming off is the one that matters (it also forces TSO off); GSO/GRO
    on still worked in a test but are off too, as are TSO, on every veth of the path
    in every namespace (OFFLOADS_OFF). MTU is 1500 everywhere.
  * ARP is pinned with permanent neighbour entries on up0 and remote:eth0. Under a
    2x-oversubscribed FIFO the ARP exchange itself would be dropped now and then and
    the resulting neighbour failures would look like a TCP collapse that has nothing
    to do with scheduling. IPv6 is disabled in all namespaces so no ND/MLD/RS chatter
    crosses the forwarder.
  * rp_filter is set to 0 in node and remote (routing is symmetric, but a new netns
    may inherit a strict default from the host via devconf_inherit_init_net).
    ip_forward=1 only in node. No NAT anywhere: the gateway sees pod source IPs.
  * `ip netns exec` remounts /sys for the target namespace, hiding the host's bpffs.
    DPDK's af_xdp PMD loads its XDP program through libxdp, which without bpffs says
    "No bpffs found" and loads a single program without its dispatcher (works). The
    forwarder is started through a shell that mounts a private bpffs first so libxdp
    (and anything the gateway pins) has one; on this kernel the dispatcher load then
    still fails with EPERM and libxdp falls back the same way; harmless.
  * A forwarder that dies hard leaves its XDP program on the veth; the next one may
    then fail to attach. XDP is detached from gwk/gwu before every start, and the
    DPDK runtime dir and hugepage files of our --file-prefix are removed afterwards.
  * dpdk-testpmd without -i waits on stdin ("Press enter to exit"); with stdin at
    /dev/null it exits at once, so it gets a pipe that stays open.
  * The UDP flood's receiver (iperf3 -s in remote) drops in its socket buffer when it
    loses the CPU race (UdpRcvbufErrors), which made the flood look 25-35% lossy even
    through unshaped testpmd; the flood client asks for -w 2M (both ends; capped by
    net.core.rmem_max, which cannot be set per netns) and the loss went to ~0.1%.
  * The flood is interrupted only after the TCP client returns (not on a timer): under
    FIFO the TCP handshake can take seconds of SYN retries, and a flood that ended
    first would let the TCP flow finish uncongested.
  * CPU: this host has 2 cores. With `-l 0-1` testpmd busy-polls lcore 1 and its main
    lcore sleeps in read(); dscp-gateway forwards on lcore 1 *and* its main thread
    spins on lcore 0 too (60-95% CPU each in ps), so all kernel work (veth NAPI, the
    XDP copy, TCP) and four iperf3 processes are time-sliced against pollers on both
    cores. Anything else on the host (a parallel compile) slows the forwarder itself:
    at load ~4-7 the gateway moved only 100-160 Mbit/s of its 200 Mbit/s shaper and
    the priority flow got 55-81%. --forwarder-rt PRIO (chrt -f) keeps the pollers
    ahead of other work (86-88% at load ~6) at the risk of starving the box (RT
    throttling leaves others 5% per core); --traffic-cpus pins iperf3 (did not help
    on a loaded host); --lcores changes the EAL core list.
  * Goodput ceiling: the shaper counts 24 bytes of framing per frame, so a 1500-byte
    MTU TCP flow tops out at 1448/1538 = 94% of the shaper rate in iperf3 terms.
"""

from __future__ import annotations

import json
import shlex
import signal
import subprocess
import time

from .common import Failure, tail
from .harness import NetnsHarness
from .host import free_prefix
from .policies import FIFO_POLICY, PRIORITY_POLICY

POD_HI_IP, POD_HI_GW = "10.201.1.2", "10.201.1.1"
POD_LO_IP, POD_LO_GW = "10.201.2.2", "10.201.2.1"
NODE_UP_IP, REMOTE_IP = "10.201.9.1", "10.201.9.2"
TCP_PORT, UDP_PORT = 5201, 5202
REST_PORT = 9470
READY_TIMEOUT_S = 20.0
ROLES = ("pod-hi", "pod-lo", "node", "gw", "remote")

KERNEL_MODE = "kernel"
MODES = {"priority": PRIORITY_POLICY, "fifo": FIFO_POLICY, KERNEL_MODE: PRIORITY_POLICY}
CLASS_NAMES = {"priority": ["critical", "high", "standard", "scavenger"],
               "fifo": ["besteffort"], KERNEL_MODE: ["critical", "high", "standard", "scavenger"]}


class VirtualNode(NetnsHarness):
    """The topology of the module docstring; args are perf/virtual_node.py's options."""

    def __init__(self, args):
        super().__init__(args.prefix or free_prefix("dg"), workdir_prefix="dscp-gw-vnode-", tag="virtual-node")
        self.args = args
        self.failed = False
        self.forwarder_pid: int | None = None

    def build(self) -> None:
        for role in ROLES:
            self.add_namespace(role)
        self.add_veth("node", "vhi", "pod-hi", "eth0")
        self.add_veth("node", "vlo", "pod-lo", "eth0")
        self.add_veth("node", "up0", "gw", "gwk")
        self.add_veth("gw", "gwu", "remote", "eth0")

        self.add_address("pod-hi", "eth0", f"{POD_HI_IP}/24")
        self.sh(["ip", "route", "add", "default", "via", POD_HI_GW], role="pod-hi")
        self.add_address("pod-lo", "eth0", f"{POD_LO_IP}/24")
        self.sh(["ip", "route", "add", "default", "via", POD_LO_GW], role="pod-lo")

        self.add_address("node", "vhi", f"{POD_HI_GW}/24")
        self.add_address("node", "vlo", f"{POD_LO_GW}/24")
        self.add_address("node", "up0", f"{NODE_UP_IP}/24")
        self.sh(["ip", "route", "add", "default", "via", REMOTE_IP], role="node")
        self.sh(["sysctl", "-qw", "net.ipv4.ip_forward=1"], role="node")
        for role, dev in (("node", "up0"), ("remote", "eth0")):
            self.sh(["sysctl", "-qw", f"net.ipv4.conf.{dev}.rp_filter=0"], role=role)

        self.add_address("remote", "eth0", f"{REMOTE_IP}/24")
        self.sh(["ip", "route", "add", "10.201.1.0/24", "via", NODE_UP_IP], role="remote")
        self.sh(["ip", "route", "add", "10.201.2.0/24", "via", NODE_UP_IP], role="remote")
        # Static ARP across the forwarder (see the module docstring).
        self.pin_neighbours(("node", "up0", NODE_UP_IP), ("remote", "eth0", REMOTE_IP))
        self.log(f"topology up: namespaces {', '.join(self.created)}")

    def teardown(self) -> None:
        self.keep_logs = self.failed
        super().teardown(keep=self.args.keep)

    def iperf3(self) -> list[str]:
        return (["taskset", "-c", self.args.traffic_cpus] if self.args.traffic_cpus else []) + ["iperf3"]

    # ---------------------------------------------------------------- forwarder
    def eal_args(self, mode: str) -> list[str]:
        return ["-l", self.args.lcores, "--file-prefix", self.dpdk_file_prefix(mode), "--no-pci",
                "--vdev", "net_af_xdp0,iface=gwk", "--vdev", "net_af_xdp1,iface=gwu"]

    def write_gateway_config(self, mode: str) -> str:
        cm = self.path(f"priorities-{mode}.yaml")
        with open(cm, "w") as f:
            f.write("apiVersion: v1\nkind: ConfigMap\nmetadata:\n"
                    "  name: dscp-gateway-priorities\n  namespace: dscp-gateway\n"
                    "data:\n  priorities.yaml: |\n")
            for line in MODES[mode].splitlines():
                f.write(f"    {line}\n")
        pods = self.path("pods.json")
        with open(pods, "w") as f:
            json.dump(pod_list(), f, indent=2)
        cfg = self.path(f"gateway-{mode}.yaml")
        eal = ", ".join(json.dumps(a) for a in self.eal_args(mode))
        shaper_burst = getattr(self.args, "shaper_burst", None)
        burst = f", burst: {shaper_burst}" if shaper_burst else ""
        with open(cfg, "w") as f:
            f.write(f"# virtual_node.py, mode {mode}\n"
                    f"eal: [{eal}]\n"
                    "ports: {kernel: net_af_xdp0, uplink: net_af_xdp1}\n"
                    f"shaper: {{rate: {self.args.shaper_mbit}Mbit{burst}}}\n"
                    "queues: {depth: 1024}\n"
                    f"policy: {{priorities: {json.dumps(cm)}, pods: {json.dumps(pods)}}}\n"
                    # The REST port lives on ns gw's own loopback, so a fixed port cannot
                    # clash with another run.
                    f"rest: {{listen: 127.0.0.1:{REST_PORT}}}\n")
        return cfg

    def start_forwarder(self, mode: str) -> subprocess.Popen:
        self.detach_xdp("gw", ["gwk", "gwu"])
        if self.args.forwarder == "gateway":
            cmd = [self.args.gateway_binary, "run", "--config", self.write_gateway_config(mode)]
        else:
            cmd = ["dpdk-testpmd"] + self.eal_args(mode) + [
                "--", "--forward-mode=io", "-a", "--stats-period", "0", "--total-num-mbufs", "16384"] + \
                shlex.split(getattr(self.args, "testpmd_extra", "") or "")
        name = f"forwarder-{mode}"
        self.log(f"starting forwarder ({self.args.forwarder}, {mode}): {shlex.join(cmd)}")
        if self.args.forwarder_rt:
            cmd = ["chrt", "-f", str(self.args.forwarder_rt)] + cmd
        # SIGINT: the gateway (and testpmd) print final counters on the way out.
        p = self.spawn(self.with_bpffs(cmd), "gw", name, stdin=subprocess.PIPE,
                       stop_signal=signal.SIGINT, stop_grace=10.0)
        self.wait_ready(p, name)
        self.forwarder_pid = p.pid  # ip netns exec and sh both exec: this is the forwarder
        return p

    def wait_ready(self, p: subprocess.Popen | None, name: str) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if p is not None and p.poll() is not None:
                raise Failure(f"forwarder exited with {p.returncode} before it forwarded anything\n"
                              f"--- stderr ---\n{tail(self.read_log(name, 'err'))}\n"
                              f"--- stdout ---\n{tail(self.read_log(name, 'out'))}")
            if self.ping("pod-hi", REMOTE_IP):
                self.log("forwarder ready: pod-hi reaches remote")
                return
            time.sleep(0.2)
        raise Failure(f"pod-hi could not ping remote {REMOTE_IP} through the forwarder within "
                      f"{READY_TIMEOUT_S:.0f} s\n--- forwarder stderr ---\n{tail(self.read_log(name, 'err'))}\n"
                      f"--- forwarder stdout ---\n{tail(self.read_log(name, 'out'))}")


def pod_list() -> dict:
    def pod(name, namespace, ip, uid):
        return {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "uid": uid,
                         "creationTimestamp": "2024-05-01T12:00:00Z", "labels": {"app": name.rsplit("-", 1)[0]}},
            "spec": {"nodeName": "virtual-node", "containers": [{"name": "main", "image": "iperf3"}]},
            "status": {"phase": "Running", "hostIP": NODE_UP_IP, "podIP": ip, "podIPs": [{"ip": ip}]},
        }
    return {"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""},
            "items": [pod("trainer-0", "ray-training", POD_HI_IP, "6f1c2a8e-0b7d-4e51-9a3c-1d2e3f4a5b60"),
                      pod("etl-0", "batch-jobs", POD_LO_IP, "0a9b8c7d-6e5f-4a3b-8c2d-1e0f9a8b7c61")]}
