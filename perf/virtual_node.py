#!/usr/bin/env python3
"""Virtual node: reproduce "priority saves the training flow on a congested uplink".

Builds a self-contained node out of network namespaces, puts a forwarder between the
node's uplink and the "remote" side as a bump in the wire over AF_XDP, floods the
uplink from a low-priority pod and measures a high-priority iperf3 TCP flow, once
with the namespace priority policy ("priority") and once with a single class
("fifo"). Needs root; touches nothing outside the namespaces it creates (apart from
making sure hugepages exist) and removes them again, also on errors and Ctrl-C.

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

Mode `kernel` (the kernel peer, the seed's approach) puts no forwarder in the path: gw
bridges gwk and gwu (a plain Linux bridge), node marks DSCP per pod with iptables
(mangle POSTROUTING -s POD -j DSCP --set-dscp N, the same classes as `priority`) and
shapes up0 with HTB at the shaper rate, one leaf per class chosen by DSCP (tc filter u32
match ip dsfield), served by HTB priority, with the gateway's accounting: 24 bytes of
framing (overhead 24, mpu 84), 1 ms burst and a 1024-packet pfifo per class. Per-class
drops are the leaf qdiscs' drop counters.

Optional measurements (off unless asked for, so the default run is unchanged):
  --rtt-probe-hz N  ICMP echo from pod-hi to remote at N Hz while the TCP flow runs
                    (a raw socket, no ping binary); rtt_p50_ms, rtt_p99_ms, rtt_loss_pct.
  --repeat N        measure N times per mode with the same forwarder; the mode's numbers
                    are the medians, every run is kept under "runs".
Every run also records per-second receiver-side throughput of both flows ("intervals":
{"high": [[start_s, end_s, bps], ...], "low": [...]}, seconds from the flood's start).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_GATEWAY = os.path.join(REPO_ROOT, "build", "gateway", "dscp-gateway")

POD_HI_IP, POD_HI_GW = "10.201.1.2", "10.201.1.1"
POD_LO_IP, POD_LO_GW = "10.201.2.2", "10.201.2.1"
NODE_UP_IP, REMOTE_IP = "10.201.9.1", "10.201.9.2"
TCP_PORT, UDP_PORT = 5201, 5202
REST_PORT = 9470
MTU = 1500
# tx-checksumming is off too: the XDP copy path passes CHECKSUM_PARTIAL skbs on with
# only the pseudo-header sum, and the remote stack drops those segments.
OFFLOADS_OFF = ["tso", "off", "gso", "off", "gro", "off", "tx", "off"]
FLOOD_WARMUP_S = 1.5  # flood alone before the TCP flow starts
FLOOD_MAX_EXTRA_S = 40  # upper bound on the TCP client's connect + result exchange
READY_TIMEOUT_S = 20.0
REQUIRED_TOOLS = ["ip", "ethtool", "iperf3", "sysctl", "mount", "mountpoint"]

# One ICMP echo with a 1 s timeout, run inside a namespace (iputils-ping is not
# always installed; a raw socket needs nothing but root). Exit 0 on a reply.
ICMP_PING = r"""
import os, socket, struct, sys, time
def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff); s += s >> 16
    return ~s & 0xffff
ident, dst = os.getpid() & 0xffff, sys.argv[1]
body = struct.pack("!HH", ident, 1) + b"dscp-gateway-ready"
pkt = struct.pack("!BBH", 8, 0, 0) + body
pkt = struct.pack("!BBH", 8, 0, csum(pkt)) + body
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
s.sendto(pkt, (dst, 0))
deadline = time.monotonic() + 1.0
while (left := deadline - time.monotonic()) > 0:
    s.settimeout(left)
    try:
        data, addr = s.recvfrom(2048)
    except socket.timeout:
        break
    ihl = (data[0] & 0x0f) * 4
    typ, _, _, rid, _ = struct.unpack("!BBHHH", data[ihl:ihl + 8])
    if typ == 0 and rid == ident and addr[0] == dst:
        sys.exit(0)
sys.exit(1)
"""

PRIORITY_POLICY = """classes:
  - {name: critical, dscp: 46}
  - {name: high, dscp: 34}
  - {name: standard, dscp: 0}
  - {name: scavenger, dscp: 8}
defaultClass: standard
namespaces: {ray-training: critical, batch-jobs: scavenger}
"""
FIFO_POLICY = """classes: [{name: besteffort, dscp: 0}]
defaultClass: besteffort
"""
KERNEL_MODE = "kernel"
MODES = {"priority": PRIORITY_POLICY, "fifo": FIFO_POLICY, KERNEL_MODE: PRIORITY_POLICY}
CLASS_NAMES = {"priority": ["critical", "high", "standard", "scavenger"],
               "fifo": ["besteffort"], KERNEL_MODE: ["critical", "high", "standard", "scavenger"]}
# Kernel mode: PRIORITY_POLICY as iptables + HTB. (class, DSCP, HTB minor, HTB prio);
# standard is HTB's default class, so unmarked traffic lands there as in the gateway.
KERNEL_CLASSES = [("critical", 46, 10, 0), ("high", 34, 20, 1), ("standard", 0, 30, 2), ("scavenger", 8, 40, 3)]
KERNEL_POD_DSCP = {POD_HI_IP: 46, POD_LO_IP: 8}  # ray-training -> critical, batch-jobs -> scavenger
KERNEL_QUEUE_PACKETS = 1024  # the gateway's queues.depth
FRAMING_OVERHEAD = 24  # the gateway's shaper.framingOverhead

# ICMP echo at a fixed rate until SIGINT/SIGTERM, run inside a namespace. Prints
# "S seq t" per probe sent and "R seq rtt_ms" per reply, line-buffered.
RTT_PROBE = r"""
import os, select, signal, socket, struct, sys, time
sys.stdout.reconfigure(line_buffering=True)
def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff); s += s >> 16
    return ~s & 0xffff
