#!/usr/bin/env python3
"""The performance harness behind perf/run: runs every benchmark, each against a
baseline measured in the same run, and writes perf/results/<timestamp>/ (results.json,
PNG plots, summary.md). See docs/performance.md for what each number means.

Sections (in the order they run; --only picks some):
  stages      perf/pipeline_bench: cycles per packet, stage by stage, vs a macswap baseline
  table       perf/table_scale_bench: 100 .. 1M pod addresses, ratio to 100
  update      perf/update_bench: pod-table change -> datapath visibility; lookup rate
              during a 100k-entry bulk load, vs before it
  pipeline    net_pcap (infinite_rx) -> net_null through one worker lcore: dscp-gateway
              vs dpdk-testpmd io and macswap on the same vdevs
  afxdp       AF_XDP over veth on the netns virtual node (perf/virtual_node.py): TCP
              goodput and 64-byte UDP packet rate, dscp-gateway vs testpmd io
  congestion  shaped uplink R, UDP flood at 2R, high-priority TCP + RTT probe: gateway
              with priorities, gateway FIFO, and the kernel peer (iptables DSCP + HTB)

Needs root for pipeline, afxdp and congestion (DPDK with hugepages, namespaces); without
root those are skipped. Exit status 1 if any section failed to produce its numbers.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import time
import urllib.request

PERF_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(PERF_DIR)
sys.path.insert(0, PERF_DIR)

import gen_traffic  # noqa: E402
from netns import (Failure, Interrupted, install_signal_handlers, remove_dpdk_leftovers,  # noqa: E402
                   worker_cpu_seconds)
from netns import experiment  # noqa: E402
from netns.iperf import iperf_json, tcp_result  # noqa: E402
from netns.results import format_table  # noqa: E402
from netns.virtual_node import KERNEL_MODE, REMOTE_IP, TCP_PORT, UDP_PORT, VirtualNode  # noqa: E402

SECTIONS = ["stages", "table", "update", "pipeline", "afxdp", "congestion"]
ROOT_SECTIONS = {"pipeline", "afxdp", "congestion"}
TABLE_SIZES = [100, 10_000, 150_000, 1_000_000]
SHAPER_MBIT = 200
# iperf3 counts TCP payload; the shaper counts wire bytes. MTU 1500 with timestamps:
# 1448 payload bytes per 1514-byte frame + 24 bytes of framing = 1538 on the wire.
TCP_WIRE_PER_GOODPUT = 1538 / 1448
DIAGNOSTIC_SHAPER_BURST = "512KiB"  # ~21 ms at 200 Mbit/s instead of the derived 1 ms

# Parameters per profile. Repetitions: 3 quick, 5 full; every number is a median.
PROFILES = {
    "quick": {"reps": 3, "packets": 2048, "flows": 1000, "pipe_warmup_s": 1.0, "pipe_window_s": 1.5,
              "bench_min_time": 0.05, "updates": 300, "bulk": 100_000, "afxdp_duration": 2,
              "afxdp_restart": False, "congestion_duration": 2, "probe_hz": 50},
    "full": {"reps": 5, "packets": 4096, "flows": 1000, "pipe_warmup_s": 2.0, "pipe_window_s": 3.0,
             "bench_min_time": 0.3, "updates": 1000, "bulk": 100_000, "afxdp_duration": 5,
             "afxdp_restart": True, "congestion_duration": 10, "probe_hz": 50},
}


class SectionError(Exception):
    pass


def log(msg: str) -> None:
    print(f"[perf] {msg}", file=sys.stderr, flush=True)


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def ratio(a, b):
    return a / b if a is not None and b else None


# ------------------------------------------------------------------ machine
def machine_description(build_dir: str) -> dict:
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass

    def cmd(args):
        try:
            return subprocess.run(args, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    mem_gib = None
    try:
        with open("/proc/meminfo") as f:
            mem_gib = round(int(f.readline().split()[1]) / 2**20, 1)
    except (OSError, ValueError, IndexError):
        pass
    commit = cmd(["git", "-C", REPO_ROOT, "rev-parse", "--short", "HEAD"])
    dirty = bool(cmd(["git", "-C", REPO_ROOT, "status", "--porcelain", "--untracked-files=no"]))
    return {"cpu_model": cpu, "cpus": os.cpu_count(), "kernel": platform.release(),
            "os": cmd(["sh", "-c", ". /etc/os-release && echo $PRETTY_NAME"]),
            "memory_gib": mem_gib,
            "dpdk_version": cmd(["pkg-config", "--modversion", "libdpdk"]) or cmd(["dpkg-query", "-W", "-f=${Version}", "dpdk"]),
            "iperf3": cmd(["iperf3", "--version"]).splitlines()[0] if cmd(["iperf3", "--version"]) else "",
            "compiler": cmd(["c++", "--version"]).splitlines()[0] if cmd(["c++", "--version"]) else "",
            "git_commit": commit + ("-dirty" if dirty else ""), "build_dir": build_dir,
            "hostname": platform.node()}


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


# ------------------------------------------------------------------ harness
class Harness:
    def __init__(self, args):
        self.args = args
        self.profile = PROFILES["quick" if args.quick else "full"]
        self.reps = args.reps or self.profile["reps"]
        self.build = os.path.abspath(args.build_dir)
        self.out = args.out
        self.results: dict = {"errors": {}, "skipped": {}}
        self.traffic: dict | None = None
        self.is_root = os.geteuid() == 0
        self.uid = f"dgperf{os.getpid() % 100000}"

    def huge_args(self) -> list[str]:
        """--huge (EAL memory on 2 MiB pages, as the daemon has it) when root and enough
        hugepages are free; else the benchmarks fall back to 4 KiB pages (recorded)."""
        free = 0
        try:
            with open("/proc/meminfo") as f:
                for line in f:
                    if line.startswith("HugePages_Free:"):
                        free = int(line.split()[1])
        except (OSError, ValueError):
            pass
        use = self.is_root and free >= 256
        self.results.setdefault("meta", {})["microbenchmark_hugepages"] = use
        return ["--huge"] if use else []

    def path(self, *parts) -> str:
        return os.path.join(self.out, *parts)

    def binary(self, *parts) -> str:
        p = os.path.join(self.build, *parts)
        if not os.access(p, os.X_OK):
            raise SectionError(f"{p} not built (run .ci/setup, or ninja -C {self.build})")
        return p

    # -------------------------------------------------------------- driver
    def run(self, sections: list[str]) -> int:
        os.makedirs(self.out, exist_ok=True)
        started = time.time()
        meta = machine_description(self.build)
        meta.update({"quick": self.args.quick, "repetitions": self.reps, "loadavg_start": list(os.getloadavg()),
                     "started": datetime.datetime.now().isoformat(timespec="seconds"),
                     "sections": sections, "profile": self.profile, "command": " ".join(sys.argv)})
        self.results["meta"] = meta
        log(f"results in {self.out}; {meta['cpus']} CPUs, load {meta['loadavg_start'][0]:.1f}, "
            f"{'quick' if self.args.quick else 'full'} profile, {self.reps} repetitions")
        self.save()
        for name in sections:
            if name in ROOT_SECTIONS and not self.is_root:
                self.results["skipped"][name] = "needs root (DPDK hugepages, network namespaces)"
                log(f"{name}: skipped (not root)")
                continue
            t0 = time.monotonic()
            log(f"{name}: start (load {os.getloadavg()[0]:.1f})")
            try:
                getattr(self, f"section_{name}")()
            except Interrupted:
                raise
            except (SectionError, Failure, OSError, ValueError, KeyError, subprocess.SubprocessError) as e:
                self.results["errors"][name] = f"{type(e).__name__}: {e}"
                log(f"{name}: FAILED: {e}")
            log(f"{name}: done in {time.monotonic() - t0:.0f} s")
            self.results.setdefault("section_seconds", {})[name] = round(time.monotonic() - t0, 1)
            self.save()
        meta["loadavg_end"] = list(os.getloadavg())
        meta["finished"] = datetime.datetime.now().isoformat(timespec="seconds")
        meta["duration_s"] = round(time.time() - started, 1)
        self.results["targets"] = evaluate_targets(self.results)
        self.save()
        import report  # noqa: PLC0415 (matplotlib is slow to import; only needed here)
        report.render(self.out, self.results)
        log(f"wrote {self.path('results.json')}, {self.path('summary.md')} and plots "
            f"in {meta['duration_s']:.0f} s")
        return 1 if self.results["errors"] else 0

    def save(self) -> None:
        with open(self.path("results.json"), "w") as f:
            json.dump(self.results, f, indent=2, default=str)

    def ensure_traffic(self) -> dict:
        if self.traffic is None:
            log(f"generating {self.profile['packets']} frames / {self.profile['flows']} flows with scapy")
            self.traffic = gen_traffic.generate(self.path("traffic"), self.profile["packets"], self.profile["flows"])
            self.results["traffic"] = self.traffic
        return self.traffic

    # ---------------------------------------------------------- benchmarks
    def google_benchmark(self, exe: str, extra: list[str], name: str, min_time: float) -> dict:
        out = self.path(f"{name}.json")
        cmd = [exe] + extra + [f"--benchmark_repetitions={self.reps}", f"--benchmark_min_time={min_time}",
                               f"--benchmark_out={out}", "--benchmark_out_format=json"]
        log(" ".join(cmd))
        with open(self.path(f"{name}.log"), "w") as logf:
            r = subprocess.run(cmd, stdout=logf, stderr=subprocess.STDOUT, timeout=900)
        if r.returncode != 0:
            raise SectionError(f"{os.path.basename(exe)} exited with {r.returncode}:\n{tail_file(self.path(name + '.log'))}")
        with open(out) as f:
            doc = json.load(f)
        by_run: dict = {}
        for b in doc.get("benchmarks", []):
            if b.get("error_occurred"):
                raise SectionError(f"{b.get('name')}: {b.get('error_message')}")
            entry = by_run.setdefault(b["run_name"], {"iterations": [], "median": None})
            if b.get("run_type") == "aggregate" and b.get("aggregate_name") == "median":
                entry["median"] = b
            elif b.get("run_type") == "iteration":
                entry["iterations"].append(b)
        return {"context": doc.get("context", {}), "runs": by_run}

    def section_stages(self) -> None:
        t = self.ensure_traffic()
        gb = self.google_benchmark(self.binary("perf", "pipeline_bench"),
                                   ["--pcap", t["pcap"], "--priorities", t["priorities"], "--pods", t["pods"]]
                                   + self.huge_args(),
                                   "pipeline_bench", self.profile["bench_min_time"])
        stages = ["baseline_macswap", "parse", "parse_lookup", "classify_mark", "classify_sched", "classify_shaper"]
        cycles, runs = {}, {}
        for stage in stages:
            run = gb["runs"].get(stage)
            if not run or not run["median"]:
                raise SectionError(f"pipeline_bench reported no {stage}")
            cycles[stage] = run["median"]["cycles_per_packet"]
            runs[stage] = [i["cycles_per_packet"] for i in run["iterations"]]
        ladder = stages[1:]
        incremental = {s: cycles[s] - (cycles[ladder[i - 1]] if i else 0.0) for i, s in enumerate(ladder)}
        base = cycles["baseline_macswap"]
        p = self.results.setdefault("pipeline", {})
        p["cycles_per_packet"] = cycles
        p["cycles_per_packet_incremental"] = incremental
        p["cycles_ratio_to_macswap"] = {s: ratio(cycles[s], base) for s in stages}
        p["cycles_per_packet_runs"] = runs
        p["tsc_hz"] = int(gb["context"].get("tsc_hz", 0)) or None
        p["stage_bench_context"] = {k: gb["context"].get(k) for k in
                                    ("frames", "traffic", "pod_addresses", "library_build_type", "mhz_per_cpu")}
        self.finish_pipeline_budget()

    def section_table(self) -> None:
        gb = self.google_benchmark(self.binary("perf", "table_scale_bench"),
                                   ["--entries", ",".join(str(n) for n in TABLE_SIZES)] + self.huge_args(),
                                   "table_scale_bench",
                                   self.profile["bench_min_time"])
        rows = []
        for n in TABLE_SIZES:
            c, lk = gb["runs"].get(f"table_classify/{n}"), gb["runs"].get(f"table_lookup/{n}")
            crc = gb["runs"].get(f"what_if_crc_lookup/{n}") or {}
            if not c or not c["median"] or not lk or not lk["median"]:
                raise SectionError(f"table_scale_bench reported nothing for {n} entries")
            rows.append({"entries": n, "capacity": int(c["median"]["capacity"]), "mpps": c["median"]["Mpps"],
                         "ns_per_packet": c["median"]["ns_per_packet"],
                         "cycles_per_packet": c["median"]["cycles_per_packet"],
                         "lookup_mpps": lk["median"]["Mpps"], "lookup_ns": lk["median"]["ns_per_packet"],
                         "load_seconds": c["median"]["load_seconds"],
                         "what_if_crc_lookup_mpps": (crc.get("median") or {}).get("Mpps"),
                         "mpps_runs": [i["Mpps"] for i in c["iterations"]]})
        for row in rows:
            row["ratio"] = ratio(row["mpps"], rows[0]["mpps"])
            row["lookup_ratio"] = ratio(row["lookup_mpps"], rows[0]["lookup_mpps"])
            row["what_if_crc_speedup"] = ratio(row["what_if_crc_lookup_mpps"], row["lookup_mpps"])
        self.results["table_scale"] = rows

    def section_update(self) -> None:
        exe = self.binary("perf", "update_bench")
        cpus = os.cpu_count() or 1
        cmd = [exe, "--repeat", str(self.reps), "--updates", str(self.profile["updates"]), "--bulk",
               str(self.profile["bulk"]), "--worker-cpu", str(1 if cpus > 1 else 0), "--control-cpu", "0"] + \
            self.huge_args()
        log(" ".join(cmd))
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        with open(self.path("update_bench.log"), "w") as f:
            f.write(r.stdout + r.stderr)
        line = next((x for x in r.stdout.splitlines() if x.startswith("{")), None)
        if line is None:
            raise SectionError(f"update_bench exited with {r.returncode} and printed no result:\n{r.stderr[-2000:]}")
        doc = json.loads(line)
        u = dict(doc["median"])
        u["runs"] = doc["runs"]
        u["timeouts"] = doc["timeouts"]
        u["bulk_failed"] = doc["bulk_failed"]
        u["options"] = doc["options"]
        u["ratio_p50_to_baseline"] = ratio(u["p50_us"], u["baseline_p50_us"])
        self.results["update"] = u
        if doc["timeouts"]:
            raise SectionError(f"update_bench: {doc['timeouts']} updates were never seen by the worker within 1 s")

    # ------------------------------------------------------------ pipeline
    def pipeline_vdevs(self) -> list[str]:
        t = self.ensure_traffic()
        return ["--vdev", f"net_pcap0,rx_pcap={t['pcap']},infinite_rx=1", "--vdev", "net_null0,no-rx=1"]

    def gateway_pipeline_once(self, rep: int) -> dict:
        t = self.ensure_traffic()
        prefix = f"{self.uid}gw{rep}"
        eal = ["-l", "0-1", "--file-prefix", prefix, "--no-pci"] + self.pipeline_vdevs()
        cfg = self.path("pipeline", "gateway.yaml")
        with open(cfg, "w") as f:
            f.write(f"# perf/harness.py pipeline: pcap -> null through one worker lcore\n"
                    f"eal: {json.dumps(eal)}\n"
                    "ports: {kernel: net_pcap0, uplink: net_null0}\n"
                    "shaper: {rate: 0}\n"
                    "rest: {listen: 127.0.0.1:0}\n"
                    "datapath: {mbufs: 32767}\n"
                    f"policy: {{priorities: {json.dumps(t['priorities'])}, pods: {json.dumps(t['pods'])}}}\n")
        out, err = self.path("pipeline", f"gateway-{rep}.out"), self.path("pipeline", f"gateway-{rep}.err")
        with open(out, "w") as o, open(err, "w") as e:
            p = subprocess.Popen([self.binary("gateway", "dscp-gateway"), "run", "--config", cfg],
                                 stdin=subprocess.DEVNULL, stdout=o, stderr=e)
        try:
            port = int(wait_for_text(out, r"REST on [^\s:]+:(\d+)", p, 60).group(1))
            time.sleep(self.profile["pipe_warmup_s"])

            def stats():
                cpu = worker_cpu_seconds(p.pid)
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/stats", timeout=10) as r:
                    d = json.load(r)
                return d["uplink_tx_packets"], d["kernel_rx_packets"], float(d["uptime_seconds"]), time.monotonic(), cpu

            tx1, rx1, up1, m1, c1 = stats()
            time.sleep(self.profile["pipe_window_s"])
            tx2, rx2, up2, m2, c2 = stats()
        finally:
            rc = stop_process(p, signal.SIGINT)
            remove_dpdk_leftovers(prefix)
        seconds = up2 - up1 if up2 > up1 else m2 - m1
        final = open(out, errors="replace").read()
        drops = sum(int(x) for x in re.findall(r"^class \S+ .*\bdrops=(\d+)", final, re.M))
        share = cpu_share(c1, c2, m2 - m1)
        mpps = (tx2 - tx1) / seconds / 1e6
        return {"mpps": mpps, "rx_mpps": (rx2 - rx1) / seconds / 1e6, "seconds": seconds, "exit": rc,
                "class_drops": drops, "worker_cpu_share": share, "mpps_per_cpu": mpps / share if share else None}

    def testpmd_pipeline_once(self, mode: str, rep: int) -> dict:
        prefix = f"{self.uid}{mode}{rep}"
        cmd = ["stdbuf", "-oL", "dpdk-testpmd", "-l", "0-1", "--file-prefix", prefix, "--no-pci"] + \
            self.pipeline_vdevs() + ["--", "-i", f"--forward-mode={mode}", "--total-num-mbufs", "32768",
                                     "--burst=32", "--rxd=1024", "--txd=1024"]
        out = self.path("pipeline", f"testpmd-{mode}-{rep}.out")
        with open(out, "w") as o:
            p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=o, stderr=subprocess.STDOUT, text=True)
        try:
            p.stdin.write("start\n")
            p.stdin.flush()
            wait_for_text(out, r"packet forwarding - ports=", p, 60)
            time.sleep(self.profile["pipe_warmup_s"])
            c1 = worker_cpu_seconds(p.pid)
            p.stdin.write("show port stats all\n")
            p.stdin.flush()
            m1 = time.monotonic()
            time.sleep(self.profile["pipe_window_s"])
            c2 = worker_cpu_seconds(p.pid)
            p.stdin.write("show port stats all\n")
            p.stdin.flush()
            m2 = time.monotonic()
            time.sleep(0.5)
            p.stdin.write("stop\nquit\n")
            p.stdin.flush()
            p.stdin.close()
            p.wait(timeout=30)
        finally:
            rc = stop_process(p, signal.SIGINT)
            remove_dpdk_leftovers(prefix)
        text = open(out, errors="replace").read()
        blocks = re.findall(r"NIC statistics for port 1\s*#+(.*?)#{10,}", text, re.S)
        if len(blocks) < 2:
            raise SectionError(f"testpmd {mode}: no port statistics in its output:\n{tail_file(out)}")
        tx = [int(re.search(r"TX-packets:\s*(\d+)", b).group(1)) for b in blocks[-2:]]
        pps = int(re.search(r"Tx-pps:\s*(\d+)", blocks[-1]).group(1))
        share = cpu_share(c1, c2, m2 - m1)
        return {"mpps": pps / 1e6, "mpps_from_counts": (tx[1] - tx[0]) / (m2 - m1) / 1e6, "exit": rc,
                "worker_cpu_share": share, "mpps_per_cpu": pps / 1e6 / share if share else None}

    def section_pipeline(self) -> None:
        os.makedirs(self.path("pipeline"), exist_ok=True)
        kinds = ["gateway", "io", "macswap"]
        runs: dict = {k: [] for k in kinds}
        for rep in range(self.reps):
            order = kinds[rep % 3:] + kinds[:rep % 3]  # rotate so no kind always goes first
            for kind in order:
                r = self.gateway_pipeline_once(rep) if kind == "gateway" else self.testpmd_pipeline_once(kind, rep)
                r["loadavg"] = os.getloadavg()[0]
                runs[kind].append(r)
                log(f"pipeline rep {rep + 1}/{self.reps} {kind}: {r['mpps']:.2f} Mpps")
        p = self.results.setdefault("pipeline", {})
        gw = [r["mpps"] for r in runs["gateway"]]
        io = [r["mpps"] for r in runs["io"]]
        ms = [r["mpps"] for r in runs["macswap"]]
        p.update({"gateway_mpps": median(gw), "testpmd_io_mpps": median(io), "testpmd_macswap_mpps": median(ms)})
        p["ratio_io"] = ratio(p["gateway_mpps"], p["testpmd_io_mpps"])
        p["ratio_macswap"] = ratio(p["gateway_mpps"], p["testpmd_macswap_mpps"])
        # Each repetition ran the three back to back: their ratio cancels slow load drift.
        p["paired_ratio_io"] = median([ratio(g, i) for g, i in zip(gw, io)])
        p["paired_ratio_macswap"] = median([ratio(g, m) for g, m in zip(gw, ms)])
        # Per second of CPU the forwarding lcore actually got (a shared host preempts it).
        for kind, key in (("gateway", "gateway"), ("io", "testpmd_io"), ("macswap", "testpmd_macswap")):
            p[f"{key}_mpps_per_cpu"] = median([r.get("mpps_per_cpu") for r in runs[kind]])
            p[f"{key}_worker_cpu_share"] = median([r.get("worker_cpu_share") for r in runs[kind]])
        p["ratio_io_per_cpu"] = ratio(p["gateway_mpps_per_cpu"], p["testpmd_io_mpps_per_cpu"])
        p["ratio_macswap_per_cpu"] = ratio(p["gateway_mpps_per_cpu"], p["testpmd_macswap_mpps_per_cpu"])
        p["runs"] = runs
        p["class_drops"] = sum(r["class_drops"] for r in runs["gateway"])
        p["setup"] = {"vdevs": self.pipeline_vdevs(), "lcores": "0-1 (main 0, one forwarding lcore 1)",
                      "burst": 32, "mbufs": 32767, "direction": "net_pcap0 rx -> net_null0 tx only (no-rx=1)"}
        self.finish_pipeline_budget()

    def finish_pipeline_budget(self) -> None:
        """Cycles per packet the live gateway spends in total (from its Mpps), to set the
        stage ladder against."""
        p = self.results.get("pipeline", {})
        hz = p.get("tsc_hz")
        if hz and p.get("gateway_mpps"):
            p["gateway_cycles_per_packet_total"] = hz / (p["gateway_mpps"] * 1e6)
            p["testpmd_io_cycles_per_packet_total"] = hz / (p["testpmd_io_mpps"] * 1e6)
        if hz and p.get("gateway_mpps_per_cpu") and p.get("testpmd_io_mpps_per_cpu"):
            p["gateway_cycles_per_packet_on_cpu"] = hz / (p["gateway_mpps_per_cpu"] * 1e6)
            p["testpmd_io_cycles_per_packet_on_cpu"] = hz / (p["testpmd_io_mpps_per_cpu"] * 1e6)

    # ----------------------------------------------------------- namespaces
    def node_args(self) -> argparse.Namespace:
        return argparse.Namespace(
            prefix=None, keep=False, lcores="0-1", forwarder="gateway",
            gateway_binary=self.binary("gateway", "dscp-gateway"), shaper_mbit=0, forwarder_rt=self.args.forwarder_rt,
            traffic_cpus=None, duration=self.profile["afxdp_duration"], no_flood=True, flood_mbit=2 * SHAPER_MBIT,
            repeat=1, rtt_probe_hz=0, mode_list=["priority", "kernel"], json_out=None, shaper_burst=None,
            # The gateway sets up 1024 rx/tx descriptors per port; testpmd would take the PMD's
            # default (2048 for af_xdp), i.e. rings twice as deep: match them.
            testpmd_extra="--rxd=1024 --txd=1024 --burst=32")

    def with_node(self, body) -> None:
        args = self.node_args()
        for forwarder in ("gateway", "testpmd"):
            args.forwarder = forwarder
            experiment.preflight(args)
        args.forwarder = "gateway"
        node = VirtualNode(args)
        try:
            node.build()
            body(node)
        except Failure as e:
            node.failed = True
            raise SectionError(str(e)) from e
        finally:
            node.teardown()

    def afxdp_measure(self, node, fwd: str, rep: int, pid: int) -> dict:
        a = node.args
        d = a.duration
        res: dict = {}
        # TCP goodput, pod-hi -> remote, no flood.
        srv = node.spawn(node.iperf3() + ["-s", "-1", "--json", "-p", str(TCP_PORT)], "remote",
                         name=f"afxdp-tcp-server-{fwd}-{rep}")
        time.sleep(0.3)
        cli = node.spawn(node.iperf3() + ["-c", REMOTE_IP, "-p", str(TCP_PORT), "-t", str(d), "--json",
                                          "--connect-timeout", "5000"], "pod-hi", name=f"afxdp-tcp-{fwd}-{rep}")
        c1, m1 = worker_cpu_seconds(pid), time.monotonic()
        try:
            cli.wait(timeout=d + 20)
        except subprocess.TimeoutExpired:
            pass
        res["tcp_worker_cpu_share"] = cpu_share(c1, worker_cpu_seconds(pid), time.monotonic() - m1)
        node.stop(cli, first=signal.SIGINT, grace=2.0)
        node.stop(srv, grace=2.0)
        t = tcp_result(node.read_log(f"afxdp-tcp-{fwd}-{rep}"))
        res["tcp_bps"] = t["high_bps"]
        share = res["tcp_worker_cpu_share"]
        res["tcp_bps_per_cpu"] = t["high_bps"] / share if share else None
        res["tcp_retransmits"] = t.get("high_retransmits")
        if t.get("high_error"):
            res["tcp_error"] = t["high_error"]
        # 64-byte frames: 18 B UDP payload + 8 UDP + 20 IP + 14 Ethernet = 60 B (+ FCS).
        srv = node.spawn(node.iperf3() + ["-s", "-1", "--json", "-p", str(UDP_PORT)], "remote",
                         name=f"afxdp-udp-server-{fwd}-{rep}")
        time.sleep(0.3)
        cli = node.spawn(node.iperf3() + ["-c", REMOTE_IP, "-p", str(UDP_PORT), "-u", "-l", "18", "-b", "10G",
                                          "-w", "2M", "-t", str(d), "--json"], "pod-lo",
                         name=f"afxdp-udp-{fwd}-{rep}")
        try:
            cli.wait(timeout=d + 20)
        except subprocess.TimeoutExpired:
            pass
        node.stop(cli, first=signal.SIGINT, grace=2.0)
        try:
            srv.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        node.stop(srv, grace=1.0)
        res.update(udp_rates(node.read_log(f"afxdp-udp-server-{fwd}-{rep}"),
                             node.read_log(f"afxdp-udp-{fwd}-{rep}")))
        return res

    def section_afxdp(self) -> None:
        runs: dict = {"gateway": [], "testpmd": []}

        def body(node):
            node.args.shaper_mbit = 0  # unshaped: a forwarding comparison
            order = ["gateway", "testpmd"]
            if self.profile["afxdp_restart"]:
                for rep in range(self.reps):
                    for fwd in (order if rep % 2 == 0 else order[::-1]):
                        runs[fwd].append(self.afxdp_with_forwarder(node, fwd, [rep])[0])
            else:
                for fwd in order:
                    runs[fwd].extend(self.afxdp_with_forwarder(node, fwd, list(range(self.reps))))

        self.with_node(body)
        a = {}
        for fwd in ("gateway", "testpmd"):
            a[f"{fwd}_tcp_bps"] = median([r["tcp_bps"] for r in runs[fwd]])
            a[f"{fwd}_tcp_retransmits"] = median([r.get("tcp_retransmits") for r in runs[fwd]])
            a[f"{fwd}_udp64_pps"] = median([r.get("udp64_rx_pps") for r in runs[fwd]])
            a[f"{fwd}_udp64_sent_pps"] = median([r.get("udp64_tx_pps") for r in runs[fwd]])
            a[f"{fwd}_tcp_worker_cpu_share"] = median([r.get("tcp_worker_cpu_share") for r in runs[fwd]])
            a[f"{fwd}_tcp_bps_per_cpu"] = median([r.get("tcp_bps_per_cpu") for r in runs[fwd]])
        a["ratio_tcp"] = ratio(a["gateway_tcp_bps"], a["testpmd_tcp_bps"])
        a["ratio_udp64"] = ratio(a["gateway_udp64_pps"], a["testpmd_udp64_pps"])
        a["ratio_tcp_per_cpu"] = ratio(a["gateway_tcp_bps_per_cpu"], a["testpmd_tcp_bps_per_cpu"])
        a["testpmd_args"] = self.node_args().testpmd_extra
        a["runs"] = runs
        a["duration_s"] = self.profile["afxdp_duration"]
        a["restart_forwarder_each_rep"] = self.profile["afxdp_restart"]
        self.results["afxdp"] = a

    def afxdp_with_forwarder(self, node, fwd: str, reps: list[int]) -> list[dict]:
        node.args.forwarder = fwd
        p = node.start_forwarder("priority")
        out = []
        try:
            for rep in reps:
                r = self.afxdp_measure(node, fwd, rep, p.pid)
                r["loadavg"] = os.getloadavg()[0]
                out.append(r)
                log(f"afxdp rep {rep + 1}/{self.reps} {fwd}: TCP {r['tcp_bps'] / 1e6:.0f} Mbit/s, "
                    f"UDP64 {(r.get('udp64_rx_pps') or 0) / 1e3:.0f} kpps received")
        finally:
            node.stop(p, first=signal.SIGINT, grace=10.0)
            remove_dpdk_leftovers(node.file_prefix("priority"))
        return out

    def section_congestion(self) -> None:
        modes = ["priority", "fifo", KERNEL_MODE]
        report: dict = {}

        def body(node):
            a = node.args
            a.forwarder = "gateway"
            a.shaper_mbit = SHAPER_MBIT
            a.flood_mbit = 2 * SHAPER_MBIT
            a.no_flood = False
            a.duration = self.profile["congestion_duration"]
            a.repeat = self.reps
            a.rtt_probe_hz = self.profile["probe_hz"]
            report.update({"forwarder": "gateway", "shaper_bps": SHAPER_MBIT * 1_000_000, "shaped": True,
                           "duration_s": a.duration, "flood_bps": a.flood_mbit * 1_000_000, "modes": modes,
                           "repeat": self.reps, "rtt_probe_hz": a.rtt_probe_hz})
            for mode in modes:
                report[mode] = experiment.run_mode(node, mode)
                r = report[mode]
                log(f"congestion {mode}: high {(r.get('high_bps') or 0) / 1e6:.1f} Mbit/s, "
                    f"rtt p99 {r.get('rtt_p99_ms')} ms, drops {r.get('drops')}")
            if not self.args.quick:
                # Diagnostic, not a target: the same priority run with a deeper shaper bucket,
                # to tell lost shaper credit while the polling lcore is preempted from the
                # gateway being too slow (docs/performance.md).
                a.shaper_burst = DIAGNOSTIC_SHAPER_BURST
                try:
                    r = experiment.run_mode(node, "priority")
                finally:
                    a.shaper_burst = None
                report["diagnostics"] = {f"priority_shaper_burst_{DIAGNOSTIC_SHAPER_BURST}": r}
                log(f"congestion priority, burst {DIAGNOSTIC_SHAPER_BURST}: high "
                    f"{(r.get('high_bps') or 0) / 1e6:.1f} Mbit/s")

        self.with_node(body)
        with open(self.path("congestion.txt"), "w") as f:
            f.write(format_table(report) + "\n")
        log("\n" + format_table(report))
        c = report
        for r in [c[m] for m in modes] + list(c.get("diagnostics", {}).values()):
            r["high_share_of_shaper"] = ratio(r.get("high_bps"), c["shaper_bps"])
            r["high_wire_share_of_shaper"] = ratio((r.get("high_bps") or 0) * TCP_WIRE_PER_GOODPUT, c["shaper_bps"])
        c["ratio_priority_to_kernel"] = ratio(c["priority"].get("high_bps"), c["kernel"].get("high_bps"))
        self.results["congestion"] = c


def udp_rates(server_text: str, client_text: str) -> dict:
    """64-byte UDP: packets per second received by the iperf3 server (datagrams that
    arrived: packets - lost, over its measured time) and offered by the client."""
    res: dict = {"udp64_rx_pps": None, "udp64_tx_pps": None}
    server = iperf_json(server_text) or {}
    client = iperf_json(client_text) or {}
    end = server.get("end", {})
    s = end.get("sum_received") or end.get("sum") or {}
    if s.get("seconds"):
        packets = s.get("packets", 0)
        lost = s.get("lost_packets", 0)
        res["udp64_rx_pps"] = (packets - lost) / s["seconds"]
        res["udp64_lost_percent"] = s.get("lost_percent")
    cs = client.get("end", {}).get("sum", {})
    if cs.get("seconds"):
        res["udp64_tx_pps"] = cs.get("packets", 0) / cs["seconds"]
    if server.get("error"):
        res["udp64_error"] = server["error"]
    return res


# -------------------------------------------------------------------- targets
def evaluate_targets(results: dict) -> list[dict]:
    def get(path):
        node = results
        for part in path:
            if isinstance(node, dict):
                node = node.get(part)
            elif isinstance(node, list) and isinstance(part, int) and part < len(node):
                node = node[part]
            else:
                return None
        return node

    table = {row["entries"]: row for row in results.get("table_scale", [])}
    cong = results.get("congestion", {})
    shaper = cong.get("shaper_bps")
    rows = [
        ("pipeline: gateway / testpmd io (Mpps)", ">= 0.70", get(["pipeline", "ratio_io"]), lambda v: v >= 0.7),
        ("pipeline: the same per CPU-second of the lcore", ">= 0.70", get(["pipeline", "ratio_io_per_cpu"]),
         lambda v: v >= 0.7),
        ("table: 1M entries / 100 entries", ">= 0.80", (table.get(1_000_000) or {}).get("ratio"), lambda v: v >= 0.8),
        ("AF_XDP: gateway / testpmd TCP goodput", ">= 0.90", get(["afxdp", "ratio_tcp"]), lambda v: v >= 0.9),
        ("congestion: priority high / R (wire bytes)", ">= 0.95",
         get(["congestion", "priority", "high_wire_share_of_shaper"]), lambda v: v >= 0.95),
        ("congestion: FIFO high / R (wire bytes)", "<= 0.20",
         get(["congestion", "fifo", "high_wire_share_of_shaper"]), lambda v: v <= 0.2),
        ("congestion: priority high RTT p99 (ms)", "<= 2",
         get(["congestion", "priority", "rtt_p99_ms"]), lambda v: v <= 2.0),
        ("update: visibility p99 (us)", "<= 10000", get(["update", "p99_us"]), lambda v: v <= 10_000),
    ]
    return [{"name": n, "target": t, "value": v, "met": None if v is None else bool(check(v))}
            for n, t, v, check in rows]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="dscp-gateway performance harness (see docs/performance.md)")
    ap.add_argument("--quick", action="store_true", help="short smoke run (3 repetitions, ~3 minutes)")
    ap.add_argument("--out", default=None, help="results directory (default perf/results/<timestamp>)")
    ap.add_argument("--build-dir", default=os.path.join(REPO_ROOT, "build"), help="default: %(default)s")
    ap.add_argument("--only", default=None, help=f"comma list of sections: {','.join(SECTIONS)}")
    ap.add_argument("--reps", type=int, default=None, help="repetitions (default 3 quick, 5 full)")
    ap.add_argument("--forwarder-rt", type=int, default=0, metavar="PRIO",
                    help="run the netns forwarders SCHED_FIFO (see perf/virtual_node.py); default off")
    args = ap.parse_args(argv)
    sections = SECTIONS if not args.only else [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = [s for s in sections if s not in SECTIONS]
    if unknown:
        ap.error(f"unknown sections {unknown}; choose from {SECTIONS}")
    if args.out is None:
        args.out = os.path.join(PERF_DIR, "results", datetime.datetime.now().strftime("%Y%m%d-%H%M%S"))
    args.out = os.path.abspath(args.out)
    install_signal_handlers()
    try:
        return Harness(args).run(sections)
    except Interrupted as e:
        log(f"interrupted ({e})")
        return 130


if __name__ == "__main__":
    sys.exit(main())
