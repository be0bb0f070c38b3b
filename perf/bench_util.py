"""Helpers the benchmark sections of perf/harness.py share: errors, medians and ratios,
processes and their output."""

from __future__ import annotations

import os
import re
import signal
import statistics
import subprocess
import sys
import time


class SectionError(Exception):
    pass


def log(msg: str) -> None:
    print(f"[perf] {msg}", file=sys.stderr, flush=True)


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def ratio(a, b):
    return a / b if a is not None and b else None


# ------------------------------------------------------------ DPDK helpers
def stop_process(p: subprocess.Popen, first=signal.SIGINT, grace: float = 15.0) -> int | None:
    for sig, wait in ((first, grace), (signal.SIGKILL, 5.0)):
        if p.poll() is not None:
            break
        try:
            p.send_signal(sig)
            p.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
        except ProcessLookupError:
            break
    return p.poll()


def wait_for_text(path: str, pattern: str, p: subprocess.Popen, timeout: float) -> re.Match:
    deadline = time.monotonic() + timeout
    rx = re.compile(pattern)
    while time.monotonic() < deadline:
        with open(path, errors="replace") as f:
            m = rx.search(f.read())
        if m:
            return m
        if p.poll() is not None:
            raise SectionError(f"{os.path.basename(path)}: process exited with {p.returncode} before "
                               f"/{pattern}/ appeared:\n{tail_file(path)}")
        time.sleep(0.05)
    raise SectionError(f"{os.path.basename(path)}: /{pattern}/ did not appear within {timeout:.0f} s")


def cpu_share(c1, c2, seconds):
    return (c2 - c1) / seconds if c1 is not None and c2 is not None and seconds > 0 else None


def tail_file(path: str, lines: int = 15) -> str:
    try:
        with open(path, errors="replace") as f:
            return "\n".join(f.read().splitlines()[-lines:])
    except OSError:
        return ""
