"""Errors, signals and log lines shared by everything that builds namespaces."""

from __future__ import annotations

import os
import signal
import sys

# SIGALRM too: a caller that bounds a run with signal.alarm() gets the same cleanup.
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGALRM)


class Failure(Exception):
    """A problem worth a one-line message rather than a traceback."""


class Interrupted(Exception):
    """A stop signal arrived; raised so that every finally: block runs."""


def _on_signal(signum, _frame):
    raise Interrupted(signal.Signals(signum).name)


def install_signal_handlers() -> None:
    for sig in _STOP_SIGNALS:
        signal.signal(sig, _on_signal)


def ignore_signals() -> None:
    """For the cleanup: no second Ctrl-C in the middle of it (it is bounded by timeouts)."""
    for sig in _STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)


def log(msg: str, tag: str = "netns") -> None:
    print(f"[{tag}] {msg}", file=sys.stderr, flush=True)


def tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def write_atomically(path: str, text: str) -> None:
    """Readers (the gateway's 1 s file watcher) see the old or the new file, never half."""
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
