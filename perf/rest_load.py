#!/usr/bin/env python3
"""REST under load: wrk offers --rate requests/s (default 10,000) to /metrics and /v1/stats
of a running gateway for --seconds, on loopback, while its worker forwards as fast as it
can (pcap vdev replaying a capture forever -> null vdev, unshaped, no hugepages).

Phases of --seconds each: without load, with load, without load again. Reports: requests
served and failed (connect/read/write errors, timeouts, non-2xx), latency p50/p90/p99/max,
the rate reached and, if below the offered one, who ran out of CPU (wrk's and the gateway
control thread's share of a core); the worker's throughput during the load against the
mean of the phases around it (raw, and per CPU-second the worker thread got, which the
shared 2-core host makes the fairer of the two); RSS from the start of the load to its
end. wrk runs on the main lcore's CPU (0), so the worker's lcore (1) stays its own.
Exit 0 only if no request failed, RSS stayed flat (<= 2 %) and, unless --no-throughput-bound,
the server answered >= 99 % of the offered rate and the worker kept >= 95 % of its throughput.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

from netns.host import remove_dpdk_leftovers, worker_cpu_seconds
from netns.policies import PRIORITY_POLICY
from soak_load import process_sample

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(HERE)
THROUGHPUT_BOUND = 0.95
RATE_BOUND = 0.99  # of the offered rate, reached by the server
RSS_GROWTH_BOUND = 0.02
POD_SOURCES = {"10.201.1.2": "ray-training", "10.201.2.2": "batch-jobs", "10.201.3.2": "web"}


def write_capture(path: str) -> None:
    from scapy.all import IP, UDP, Ether, Raw, wrpcap  # noqa: E402 - Debian's python3-scapy
    wrpcap(path, [Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / IP(src=source, dst="10.99.0.1") /
                  UDP(sport=4000 + i, dport=5000) / Raw(b"x" * 200)
                  for i, source in enumerate(list(POD_SOURCES) * 8)])


def write_pods(path: str) -> None:
    items = [{"apiVersion": "v1", "kind": "Pod",
              "metadata": {"name": f"pod-{i}", "namespace": ns, "uid": f"00000000-0000-4000-8000-00000000000{i}"},
              "spec": {"nodeName": "node-a"},
              "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}]}}
             for i, (ip, ns) in enumerate(POD_SOURCES.items())]
    with open(path, "w") as f:
        json.dump({"apiVersion": "v1", "kind": "List", "items": items}, f)


def start_gateway(args, work: str, file_prefix: str) -> tuple[subprocess.Popen, int]:
    capture, pods, priorities = (os.path.join(work, n) for n in ("traffic.pcap", "pods.json", "priorities.yaml"))
    write_capture(capture)
    write_pods(pods)
    with open(priorities, "w") as f:
        f.write(PRIORITY_POLICY)
    config = os.path.join(work, "gateway.yaml")
    with open(config, "w") as f:
        json.dump({"eal": ["-l", "0-1", "--no-huge", "-m", "512", "--no-shconf", "--no-pci",
                           "--file-prefix", file_prefix, "--log-level", "*:error",
                           "--vdev", f"net_pcap0,rx_pcap={capture},infinite_rx=1", "--vdev", "net_null0"],
                   "ports": {"kernel": "net_pcap0", "uplink": "net_null0"},
                   "policy": {"priorities": priorities, "pods": pods},
                   "rest": {"listen": "127.0.0.1:0"}}, f)
    gateway = subprocess.Popen(priority(args) + [args.gateway_binary, "run", "--config", config], stdout=subprocess.PIPE,
                               stderr=open(os.path.join(work, "gateway.err"), "w"), text=True,
                               start_new_session=True)
    for line in gateway.stdout:
        match = re.search(r"REST on \S+:(\d+)", line)
        if match:
            return gateway, int(match.group(1))
    raise RuntimeError("gateway exited before REST was up: " + open(os.path.join(work, "gateway.err")).read()[-2000:])


def priority(args) -> list[str]:
    """`nice -n N` for the gateway and wrk: on a host busy with other work, a bigger CFS share
    (not real-time, so nothing else starves) keeps the measurement about the gateway."""
    return ["nice", "-n", str(args.nice)] if args.nice else []


def uplink_packets(port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/stats", timeout=10) as reply:
        return json.loads(reply.read())["uplink_tx_packets"]


def thread_cpu_seconds(pid: int, tid: int) -> float:
    with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
        return int(f.read().split()[0]) / 1e9


class Phase:
    """Worker throughput, worker and control-thread CPU, RSS over one phase."""

    def __init__(self, name: str, pid: int, port: int):
        self.name, self.pid, self.port = name, pid, port
        self.t0, self.packets0 = time.monotonic(), uplink_packets(port)
        self.worker0, self.control0 = worker_cpu_seconds(pid), thread_cpu_seconds(pid, pid)
        self.rss: list[int] = [process_sample(pid)["rss_kib"]]

    def sample(self) -> None:
        self.rss.append(process_sample(self.pid)["rss_kib"])

    def end(self) -> dict:
        seconds = time.monotonic() - self.t0
        packets = uplink_packets(self.port) - self.packets0
        worker_cpu = worker_cpu_seconds(self.pid) - self.worker0
        self.sample()
        return {"phase": self.name, "seconds": round(seconds, 2), "worker_pps": packets / seconds,
                "worker_cpu_share": worker_cpu / seconds, "worker_packets_per_cpu_s": packets / worker_cpu,
                "control_thread_cpu_share": (thread_cpu_seconds(self.pid, self.pid) - self.control0) / seconds,
                "rss_kib_start": self.rss[0], "rss_kib_end": self.rss[-1], "rss_kib_max": max(self.rss)}


def run_phase(name: str, pid: int, port: int, seconds: float, wrk_cmd: list[str] | None) -> tuple[dict, dict | None]:
    phase = Phase(name, pid, port)
    wrk = None
    if wrk_cmd:
        wrk = subprocess.Popen(wrk_cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = phase.t0 + seconds
    usage = None  # wrk's rusage once it has exited (reaped here, not by Popen, to get it)
    while time.monotonic() < deadline or (wrk is not None and usage is None):
        time.sleep(1.0)
        phase.sample()
        if wrk is not None and usage is None:
            pid, status, rusage = os.wait4(wrk.pid, os.WNOHANG)
            if pid:
                usage, wrk.returncode = rusage, os.waitstatus_to_exitcode(status)
    load = None
    if wrk is not None:
        out = wrk.stdout.read()
        line = next((line for line in out.splitlines() if line.startswith("{")), None)
        if line is None:
            raise RuntimeError(f"wrk printed no result:\n{out[-2000:]}")
        load = json.loads(line)
        load["wrk_cpu_share"] = (usage.ru_utime + usage.ru_stime) / (load["duration_us"] / 1e6)
        load["rate"] = load["requests"] / (load["duration_us"] / 1e6)
        load["wrk_stdout"] = out[-1500:]
    return phase.end(), load


def evaluate(args, phases: list[dict], load: dict) -> dict:
    before, during, after = phases
    around = {k: (before[k] + after[k]) / 2 for k in ("worker_pps", "worker_packets_per_cpu_s")}
    failures = sum(load[k] for k in ("connect_errors", "read_errors", "write_errors", "status_errors", "timeouts"))
    ratio_raw = during["worker_pps"] / around["worker_pps"]
    ratio_cpu = during["worker_packets_per_cpu_s"] / around["worker_packets_per_cpu_s"]
    rss_growth = (during["rss_kib_end"] - during["rss_kib_start"]) / during["rss_kib_start"]
    not_enforced = " (not enforced: --no-throughput-bound)" if args.no_throughput_bound else ""
    checks = [
        ("no failed request", failures == 0, f"{load['requests']} requests, {failures} failed"),
        (f"offered rate served (>= {100 * RATE_BOUND:.0f} %)",
         args.no_throughput_bound or load["rate"] >= RATE_BOUND * args.rate,
         f"{load['rate']:.0f} of {args.rate} req/s ({100 * load['rate'] / args.rate:.1f} %)" + not_enforced),
        (f"RSS flat under load (<= {100 * RSS_GROWTH_BOUND:.0f} %)", rss_growth <= RSS_GROWTH_BOUND,
         f"{during['rss_kib_start']} -> {during['rss_kib_end']} KiB ({100 * rss_growth:+.2f} %), "
         f"max {during['rss_kib_max']}"),
        (f"worker throughput under load >= {100 * THROUGHPUT_BOUND:.0f} % (per worker CPU-second)",
         args.no_throughput_bound or ratio_cpu >= THROUGHPUT_BOUND,
         f"{100 * ratio_cpu:.1f} % per CPU-second, {100 * ratio_raw:.1f} % raw" + not_enforced),
    ]
    return {"offered_rate": args.rate, "connections": args.connections, "seconds": args.seconds, "nice": args.nice,
            "load": load, "phases": phases, "worker_ratio_raw": ratio_raw, "worker_ratio_per_cpu": ratio_cpu,
            "checks": [{"check": c, "ok": ok, "detail": d} for c, ok, d in checks],
            "ok": all(ok for _, ok, _ in checks), "loadavg_1_5_15": list(os.getloadavg()),
            "started": datetime.datetime.now().isoformat(timespec="seconds")}


def format_report(r: dict) -> str:
    load = r["load"]
    lines = [f"REST load: {r['offered_rate']} req/s offered on {r['connections']} connections for {r['seconds']} s "
             f"(/metrics and /v1/stats alternately); reached {load['rate']:.0f} req/s",
             f"  latency p50 {load['latency_us_p50'] / 1000:.2f} ms, p90 {load['latency_us_p90'] / 1000:.2f} ms, "
             f"p99 {load['latency_us_p99'] / 1000:.2f} ms, max {load['latency_us_max'] / 1000:.2f} ms",
             f"  CPU: wrk {100 * load['wrk_cpu_share']:.0f} % of a core, gateway control thread "
             f"{100 * r['phases'][1]['control_thread_cpu_share']:.0f} %, worker "
             f"{100 * r['phases'][1]['worker_cpu_share']:.0f} %"]
    for p in r["phases"]:
        lines.append(f"  {p['phase']:>7}: worker {p['worker_pps'] / 1e6:.3f} Mpps, {p['worker_cpu_share']:.2f} CPU, "
                     f"{p['worker_packets_per_cpu_s'] / 1e6:.3f} Mpkt per CPU-s; RSS {p['rss_kib_start']}"
                     f"->{p['rss_kib_end']} KiB")
    for c in r["checks"]:
        lines.append(f"  {'PASS' if c['ok'] else 'FAIL'} {c['check']}: {c['detail']}")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--gateway-binary", default=os.path.join(REPO_ROOT, "build", "gateway", "dscp-gateway"))
    ap.add_argument("--rate", type=int, default=10000, help="requests/s offered (default %(default)s)")
    ap.add_argument("--connections", type=int, default=32, help="wrk connections (the REST server takes 64)")
    ap.add_argument("--seconds", type=int, default=30, help="length of each phase (default %(default)s)")
    ap.add_argument("--no-throughput-bound", action="store_true",
                    help="report the worker's throughput ratio and the rate served but do not fail on them "
                         "(CI on a shared host)")
    ap.add_argument("--nice", type=int, default=0,
                    help="run the gateway and wrk at this nice level, e.g. -10 on a busy host (default %(default)s)")
    ap.add_argument("--json-out", default=None)
    args = ap.parse_args(argv)
    if shutil.which("wrk") is None:
        print("rest_load: skipped: wrk is not installed (Debian package wrk; .ci/setup installs it)")
        return 77
    work = tempfile.mkdtemp(prefix="dscp-gw-rest-load-")
    file_prefix = f"skrest{os.getpid()}"
    gateway = None
    try:
        gateway, port = start_gateway(args, work, file_prefix)
        time.sleep(3.0)  # past start-up
        env_cmd = ["env", f"REST_LOAD_RATE={args.rate}"]
        wrk_cmd = env_cmd + priority(args) + ["taskset", "-c", "0", "wrk", "-t1", f"-c{args.connections}", f"-d{args.seconds}s",
                             "--timeout", "5s", "-s", os.path.join(HERE, "rest_load.lua"), f"http://127.0.0.1:{port}"]
        phases, load = [], None
        for name, cmd in (("before", None), ("load", wrk_cmd), ("after", None)):
            phase, phase_load = run_phase(name, gateway.pid, port, args.seconds, cmd)
            phases.append(phase)
            load = load or phase_load
        report = evaluate(args, phases, load)
    finally:
        if gateway is not None:
            gateway.send_signal(signal.SIGINT)
            try:
                gateway.wait(timeout=15)
            except subprocess.TimeoutExpired:
                gateway.kill()
        remove_dpdk_leftovers(file_prefix)
    shutil.rmtree(work, ignore_errors=True)
    json_out = args.json_out or f"/tmp/dscp-gateway-rest-load-{datetime.datetime.now():%Y%m%d-%H%M%S}.json"
    with open(json_out, "w") as f:
        json.dump(report, f, indent=2)
    print(format_report(report))
    print(f"results: {json_out}")
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