dst, interval = sys.argv[1], 1.0 / float(sys.argv[2])
ident = (os.getpid() + 0x5a5a) & 0xffff
sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
stop = []
signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
signal.signal(signal.SIGINT, lambda *_: stop.append(1))
sent, seq = {}, 0
t0 = next_send = time.monotonic()
while not stop:
    now = time.monotonic()
    if now >= next_send:
        seq = (seq + 1) & 0xffff
        body = struct.pack("!HH", ident, seq) + b"dscp-gateway-rtt-probe" + bytes(18)
        pkt = struct.pack("!BBH", 8, 0, 0) + body
        try:
            sock.sendto(struct.pack("!BBH", 8, 0, csum(pkt)) + body, (dst, 0))
        except OSError:  # e.g. ENOBUFS: counts as lost
            pass
        sent[seq] = now
        print(f"S {seq} {now - t0:.4f}")
        next_send = max(next_send + interval, now)
    ready, _, _ = select.select([sock], [], [], max(0.0, next_send - time.monotonic()))
    if ready:
        data, addr = sock.recvfrom(2048)
        t = time.monotonic()
        ihl = (data[0] & 0x0f) * 4
        typ, _, _, rid, rseq = struct.unpack("!BBHHH", data[ihl:ihl + 8])
        if typ == 0 and rid == ident and rseq in sent:
            print(f"R {rseq} {(t - sent.pop(rseq)) * 1000:.3f}")
