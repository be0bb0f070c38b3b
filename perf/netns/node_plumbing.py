"""The virtual node's `attach` plumbing: the gateway put in place the way a real node gets it,
with `dscp-gateway node attach --uplink up0` run inside the node namespace.

  * One bpffs for everything on the node: `node attach` pins the shared maps (devmaps,
    counters, heartbeat) in /sys/fs/bpf and the gateway's net_af_xdp loads the same objects
    and reuses those pins (docs/architecture.md, "Kernel side"). `ip netns exec` gives every
    command a fresh mount namespace, so each would see an empty bpffs of its own: a holder
    process keeps one mount namespace (the node netns's /sys plus a private bpffs) alive for
    the node's lifetime, and node commands and the gateway enter it with nsenter.
  * The gateway runs with `node: {uplink: up0}`: it derives its ports and hands the legs'
    XDP programs to net_af_xdp and back itself (gateway/attached_node.h).
"""

from __future__ import annotations

import subprocess

from .common import Failure

KERNEL_LEG, GATEWAY_LEG = "dgw-kernel", "dgw-gateway"  # xdp/node_attach.h


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

