"""Namespaces named <prefix><role>, veths between them, processes spawned in them, and
their removal. Every step is here for a reason found bringing the virtual node up (see
virtual_node.py's docstring):
  * every namespace gets lo up, IPv6 disabled (no ND/MLD chatter through the gateway)
    and rp_filter 0 (a new netns may inherit a strict default from the host);
  * every veth gets MTU 1500 and tso/gso/gro/tx-checksumming off (AF_XDP on veth runs
    in copy mode and hands CHECKSUM_PARTIAL frames on unfinished);
  * neighbours across the gateway are pinned with permanent ARP entries;
  * stale XDP programs are detached before a forwarder binds, and it is started through
    a shell that mounts a private bpffs (ip netns exec remounts /sys) for libxdp;
  * every process runs in its own session, so stopping it reaches all it started, and a
    Ctrl-C on the terminal does not hit it before the caller decides to stop it;
  * teardown kills whatever still runs in our namespaces, deletes them and removes the
    DPDK runtime directory and hugepage files of every --file-prefix used.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
from typing import Any, Callable

from .calls import in_netns
from .common import Failure, log
from .host import remove_dpdk_leftovers, stop_process_group
from .icmp import ICMP_PING

# tx-checksumming is off too: the XDP copy path passes CHECKSUM_PARTIAL skbs on with
# only the pseudo-header sum, and the remote stack drops those segments.
OFFLOADS_OFF = ["tso", "off", "gso", "off", "gro", "off", "tx", "off"]
MTU = 1500


class NetnsHarness:
    def __init__(self, prefix: str, workdir_prefix: str = "dscp-gw-netns-", tag: str = "netns"):
        self.prefix = prefix
        self.tag = tag
        self.created: list[str] = []
        self.procs: list[subprocess.Popen] = []
        self.dpdk_prefixes: list[str] = []
        self.workdir = tempfile.mkdtemp(prefix=f"{workdir_prefix}{prefix}")
        self.keep_logs = False

    def log(self, msg: str) -> None:
        log(msg, self.tag)

    def ns(self, role: str) -> str:
        return f"{self.prefix}{role}"

    def path(self, name: str) -> str:
        return os.path.join(self.workdir, name)

    # ---------------------------------------------------------------- commands
    def sh(self, cmd: list[str], role: str | None = None, check: bool = True,
           timeout: float = 30) -> subprocess.CompletedProcess:
        full = (["ip", "netns", "exec", self.ns(role)] if role else []) + cmd
        try:
            r = subprocess.run(full, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise Failure(f"command timed out after {timeout:.0f} s: {shlex.join(full)}") from None
        if check and r.returncode != 0:
            raise Failure(f"command failed ({r.returncode}): {shlex.join(full)}\n{r.stderr.strip()}")
        return r

    def spawn(self, cmd: list[str], role: str, name: str, stdin=subprocess.DEVNULL,
              stop_signal=signal.SIGTERM, stop_grace: float = 2.0) -> subprocess.Popen:
        """Starts cmd in namespace `role`, stdout/stderr to <workdir>/<name>.out/.err.
        teardown() stops what is still running with stop_signal, then escalates."""
        out = open(self.path(f"{name}.out"), "w")
        err = open(self.path(f"{name}.err"), "w")
        full = ["ip", "netns", "exec", self.ns(role)] + cmd
        try:
            p = subprocess.Popen(full, stdin=stdin, stdout=out, stderr=err, start_new_session=True)
        finally:
            out.close()
            err.close()
        p.dg_name = name  # type: ignore[attr-defined]
        p.dg_stop = (stop_signal, stop_grace)  # type: ignore[attr-defined]
        self.procs.append(p)
        return p

    def read_log(self, name: str, stream: str = "out") -> str:
        try:
            with open(self.path(f"{name}.{stream}"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self, p: subprocess.Popen, first=signal.SIGTERM, grace: float = 5.0) -> int | None:
        """Signals p's process group, escalating to SIGKILL; returns its exit code."""
        rc = stop_process_group(p, first, grace)
        if p in self.procs:
            self.procs.remove(p)
        return rc

    def call(self, role: str, fn: Callable[..., Any], *args, timeout: float = 15.0, **kwargs) -> Any:
        return in_netns(self.ns(role), fn, *args, timeout=timeout, **kwargs)

    # ---------------------------------------------------------------- topology
    def add_namespace(self, role: str) -> None:
        name = self.ns(role)
        self.sh(["ip", "netns", "add", name])
        self.created.append(name)
        self.sh(["ip", "link", "set", "lo", "up"], role=role)
        self.sh(["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1",
                 "net.ipv6.conf.default.disable_ipv6=1"], role=role)
        for conf in ("all", "default"):
            self.sh(["sysctl", "-qw", f"net.ipv4.conf.{conf}.rp_filter=0"], role=role)

    def add_veth(self, role_a: str, dev_a: str, role_b: str, dev_b: str) -> None:
        """A veth pair created directly inside its namespaces (names never meet in the root
        namespace, so they need no prefix); both ends get MTU 1500, offloads off, and are
        brought up."""
        self.sh(["ip", "-n", self.ns(role_a), "link", "add", dev_a, "type", "veth",
                 "peer", "name", dev_b, "netns", self.ns(role_b)])
        for role, dev in ((role_a, dev_a), (role_b, dev_b)):
            self.sh(["ip", "link", "set", dev, "mtu", str(MTU)], role=role)
            self.sh(["ethtool", "-K", dev] + OFFLOADS_OFF, role=role)
            self.sh(["ip", "link", "set", dev, "up"], role=role)

    def add_address(self, role: str, dev: str, cidr: str) -> None:
        self.sh(["ip", "addr", "add", cidr, "dev", dev], role=role)

    def mac(self, role: str, dev: str) -> str:
        return json.loads(self.sh(["ip", "-j", "link", "show", dev], role=role).stdout)[0]["address"]

    def pin_neighbours(self, a: tuple[str, str, str], b: tuple[str, str, str]) -> None:
        """Permanent ARP entries both ways; a and b are (role, dev, ip)."""
        mac_a, mac_b = self.mac(a[0], a[1]), self.mac(b[0], b[1])
        self.sh(["ip", "neigh", "replace", b[2], "lladdr", mac_b, "dev", a[1], "nud", "permanent"], role=a[0])
        self.sh(["ip", "neigh", "replace", a[2], "lladdr", mac_a, "dev", b[1], "nud", "permanent"], role=b[0])

    def detach_xdp(self, role: str, devs: list[str]) -> None:
        for dev in devs:  # leftovers of a forwarder that died hard
            self.sh(["ip", "link", "set", "dev", dev, "xdp", "off"], role=role, check=False)

    @staticmethod
    def with_bpffs(cmd: list[str]) -> list[str]:
        """cmd run through a shell that mounts a private bpffs first (for libxdp)."""
        script = "mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf; exec \"$@\""
        return ["sh", "-c", script, "sh"] + cmd

    def dpdk_file_prefix(self, name: str) -> str:
        fp = f"{self.prefix}{name}-{os.getpid()}"
        if fp not in self.dpdk_prefixes:
            self.dpdk_prefixes.append(fp)
        return fp

    def ping(self, role: str, dst: str) -> bool:
        return self.sh([sys.executable, "-c", ICMP_PING, dst], role=role, check=False).returncode == 0

    # ----------------------------------------------------------------- cleanup
    def teardown(self, keep: bool = False) -> None:
        for p in list(self.procs):
            first, grace = getattr(p, "dg_stop", (signal.SIGTERM, 2.0))
            self.stop(p, first=first, grace=grace)
        for fp in self.dpdk_prefixes:
            remove_dpdk_leftovers(fp)
        if keep:
            self.log(f"--keep: namespaces left in place: {' '.join(self.created)}")
            self.log(f"          remove with: for n in {' '.join(self.created)}; do ip netns del $n; done")
            self.log(f"          files and logs: {self.workdir}")
            return
        for name in reversed(self.created):
            # Anything still running inside (it can only be ours) keeps the netns alive.
            r = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True)
            for pid in r.stdout.split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
            subprocess.run(["ip", "netns", "del", name], capture_output=True)
        self.created.clear()
        if self.keep_logs:
            self.log(f"logs kept in {self.workdir}")
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)