"""


class Failure(Exception):
    """A problem worth a one-line message rather than a traceback."""


class Interrupted(Exception):
    pass


def log(msg: str) -> None:
    print(f"[virtual-node] {msg}", file=sys.stderr, flush=True)


def _on_signal(signum, _frame):
    # Turn SIGINT/SIGTERM into an exception so every finally: block runs.
    raise Interrupted(signal.Signals(signum).name)


class VirtualNode:
    def __init__(self, args):
        self.args = args
        self.prefix = args.prefix or self._free_prefix()
        self.ns = {role: f"{self.prefix}{role}" for role in ("pod-hi", "pod-lo", "node", "gw", "remote")}
        self.created_ns: list[str] = []
        self.procs: list[subprocess.Popen] = []
        self.workdir = tempfile.mkdtemp(prefix=f"dscp-gw-vnode-{self.prefix}")
        self.forwarder_modes: list[str] = []  # DPDK file prefixes to clean up
        self.failed = False

    # ----------------------------------------------------------------- plumbing
    @staticmethod
    def _free_prefix() -> str:
        existing = set(_netns_list())
        n = os.getpid() % 10000
        for i in range(10000):
            prefix = f"dg{(n + i) % 10000}-"
            if not any(name.startswith(prefix) for name in existing):
                return prefix
        raise Failure("no free namespace prefix dgNNNN- left; delete stale namespaces (ip netns list)")

    def sh(self, cmd: list[str], ns: str | None = None, check: bool = True,
           timeout: float = 30) -> subprocess.CompletedProcess:
        full = (["ip", "netns", "exec", self.ns[ns]] if ns else []) + cmd
        r = subprocess.run(full, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise Failure(f"command failed ({r.returncode}): {shlex.join(full)}\n{r.stderr.strip()}")
        return r

    def spawn(self, cmd: list[str], ns: str, name: str, stdin=subprocess.DEVNULL) -> subprocess.Popen:
        out = open(os.path.join(self.workdir, f"{name}.out"), "w")
        err = open(os.path.join(self.workdir, f"{name}.err"), "w")
        full = ["ip", "netns", "exec", self.ns[ns]] + cmd
        # Own session = own process group, so a kill reaches everything it started,
        # and a Ctrl-C on our terminal does not hit it before we decide to stop it.
        p = subprocess.Popen(full, stdin=stdin, stdout=out, stderr=err, start_new_session=True)
        out.close()
        err.close()
        p.dg_name = name  # type: ignore[attr-defined]
        self.procs.append(p)
        return p

    def read_log(self, name: str, stream: str = "out") -> str:
        try:
            with open(os.path.join(self.workdir, f"{name}.{stream}"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self, p: subprocess.Popen, first=signal.SIGTERM, grace: float = 5.0) -> int | None:
        """Signal p's process group, escalating to SIGKILL; returns its exit code."""
        for sig, wait in ((first, grace), (signal.SIGTERM, 3.0), (signal.SIGKILL, 3.0)):
            if p.poll() is not None:
                break
            try:
                os.killpg(p.pid, sig)
            except ProcessLookupError:
                break
            try:
                p.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                continue
        # The leader may be gone while group members linger.
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if p in self.procs:
            self.procs.remove(p)
        return p.poll()

    # ----------------------------------------------------------------- topology
    def build(self) -> None:
        for role, name in self.ns.items():
            self.sh(["ip", "netns", "add", name])
            self.created_ns.append(name)
            self.sh(["ip", "link", "set", "lo", "up"], ns=role)
            # IPv4 only: no ND/MLD/router solicitations crossing the forwarder.
            self.sh(["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1",
                     "net.ipv6.conf.default.disable_ipv6=1"], ns=role)
        n = self.ns
        self.sh(["ip", "-n", n["node"], "link", "add", "vhi", "type", "veth", "peer", "name", "eth0", "netns", n["pod-hi"]])
        self.sh(["ip", "-n", n["node"], "link", "add", "vlo", "type", "veth", "peer", "name", "eth0", "netns", n["pod-lo"]])
        self.sh(["ip", "-n", n["node"], "link", "add", "up0", "type", "veth", "peer", "name", "gwk", "netns", n["gw"]])
        self.sh(["ip", "-n", n["gw"], "link", "add", "gwu", "type", "veth", "peer", "name", "eth0", "netns", n["remote"]])

        path = [("pod-hi", "eth0"), ("pod-lo", "eth0"), ("node", "vhi"), ("node", "vlo"), ("node", "up0"),
                ("gw", "gwk"), ("gw", "gwu"), ("remote", "eth0")]
        for role, dev in path:
            self.sh(["ip", "link", "set", dev, "mtu", str(MTU)], ns=role)
            self.sh(["ethtool", "-K", dev] + OFFLOADS_OFF, ns=role)
            self.sh(["ip", "link", "set", dev, "up"], ns=role)

        self.sh(["ip", "addr", "add", f"{POD_HI_IP}/24", "dev", "eth0"], ns="pod-hi")
        self.sh(["ip", "route", "add", "default", "via", POD_HI_GW], ns="pod-hi")
        self.sh(["ip", "addr", "add", f"{POD_LO_IP}/24", "dev", "eth0"], ns="pod-lo")
        self.sh(["ip", "route", "add", "default", "via", POD_LO_GW], ns="pod-lo")

        self.sh(["ip", "addr", "add", f"{POD_HI_GW}/24", "dev", "vhi"], ns="node")
        self.sh(["ip", "addr", "add", f"{POD_LO_GW}/24", "dev", "vlo"], ns="node")
        self.sh(["ip", "addr", "add", f"{NODE_UP_IP}/24", "dev", "up0"], ns="node")
        self.sh(["ip", "route", "add", "default", "via", REMOTE_IP], ns="node")
        self.sh(["sysctl", "-qw", "net.ipv4.ip_forward=1"], ns="node")
        for role in ("node", "remote"):
            for conf in ("all", "default", "up0" if role == "node" else "eth0"):
                self.sh(["sysctl", "-qw", f"net.ipv4.conf.{conf}.rp_filter=0"], ns=role)

        self.sh(["ip", "addr", "add", f"{REMOTE_IP}/24", "dev", "eth0"], ns="remote")
        self.sh(["ip", "route", "add", "10.201.1.0/24", "via", NODE_UP_IP], ns="remote")
        self.sh(["ip", "route", "add", "10.201.2.0/24", "via", NODE_UP_IP], ns="remote")

        # Static ARP across the forwarder (see the module docstring).
        up0_mac = _mac(self.sh(["ip", "-j", "link", "show", "up0"], ns="node").stdout)
        remote_mac = _mac(self.sh(["ip", "-j", "link", "show", "eth0"], ns="remote").stdout)
        self.sh(["ip", "neigh", "replace", REMOTE_IP, "lladdr", remote_mac, "dev", "up0", "nud", "permanent"], ns="node")
        self.sh(["ip", "neigh", "replace", NODE_UP_IP, "lladdr", up0_mac, "dev", "eth0", "nud", "permanent"], ns="remote")
        log(f"topology up: namespaces {', '.join(self.ns.values())}")

    def teardown(self) -> None:
        for p in list(self.procs):
            is_forwarder = getattr(p, "dg_name", "").startswith("forwarder-")
            self.stop(p, first=signal.SIGINT if is_forwarder else signal.SIGTERM, grace=10.0 if is_forwarder else 2.0)
        for mode in self.forwarder_modes:
            self.remove_dpdk_leftovers(mode)
        if self.args.keep:
            log(f"--keep: namespaces left in place: {' '.join(self.created_ns)}")
            log(f"          remove with: for n in {' '.join(self.created_ns)}; do ip netns del $n; done")
            log(f"          configs and logs: {self.workdir}")
            return
        for name in self.created_ns:
            # Anything still running inside (it can only be ours) keeps the netns alive.
            r = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True)
            for pid in r.stdout.split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
            subprocess.run(["ip", "netns", "del", name], capture_output=True)
        self.created_ns.clear()
        if not self.failed:
            shutil.rmtree(self.workdir, ignore_errors=True)
        else:
            log(f"logs kept in {self.workdir}")

    # ---------------------------------------------------------------- forwarder
    def file_prefix(self, mode: str) -> str:
        return f"{self.prefix}{mode}-{os.getpid()}"

    def remove_dpdk_leftovers(self, mode: str) -> None:
        # DPDK keeps /var/run/dpdk/<file-prefix>/ after exit, and a forwarder that was
        # SIGKILLed also leaves its hugepage files (and so the hugepages) behind.
        fp = self.file_prefix(mode)
        shutil.rmtree(os.path.join("/var/run/dpdk", fp), ignore_errors=True)
        try:
            for f in os.listdir("/dev/hugepages"):
                if f.startswith(f"{fp}map_"):
                    os.unlink(os.path.join("/dev/hugepages", f))
        except OSError:
            pass

    def eal_args(self, mode: str) -> list[str]:
        return ["-l", self.args.lcores, "--file-prefix", self.file_prefix(mode), "--no-pci",
                "--vdev", "net_af_xdp0,iface=gwk", "--vdev", "net_af_xdp1,iface=gwu"]

    def write_gateway_config(self, mode: str) -> str:
        d = self.workdir
        cm = os.path.join(d, f"priorities-{mode}.yaml")
        with open(cm, "w") as f:
            f.write("apiVersion: v1\nkind: ConfigMap\nmetadata:\n"
                    "  name: dscp-gateway-priorities\n  namespace: dscp-gateway\n"
                    "data:\n  priorities.yaml: |\n")
            for line in MODES[mode].splitlines():
                f.write(f"    {line}\n")
        pods = os.path.join(d, "pods.json")
        with open(pods, "w") as f:
            json.dump(_pod_list(), f, indent=2)
        cfg = os.path.join(d, f"gateway-{mode}.yaml")
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
        for dev in ("gwk", "gwu"):  # leftovers of a forwarder that died hard
            self.sh(["ip", "link", "set", "dev", dev, "xdp", "off"], ns="gw", check=False)
        if self.args.forwarder == "gateway":
            cmd = [self.args.gateway_binary, "run", "--config", self.write_gateway_config(mode)]
        else:
            cmd = ["dpdk-testpmd"] + self.eal_args(mode) + [
                "--", "--forward-mode=io", "-a", "--stats-period", "0", "--total-num-mbufs", "16384"] + \
                shlex.split(getattr(self.args, "testpmd_extra", "") or "")
        # Private bpffs for libxdp (ip netns exec remounted /sys, see docstring).
        script = "mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf; exec \"$@\""
        name = f"forwarder-{mode}"
        self.forwarder_modes.append(mode)
        log(f"starting forwarder ({self.args.forwarder}, {mode}): {shlex.join(cmd)}")
        if self.args.forwarder_rt:
            cmd = ["chrt", "-f", str(self.args.forwarder_rt)] + cmd
        p = self.spawn(["sh", "-c", script, "sh"] + cmd, ns="gw", name=name, stdin=subprocess.PIPE)
        self.wait_ready(p, name)
        return p

    def wait_ready(self, p: subprocess.Popen | None, name: str) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if p is not None and p.poll() is not None:
                raise Failure(f"forwarder exited with {p.returncode} before it forwarded anything\n"
                              f"--- stderr ---\n{_tail(self.read_log(name, 'err'))}\n"
                              f"--- stdout ---\n{_tail(self.read_log(name, 'out'))}")
            r = self.sh([sys.executable, "-c", ICMP_PING, REMOTE_IP], ns="pod-hi", check=False)
            if r.returncode == 0:
                log("forwarder ready: pod-hi reaches remote")
                return
            time.sleep(0.2)
        raise Failure(f"pod-hi could not ping remote {REMOTE_IP} through the forwarder within "
                      f"{READY_TIMEOUT_S:.0f} s\n--- forwarder stderr ---\n{_tail(self.read_log(name, 'err'))}\n"
                      f"--- forwarder stdout ---\n{_tail(self.read_log(name, 'out'))}")

    # ------------------------------------------------------ kernel peer (no forwarder)
    def setup_kernel_path(self) -> None:
        """The seed's approach: gw is a plain bridge; node marks with iptables and shapes
        up0 with HTB whose leaves are chosen by DSCP (see the module docstring)."""
        rate = self.args.shaper_mbit * 1_000_000
        if rate <= 0:
            raise Failure("mode kernel needs a shaper rate (--shaper-mbit > 0)")
        for dev in ("gwk", "gwu"):
            self.sh(["ip", "link", "set", "dev", dev, "xdp", "off"], ns="gw", check=False)
        self.sh(["ip", "link", "add", "br0", "type", "bridge"], ns="gw")
        for dev in ("gwk", "gwu"):
            self.sh(["ip", "link", "set", dev, "master", "br0"], ns="gw")
        self.sh(["ip", "link", "set", "br0", "up"], ns="gw")
        for ip, dscp in KERNEL_POD_DSCP.items():
            self.sh(["iptables", "-w", "-t", "mangle", "-A", "POSTROUTING", "-o", "up0", "-s", ip,
                     "-j", "DSCP", "--set-dscp", str(dscp)], ns="node")
        # The gateway's derived burst: 1 ms at the rate, at least two jumbo frames.
        burst = max(rate // 8 // 1000, 2 * (9216 + FRAMING_OVERHEAD))
        acct = ["burst", f"{burst}b", "cburst", f"{burst}b", "overhead", str(FRAMING_OVERHEAD), "mpu",
                str(60 + FRAMING_OVERHEAD)]
        low = max(rate // 200, 8000)  # what each lower class is guaranteed; the top class gets the rest
        tc = ["tc"]
        self.sh(tc + ["qdisc", "add", "dev", "up0", "root", "handle", "1:", "htb", "default", "30"], ns="node")
        self.sh(tc + ["class", "add", "dev", "up0", "parent", "1:", "classid", "1:1", "htb", "rate", f"{rate}bit",
                      "ceil", f"{rate}bit"] + acct, ns="node")
        for name, dscp, minor, prio in KERNEL_CLASSES:
            class_rate = rate - (len(KERNEL_CLASSES) - 1) * low if prio == 0 else low
            self.sh(tc + ["class", "add", "dev", "up0", "parent", "1:1", "classid", f"1:{minor}", "htb",
                          "rate", f"{class_rate}bit", "ceil", f"{rate}bit", "prio", str(prio)] + acct, ns="node")
            self.sh(tc + ["qdisc", "add", "dev", "up0", "parent", f"1:{minor}", "handle", f"{minor}:", "pfifo",
                          "limit", str(KERNEL_QUEUE_PACKETS)], ns="node")
            if dscp != 0:
                self.sh(tc + ["filter", "add", "dev", "up0", "parent", "1:", "protocol", "ip", "prio", "1", "u32",
                              "match", "ip", "dsfield", f"{dscp << 2:#04x}", "0xfc", "flowid", f"1:{minor}"],
                        ns="node")
        log(f"kernel path up: bridge in gw, iptables DSCP + HTB {rate / 1e6:.0f} Mbit/s on node:up0")
        self.wait_ready(None, "kernel")

    def kernel_class_drops(self) -> dict:
        r = self.sh(["tc", "-s", "-j", "qdisc", "show", "dev", "up0"], ns="node", check=False)
        names = {f"1:{minor}": name for name, _, minor, _ in KERNEL_CLASSES}
        drops: dict = {}
        try:
            for q in json.loads(r.stdout or "[]"):
                if q.get("parent") in names:
                    drops[names[q["parent"]]] = int(q.get("drops", 0))
        except (ValueError, TypeError, AttributeError):
            pass
        return {name: drops[name] for name, _, _, _ in KERNEL_CLASSES if name in drops}

    def teardown_kernel_path(self) -> None:
        self.sh(["tc", "qdisc", "del", "dev", "up0", "root"], ns="node", check=False)
        self.sh(["iptables", "-w", "-t", "mangle", "-F", "POSTROUTING"], ns="node", check=False)
        self.sh(["ip", "link", "del", "br0"], ns="gw", check=False)

    # --------------------------------------------------------------- experiment
    def run_mode(self, mode: str) -> dict:
        if mode == KERNEL_MODE:
            return self.run_kernel_mode()
        fwd = self.start_forwarder(mode)
        self.forwarder_pid = fwd.pid  # ip netns exec and sh both exec: this is the forwarder
        result: dict = {}
        try:
            result = self.measure_repeated(mode)
        finally:
            # SIGINT: the gateway (and testpmd) print final counters on the way out.
            rc = self.stop(fwd, first=signal.SIGINT, grace=10.0)
            result["forwarder_exit"] = rc
            self.remove_dpdk_leftovers(mode)
        out, err = self.read_log(f"forwarder-{mode}", "out"), self.read_log(f"forwarder-{mode}", "err")
        result["drops"] = parse_class_drops(out + "\n" + err, CLASS_NAMES[mode]) \
            if self.args.forwarder == "gateway" else {}
        result["namespace_drops"] = {m.group(1): int(m.group(2)) for m in re.finditer(
            r"^\s*namespace\s+(\S+)\s.*?\bdrops=(\d+)", out, re.M)}
        result["forwarder_stdout_tail"] = _tail(out, 80)
        result["forwarder_stderr_tail"] = _tail(err, 20)
        return result

    def run_kernel_mode(self) -> dict:
        result: dict = {}
        try:
            self.setup_kernel_path()
            result = self.measure_repeated(KERNEL_MODE)
            result["drops"] = self.kernel_class_drops()
            result["shaped"] = True
            tc = self.sh(["tc", "-s", "class", "show", "dev", "up0"], ns="node", check=False)
            result["tc_class_stats_tail"] = _tail(tc.stdout, 60)
        finally:
            self.teardown_kernel_path()
        return result

    def measure_repeated(self, mode: str) -> dict:
        """measure() --repeat times; one run is returned as it is, several as medians."""
        runs = []
        for i in range(max(1, getattr(self.args, "repeat", 1))):
            if i:
                time.sleep(1.0)  # let the queues drain between runs
            runs.append(self.measure(mode))
        return runs[0] if len(runs) == 1 else combine_runs(runs)

    def iperf3(self) -> list[str]:
        return (["taskset", "-c", self.args.traffic_cpus] if self.args.traffic_cpus else []) + ["iperf3"]

    def measure(self, mode: str) -> dict:
        a = self.args
        servers = [self.spawn(self.iperf3() + ["-s", "-1", "--json", "-p", str(port)], ns="remote",
                              name=f"server-{kind}-{mode}") for kind, port in (("tcp", TCP_PORT), ("udp", UDP_PORT))]
        time.sleep(0.5)
        res: dict = {}
        flood = None
        probe = None
        try:
            if not a.no_flood:
                # The flood runs until the TCP flow is done and is then interrupted
                # (iperf3 still prints its JSON), so a TCP flow whose start is delayed
                # by SYN losses is still measured entirely under the flood.
                flood_t = FLOOD_WARMUP_S + a.duration + FLOOD_MAX_EXTRA_S
                flood = self.spawn(self.iperf3() + ["-c", REMOTE_IP, "-p", str(UDP_PORT), "-u", "-b", f"{a.flood_mbit}M",
                                    "-l", "1400", "-w", "2M", "-t", f"{flood_t:.0f}", "--json"], ns="pod-lo",
                                   name=f"flood-{mode}")
                t_flood = time.monotonic()
                time.sleep(FLOOD_WARMUP_S)
                if flood.poll() is not None:
                    raise Failure(f"UDP flood client exited early: {_iperf_error(self.read_log(f'flood-{mode}'))}")
            else:
                t_flood = time.monotonic()
            t_tcp = time.monotonic()
            log(f"{mode}: TCP from pod-hi for {a.duration} s" + ("" if a.no_flood else f" under a {a.flood_mbit} Mbit/s UDP flood"))
            tcp = self.spawn(self.iperf3() + ["-c", REMOTE_IP, "-p", str(TCP_PORT), "-t", str(a.duration), "--json",
                              "--connect-timeout", "10000"], ns="pod-hi", name=f"tcp-{mode}")
            probe_hz = getattr(a, "rtt_probe_hz", 0) or 0
            if probe_hz > 0:
                probe = self.spawn([sys.executable, "-c", RTT_PROBE, REMOTE_IP, str(probe_hz)], ns="pod-hi",
                                   name=f"rtt-{mode}")
            cpu_start = _worker_cpu_seconds(getattr(self, "forwarder_pid", None)) if mode != KERNEL_MODE else None
            try:
                tcp.wait(timeout=a.duration + FLOOD_MAX_EXTRA_S - 5)
            except subprocess.TimeoutExpired:
                log(f"{mode}: TCP client hung, killing it")
            t_tcp_end = time.monotonic()
            if cpu_start is not None:
                cpu_end = _worker_cpu_seconds(getattr(self, "forwarder_pid", None))
                if cpu_end is not None and t_tcp_end > t_tcp:
                    # Share of one CPU the forwarding lcore got while the TCP flow ran.
                    res["forwarder_worker_cpu_share"] = (cpu_end - cpu_start) / (t_tcp_end - t_tcp)
            if probe is not None:
                time.sleep(0.3)  # replies still in flight
                self.stop(probe, first=signal.SIGINT, grace=2.0)
                res.update(_rtt_result(self.read_log(f"rtt-{mode}")))
            self.stop(tcp, first=signal.SIGINT, grace=2.0)
            res.update(_tcp_result(self.read_log(f"tcp-{mode}")))
            if flood is not None:
                if flood.poll() is not None:
                    log(f"{mode}: warning: the UDP flood ended before the TCP flow")
                self.stop(flood, first=signal.SIGINT, grace=5.0)
                for s in servers:  # the one-off servers exit after their test; let them print
                    try:
                        s.wait(timeout=5)
                    except subprocess.TimeoutExpired:
                        pass
                window = (t_tcp - t_flood, t_tcp_end - t_flood)
                res.update(_flood_result(self.read_log(f"flood-{mode}"),
                                         self.read_log(f"server-udp-{mode}"), window))
        finally:
            for s in servers:
                self.stop(s, grace=1.0)
            if flood is not None and flood.poll() is None:
                self.stop(flood)
            if probe is not None and probe.poll() is None:
                self.stop(probe)
        res["intervals"] = {"high": _intervals(self.read_log(f"server-tcp-{mode}"), t_tcp - t_flood),
                            "low": [] if a.no_flood else _intervals(self.read_log(f"server-udp-{mode}"), 0.0)}
        return res


# ------------------------------------------------------------------- helpers
def _netns_list() -> list[str]:
    r = subprocess.run(["ip", "-j", "netns", "list"], capture_output=True, text=True)
    try:
        return [e["name"] for e in json.loads(r.stdout or "[]")]
    except (ValueError, KeyError, TypeError):
        return [line.split()[0] for line in r.stdout.splitlines() if line.strip()]


def _mac(ip_link_json: str) -> str:
    return json.loads(ip_link_json)[0]["address"]


def _tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def _pod_list() -> dict:
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


def _iperf_json(text: str) -> dict | None:
    try:
        return json.loads(text)
    except ValueError:
        # --json output may be preceded by junk if the process was killed mid-way.
        start = text.find("{")
        if start < 0:
            return None
        try:
            return json.loads(text[start:])
        except ValueError:
            return None


def _iperf_error(text: str) -> str:
    j = _iperf_json(text)
    if j and j.get("error"):
        return j["error"]
    return "no iperf3 result" if not text.strip() else _tail(text, 5)


def _tcp_result(text: str) -> dict:
    j = _iperf_json(text)
    end = (j or {}).get("end", {})
    if not j or j.get("error") or "sum_received" not in end:
        # A flow that cannot even finish its control exchange has collapsed: count it as 0.
        return {"high_bps": 0.0, "high_retransmits": None, "high_error": _iperf_error(text)}
    return {"high_bps": float(end["sum_received"]["bits_per_second"]),
            "high_retransmits": end.get("sum_sent", {}).get("retransmits"),
            "high_sent_bps": float(end.get("sum_sent", {}).get("bits_per_second", 0.0))}


def _flood_result(client_text: str, server_text: str, window: tuple[float, float]) -> dict:
    """Received flood rate while the TCP flow ran (from the UDP server's per-second
    intervals), over the whole flood, and the offered rate (client side)."""
    res: dict = {"low_bps": None}
    client = _iperf_json(client_text) or {}
    server = _iperf_json(server_text) or {}
    if client.get("error") and "terminated" not in client["error"]:  # we interrupt it on purpose
        res["low_error"] = client["error"]
    sent = client.get("end", {}).get("sum_sent", {})
    if "bits_per_second" in sent:
        res["low_sent_bps"] = float(sent["bits_per_second"])
    # iperf3 3.12: the UDP server's end.sum says 0 bit/s; sum_received is right.
    recv = server.get("end", {}).get("sum_received", {})
    if "bits_per_second" in recv:
        res["low_bps_total"] = float(recv["bits_per_second"])
        res["low_lost_percent"] = recv.get("lost_percent")
    lo, hi = window
    nbytes, secs, all_bytes, all_secs = 0, 0.0, 0, 0.0
    for iv in server.get("intervals", []):
        s = iv.get("sum", {})
        all_bytes += s.get("bytes", 0)
        all_secs += s.get("seconds", 0.0)
        mid = (s.get("start", 0.0) + s.get("end", 0.0)) / 2
        if lo + 0.5 <= mid <= hi - 0.5:
            nbytes += s.get("bytes", 0)
            secs += s.get("seconds", 0.0)
    if all_secs > 0:
        res["low_bps_total"] = all_bytes * 8 / all_secs
    if secs > 0:
        res["low_bps"] = nbytes * 8 / secs
    elif "low_bps_total" in res:
        res["low_bps"] = res["low_bps_total"]
    return res


def _intervals(server_text: str, offset_s: float) -> list:
    """Receiver-side per-interval throughput from an iperf3 server's --json output, as
    [start_s, end_s, bits_per_second] with `offset_s` added to the times."""
    out = []
    for iv in (_iperf_json(server_text) or {}).get("intervals", []):
        s = iv.get("sum", {})
        if "start" in s and "end" in s:
            out.append([round(s["start"] + offset_s, 3), round(s["end"] + offset_s, 3),
                        float(s.get("bits_per_second", 0.0))])
    return out


def _worker_cpu_seconds(pid: int | None) -> float | None:
    """CPU time of a DPDK process's forwarding lcore thread (rte-worker-N), from
    /proc/PID/task/TID/schedstat; None if there is none."""
    if not pid:
        return None
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                if "worker" not in f.read():
                    continue
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                return int(f.read().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):
        pass
    return None


def _percentile(values: list, p: float) -> float | None:
    if not values:
        return None
    v = sorted(values)
    rank = p / 100 * (len(v) - 1)
    low = int(rank)
    high = min(low + 1, len(v) - 1)
    return v[low] + (v[high] - v[low]) * (rank - low)


def _rtt_result(text: str) -> dict:
    """RTT percentiles of the probe's replies. Probes sent in the last second before it
    was stopped are not counted as lost (their replies may still have been queued)."""
    sent, rtts = {}, {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "S":
            sent[int(parts[1])] = float(parts[2])
        elif len(parts) == 3 and parts[0] == "R":
            rtts[int(parts[1])] = float(parts[2])
    if not sent:
        return {"rtt_p50_ms": None, "rtt_p99_ms": None, "rtt_loss_pct": None, "rtt_probes": 0}
    last = max(sent.values())
    counted = [seq for seq, t in sent.items() if t <= last - 1.0 or seq in rtts]
    lost = sum(1 for seq in counted if seq not in rtts)
    values = list(rtts.values())
    return {"rtt_p50_ms": _percentile(values, 50), "rtt_p99_ms": _percentile(values, 99),
            "rtt_max_ms": max(values) if values else None,
            "rtt_loss_pct": 100.0 * lost / len(counted) if counted else None, "rtt_probes": len(sent)}


def combine_runs(runs: list) -> dict:
    """Several measure() results of one mode -> medians of every numeric field, the
    rest (and the intervals) from the run whose high_bps is the median; all runs kept."""
    ordered = sorted(runs, key=lambda r: r.get("high_bps") or 0.0)
    combined = dict(ordered[(len(ordered) - 1) // 2])
    for key in {k for r in runs for k in r}:
        values = [r[key] for r in runs if isinstance(r.get(key), (int, float)) and not isinstance(r.get(key), bool)]
        if values:
            combined[key] = statistics.median(values)
    combined["runs"] = runs
    combined["repeat"] = len(runs)
    return combined


_CLASS_LINE_RE = re.compile(r"^\s*class\s+(\S+)\s.*?\bdrops?=(\d+)")
_DROP_RES = [re.compile(r"drop\w*\s*[=:]\s*(\d+)", re.I),  # drops=12, dropped: 12
             re.compile(r"drop\w*\s+(\d+)", re.I),  # dropped 12
             re.compile(r"(\d+)\s+drop", re.I)]  # 12 dropped


def parse_class_drops(text: str, classes: list[str]) -> dict:
    """Per-class drops from the daemon's final counters.

    dscp-gateway prints one line per class on SIGINT:
        class scavenger dscp=8 packets=27143 bytes=39122521 drops=243715 peak_depth=1024
    (and per-namespace lines, "namespace batch-jobs class=scavenger ... drops=...",
    which are not counted again). Should that format change, fall back to: a JSON line
    with class objects, or the first drop-labelled number on a line naming the class."""
    found: dict = {}
    for line in text.splitlines():
        m = _CLASS_LINE_RE.match(line)
        if m and m.group(1) in classes:
            found[m.group(1)] = int(m.group(2))
    if found:
        return found
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("{"):
            try:
                _walk_json_drops(json.loads(stripped), classes, found)
                continue
            except ValueError:
                pass
        lower = [w.lower() for w in re.findall(r"[\w-]+", stripped)]
        named = [c for c in classes if c in lower and c not in found]
        if not named:
            continue
        for rx in _DROP_RES:
            m = rx.search(stripped)
            if m:
                found[named[0]] = int(m.group(1))
                break
    return found


def _walk_json_drops(node, classes, found) -> None:
    if isinstance(node, dict):
        name = node.get("name") or node.get("class")
        if name in classes:
            for k, v in node.items():
                if k.lower().startswith("drop") and isinstance(v, int) and name not in found:
                    found[name] = v
                    break
        for k, v in node.items():
            if k in classes and isinstance(v, dict):
                _walk_json_drops(dict(v, name=k), classes, found)
            elif isinstance(v, (dict, list)):
                _walk_json_drops(v, classes, found)
    elif isinstance(node, list):
        for v in node:
            _walk_json_drops(v, classes, found)


def _mbit(bps) -> str:
    return "" if bps is None else f"{bps / 1e6:.1f}"


def format_table(report: dict) -> str:
    shaper = report["shaper_bps"]
    rtt = any(report.get(m, {}).get("rtt_p99_ms") is not None for m in report["modes"])
    rows = [("mode", "high Mbit/s", "% shaper", "retr", "low Mbit/s")
            + (("rtt p50/p99 ms",) if rtt else ()) + ("drops (class=pkts)",)]
    for mode in report["modes"]:
        r = report.get(mode, {})
        high = r.get("high_bps")
        shaped = r.get("shaped", report["shaped"])
        pct = "" if high is None or not shaped else f"{100 * high / shaper:.0f}%"
        retr = r.get("high_retransmits")
        drops = " ".join(f"{k}={v}" for k, v in r.get("drops", {}).items())
        rtt_cell = ()
        if rtt:
            p50, p99 = r.get("rtt_p50_ms"), r.get("rtt_p99_ms")
            rtt_cell = ("" if p99 is None else f"{p50:.2f}/{p99:.2f}",)
        retr_cell = "" if retr is None else (str(int(retr)) if float(retr).is_integer() else f"{retr:.1f}")
        rows.append((mode, _mbit(high), pct, retr_cell, _mbit(r.get("low_bps"))) + rtt_cell + (drops,))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for i, row in enumerate(rows):
        cells = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:-1], widths[1:-1])] + [row[-1]]
        lines.append("  ".join(cells).rstrip())
        if i == 0:
            lines.append("-" * len(lines[0]))
    flood = "off" if report["flood_bps"] is None else f"{report['flood_bps'] / 1e6:.0f} Mbit/s UDP"
    title = (f"forwarder {report['forwarder']}, shaper {report['shaper_bps'] / 1e6:.0f} Mbit/s"
             f"{'' if report['shaped'] else ' (not enforced by testpmd)'}, flood {flood}, "
             f"{report['duration_s']} s TCP")
    notes = [f"{m}: high flow error: {report[m]['high_error']}" for m in report["modes"]
             if report.get(m, {}).get("high_error")]
    return "\n".join([title] + lines + notes)


def preflight(args) -> None:
    if os.geteuid() != 0:
        raise Failure("must run as root (creates network namespaces and runs DPDK)")
    tools = REQUIRED_TOOLS + (["dpdk-testpmd"] if args.forwarder == "testpmd" else []) + \
        (["tc", "iptables"] if KERNEL_MODE in getattr(args, "mode_list", []) else [])
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        raise Failure(f"missing tools: {', '.join(missing)} (Debian packages: iproute2 ethtool iperf3 procps util-linux dpdk)")
    if args.forwarder == "gateway" and not os.access(args.gateway_binary, os.X_OK):
        raise Failure(f"gateway binary not found or not executable: {args.gateway_binary} (build it with meson/ninja, "
                      "or pass --gateway-binary, or use --forwarder testpmd)")
    # Hugepages and their mount, as .ci/setup prepares them.
    with open("/proc/sys/vm/nr_hugepages") as f:
        if int(f.read()) < 512:
            log("raising vm.nr_hugepages to 512")
            with open("/proc/sys/vm/nr_hugepages", "w") as w:
                w.write("512\n")
    with open("/proc/mounts") as f:
        mounts = f.read()
    if not any(line.split()[1:3] == ["/dev/hugepages", "hugetlbfs"] for line in mounts.splitlines()):
        raise Failure("no hugetlbfs mounted at /dev/hugepages (mount -t hugetlbfs nodev /dev/hugepages)")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description="Congested-uplink experiment on a virtual node built from network namespaces: a "
                    "high-priority iperf3 TCP flow against a UDP flood, with namespace priorities and with FIFO.")
    ap.add_argument("--forwarder", choices=["gateway", "testpmd"], default="gateway",
                    help="gateway: dscp-gateway run --config; testpmd: plain io forwarding (baseline, no shaper)")
    ap.add_argument("--gateway-binary", default=DEFAULT_GATEWAY, help="default: %(default)s")
    ap.add_argument("--duration", type=int, default=10, help="TCP test seconds (default %(default)s)")
    ap.add_argument("--shaper-mbit", type=int, default=200, help="gateway port shaper (default %(default)s)")
    ap.add_argument("--flood-mbit", type=int, default=None, help="UDP flood rate (default 2x the shaper)")
    ap.add_argument("--no-flood", action="store_true", help="TCP alone, for a baseline")
    ap.add_argument("--modes", default="priority,fifo",
                    help="comma list of priority, fifo (through --forwarder) and kernel (no forwarder: "
                         "bridge + iptables DSCP + HTB, the seed's approach) (default %(default)s)")
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
        ap.error("--modes takes priority, fifo and/or kernel")
    if args.repeat < 1:
        ap.error("--repeat must be >= 1")
    args.mode_list = modes
    if args.duration < 1:
        ap.error("--duration must be >= 1")
    if args.json_out is None:
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        args.json_out = f"/tmp/dscp-gateway-virtual-node-{stamp}.json"

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    node = None
    try:
        preflight(args)
        node = VirtualNode(args)
        node.build()
        report = {"forwarder": args.forwarder, "shaper_bps": args.shaper_mbit * 1_000_000,
                  "shaped": args.forwarder == "gateway", "duration_s": args.duration,
                  "flood_bps": None if args.no_flood else args.flood_mbit * 1_000_000,
                  "modes": modes, "namespace_prefix": node.prefix, "repeat": args.repeat,
                  "rtt_probe_hz": args.rtt_probe_hz,
                  "started": datetime.datetime.now().isoformat(timespec="seconds"),
                  "cpus": os.cpu_count(), "loadavg_start": os.getloadavg()[0]}
        if report["loadavg_start"] > (os.cpu_count() or 1):
            log(f"warning: host is busy (load {report['loadavg_start']:.1f} on {os.cpu_count()} CPUs); the "
                "forwarder busy-polls a core, so expect lower and noisier numbers")
        for mode in modes:
            report[mode] = node.run_mode(mode)
        report["loadavg_end"] = os.getloadavg()[0]
        with open(args.json_out, "w") as f:
            json.dump(report, f, indent=2)
        print(format_table(report))
        print(f"results: {args.json_out}")
        return 0
    except Failure as e:
        if node:
            node.failed = True
        log(f"error: {e}")
        return 1
    except Interrupted as e:
        log(f"interrupted ({e}), cleaning up")
        return 130
    finally:
        if node:
            # No second Ctrl-C in the middle of the cleanup; it is bounded by timeouts.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            node.teardown()


if __name__ == "__main__":
    sys.exit(main())
