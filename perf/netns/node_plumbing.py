"""The virtual node's `attach` plumbing: the gateway put in place the way a real node gets it,
with `dscp-gateway node attach --uplink up0` run inside the node namespace.

  * One bpffs for everything on the node: `node attach` pins the shared maps (devmaps,
    counters, heartbeat) in /sys/fs/bpf and the gateway's net_af_xdp loads the same objects
    and reuses those pins (docs/architecture.md, "Kernel side"). `ip netns exec` gives every
    command a fresh mount namespace, so each would see an empty bpffs of its own: a holder
    process keeps one mount namespace (the node netns's /sys plus a private bpffs) alive for
    the node's lifetime, and node commands and the gateway enter it with nsenter.
  * Until `run` understands `node: {uplink: IFACE}` (run_understands_node_config), the gateway
    is started the way that change will do it, by hand: the node's programs are detached
    from the uplink and dgw-gateway (DPDK 22.11's net_af_xdp attaches only where no program
    is), the ports are opened with `xdp_prog=` pointing at the same objects, and the
    heartbeat check is disabled (stale_after_ns 0) because nothing beats yet. After the
    gateway exits, `node attach` is not enough to re-arm fail-open (it says "nothing
    changed"): the PMD detached the programs on close, so the legacy hand-over re-attaches
    them by detaching and attaching the node again (see restore_after_gateway).
"""

from __future__ import annotations

import os
import re
import subprocess

from .common import Failure

KERNEL_LEG, GATEWAY_LEG = "dgw-kernel", "dgw-gateway"  # xdp/node_attach.h
KERNEL_LEG_OBJECT, UPLINK_OBJECT = "dg_kernel_leg.bpf.o", "dg_uplink.bpf.o"  # xdp/dscp_gateway_abi.h
HEARTBEAT_PIN = "/sys/fs/bpf/dg_heartbeat"  # kPinRoot + DG_XDP_MAP_HEARTBEAT
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Runs inside the node's mount namespace: sets dg_heartbeat[0].stale_after_ns (argv[1]) through
# the bpf(2) syscall (no bpftool on Debian 12 without the kernel's tools package).
SET_STALE_AFTER = r"""
import ctypes, struct, sys
libc = ctypes.CDLL(None, use_errno=True)
SYS_BPF, BPF_MAP_UPDATE_ELEM, BPF_MAP_LOOKUP_ELEM, BPF_OBJ_GET = 321, 2, 1, 7
def bpf(cmd, attr):
    buf = ctypes.create_string_buffer(attr, 128)
    r = libc.syscall(SYS_BPF, cmd, buf, 128)
    if r < 0:
        raise OSError(ctypes.get_errno(), f"bpf({cmd})")
    return r
path = ctypes.create_string_buffer(sys.argv[1].encode())
fd = bpf(BPF_OBJ_GET, struct.pack("=QII", ctypes.addressof(path), 0, 0))
key = ctypes.c_uint32(0)
value = ctypes.create_string_buffer(16)
bpf(BPF_MAP_LOOKUP_ELEM, struct.pack("=IIQQQ", fd, 0, ctypes.addressof(key), ctypes.addressof(value), 0))
last_beat, _ = struct.unpack("=QQ", value.raw)
value = ctypes.create_string_buffer(struct.pack("=QQ", last_beat, int(sys.argv[2])), 16)
bpf(BPF_MAP_UPDATE_ELEM, struct.pack("=IIQQQ", fd, 0, ctypes.addressof(key), ctypes.addressof(value), 0))
"""


def run_understands_node_config(repo_root: str = REPO_ROOT) -> bool:
    """Whether this tree's gateway config parser takes `node: {uplink: IFACE}` (the lead's
    "gateway: run on an attached node" change); until then the hand-over is done here."""
    try:
        with open(os.path.join(repo_root, "control", "gateway_config.cc")) as f:
            return re.search(r'"node"', f.read()) is not None
    except OSError:
        return False


class BpfMountHolder:
    """A sleeping process in the node netns whose mount namespace has a private bpffs."""

    def __init__(self, netns: str):
        script = "mount -t bpf bpf /sys/fs/bpf && echo ready && exec sleep infinity"
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", netns, "unshare", "--mount", "--propagation", "private", "sh", "-c", script],
            stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True, start_new_session=True)
        assert self.proc.stdout is not None
        if self.proc.stdout.readline().strip() != "ready":
            self.close()
            raise Failure(f"could not mount a private bpffs in {netns}")

    def enter(self, cmd: list[str]) -> list[str]:
        """cmd run in the holder's mount namespace (to be run inside the node netns)."""
        return ["nsenter", f"--mount=/proc/{self.proc.pid}/ns/mnt", "--"] + cmd

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def bpf_object(gateway_binary: str, name: str) -> str:
    """Where xdp::ObjectPath finds it in a build tree: ../xdp from the executable."""
    return os.path.join(os.path.dirname(os.path.dirname(gateway_binary)), "xdp", name)


def legacy_eal_ports(gateway_binary: str, uplink: str) -> list[str]:
    """The --vdev arguments `run` will derive from `node: {uplink}`: the kernel port on
    dgw-gateway and the uplink port on IFACE, each loading the node's own object."""
    return ["--vdev", f"net_af_xdp0,iface={GATEWAY_LEG},xdp_prog={bpf_object(gateway_binary, KERNEL_LEG_OBJECT)}",
            "--vdev", f"net_af_xdp1,iface={uplink},xdp_prog={bpf_object(gateway_binary, UPLINK_OBJECT)}"]
