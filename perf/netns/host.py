"""What the host holds for us: namespace names, hugepages, DPDK runtime files, and the
processes we started."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess

from .common import Failure


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


def ensure_hugepages(minimum: int = 512, log=None) -> None:
    """At least `minimum` hugepages and hugetlbfs at /dev/hugepages, as .ci/setup prepares them."""
    with open("/proc/sys/vm/nr_hugepages") as f:
        if int(f.read()) < minimum:
            if log:
                log(f"raising vm.nr_hugepages to {minimum}")
            with open("/proc/sys/vm/nr_hugepages", "w") as w:
                w.write(f"{minimum}\n")
    with open("/proc/mounts") as f:
        mounts = f.read()
    if not any(line.split()[1:3] == ["/dev/hugepages", "hugetlbfs"] for line in mounts.splitlines()):
        raise Failure("no hugetlbfs mounted at /dev/hugepages (mount -t hugetlbfs nodev /dev/hugepages)")


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


def worker_cpu_seconds(pid: int | None) -> float | None:
    """CPU time so far of the process's DPDK forwarding lcore thread (EAL names it
    rte-worker-N / lcore-worker-N), from /proc/PID/task/TID/schedstat (nanoseconds on
    CPU); None if there is none. Lets a busy-polling forwarder's rate be normalised to
    the CPU it actually got on a shared host."""
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


def stop_process_group(p: subprocess.Popen, first=signal.SIGTERM, grace: float = 5.0) -> int | None:
    """Signals the process group of p (started with start_new_session=True), escalating to
    SIGKILL; returns its exit code."""
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
    return p.poll()
