#!/usr/bin/env python3
"""Soak: the gateway on the virtual node (perf/netns, attach plumbing) for N minutes,
forwarding an iperf3 TCP flow (pod-hi, critical) and a UDP flow (pod-lo, scavenger) at
the shaped rate, while
  * the priorities file is rewritten every second, valid and invalid in turn;
  * pods churn through the fake Kubernetes API server (tests/k8s/fake_apiserver.py, run
    in the node namespace, the gateway pointed at it by kubeconfig) at 100 events/s, with
    dropped watches and 410 Gone;
  * REST is scraped 20 times a second.
Reports start -> end (perf/soak_checks.py): RSS and open fds flat after warm-up (growth
<= 2 %), frames conserved per port and class, reload errors = invalid writes, no
unexpected log line, no failed scrape. Exit 0 only if every check holds.
Needs root; removes its namespaces (prefix sk<N>-) again, also on errors and Ctrl-C.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import signal
import subprocess
import sys
import time

from netns import Failure, Interrupted, free_prefix, install_signal_handlers, log
from netns.common import ignore_signals, write_atomically
from netns.experiment import preflight
from netns.iperf import tcp_result
from netns.policies import FOUR_CLASSES
from netns.virtual_node import (POD_HI_IP, POD_LO_IP, REMOTE_IP, REST_PORT, TCP_PORT, UDP_PORT, UPLINK,
                                VirtualNode)
from soak_checks import evaluate, format_report
from soak_load import CHURN_NODE, Http, PodChurner, PolicyRewriter, ProcessSampler, RestScraper

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FAKE_APISERVER = os.path.join(REPO_ROOT, "tests", "k8s", "fake_apiserver.py")
MODE = "soak"
# Two valid versions (the publisher really swaps snapshots: the high class's DSCP and an
# extra namespace change) and one invalid (DSCP out of range); the pods' classes stay.
VALID_POLICIES = [
    FOUR_CLASSES + "namespaces: {ray-training: critical, batch-jobs: scavenger}\n",
    FOUR_CLASSES.replace("dscp: 34", "dscp: 36") +
    "namespaces: {ray-training: critical, batch-jobs: scavenger, churn-0: high}\n",
]
INVALID_POLICY = FOUR_CLASSES.replace("dscp: 46", "dscp: 99") + "namespaces: {ray-training: critical}\n"
SCRAPED_PATHS = ["/metrics", "/v1/stats", "/v1/pods", "/v1/policy", "/healthz"]


class SoakNode(VirtualNode):
    """The virtual node with the gateway's pods coming from the fake API server."""

    def __init__(self, args):
        super().__init__(args)
        self.kubeconfig = self.path("kubeconfig")  # written by the fake API server

    def write_gateway_config(self, mode: str) -> str:
        cfg = self.path(f"gateway-{mode}.yaml")
        config = {
            "eal": self.eal_args(mode),
            "node": {"uplink": UPLINK, "stateFile": self.path("node-state.json")},
            "shaper": {"rate": f"{self.args.shaper_mbit}Mbit"},
            "queues": {"depth": 1024},
            "policy": {"priorities": self.policy_path()},
            "rest": {"listen": f"127.0.0.1:{REST_PORT}"},
            "kubernetes": {"enabled": True, "kubeconfig": self.kubeconfig, "nodeName": CHURN_NODE,
                           "watchTimeoutSeconds": 60, "idleTimeoutSeconds": 10,
                           # The priorities file, not a ConfigMap, owns the policy: it is what is rewritten.
                           "configMap": {"namespace": "dscp-gateway", "name": ""}},
        }
        with open(cfg, "w") as f:
            json.dump(config, f, indent=2)  # JSON is YAML
        return cfg

    def policy_path(self) -> str:
        return self.path("priorities.yaml")


def start_apiserver(node: SoakNode) -> dict:
    ready = node.path("apiserver-ready.json")
    node.spawn([sys.executable, FAKE_APISERVER, "--port", "0", "--control-port", "0",
                "--token-file", node.path("token"), "--ready-file", ready,
                "--kubeconfig-out", node.kubeconfig, "--bookmark-interval", "5",
                "--cert-dir", node.path("certs")], "node", "apiserver")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with open(ready) as f:
                return json.load(f)
        except (OSError, ValueError):
            time.sleep(0.2)
    raise Failure(f"fake API server did not start:\n{node.read_log('apiserver', 'err')[-2000:]}")


def control_port(info: dict) -> int:
    return int(info["control_url"].rstrip("/").rsplit(":", 1)[1])


def seed_pods(node: SoakNode, port: int) -> None:
    """The two traffic pods, on this node, in the namespaces the policy names."""
    def seed():
        control = Http("127.0.0.1", port)
        for name, namespace, ip in (("trainer-0", "ray-training", POD_HI_IP), ("etl-0", "batch-jobs", POD_LO_IP)):
            control.json("POST", "/namespaces", {"name": namespace})
            control.json("POST", "/pods", {"name": name, "namespace": namespace, "node": CHURN_NODE, "ip": ip,
                                           "phase": "Running"})
    node.call("node", seed)


