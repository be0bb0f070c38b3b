"""Small helpers for integration tests that build network namespaces around dscp-gateway.

Distilled from perf/virtual_node.py (see its docstring for why each step is there):
  * every namespace gets lo up and IPv6 disabled (no ND/MLD chatter through the gateway);
  * every veth of the path gets MTU 1500 and tso/gso/gro/tx-checksumming off (AF_XDP on
    veth runs in copy mode and hands CHECKSUM_PARTIAL frames on unfinished);
  * neighbours across the gateway are pinned with permanent ARP entries;
  * stale XDP programs are detached before the gateway binds, and it is started through
    a shell that mounts a private bpffs (ip netns exec remounts /sys) for libxdp;
  * every process runs in its own session, so stopping it reaches all it started, and a
    Ctrl-C on the terminal does not hit it before the test decides to stop it;
  * teardown kills whatever still runs in our namespaces, deletes them and removes the
    DPDK runtime directory and hugepage files of every --file-prefix used.

Nothing here sends traffic; it only builds and removes namespaces it created itself.
"""

from __future__ import annotations

import ctypes
import http.client
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, Callable

OFFLOADS_OFF = ["tso", "off", "gso", "off", "gro", "off", "tx", "off"]
MTU = 1500
CLONE_NEWNET = 0x40000000

# One ICMP echo with a 1 s timeout, run inside a namespace (needs nothing but root).
# Exit 0 on a reply.
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


class Failure(Exception):
    """A problem worth a one-line message rather than a traceback."""


class Interrupted(Exception):
    """SIGINT/SIGTERM/SIGHUP arrived; raised so that every finally: block runs."""


def _on_signal(signum, _frame):
    raise Interrupted(signal.Signals(signum).name)


def install_signal_handlers() -> None:
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _on_signal)


def ignore_signals() -> None:
    """For the cleanup: no second Ctrl-C in the middle of it (it is bounded by timeouts)."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)


def log(msg: str, tag: str = "netns") -> None:
    print(f"[{tag}] {msg}", file=sys.stderr, flush=True)


def tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def netns_list() -> list[str]:
    r = subprocess.run(["ip", "-j", "netns", "list"], capture_output=True, text=True)
    try:
        return [e["name"] for e in json.loads(r.stdout or "[]")]
    except (ValueError, KeyError, TypeError):
        return [line.split()[0] for line in r.stdout.splitlines() if line.strip()]


def free_prefix(base: str) -> str:
    """base<pid%10000>- (or the next number up) that no existing namespace starts with."""
    existing = netns_list()
    n = os.getpid() % 10000
    for i in range(10000):
        prefix = f"{base}{(n + i) % 10000}-"
        if not any(name.startswith(prefix) for name in existing):
            return prefix
    raise Failure(f"no free namespace prefix {base}NNNN- left; delete stale namespaces (ip netns list)")


def ensure_hugepages(minimum: int = 512) -> None:
    with open("/proc/sys/vm/nr_hugepages") as f:
        if int(f.read()) < minimum:
            with open("/proc/sys/vm/nr_hugepages", "w") as w:
                w.write(f"{minimum}\n")
    with open("/proc/mounts") as f:
        mounts = f.read()
    if not any(line.split()[1:3] == ["/dev/hugepages", "hugetlbfs"] for line in mounts.splitlines()):
        raise Failure("no hugetlbfs mounted at /dev/hugepages (mount -t hugetlbfs nodev /dev/hugepages)")


def write_atomically(path: str, text: str) -> None:
    """Readers (the gateway's 1 s file watcher) see the old or the new file, never half."""
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


# ------------------------------------------------------------ in-namespace calls
_libc = ctypes.CDLL(None, use_errno=True)


def _enter_netns(name: str) -> None:
    fd = os.open(f"/run/netns/{name}", os.O_RDONLY | os.O_CLOEXEC)
    try:
        if hasattr(os, "setns"):  # Python >= 3.12
            os.setns(fd, CLONE_NEWNET)
        elif _libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns({name}): {os.strerror(err)}")
    finally:
        os.close(fd)


def in_netns(name: str, fn: Callable[..., Any], *args, timeout: float = 15.0, **kwargs) -> Any:
    """Runs fn in a fresh thread that has joined network namespace `name` (setns affects
    only the calling thread, so the rest of the process stays where it is). Sockets fn
    creates live in that namespace. Exceptions propagate; a hang raises Failure."""
    box: dict = {}

    def run():
        try:
            _enter_netns(name)
            box["value"] = fn(*args, **kwargs)
        except BaseException as e:  # noqa: BLE001 - handed to the caller
            box["error"] = e

    t = threading.Thread(target=run, name=f"netns-{name}", daemon=True)
    t.start()
    t.join(timeout)
    if t.is_alive():
        raise Failure(f"call in namespace {name} did not return within {timeout:.0f} s")
    if "error" in box:
        raise box["error"]
    return box.get("value")


class HttpReply:
    def __init__(self, status: int, headers: dict, body: bytes):
        self.status, self.headers, self.body = status, headers, body

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError as e:
            raise Failure(f"not JSON ({e}): {self.text[:300]!r}") from None


def http_request(host: str, port: int, path: str, method: str = "GET", timeout: float = 5.0) -> HttpReply:
    """One request on a fresh connection; call it through in_netns for a namespace's loopback."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request(method, path)
        r = conn.getresponse()
        body = r.read()
        return HttpReply(r.status, {k.lower(): v for k, v in r.getheaders()}, body)
    finally:
        conn.close()


def free_tcp_port(host: str = "127.0.0.1") -> int:
    """A port the kernel considers free right now (call it through in_netns)."""
    import socket
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


# ------------------------------------------------------------------- harness
class NetnsHarness:
    """Namespaces named <prefix><role>, processes spawned in them, and their removal."""

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

    def spawn(self, cmd: list[str], role: str, name: str, stdin=subprocess.DEVNULL) -> subprocess.Popen:
        """Starts cmd in namespace `role`, stdout/stderr to <workdir>/<name>.out/.err."""
        out = open(self.path(f"{name}.out"), "w")
        err = open(self.path(f"{name}.err"), "w")
        full = ["ip", "netns", "exec", self.ns(role)] + cmd
        try:
            p = subprocess.Popen(full, stdin=stdin, stdout=out, stderr=err, start_new_session=True)
        finally:
            out.close()
            err.close()
        p.dg_name = name  # type: ignore[attr-defined]
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
        try:  # the leader may be gone while group members linger
            os.killpg(p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if p in self.procs:
            self.procs.remove(p)
        return p.poll()

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
        namespace); both ends get MTU 1500, offloads off, and are brought up."""
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
        for dev in devs:  # leftovers of a gateway that died hard
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
    @staticmethod
    def remove_dpdk_leftovers(file_prefix: str) -> None:
        # DPDK keeps /var/run/dpdk/<file-prefix>/ after exit, and a process that was
        # SIGKILLed also leaves its hugepage files (and so the hugepages) behind.
        shutil.rmtree(os.path.join("/var/run/dpdk", file_prefix), ignore_errors=True)
        try:
            for f in os.listdir("/dev/hugepages"):
                if f.startswith(f"{file_prefix}map_"):
                    os.unlink(os.path.join("/dev/hugepages", f))
        except OSError:
            pass

    def teardown(self, keep: bool = False) -> None:
        for p in list(self.procs):
            self.stop(p, grace=2.0)
        for fp in self.dpdk_prefixes:
            self.remove_dpdk_leftovers(fp)
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
