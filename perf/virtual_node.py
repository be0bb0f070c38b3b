#!/usr/bin/env python3
"""Virtual node: reproduce "priority saves the training flow on a congested uplink".

Builds a self-contained node out of network namespaces, puts a forwarder between the
node's uplink and the "remote" side as a bump in the wire over AF_XDP, floods the
uplink from a low-priority pod and measures a high-priority iperf3 TCP flow, once
with the namespace priority policy ("priority") and once with a single class
("fifo"); mode "kernel" is the seed's approach (iptables DSCP + HTB, no forwarder).
Needs root; touches nothing outside the namespaces it creates (apart from making sure
hugepages exist) and removes them again, also on errors and Ctrl-C.

The topology, and why each step of it is there: perf/netns/virtual_node.py; the
measurement: perf/netns/experiment.py; mode kernel: perf/netns/kernel_path.py.

Optional measurements (off unless asked for, so the default run is unchanged):
  --rtt-probe-hz N  ICMP echo from pod-hi to remote at N Hz while the TCP flow runs
                    (a raw socket, no ping binary); rtt_p50_ms, rtt_p99_ms, rtt_loss_pct.
  --repeat N        measure N times per mode with the same forwarder; the mode's numbers
                    are the medians, every run is kept under "runs".
Every run also records per-second receiver-side throughput of both flows ("intervals":
{"high": [[start_s, end_s, bps], ...], "low": [...]}, seconds from the flood's start).
"""

from __future__ import annotations

import json
import sys

from netns import Failure, Interrupted, install_signal_handlers, log
from netns.experiment import parse_args, run
from netns.results import format_table


def main(argv=None) -> int:
    args = parse_args(argv)
    install_signal_handlers()
    try:
        report = run(args)
    except Failure as e:
        log(f"error: {e}", "virtual-node")
        return 1
    except Interrupted as e:
        log(f"interrupted ({e}), cleaning up", "virtual-node")
        return 130
    with open(args.json_out, "w") as f:
        json.dump(report, f, indent=2)
    print(format_table(report))
    print(f"results: {args.json_out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