def start_traffic(node: SoakNode, seconds: int) -> list[subprocess.Popen]:
    """iperf3 TCP from pod-hi and UDP at the shaper rate from pod-lo, for `seconds`."""
    procs = [node.spawn(["iperf3", "-s", "-p", str(port)], "remote", name=f"server-{port}")
             for port in (TCP_PORT, UDP_PORT)]
    time.sleep(0.5)
    procs.append(node.spawn(["iperf3", "-c", REMOTE_IP, "-p", str(TCP_PORT), "-t", str(seconds), "--json"],
                            "pod-hi", name="tcp"))
    procs.append(node.spawn(["iperf3", "-c", REMOTE_IP, "-p", str(UDP_PORT), "-u", "-b",
                             f"{node.args.shaper_mbit}M", "-l", "1400", "-w", "2M", "-t", str(seconds), "--json"],
                            "pod-lo", name="udp"))
    return procs


def settled_stats(node: SoakNode, live_pods: int, timeout_s: float = 20.0) -> dict:
    """/v1/stats once the queues have drained and the pod table has caught up with the
    API server (a watch may be relisting after a 410 when the churn stops)."""
    deadline = time.monotonic() + timeout_s
    while True:
        time.sleep(1.0)
        stats = node.stats()
        settled = (stats["pod_table"]["entries"] == live_pods and
                   not any(c["queue_depth"] for c in stats["classes"]))
        if settled or time.monotonic() > deadline:
            return stats


def soak(args) -> dict:
    node = None
    threads = []
    try:
        preflight(args)
        args.prefix = args.prefix or free_prefix("sk")
        node = SoakNode(args)
        node.build()
        info = start_apiserver(node)
        seed_pods(node, control_port(info))
        write_atomically(node.policy_path(), VALID_POLICIES[0])
        gateway = node.start_forwarder(MODE, name="gateway")
        duration = int(args.minutes * 60)
        traffic = start_traffic(node, duration)
        netns = node.ns("node")
        churner = PodChurner(netns, control_port(info), args.pod_events_per_s)
        node.call("node", churner.setup)
        sampler = ProcessSampler(netns, node.forwarder_pid, args.sample_every)
        threads = [sampler, churner,
                   PolicyRewriter(netns, node.policy_path(), REST_PORT, VALID_POLICIES, INVALID_POLICY),
                   RestScraper(netns, REST_PORT, SCRAPED_PATHS, args.scrapes_per_s)]
        start_stats = node.stats()
        for t in threads:
            t.start()
        started = time.monotonic()
        node.log(f"soak: {args.minutes} min, shaper {args.shaper_mbit} Mbit/s, {args.pod_events_per_s} pod "
                 f"events/s, {args.scrapes_per_s} scrapes/s, policy rewritten every second")
        while time.monotonic() - started < duration:
            time.sleep(1.0)
            if gateway.poll() is not None:
                raise Failure(f"gateway exited with {gateway.returncode} during the soak")
        for t in threads[1:]:
            t.stop()
        for p in traffic[2:]:  # the clients end on their own (-t), printing their results
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                node.stop(p, first=signal.SIGINT, grace=5.0)
        live_pods = len(churner.live) + 2  # + the two traffic pods
        end_stats = settled_stats(node, live_pods)
        sampler.tick()
        sampler.stop()
        gateway_exit = node.stop_forwarder(gateway, first=signal.SIGINT, grace=10.0)
        report = evaluate(args, start_stats, end_stats, sampler.samples, threads, gateway_exit,
                          node.read_log("gateway", "err"), live_pods)
        report["tcp_mbit"] = tcp_result(node.read_log("tcp"))["high_bps"] / 1e6
        report["loadavg_1_5_15"] = list(os.getloadavg())
        return report
    except Failure:
        if node:
            node.failed = True
        raise
    finally:
        for t in threads:
            t.stopping.set()
        if node:
            ignore_signals()
            node.teardown()


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=30.0, help="soak length (default %(default)s)")
    ap.add_argument("--gateway-binary", default=os.path.join(REPO_ROOT, "build", "gateway", "dscp-gateway"))
    ap.add_argument("--shaper-mbit", type=int, default=100, help="port shaper (default %(default)s)")
    ap.add_argument("--pod-events-per-s", type=int, default=100)
    ap.add_argument("--scrapes-per-s", type=int, default=20)
    ap.add_argument("--sample-every", type=float, default=5.0, help="RSS/fd sample period, s")
    ap.add_argument("--prefix", default=None, help="namespace prefix (default sk<pid%%10000>-)")
    ap.add_argument("--json-out", default=None)
    ap.add_argument("--keep", action="store_true", help="leave namespaces and logs in place")
    args = ap.parse_args(argv)
    args.gateway_binary = os.path.abspath(args.gateway_binary)
    # What VirtualNode and preflight expect of the virtual node's command line.
    args.plumbing, args.forwarder, args.lcores, args.traffic_cpus, args.forwarder_rt = \
        "attach", "gateway", "0-1", None, 0
    args.mode_list = [MODE]
    if args.json_out is None:
        args.json_out = f"/tmp/dscp-gateway-soak-{datetime.datetime.now():%Y%m%d-%H%M%S}.json"
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if os.geteuid() != 0:
        log("skipped: needs root (network namespaces, DPDK)", "soak")
        return 77  # meson's "skipped"
    install_signal_handlers()
    try:
        report = soak(args)
    except Failure as e:
        log(f"error: {e}", "soak")
        return 1
    except Interrupted as e:
        log(f"interrupted ({e}), cleaning up", "soak")
        return 130
    with open(args.json_out, "w") as f:
        json.dump(report, f, indent=2)
    print(format_report(report))
    print(f"results: {args.json_out}")
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
