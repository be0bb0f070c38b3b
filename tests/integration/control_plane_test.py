#!/usr/bin/env python3
"""Control-plane integration test: REST, /metrics, Prometheus and hot reload of a live
dscp-gateway forwarding between two network namespaces.

    src: eth0 10.203.0.1/24 (the "pod") -- gwk [gw: dscp-gateway, AF_XDP] gwu -- dst: eth0 10.203.0.2/24

The gateway is an L2 bump in the wire (static ARP both sides, unshaped) with its REST
server on the gw namespace's loopback. Checks, each reported PASS/FAIL by name:
  endpoints         /healthz (heartbeat advances), /readyz, /v1/pods, /v1/policy,
                    /v1/stats, 404 for an unknown path, 405 for POST
  promtool          `promtool check metrics` accepts the live /metrics text
  prometheus        a real Prometheus in the gw namespace scrapes it (up == 1 and the
                    class packet series with class labels)
  reload_no_loss    iperf3 UDP src->dst while the priorities file moves the pod's
                    namespace from critical (DSCP 46) to bulk (DSCP 10): no datagram lost,
                    the captured DSCP goes 46... then 10... with exactly one switch, and
                    /v1/policy counts one reload with a new content hash
  invalid_reload    a priorities file with dscp: 99 is rejected (last_reload_error names
                    the file, the key and 0-63; the error counter moves by one; traffic is
                    still marked with the old DSCP; exactly one "rejected" line on stderr)
  sigint_shutdown   SIGINT stops the daemon cleanly and it prints its final counters
The last line is "N passed, M failed"; the exit status is 1 on any failure and 77
(meson's "skipped") when not run as root.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import time
import traceback

from control_plane_harness import (
    CLASSES,
    CheckFailed,
    DEFAULT_GATEWAY,
    PROMETHEUS,
    PROMTOOL,
    expect,
)
from control_plane_harness import ControlPlaneHarness, nh
from control_plane_observability_checks import ObservabilityChecks
from control_plane_reload_checks import ReloadChecks


class ControlPlaneTest(ControlPlaneHarness, ObservabilityChecks, ReloadChecks):
    def check_sigint_shutdown(self) -> None:
        self.alive()
        self.stop_gateway()
        out = self.final_stdout
        expect(self.gateway_rc == 0, f"gateway exit status {self.gateway_rc} after SIGINT\n"
               f"{nh.tail(self.h.read_log('gateway', 'err'), 10)}")
        lines = {m.group(1): (int(m.group(2)), int(m.group(3)), int(m.group(4))) for m in re.finditer(
            r"^class (\S+) dscp=(\d+) packets=(\d+) .*?drops=(\d+)", out, re.M)}
        print("  final: " + "; ".join(f"{k} dscp={v[0]} packets={v[1]} drops={v[2]}" for k, v in lines.items()))
        expect(set(lines) == {c for c, _ in CLASSES}, f"final counters list classes {sorted(lines)}:\n{nh.tail(out, 30)}")
        expect(lines["critical"][1] > 0 and lines["bulk"][1] > 0,
               f"final counters: critical/bulk packets {lines['critical'][1]}/{lines['bulk'][1]}")
        expect(all(v[2] == 0 for v in lines.values()), f"drops in the final counters: {lines}")


CHECKS = [
    ("endpoints", ControlPlaneTest.check_endpoints),
    ("promtool", ControlPlaneTest.check_promtool),
    ("prometheus", ControlPlaneTest.check_prometheus),
    ("reload_no_loss", ControlPlaneTest.check_reload_no_loss),
    ("invalid_reload", ControlPlaneTest.check_invalid_reload),
    ("sigint_shutdown", ControlPlaneTest.check_sigint_shutdown),
]


def preflight(args) -> None:
    missing = [t for t in ("ip", "ethtool", "iperf3", "tshark", "ss", "sysctl", "mount", "mountpoint")
               if shutil.which(t) is None]
    missing += [t for t in (PROMETHEUS, PROMTOOL) if not os.access(t, os.X_OK)]
    if missing:
        raise nh.Failure(f"missing tools: {', '.join(missing)}")
    if not os.access(args.gateway_binary, os.X_OK):
        raise nh.Failure(f"gateway binary not found or not executable: {args.gateway_binary}")
    nh.ensure_hugepages()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--gateway-binary", default=DEFAULT_GATEWAY, help="default: %(default)s")
    ap.add_argument("--prefix", default=None, help="namespace prefix (default cp<pid%%10000>-)")
    ap.add_argument("--keep", action="store_true", help="leave namespaces and logs for debugging")
    args = ap.parse_args(argv)
    args.gateway_binary = os.path.abspath(args.gateway_binary)
    if os.geteuid() != 0:
        print("SKIP: needs root (network namespaces, DPDK)")
        return 77

    nh.install_signal_handlers()
    results: list[tuple[str, bool]] = []
    t_start = time.monotonic()
    test = None
    try:
        try:
            preflight(args)
            test = ControlPlaneTest(args)
            test.build()
            test.start_gateway()
        except nh.Failure as e:
            print(f"setup failed: {e}", flush=True)
            for name, _ in CHECKS:
                print(f"FAIL {name}: not run (setup failed)", flush=True)
                results.append((name, False))
            if test:
                test.h.keep_logs = True
        else:
            for name, fn in CHECKS:
                t = time.monotonic()
                print(f"--- {name}", flush=True)
                try:
                    fn(test)
                    ok, why = True, ""
                except (CheckFailed, nh.Failure) as e:
                    ok, why = False, str(e)
                except nh.Interrupted:
                    raise
                except Exception:  # a bug in the test or an unexpected answer: report, go on
                    ok, why = False, traceback.format_exc()
                dt = time.monotonic() - t
                print(f"{'PASS' if ok else 'FAIL'} {name} ({dt:.1f} s){'' if ok else ': ' + why}", flush=True)
                results.append((name, ok))
                if not ok:
                    test.h.keep_logs = True
    except nh.Interrupted as e:
        print(f"interrupted ({e}), cleaning up", flush=True)
        done = {n for n, _ in results}
        results += [(n, False) for n, _ in CHECKS if n not in done]
    finally:
        nh.ignore_signals()
        if test:
            if test.h.keep_logs and test.gateway is not None:
                print(f"gateway stderr tail:\n{nh.tail(test.h.read_log('gateway', 'err'), 15)}")
            test.teardown()
    passed = sum(1 for _, ok in results if ok)
    failed = len(results) - passed
    print(f"total {time.monotonic() - t_start:.1f} s")
    print(f"{passed} passed, {failed} failed", flush=True)
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
