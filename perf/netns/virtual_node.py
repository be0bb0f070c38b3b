"""The virtual node: a Kubernetes node made of network namespaces, with a forwarder
between it and the "remote" side over AF_XDP. Two plumbings (--plumbing):

attach (default): built like a real node. The node has ONE uplink, up0, a veth to the
remote "router" namespace, carrying the node's IPv4 and IPv6 addresses, its default
routes and (as real nodes have) a route in a second table; pods are routed behind it.
The gateway is put in place by `dscp-gateway node attach --uplink up0` inside the node
namespace (addresses, routes, MAC and MTU move to dgw-kernel; the gateway reads
dgw-gateway and transmits on up0; node_plumbing.py) and runs there too:

    pod-hi  eth0 10.201.1.2/24 --- vhi 10.201.1.1/24 \\
                                                     node: dgw-kernel 10.201.9.1/24 fd00:201:9::1/64
    pod-lo  eth0 10.201.2.2/24 --- vlo 10.201.2.1/24 /        | veth
                                                          dgw-gateway [gateway] up0
                                                                      | veth
                                              remote: eth0 10.201.9.2/24 fd00:201:9::2/64

legacy: the forwarder in a namespace of its own between two veths, as a bump in the wire:

    pod-hi  eth0 10.201.1.2/24 --- vhi 10.201.1.1/24 \\
                                                     node (ip_forward) up0 10.201.9.1/24
    pod-lo  eth0 10.201.2.2/24 --- vlo 10.201.2.1/24 /                |
                                                                      | veth
                                              gw:  gwk  [forwarder]  gwu
                                                                      | veth
                                              remote: eth0 10.201.9.2/24 (iperf3 servers)

In attach plumbing IPv6 is on in node and remote only (the node's addresses are dual-stack;
accept_ra off, addresses nodad); the experiment's traffic is IPv4.

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

from .calls import http_request
from .common import Failure, tail
from .harness import NetnsHarness
from .host import free_prefix, remove_dpdk_leftovers
from .node_plumbing import KERNEL_LEG, BpfMountHolder
from .policies import FIFO_POLICY, FLOOR_POLICY, PCP_POLICY, PRIORITY_POLICY, with_aqm

POD_HI_IP, POD_HI_GW = "10.201.1.2", "10.201.1.1"
POD_LO_IP, POD_LO_GW = "10.201.2.2", "10.201.2.1"
POD_HI_NET, POD_LO_NET = "10.201.1.0/24", "10.201.2.0/24"
NODE_UP_IP, REMOTE_IP = "10.201.9.1", "10.201.9.2"
NODE_UP_IP6, REMOTE_IP6 = "fd00:201:9::1", "fd00:201:9::2"
EXTRA_TABLE, EXTRA_ROUTE = "100", "10.201.99.0/24"  # a route outside the main table, as nodes have
TCP_PORT, UDP_PORT = 5201, 5202
REST_PORT = 9470
READY_TIMEOUT_S = 20.0
UPLINK = "up0"
PLUMBINGS = ("attach", "legacy")
ROLES = {"attach": ("pod-hi", "pod-lo", "node", "remote"), "legacy": ("pod-hi", "pod-lo", "node", "gw", "remote")}

KERNEL_MODE = "kernel"
MODES = {"priority": PRIORITY_POLICY, "floor": FLOOR_POLICY, "fifo": FIFO_POLICY, KERNEL_MODE: PRIORITY_POLICY,
         "pcp": PCP_POLICY}
CLASS_NAMES = {"priority": ["critical", "high", "standard", "scavenger"],
               "floor": ["critical", "high", "standard", "scavenger"],
               "fifo": ["besteffort"], KERNEL_MODE: ["critical", "high", "standard", "scavenger"],
               "pcp": ["critical", "high", "standard", "scavenger"]}


class VirtualNode(NetnsHarness):
    """The topology of the module docstring; args are perf/virtual_node.py's options."""

    def __init__(self, args):
        super().__init__(args.prefix or free_prefix("dg"), workdir_prefix="dscp-gw-vnode-", tag="virtual-node")
        self.args = args
        self.plumbing = getattr(args, "plumbing", "legacy")
        # Where the forwarder runs and reads its REST port.
        self.forwarder_role = "node" if self.plumbing == "attach" else "gw"
        self.failed = False
        self.forwarder_pid: int | None = None
        self.bpffs: BpfMountHolder | None = None

    def build(self) -> None:
        for role in ROLES[self.plumbing]:
            self.add_namespace(role)
        self.add_veth("node", "vhi", "pod-hi", "eth0")
        self.add_veth("node", "vlo", "pod-lo", "eth0")
        if self.plumbing == "attach":
            self.enable_ipv6()
            self.add_veth("node", UPLINK, "remote", "eth0")
            # XDP_REDIRECT into the uplink veth (the fail-open path) needs NAPI on its peer:
            # GRO gives it one (kernel >= 5.13). A real uplink is a NIC and needs nothing.
            self.sh(["ethtool", "-K", "eth0", "gro", "on"], role="remote")
        else:
            self.add_veth("node", UPLINK, "gw", "gwk")
            self.add_veth("gw", "gwu", "remote", "eth0")

        self.add_address("pod-hi", "eth0", f"{POD_HI_IP}/24")
        self.sh(["ip", "route", "add", "default", "via", POD_HI_GW], role="pod-hi")
        self.add_address("pod-lo", "eth0", f"{POD_LO_IP}/24")
        self.sh(["ip", "route", "add", "default", "via", POD_LO_GW], role="pod-lo")

        self.add_address("node", "vhi", f"{POD_HI_GW}/24")
        self.add_address("node", "vlo", f"{POD_LO_GW}/24")
        self.add_address("node", UPLINK, f"{NODE_UP_IP}/24")
        self.sh(["ip", "route", "add", "default", "via", REMOTE_IP], role="node")
        self.sh(["sysctl", "-qw", "net.ipv4.ip_forward=1"], role="node")
        for role, dev in (("node", UPLINK), ("remote", "eth0")):
            self.sh(["sysctl", "-qw", f"net.ipv4.conf.{dev}.rp_filter=0"], role=role)

        self.add_address("remote", "eth0", f"{REMOTE_IP}/24")
        self.sh(["ip", "route", "add", "10.201.1.0/24", "via", NODE_UP_IP], role="remote")
        self.sh(["ip", "route", "add", "10.201.2.0/24", "via", NODE_UP_IP], role="remote")
        if self.plumbing == "attach":
            self.add_address("node", UPLINK, f"{NODE_UP_IP6}/64", "nodad")
            self.add_address("remote", "eth0", f"{REMOTE_IP6}/64", "nodad")
            self.sh(["ip", "-6", "route", "add", "default", "via", REMOTE_IP6], role="node")
            self.sh(["ip", "route", "add", EXTRA_ROUTE, "via", REMOTE_IP, "table", EXTRA_TABLE], role="node")
            self.attach()
        else:
            # Static ARP across the forwarder (see the module docstring).
            self.pin_neighbours(("node", UPLINK, NODE_UP_IP), ("remote", "eth0", REMOTE_IP))
        self.log(f"topology up ({self.plumbing}): namespaces {', '.join(self.created)}")

    def enable_ipv6(self) -> None:
        """Node and remote are dual-stack (the node's uplink has an IPv6 address to move);
        no router advertisements are taken, the pod-facing veths stay IPv4-only."""
        for role in ("node", "remote"):
            self.sh(["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=0", "net.ipv6.conf.default.disable_ipv6=0",
                     "net.ipv6.conf.all.accept_ra=0", "net.ipv6.conf.default.accept_ra=0"], role=role)
        for dev in ("vhi", "vlo"):
            self.sh(["sysctl", "-qw", f"net.ipv6.conf.{dev}.disable_ipv6=1"], role="node")

    def add_address(self, role: str, dev: str, cidr: str, *flags: str) -> None:
        self.sh(["ip", "addr", "add", cidr, "dev", dev, *flags], role=role)

    # ------------------------------------------------------------ attach plumbing
    def node_command(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """`dscp-gateway node ARGS` inside the node (its netns and bpffs)."""
        assert self.bpffs is not None
        return self.sh(self.bpffs.enter([self.args.gateway_binary, "node", *args,
                                         "--state-file", self.path("node-state.json")]),
                       role="node", check=check, timeout=60)

    def attach(self) -> None:
        if self.bpffs is None:
            self.bpffs = BpfMountHolder(self.ns("node"))
        self.log(self.node_command("attach", "--uplink", UPLINK).stdout.strip())
        # ARP pinned again: the node's neighbours now live on dgw-kernel (same MAC as up0 had).
        self.pin_neighbours(("node", KERNEL_LEG, NODE_UP_IP), ("remote", "eth0", REMOTE_IP))

    def detach(self) -> None:
        if self.bpffs is not None:
            r = self.node_command("detach", "--uplink", UPLINK, check=False)
            self.log(f"node detach: {(r.stdout or r.stderr).strip()}")

    def teardown(self) -> None:
        self.keep_logs = self.failed
        if self.plumbing == "attach" and not self.args.keep:
            for p in list(self.procs):
                first, grace = getattr(p, "dg_stop", (signal.SIGTERM, 2.0))
                self.stop(p, first=first, grace=grace)
            self.detach()
        if self.bpffs is not None and not self.args.keep:
            self.bpffs.close()
        super().teardown(keep=self.args.keep)

    def iperf3(self) -> list[str]:
        return (["taskset", "-c", self.args.traffic_cpus] if self.args.traffic_cpus else []) + ["iperf3"]

    # ---------------------------------------------------------------- forwarder
    def eal_args(self, mode: str) -> list[str]:
        eal = ["-l", self.args.lcores, "--file-prefix", self.dpdk_file_prefix(mode), "--no-pci"]
        if self.plumbing == "legacy":
            return eal + ["--vdev", "net_af_xdp0,iface=gwk", "--vdev", "net_af_xdp1,iface=gwu"]
        return eal  # run derives the ports from node: {uplink}

    def write_gateway_config(self, mode: str) -> str:
        cm = self.path(f"priorities-{mode}.yaml")
        with open(cm, "w") as f:
            f.write("apiVersion: v1\nkind: ConfigMap\nmetadata:\n"
                    "  name: dscp-gateway-priorities\n  namespace: dscp-gateway\n"
                    "data:\n  priorities.yaml: |\n")
            policy = MODES[mode]
            if not getattr(self.args, "aqm", True):
                policy = with_aqm(policy, "codel: false")
            elif getattr(self.args, "aqm_settings", None):
                policy = with_aqm(policy, self.args.aqm_settings)
            for line in policy.splitlines():
                f.write(f"    {line}\n")
        pods = self.path("pods.json")
        with open(pods, "w") as f:
            json.dump(pod_list(getattr(self, "pod_annotations", None)), f, indent=2)
        cfg = self.path(f"gateway-{mode}.yaml")
        eal = ", ".join(json.dumps(a) for a in self.eal_args(mode))
        if self.plumbing == "attach":
            ports = f"node: {{uplink: {UPLINK}, stateFile: {json.dumps(self.path('node-state.json'))}}}\n"
        else:
            ports = "ports: {kernel: net_af_xdp0, uplink: net_af_xdp1}\n"
        shaper_burst = getattr(self.args, "shaper_burst", None)
        burst = f", burst: {shaper_burst}" if shaper_burst else ""
        with open(cfg, "w") as f:
            f.write(f"# virtual_node.py, mode {mode}, plumbing {self.plumbing}, "
                    f"aqm {'on' if getattr(self.args, 'aqm', True) else 'off'}\n"
                    f"eal: [{eal}]\n"
                    f"{ports}"
                    f"shaper: {{rate: {self.args.shaper_mbit}Mbit{burst}}}\n"
                    "queues: {depth: 1024}\n"
                    f"policy: {{priorities: {json.dumps(cm)}, pods: {json.dumps(pods)}}}\n"
                    # The REST port lives on the forwarder namespace's own loopback, so a
                    # fixed port cannot clash with another run.
                    f"rest: {{listen: 127.0.0.1:{REST_PORT}}}\n")
            # podEgressStamp on the pods' host-side veths (set pod_egress_stamp = True).
            if getattr(self, "pod_egress_stamp", False):
                guard = "" if self.plumbing == "attach" else f", guardInterface: {UPLINK}"
                f.write(f"podEgressStamp: {{enabled: true, interfaces: [vhi, vlo]{guard}}}\n")
        return cfg

    def masquerade_pods(self) -> None:
        """The node SNATs its pods' traffic to the remote to its own address, as most clusters
        do for destinations outside the cluster (iptables MASQUERADE)."""
        for subnet in (POD_HI_NET, POD_LO_NET):
            self.sh(["iptables", "-t", "nat", "-A", "POSTROUTING", "-s", subnet, "-d", REMOTE_IP,
                     "-j", "MASQUERADE"], role="node")

    def release_legs_for_gateway(self) -> None:
        """Legacy plumbing: net_af_xdp attaches only where no program is. (With attach the
        gateway hands the legs over itself.)"""
        if self.plumbing == "legacy":
            self.detach_xdp("gw", ["gwk", "gwu"])

    def forwarder_command(self, mode: str) -> list[str]:
        if self.args.forwarder == "gateway":
            cmd = [self.args.gateway_binary, "run", "--config", self.write_gateway_config(mode)]
        else:
            cmd = ["dpdk-testpmd"] + self.eal_args(mode) + [
                "--", "--forward-mode=io", "-a", "--stats-period", "0", "--total-num-mbufs", "16384"] + \
                shlex.split(getattr(self.args, "testpmd_extra", "") or "")
        if self.args.forwarder_rt:
            cmd = ["chrt", "-f", str(self.args.forwarder_rt)] + cmd
        return cmd

    def start_forwarder(self, mode: str, name: str | None = None) -> subprocess.Popen:
        self.release_legs_for_gateway()
        remove_dpdk_leftovers(self.dpdk_file_prefix(mode))  # of a forwarder killed before
        cmd = self.forwarder_command(mode)
        name = name or f"forwarder-{mode}"
        self.log(f"starting forwarder ({self.args.forwarder}, {mode}, {self.plumbing}): {shlex.join(cmd)}")
        wrapped = self.bpffs.enter(cmd) if self.bpffs is not None else self.with_bpffs(cmd)
        # SIGINT: the gateway (and testpmd) print final counters on the way out.
        p = self.spawn(wrapped, self.forwarder_role, name, stdin=subprocess.PIPE,
                       stop_signal=signal.SIGINT, stop_grace=10.0)
        self.wait_ready(p, name)
        self.forwarder_pid = p.pid  # ip netns exec, sh and nsenter all exec: this is the forwarder
        return p

    def stop_forwarder(self, p: subprocess.Popen, first=signal.SIGINT, grace: float = 10.0) -> int | None:
        return self.stop(p, first=first, grace=grace)

    def set_pod_ecn(self, enabled: bool) -> None:
        """TCP in pod-hi asks for ECN (net.ipv4.tcp_ecn=1) or does not (0); remote keeps the
        namespace default 2, accepting it when asked."""
        self.sh(["sysctl", "-qw", f"net.ipv4.tcp_ecn={1 if enabled else 0}"], role="pod-hi")

    def set_pod_congestion_control(self, algorithm: str) -> None:
        """pod-hi's TCP congestion control (per namespace; without it the host's default)."""
        self.sh(["sysctl", "-qw", f"net.ipv4.tcp_congestion_control={algorithm}"], role="pod-hi")

    def pod_congestion_control(self) -> str:
        return self.sh(["sysctl", "-n", "net.ipv4.tcp_congestion_control"], role="pod-hi").stdout.strip()

    def stats(self) -> dict:
        """The forwarder's /v1/stats (gateway only)."""
        return self.call(self.forwarder_role, http_request, "127.0.0.1", REST_PORT, "/v1/stats").json()

    def forwarding(self) -> bool:
        """pod-hi reaches remote, through the forwarder: in attach plumbing the fail-open path
        answers too, so the gateway's kernel port must have received the echo."""
        if self.plumbing == "legacy" or self.args.forwarder != "gateway":
            return self.ping("pod-hi", REMOTE_IP)
        try:
            before = self.stats()["ports"]["kernel"]["rx_packets"]
        except (Failure, OSError, KeyError, ValueError):
            return False
        if not self.ping("pod-hi", REMOTE_IP):
            return False
        return self.stats()["ports"]["kernel"]["rx_packets"] > before

    def wait_ready(self, p: subprocess.Popen | None, name: str) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if p is not None and p.poll() is not None:
                raise Failure(f"forwarder exited with {p.returncode} before it forwarded anything\n"
                              f"--- stderr ---\n{tail(self.read_log(name, 'err'))}\n"
                              f"--- stdout ---\n{tail(self.read_log(name, 'out'))}")
            if self.forwarding():
                self.log("forwarder ready: pod-hi reaches remote through it")
                return
            time.sleep(0.2)
        raise Failure(f"pod-hi could not ping remote {REMOTE_IP} through the forwarder within "
                      f"{READY_TIMEOUT_S:.0f} s\n--- forwarder stderr ---\n{tail(self.read_log(name, 'err'))}\n"
                      f"--- forwarder stdout ---\n{tail(self.read_log(name, 'out'))}")


def pod_list(annotations: dict | None = None) -> dict:
    """The two pods; `annotations` maps a pod IP to that pod's metadata.annotations."""
    def pod(name, namespace, ip, uid):
        return {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "uid": uid,
                         "creationTimestamp": "2024-05-01T12:00:00Z", "labels": {"app": name.rsplit("-", 1)[0]},
                         "annotations": (annotations or {}).get(ip, {})},
            "spec": {"nodeName": "virtual-node", "containers": [{"name": "main", "image": "iperf3"}]},
            "status": {"phase": "Running", "hostIP": NODE_UP_IP, "podIP": ip, "podIPs": [{"ip": ip}]},
        }
    return {"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""},
            "items": [pod("trainer-0", "ray-training", POD_HI_IP, "6f1c2a8e-0b7d-4e51-9a3c-1d2e3f4a5b60"),
                      pod("etl-0", "batch-jobs", POD_LO_IP, "0a9b8c7d-6e5f-4a3b-8c2d-1e0f9a8b7c61")]}
