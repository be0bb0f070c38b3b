#!/usr/bin/env python3
"""Per-pod egress limit on the virtual node: the gateway's pod shaper against the kernel's
TBF-on-ifb (the bandwidth CNI plugin's way). See perf/netns/pod_limit.py."""

from __future__ import annotations

import json
import sys

from netns import Failure, Interrupted, install_signal_handlers, log
from netns.pod_limit import parse_args, run


def main(argv=None) -> int:
    args = parse_args(argv)
    install_signal_handlers()
    try:
        report = run(args)
    except Failure as e:
        log(f"error: {e}", "pod-limit")
        return 1
    except Interrupted:
        log("interrupted", "pod-limit")
        return 130
    with open(args.json_out, "w") as f:
        json.dump(report, f, indent=2)
    print(f"{'mode':8} {'limit Mbit/s':>12} {'TCP Mbit/s':>10} {'error %':>8} {'RTT p50 ms':>10} "
          f"{'RTT p99 ms':>10} {'other Mbit/s':>12} {'host CPU/s':>10}")
    for mode in args.limit_modes:
        r = report[mode]
        p50, p99 = r.get("rtt_p50_ms"), r.get("rtt_p99_ms")
        other = r.get("low_delivered_bps") or r.get("low_bps") or 0.0
        print(f"{mode:8} {r['limit_bps'] / 1e6:12.1f} {r.get('high_bps', 0) / 1e6:10.2f} {r['rate_error_pct']:8.1f} "
              f"{(p50 or 0):10.2f} {(p99 or 0):10.2f} {other / 1e6:12.1f} {r['host_cpu_per_s']:10.2f}")
    print(f"json: {args.json_out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
