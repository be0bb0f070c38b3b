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
  afxdp       AF_XDP over veth on the netns virtual node (netns_sections.py): TCP
              goodput and 64-byte UDP packet rate, dscp-gateway vs testpmd io
  podlimit    pod-hi limited to 50 Mbit/s by kubernetes.io/egress-bandwidth, TCP + RTT probe,
              pod-lo 100 Mbit/s UDP: the gateway's pod shaper vs TBF on ifb
  congestion  shaped uplink R, UDP flood at 2R, high-priority TCP + RTT probe: gateway
              with priorities, the same with a 10% floor for scavenger, gateway FIFO, and
              the kernel peer (iptables DSCP + HTB)

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
import subprocess
import sys
import time
import urllib.request

PERF_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(PERF_DIR)
sys.path.insert(0, PERF_DIR)

import gen_traffic  # noqa: E402
from bench_util import (SectionError, cpu_share, log, median, ratio, stop_process, tail_file,  # noqa: E402
                        wait_for_text)
from netns import Failure, Interrupted, install_signal_handlers, remove_dpdk_leftovers, worker_cpu_seconds  # noqa: E402
from netns_sections import NetnsSections  # noqa: E402
from targets import evaluate_targets, format_targets  # noqa: E402

SECTIONS = ["stages", "table", "update", "pipeline", "afxdp", "congestion", "podlimit"]
ROOT_SECTIONS = {"pipeline", "afxdp", "congestion", "podlimit"}
TABLE_SIZES = [100, 10_000, 150_000, 1_000_000]

# Parameters per profile. Repetitions: 3 quick, 5 full; every number is a median.
PROFILES = {
    "quick": {"reps": 3, "packets": 2048, "flows": 1000, "pipe_warmup_s": 1.0, "pipe_window_s": 1.5,
              "bench_min_time": 0.05, "updates": 300, "bulk": 100_000, "afxdp_duration": 2,
              "afxdp_restart": False, "congestion_duration": 2, "probe_hz": 50},
    "full": {"reps": 5, "packets": 4096, "flows": 1000, "pipe_warmup_s": 2.0, "pipe_window_s": 3.0,
             "bench_min_time": 0.3, "updates": 1000, "bulk": 100_000, "afxdp_duration": 5,
             "afxdp_restart": True, "congestion_duration": 10, "probe_hz": 50},
}


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



# ------------------------------------------------------------------ harness
class Harness(NetnsSections):
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
        log("targets (reported, not asserted):\n" + format_targets(self.results["targets"]))
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
        # classify_cut_through is the uncongested alternative to classify_shaper: its
        # "added" cycles (negative) are what the cut-through saves.
        stages = ["baseline_macswap", "parse", "parse_lookup", "classify_mark", "classify_sched", "classify_shaper",
                  "classify_cut_through"]
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
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="dscp-gateway performance harness (see docs/performance.md)")
    ap.add_argument("--quick", action="store_true", help="short smoke run (3 repetitions, ~3 minutes)")
    ap.add_argument("--out", default=None, help="results directory (default perf/results/<timestamp>)")
    ap.add_argument("--build-dir", default=os.path.join(REPO_ROOT, "build"), help="default: %(default)s")
    ap.add_argument("--only", default=None, help=f"comma list of sections: {','.join(SECTIONS)}")
    ap.add_argument("--reps", type=int, default=None, help="repetitions (default 3 quick, 5 full)")
    ap.add_argument("--netns-prefix", default=None,
                    help="name prefix of the virtual node's namespaces (default dg<pid%%10000>-)")
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
