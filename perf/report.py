#!/usr/bin/env python3
"""Plots and summary.md for a perf/run results directory (perf/harness.py calls this;
run it by hand to re-render: /usr/bin/python3 perf/report.py perf/results/<timestamp>)."""

from __future__ import annotations

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from netns.results import class_sojourn_mean_ms  # noqa: E402


def _fmt(v, digits=2, scale=1.0, suffix=""):
    if v is None:
        return "–"
    if isinstance(v, (int, float)):
        return f"{v * scale:.{digits}f}{suffix}"
    return str(v)


# --------------------------------------------------------------------- plots
def plots(out: str, r: dict) -> list[tuple[str, str]]:
    """Returns [(file name, caption)] of the plots written; none if matplotlib is missing."""
    try:
        import matplotlib  # noqa: PLC0415

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt  # noqa: PLC0415
    except ImportError:
        return []
    written = []

    def save(fig, name, caption):
        fig.tight_layout()
        fig.savefig(os.path.join(out, name), dpi=110)
        plt.close(fig)
        written.append((name, caption))

    p = r.get("pipeline", {})
    if p.get("runs"):
        fig, ax = plt.subplots(figsize=(6, 3.6))
        kinds = [("gateway", "dscp-gateway"), ("io", "testpmd io"), ("macswap", "testpmd macswap")]
        for i, (k, label) in enumerate(kinds):
            vals = [x["mpps"] for x in p["runs"].get(k, [])]
            if not vals:
                continue
            med = sorted(vals)[len(vals) // 2]
            ax.bar(i, med, color=["#c0392b", "#7f8c8d", "#95a5a6"][i])
            ax.scatter([i] * len(vals), vals, color="black", s=12, zorder=3)
            ax.text(i, med, f"{med:.2f}", ha="center", va="bottom")
        ax.set_xticks(range(3), [k[1] for k in kinds])
        ax.set_ylabel("Mpps (median, dots = repetitions)")
        ax.set_title(f"pcap -> null, one worker lcore: gateway/io = {_fmt(p.get('ratio_io'))}")
        save(fig, "pipeline.png", "Pipeline throughput, net_pcap (infinite_rx) to net_null, one worker lcore")

    if p.get("cycles_per_packet"):
        c = p["cycles_per_packet"]
        stages = [s for s in ["baseline_macswap", "parse", "parse_lookup", "classify_mark", "classify_sched",
                              "classify_shaper", "classify_cut_through"] if s in c]
        fig, ax = plt.subplots(figsize=(7, 3.6))
        ax.bar(range(len(stages)), [c[s] for s in stages],
               color=["#7f8c8d"] + ["#c0392b"] * (len(stages) - 1))
        for i, s in enumerate(stages):
            ax.text(i, c[s], f"{c[s]:.0f}", ha="center", va="bottom")
        for key, label in (("gateway_cycles_per_packet_on_cpu", "live gateway, all-in"),
                           ("testpmd_io_cycles_per_packet_on_cpu", "testpmd io, all-in")):
            if p.get(key):
                ax.axhline(p[key], ls="--", color="black" if "gateway" in key else "grey", lw=1)
                ax.text(len(stages) - 0.5, p[key], label, va="bottom", ha="right", fontsize=8)
        ax.set_xticks(range(len(stages)), [s.replace("_", "\n") for s in stages], fontsize=8)
        ax.set_ylabel("TSC cycles / packet (median)")
        ax.set_title("Stage ladder, bursts of 32 (each stage includes the previous)")
        save(fig, "stages.png", "Cycles per packet by pipeline stage (pipeline_bench)")

    t = r.get("table_scale")
    if t:
        fig, ax = plt.subplots(figsize=(6, 3.6))
        xs = [row["entries"] for row in t]
        ax.plot(xs, [row["mpps"] for row in t], "o-", color="#c0392b", label="classify (parse+lookup+mark)")
        ax.plot(xs, [row["lookup_mpps"] for row in t], "s--", color="#2c3e50", label="LookupBurst alone")
        if all(row.get("what_if_crc_lookup_mpps") for row in t):
            ax.plot(xs, [row["what_if_crc_lookup_mpps"] for row in t], "^:", color="#7f8c8d",
                    label="previous table: 16-byte keys in rte_hash")
        ax.set_xscale("log")
        ax.set_xlabel("pod addresses in the table")
        ax.set_ylabel("Mpps per core (median)")
        ax.set_ylim(bottom=0)
        ax.legend()
        ax.set_title(f"Table scale: 1M/100 = {_fmt(t[-1].get('ratio'))}")
        save(fig, "table_scale.png", "Classification rate vs pod table size (random installed sources)")

    a = r.get("afxdp")
    if a and a.get("runs"):
        fig, axes = plt.subplots(1, 2, figsize=(7, 3.4))
        for ax, key, scale, unit, title in ((axes[0], "tcp_bps", 1e-6, "Mbit/s", "TCP goodput"),
                                            (axes[1], "udp64_rx_pps", 1e-3, "kpps", "64 B UDP received")):
            for i, fwd in enumerate(("gateway", "testpmd")):
                vals = [x.get(key) * scale for x in a["runs"].get(fwd, []) if x.get(key) is not None]
                if not vals:
                    continue
                med = sorted(vals)[len(vals) // 2]
                ax.bar(i, med, color=["#c0392b", "#7f8c8d"][i])
                ax.scatter([i] * len(vals), vals, color="black", s=12, zorder=3)
                ax.text(i, med, f"{med:.0f}", ha="center", va="bottom")
            ax.set_xticks(range(2), ["dscp-gateway", "testpmd io"])
            ax.set_ylabel(unit)
            ax.set_title(title)
        fig.suptitle("AF_XDP over veth (netns virtual node)")
        save(fig, "afxdp.png", "AF_XDP over veth: gateway vs testpmd io")

    c = r.get("congestion")
    if c and c.get("modes"):
        # The AQM/ECN variants have their own table in summary.md; the plot keeps one per kind.
        modes = [m for m in c["modes"] if m in c and m in ("priority", "priority_no_aqm", "fifo", "kernel")]
        fig, axes = plt.subplots(1, len(modes), figsize=(4 * len(modes), 3.4), sharey=True)
        if len(modes) == 1:
            axes = [axes]
        shaper = c.get("shaper_bps", 0) / 1e6
        for ax, mode in zip(axes, modes):
            iv = c[mode].get("intervals", {})
            for key, label, color in (("high", "high: TCP (ray-training)", "#c0392b"),
                                      ("low", "low: UDP flood (batch-jobs)", "#2980b9")):
                pts = iv.get(key) or []
                if pts:
                    xs = [x for s, e, _ in pts for x in (s, e)]
                    ys = [b / 1e6 for _, _, b in pts for _ in (0, 1)]
                    ax.plot(xs, ys, color=color, label=label)
            ax.axhline(shaper, ls="--", color="black", lw=1)
            ax.set_title(f"{mode}: high {_fmt(c[mode].get('high_bps'), 0, 1e-6)} Mbit/s, "
                         f"p99 {_fmt(c[mode].get('rtt_p99_ms'), 1)} ms", fontsize=9)
            ax.set_xlabel("s since flood start")
        axes[0].set_ylabel("received Mbit/s (per second)")
        axes[0].legend(fontsize=7, loc="upper right")
        fig.suptitle(f"Congested uplink R = {shaper:.0f} Mbit/s, flood 2R (median run of each mode)")
        save(fig, "congestion.png", "Throughput over time per class, per mode (iperf3 receiver intervals)")

    u = r.get("update")
    if u and u.get("runs"):
        fig, ax = plt.subplots(figsize=(6, 3.4))
        keys = [("baseline_p50_us", "handshake\nbaseline p50"), ("update_p50_us", "update\np50"),
                ("remove_p50_us", "remove\np50"), ("add_p50_us", "add\np50"), ("p50_us", "all\np50"),
                ("p99_us", "all\np99")]
        vals = [u.get(k) or 0 for k, _ in keys]
        ax.bar(range(len(keys)), vals, color=["#7f8c8d"] + ["#c0392b"] * (len(keys) - 1))
        for i, v in enumerate(vals):
            ax.text(i, v, f"{v:.2f}", ha="center", va="bottom", fontsize=8)
        positive = [v for v in vals if v > 0]
        if positive and max(positive) / min(positive) > 20:
            ax.set_yscale("log")  # a preempted p99 can be 1000x the p50
        else:
            ax.set_ylim(0, max(vals) * 1.15 if vals and max(vals) > 0 else 1)
        ax.set_xticks(range(len(keys)), [k[1] for k in keys], fontsize=8)
        ax.set_ylabel("µs (median of repetitions)")
        ax.set_title(f"Pod table change -> datapath visibility; lookups during bulk load: "
                     f"{_fmt(u.get('ratio_during_load'))}x", fontsize=9)
        save(fig, "update.png", "Update visibility latency under lookup load")
    return written


# ------------------------------------------------------------------- summary
def summary(out: str, r: dict, written: list[tuple[str, str]]) -> str:
    m = r.get("meta", {})
    la0, la1 = m.get("loadavg_start") or [None] * 3, m.get("loadavg_end") or [None] * 3
    lines = [f"# dscp-gateway performance run {os.path.basename(out.rstrip('/'))}", "",
             f"{'Quick (smoke) run' if m.get('quick') else 'Full run'}: {m.get('repetitions')} repetitions per "
             f"measurement; every number is the median of them, and every ratio is to a baseline measured in "
             f"this same run.", "",
             "## Machine", "",
             "| | |", "|---|---|",
             f"| CPU | {m.get('cpu_model')} |",
             f"| cores | {m.get('cpus')} |",
             f"| memory | {m.get('memory_gib')} GiB |",
             f"| kernel | {m.get('kernel')} ({m.get('os')}) |",
             f"| DPDK | {m.get('dpdk_version')} |",
             f"| compiler | {m.get('compiler')} |",
             f"| iperf3 | {m.get('iperf3')} |",
             f"| load average at start (1/5/15 min) | {' / '.join(_fmt(x) for x in la0)} |",
             f"| load average at end | {' / '.join(_fmt(x) for x in la1)} |",
             f"| duration | {_fmt(m.get('duration_s'), 0)} s (started {m.get('started')}) |",
             f"| commit | {m.get('git_commit')} |", ""]
    if la0[0] is not None and m.get("cpus") and la0[0] > m["cpus"]:
        lines += [f"**The host was busy** (load {la0[0]:.1f} on {m['cpus']} CPUs at the start): every "
                  "forwarder busy-polls a core that other work competes for, so absolute numbers are "
                  "depressed and noisy; the same-run ratios are the numbers to read.", ""]

    lines += ["## Targets", "", "| target | goal | this run | |", "|---|---|---|---|"]
    for t in r.get("targets", []):
        verdict = t.get("verdict") or ("n/a" if t["met"] is None else ("PASS" if t["met"] else "MISS"))
        verdict = f"**{verdict}**" if verdict == "MISS" else verdict
        group = f" ({t['group']})" if t.get("group") else ""
        lines.append(f"| {t['name']}{group} | {t['target']} | {_fmt(t['value'], 3)} | {verdict} |")
    lines.append("")
    if r.get("errors"):
        lines += ["## Errors", ""] + [f"- **{k}**: `{v.splitlines()[0] if v else v}`" for k, v in r["errors"].items()] + [""]
    if r.get("skipped"):
        lines += ["## Skipped", ""] + [f"- {k}: {v}" for k, v in r["skipped"].items()] + [""]

    p = r.get("pipeline", {})
    if p.get("gateway_mpps") is not None:
        tr = r.get("traffic", {})
        lines += ["## 1. Pipeline throughput (one worker lcore)", "",
                  f"`net_pcap` with `infinite_rx=1` replaying {tr.get('packets')} frames "
                  f"({tr.get('bytes_min')}–{tr.get('bytes_max')} B, mean {_fmt(tr.get('bytes_mean'), 0)} B; "
                  f"{tr.get('kinds')}; {tr.get('flows')} flows, {tr.get('pod_addresses')} pod addresses in "
                  f"{tr.get('namespaces')} namespaces) into `net_null` with `no-rx=1`, so every forwarder moves "
                  "exactly one direction, pcap → null. `-l 0-1` for all three: one forwarding lcore.", "",
                  "| forwarder | Mpps (median) | repetitions | gateway / this | forwarding lcore's CPU share | Mpps per CPU-second | gateway / this |",
                  "|---|---|---|---|---|---|---|"]
        for kind, key, label, rkey in (("gateway", "gateway", "dscp-gateway (unshaped)", None),
                                       ("io", "testpmd_io", "testpmd io", "io"),
                                       ("macswap", "testpmd_macswap", "testpmd macswap", "macswap")):
            reps = ", ".join(_fmt(x["mpps"]) for x in p["runs"][kind])
            r_wall = "1" if rkey is None else (f"**{_fmt(p.get('ratio_' + rkey))}**" if rkey == "io" else _fmt(p.get("ratio_" + rkey)))
            r_cpu = "1" if rkey is None else _fmt(p.get(f"ratio_{rkey}_per_cpu"))
            lines.append(f"| {label} | {_fmt(p.get(key + '_mpps'))} | {reps} | {r_wall} | "
                         f"{_fmt(p.get(key + '_worker_cpu_share'), 0, 100, '%')} | {_fmt(p.get(key + '_mpps_per_cpu'))} | {r_cpu} |")
        lines += ["",
                  f"Paired ratios (median over repetitions of gateway/io run back to back): io "
                  f"{_fmt(p.get('paired_ratio_io'))}, macswap {_fmt(p.get('paired_ratio_macswap'))}. "
                  "CPU share: the forwarding thread's time on CPU during the measurement window "
                  "(/proc/PID/task/TID/schedstat) over the window; per CPU-second = Mpps / share. "
                  f"Class tail drops in the gateway over all runs: {p.get('class_drops')}.", ""]
    if p.get("cycles_per_packet"):
        c, inc = p["cycles_per_packet"], p.get("cycles_per_packet_incremental", {})
        ratios = p.get("cycles_ratio_to_macswap", {})
        lines += ["### Stage ladder (pipeline_bench, bursts of 32 mbufs of the same mix)", "",
                  "| stage | cycles/packet | added by this stage | ratio to macswap baseline |", "|---|---|---|---|"]
        for s, v in c.items():
            lines.append(f"| {s} | {_fmt(v, 1)} | {_fmt(inc.get(s), 1) if s in inc else '(baseline)'} | "
                         f"{_fmt(ratios.get(s))} |")
        if p.get("gateway_cycles_per_packet_on_cpu"):
            lines += ["", f"All-in, on CPU: the live gateway spends {_fmt(p['gateway_cycles_per_packet_on_cpu'], 0)} "
                      f"cycles per packet (TSC {_fmt(p.get('tsc_hz', 0) / 1e9, 2)} GHz / its Mpps per CPU-second), "
                      f"testpmd io {_fmt(p.get('testpmd_io_cycles_per_packet_on_cpu'), 0)}: io's cost is the rx/tx "
                      "path (mostly the pcap PMD's mbuf allocation and copy), the rest of the gateway's is the ladder "
                      "above plus cache effects of the live path."]
        lines.append("")

    t = r.get("table_scale")
    if t:
        lines += ["## 2. Pod table scale", "",
                  "| entries | capacity | classify Mpps | ns/packet | ratio to 100 | LookupBurst Mpps | ratio | load s | previous table (16-byte rte_hash): lookup Mpps (x current) |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for row in t:
            lines.append(f"| {row['entries']:,} | {row['capacity']:,} | {_fmt(row['mpps'])} | {_fmt(row['ns_per_packet'], 1)} | "
                         f"**{_fmt(row['ratio'])}** | {_fmt(row['lookup_mpps'])} | {_fmt(row['lookup_ratio'])} | "
                         f"{_fmt(row['load_seconds'], 3)} | {_fmt(row.get('what_if_crc_lookup_mpps'))} "
                         f"({_fmt(row.get('what_if_crc_speedup'))}) |")
        lines += ["", "Sources are uniformly random installed pods, so the table's whole working set is used; "
                  "capacity is the daemon's 262,144 or the next power of two above 1.25 x entries. The last "
                  "column is the same lookups in the table the gateway had before IPv4 got its own: an LF "
                  "rte_hash of 16-byte IPv4-mapped keys with rte_hash_crc (not what the daemon runs now).", ""]

    a = r.get("afxdp")
    if a:
        lines += ["## 3. AF_XDP over veth", "",
                  f"Same `net_af_xdp` ports on the netns virtual node, {a.get('duration_s')} s per test, gateway "
                  "unshaped. TCP: iperf3 pod-hi → remote. UDP: iperf3 -u -l 18 (64-byte frames) pod-lo → remote, "
                  "packets received by the server per second.", "",
                  "| | dscp-gateway | testpmd io | ratio |", "|---|---|---|---|",
                  f"| TCP goodput Mbit/s | {_fmt(a.get('gateway_tcp_bps'), 0, 1e-6)} | "
                  f"{_fmt(a.get('testpmd_tcp_bps'), 0, 1e-6)} | **{_fmt(a.get('ratio_tcp'))}** |",
                  f"| TCP retransmits | {_fmt(a.get('gateway_tcp_retransmits'), 0)} | "
                  f"{_fmt(a.get('testpmd_tcp_retransmits'), 0)} | |",
                  f"| 64 B UDP received kpps | {_fmt(a.get('gateway_udp64_pps'), 0, 1e-3)} | "
                  f"{_fmt(a.get('testpmd_udp64_pps'), 0, 1e-3)} | {_fmt(a.get('ratio_udp64'))} |",
                  f"| 64 B UDP offered kpps | {_fmt(a.get('gateway_udp64_sent_pps'), 0, 1e-3)} | "
                  f"{_fmt(a.get('testpmd_udp64_sent_pps'), 0, 1e-3)} | |",
                  f"| forwarding lcore CPU share during TCP | {_fmt(a.get('gateway_tcp_worker_cpu_share'), 0, 100, '%')} | "
                  f"{_fmt(a.get('testpmd_tcp_worker_cpu_share'), 0, 100, '%')} | |",
                  f"| TCP Mbit/s per CPU-second of that lcore | {_fmt(a.get('gateway_tcp_bps_per_cpu'), 0, 1e-6)} | "
                  f"{_fmt(a.get('testpmd_tcp_bps_per_cpu'), 0, 1e-6)} | {_fmt(a.get('ratio_tcp_per_cpu'))} |", "",
                  f"testpmd runs with `{a.get('testpmd_args', '')}` so both forwarders have the same ring depth and burst.", ""]

    c = r.get("congestion")
    if c and c.get("modes"):
        shaper = c["shaper_bps"]
        lines += ["## 4. Congestion", "",
                  f"Shaper R = {shaper / 1e6:.0f} Mbit/s, UDP flood {c['flood_bps'] / 1e6:.0f} Mbit/s from batch-jobs, "
                  f"iperf3 TCP from ray-training for {c['duration_s']} s, ICMP RTT probe from the TCP pod at "
                  f"{c.get('rtt_probe_hz')} Hz. Modes: `priority` (gateway, 4 classes), `floor` (the same with "
                  "`minRate: 10%` for scavenger), `fifo` (gateway, one class), "
                  "`kernel` (no gateway: bridge in gw, iptables DSCP per pod + HTB at R by DSCP on node:up0).", "",
                  "| mode | high goodput Mbit/s | goodput % of R | wire % of R | retransmits | low Mbit/s | low wire % of R | RTT p50 ms | RTT p99 ms | probe loss % | forwarding lcore CPU share | drops per class (all runs) |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        rows = [(m, c.get(m, {})) for m in c["modes"]] + [
            (f"{k} (diagnostic)", v) for k, v in (c.get("diagnostics") or {}).items()]
        for mode, x in rows:
            drops = ", ".join(f"{k}={v}" for k, v in (x.get("drops") or {}).items())
            lines.append(f"| {mode} | {_fmt(x.get('high_bps'), 1, 1e-6)} | {_fmt(x.get('high_share_of_shaper'), 0, 100)}% | "
                         f"{_fmt(x.get('high_wire_share_of_shaper'), 0, 100)}% | "
                         f"{_fmt(x.get('high_retransmits'), 0)} | {_fmt(x.get('low_bps'), 1, 1e-6)} | "
                         f"{_fmt(x.get('low_wire_share_of_shaper'), 1, 100)}% | "
                         f"{_fmt(x.get('rtt_p50_ms'))} | {_fmt(x.get('rtt_p99_ms'))} | {_fmt(x.get('rtt_loss_pct'), 1)} | "
                         f"{_fmt(x.get('forwarder_worker_cpu_share'), 0, 100, '%') if 'forwarder_worker_cpu_share' in x else 'no poller'} | {drops} |")
        lines += aqm_summary(c)
        lines += ["", f"Gateway with priorities vs the kernel peer (high-priority goodput): "
                  f"{_fmt(c.get('ratio_priority_to_kernel'))}. Wire % = goodput x 1538/1448 (TCP payload per "
                  "frame vs the bytes the shaper charges): goodput alone tops out at 94% of R.", ""]

    u = r.get("update")
    if u:
        o = u.get("options", {})
        lines += ["## 5. Pod table update under load", "",
                  f"{o.get('updates')} changes (update/remove/add of one address, in turn) while a worker thread looks "
                  f"up bursts of 32 at full rate against {o.get('base')} entries and reports quiescent states; time from "
                  "the PodTable call to the worker publishing the new result. Baseline: the same handshake through a "
                  "plain atomic, without the table.", "",
                  "| | µs (median of repetitions) |", "|---|---|",
                  f"| visibility p50 | {_fmt(u.get('p50_us'))} |", f"| visibility p99 | {_fmt(u.get('p99_us'))} |",
                  f"| visibility max | {_fmt(u.get('max_us'))} |",
                  f"| update / remove / add p50 | {_fmt(u.get('update_p50_us'))} / {_fmt(u.get('remove_p50_us'))} / "
                  f"{_fmt(u.get('add_p50_us'))} |",
                  f"| baseline handshake p50 / p99 | {_fmt(u.get('baseline_p50_us'))} / {_fmt(u.get('baseline_p99_us'))} |",
                  "", f"Bulk load of {o.get('bulk'):,} entries: {_fmt(u.get('bulk_load_ms'), 0)} ms "
                  f"(removal {_fmt(u.get('bulk_remove_ms'), 0)} ms); worker lookups "
                  f"{_fmt(u.get('lookup_mpps_before'))} Mpps before, {_fmt(u.get('lookup_mpps_during_load'))} during: "
                  f"ratio **{_fmt(u.get('ratio_during_load'))}**.", ""]

    if written:
        lines += ["## Plots", ""] + [f"![{cap}]({name})\n" for name, cap in written]
    lines += ["Raw numbers, every repetition and the logs: `results.json` and the files beside it. "
              "How to read and reproduce: docs/performance.md.", ""]
    return "\n".join(lines)


def aqm_summary(c: dict) -> list[str]:
    """CoDel on vs off (tail drop), pods' TCP with and without ECN, per shaper rate: the
    high-priority flow's RTT, share of R on the wire and retransmits, from the same run."""
    keys = [k for k in c.get("modes", []) if k.startswith("priority") and k in c]
    if len(keys) < 2:
        return []
    lines = ["", "### Active queue management (CoDel per class), same run", "",
             "| R Mbit/s | CoDel | pods' TCP | ECN | high RTT p50 ms | high RTT p99 ms | critical queue sojourn p50/p99 ms | "
             "host-only RTT p99 ms | wire % of R | retransmits | "
             "CoDel drops (critical) | CE marks (critical) | tail drops (critical) | critical queue sojourn mean ms | "
             "forwarding lcore CPU share |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for key in sorted(keys, key=lambda k: (c[k].get("shaper_bps") or 0, c[k].get("pod_cc") or "",
                                            not c[k].get("aqm", True), c[k].get("pod_ecn", False))):
        x = c[key]
        lines.append(f"| {_fmt((x.get('shaper_bps') or c['shaper_bps']) / 1e6, 0)} | "
                     f"{'on' if x.get('aqm', True) else 'off (tail drop)'} | {x.get('pod_cc') or '?'} | "
                     f"{'on' if x.get('pod_ecn') else 'off'} | "
                     f"{_fmt(x.get('rtt_p50_ms'))} | **{_fmt(x.get('rtt_p99_ms'))}** | "
                     f"{_fmt(x.get('queue_sojourn_p50_ms'))}/{_fmt(x.get('queue_sojourn_p99_ms'))} | "
                     f"{_fmt(x.get('host_rtt_p99_ms'))} | "
                     f"{_fmt(x.get('high_wire_share_of_shaper'), 1, 100)}% | {_fmt(x.get('high_retransmits'), 0)} | "
                     f"{(x.get('aqm_drops') or {}).get('critical', 0)} | {(x.get('ecn_marks') or {}).get('critical', 0)} | "
                     f"{(x.get('drops') or {}).get('critical', 0)} | "
                     f"{_fmt(class_sojourn_mean_ms(x.get('forwarder_stdout_tail') or '', 'critical'), 2)} | "
                     f"{_fmt(x.get('forwarder_worker_cpu_share'), 0, 100, '%')} |")
    loads = [c.get("loadavg_start_1_5_15"), c.get("loadavg_end_1_5_15")]
    if all(loads):
        lines += ["", f"Host load (1/5/15 min): {'/'.join(f'{v:.1f}' for v in loads[0])} at the start of the "
                  f"section, {'/'.join(f'{v:.1f}' for v in loads[1])} at its end, on {c.get('cpus')} CPUs. "
                  "Counters summed over all repetitions (one gateway process per variant); RTT from the ICMP probe in "
                  "the TCP flow's class to the kernel's receive stamp, medians over repetitions; queue sojourn: the "
                  "critical class's histogram over the TCP flow's window; host-only RTT: the same probe to the node's "
                  "end of the pod's veth, which never crosses the gateway."]
    return lines


def render(out: str, results: dict) -> None:
    written = plots(out, results)
    with open(os.path.join(out, "summary.md"), "w") as f:
        f.write(summary(out, results, written))


def main(argv) -> int:
    if len(argv) != 2:
        print("usage: report.py RESULTS_DIR", file=sys.stderr)
        return 2
    with open(os.path.join(argv[1], "results.json")) as f:
        render(argv[1], json.load(f))
    print(os.path.join(argv[1], "summary.md"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
