"""The harness every test in tests/node shares: one case per run (--case), on the virtual node
of perf/netns/ in its `attach` plumbing, bounded by --timeout (SIGALRM runs the cleanup), its
namespaces removed also on failure. Exit 0 pass, 1 fail, 77 skip (not root).

A case is a function (node, args) -> None that reports through check().
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from typing import Callable

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO_ROOT, "perf"))  # the netns package, shared with perf/
import netns  # noqa: E402
from netns import experiment  # noqa: E402
from netns.virtual_node import VirtualNode  # noqa: E402

Case = Callable[[VirtualNode, argparse.Namespace], None]

results: list[tuple[str, str, str]] = []  # (PASS|FAIL, check, detail)


def check(ok: bool, what: str, detail: str = "") -> bool:
    results.append(("PASS" if ok else "FAIL", what, detail))
    print(f"{'PASS' if ok else 'FAIL'} {what}" + (f": {detail}" if detail else ""), flush=True)
    return ok


def run(description: str, cases: dict[str, Case], prefix: str, default_timeout: int,
        add_arguments: Callable[[argparse.ArgumentParser], None] = lambda _: None,
        shaper_mbit: Callable[[str], int] = lambda _: 200) -> int:
    """Parses the command line, builds the node with namespaces named PREFIX*, runs the case."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--case", choices=sorted(cases), required=True)
    ap.add_argument("--gateway-binary", default=os.path.join(REPO_ROOT, "build", "gateway", "dscp-gateway"))
    ap.add_argument("--timeout", type=int, default=default_timeout,
                    help="seconds for the whole case, cleanup included")
    add_arguments(ap)
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("SKIP: needs root (network namespaces, AF_XDP, hugepages)")
        return 77
    options = experiment.parse_args(["--plumbing", "attach", "--gateway-binary", args.gateway_binary,
                                     "--prefix", netns.free_prefix(prefix),
                                     "--shaper-mbit", str(shaper_mbit(args.case))])
    netns.install_signal_handlers()
    signal.alarm(args.timeout)
    node = None
    try:
        experiment.preflight(options)
        node = VirtualNode(options)
        node.build()
        cases[args.case](node, args)
    except netns.Interrupted as e:
        check(False, f"{args.case} finished within {args.timeout} s", f"interrupted by {e}")
    except Exception as e:  # anything unexpected is a failure with a message, not a crash
        check(False, f"{args.case} ran", f"{type(e).__name__}: {e}")
        if node is not None:
            node.failed = True
    finally:
        signal.alarm(0)
        if node is not None:
            netns.ignore_signals()
            node.teardown()
    failed = sum(1 for r in results if r[0] == "FAIL")
    passed = sum(1 for r in results if r[0] == "PASS")
    print(f"{passed} passed, {failed} failed", flush=True)
    return 1 if failed else 0
