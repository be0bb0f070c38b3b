"""perf/soak.py's verdict: what the gateway's counters, process samples and log say after
the soak, each bound checked and reported with its numbers."""

from __future__ import annotations

import re

GROWTH_BOUND = 0.02  # RSS and fds, from the end of warm-up to the end
MAX_WARMUP_S = 300.0

# Log lines the load provokes on purpose (rejected policy versions, dropped watches,
# 410 Gone), the gateway's start and stop, and DPDK's EAL start-up chatter; anything
# else in the gateway's stderr is unexpected.
EXPECTED_LOG_LINES = [
    r"^EAL: ", r"^TELEMETRY: No legacy callbacks",
    r" warning policy: policy reload \(file change\) rejected, previous policy stays: \S+/priorities\.yaml: "
    r"classes\[0\]\.dscp: 99 is outside 0-63$",
    r" info policy: policy reloaded \(file change\): \S+/priorities\.yaml, hash [0-9a-f]+ -> [0-9a-f]+$",
    r" warning k8s: /api/v1/pods: watch: read stream of GET \S+: stream truncated$",
    # The injected compaction ages every watch's resourceVersion, the namespaces' too.
    r" warning k8s: /api/v1/(pods|namespaces): watch: resourceVersion \d+ too old \(410 Gone\); relisting$",
    r" info (run|node|xdp|rest|k8s|control): ",
]


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def growth(samples: list[dict], key: str, warmup_s: float, window: int = 3) -> dict:
    """From the median of the first `window` samples after warm-up to the median of the last
    `window`: a trend, not a socket that happens to be open at one sample."""
    after = [s for s in samples if s["t_s"] >= warmup_s] or samples[-1:]
    base = sorted(s[key] for s in after[:window])[min(window, len(after)) // 2]
    end = sorted(s[key] for s in samples[-window:])[min(window, len(samples)) // 2]
    return {"start": samples[0][key], "after_warmup": base, "end": end, "max": max(s[key] for s in samples),
            "growth": (end - base) / base if base else 0.0}


def conservation(stats: dict) -> list[tuple[str, int, int]]:
    """(what, left, right) pairs that must be equal once the queues have drained; `right`
    includes the backlog (queue depths) so a sample under load can be checked too."""
    classes = stats["classes"]
    # A class's frames leave it sent, tail-dropped, dropped by CoDel, or are still queued.
    queued = sum(c["packets"] + c["drops"] + c.get("aqm_drops", 0) + c["queue_depth"] for c in classes)
    ports = stats["ports"]
    pairs = [
        ("kernel port: PMD rx = worker rx", ports["kernel"]["rx_packets"], stats["kernel_rx_packets"]),
        ("worker rx = sent + drops + CoDel drops + backlog (all classes) + drain drops",
         stats["kernel_rx_packets"], queued + stats["drain_drops"]),
        ("worker uplink tx = sent (all classes)", stats["uplink_tx_packets"], sum(c["packets"] for c in classes)),
        ("uplink port: PMD tx = worker tx", ports["uplink"]["tx_packets"], stats["uplink_tx_packets"]),
        ("uplink port: PMD rx = worker rx", ports["uplink"]["rx_packets"], stats["uplink_rx_packets"]),
        ("worker uplink rx = kernel tx + kernel tx drops", stats["uplink_rx_packets"],
         stats["kernel_tx_packets"] + stats["kernel_tx_drops"]),
        ("kernel port: PMD tx = worker tx", ports["kernel"]["tx_packets"], stats["kernel_tx_packets"]),
    ]
    # Per class: frames from pods of its namespaces, plus (only) frames no pod claims
    # (unknown sources, unclassifiable) = sent + drops + backlog of the class.
    unattributed = stats["unknown_source"] + sum(stats["unclassified"].values())
    for c in classes:
        from_pods = sum(n["packets"] for n in stats["namespaces"] if n["class"] == c["name"])
        received = c["packets"] + c["drops"] + c.get("aqm_drops", 0) + c["queue_depth"]
        others = received - from_pods
        pairs.append((f"class {c['name']}: received = sent {c['packets']} + drops {c['drops']} + CoDel drops "
                      f"{c.get('aqm_drops', 0)} + backlog "
                      f"{c['queue_depth']} (from pods {from_pods}, unattributed {others} of {unattributed})",
                      received, from_pods + max(0, min(others, unattributed))))
        pod_drops = sum(n["drops"] for n in stats["namespaces"] if n["class"] == c["name"])
        pairs.append((f"class {c['name']}: drops >= its namespaces' drops", c["drops"], max(c["drops"], pod_drops)))
    return pairs


def unexpected_log_lines(log_text: str) -> list[str]:
    patterns = [re.compile(p) for p in EXPECTED_LOG_LINES]
    return [line for line in log_text.splitlines()
            if line.strip() and not any(p.search(line) for p in patterns)]


def evaluate(args, start: dict, end: dict, samples: list[dict], threads: list, gateway_exit,
             gateway_log: str, live_pods: int) -> dict:
    sampler, churner, rewriter, scraper = threads
    duration = args.minutes * 60
    warmup = min(MAX_WARMUP_S, duration / 3)
    report = {"minutes": args.minutes, "shaper_mbit": args.shaper_mbit, "warmup_s": warmup,
              "rss_kib": growth(samples, "rss_kib", warmup), "fds": growth(samples, "fds", warmup),
              "samples": samples}
    checks = []

    def check(name: str, ok: bool, detail: str) -> None:
        checks.append({"check": name, "ok": bool(ok), "detail": detail})

    for key in ("rss_kib", "fds"):
        g = report[key]
        check(f"{key} flat after warm-up", g["growth"] <= GROWTH_BOUND,
              f"{g['after_warmup']} -> {g['end']} ({100 * g['growth']:+.2f} %, bound {100 * GROWTH_BOUND:.0f} %); "
              f"start {g['start']}, max {g['max']}")
    report["conservation"] = [{"what": w, "left": a, "right": b} for w, a, b in conservation(end)]
    broken = [f"{w}: {a} != {b}" for w, a, b in conservation(end) if a != b]
    check("frames conserved per port and class", not broken, "; ".join(broken) or
          f"{end['kernel_rx_packets']} received, {end['uplink_tx_packets']} sent, "
          f"{sum(c['drops'] for c in end['classes'])} dropped, "
          f"{sum(c['queue_depth'] for c in end['classes'])} queued")

    reload_errors = end["policy"]["reload_errors"] - start["policy"]["reload_errors"]
    reloads = end["policy"]["reloads"] - start["policy"]["reloads"]
    report["policy"] = {"valid_writes": rewriter.writes["valid"], "invalid_writes": rewriter.writes["invalid"],
                        "reloads": reloads, "reload_errors": reload_errors,
                        "unacknowledged": rewriter.unacknowledged}
    check("reload errors = invalid writes", reload_errors == rewriter.writes["invalid"],
          f"{reload_errors} errors, {rewriter.writes['invalid']} invalid writes")
    check("reloads = valid writes", reloads == rewriter.writes["valid"],
          f"{reloads} reloads, {rewriter.writes['valid']} valid writes")

    watches = {w["resource"]: w for w in end["kubernetes"]["watches"]}
    pods_watch = watches.get("/api/v1/pods", {})
    report["pods"] = {"events_sent": churner.events, "dropped_watches": churner.drops, "gone": churner.gones,
                      "gateway_events": pods_watch.get("events"), "relists": pods_watch.get("relists"),
                      "watch_restarts": pods_watch.get("watch_restarts"),
                      "table_entries_end": end["pod_table"]["entries"], "live_pods_end": live_pods}
    check("pod table = the API server's pods at the end", end["pod_table"]["entries"] == live_pods,
          f"{end['pod_table']['entries']} entries, {live_pods} pods on the node")
    check("pod churn delivered", churner.error_count == 0 and churner.events > 0,
          f"{churner.events} events, {churner.drops} dropped watches, {churner.gones} 410s, "
          f"errors: {churner.errors}")

    report["rest"] = {"requests": scraper.requests, "failures": scraper.failures,
                      "latency_ms_p50": percentile(scraper.latencies_ms, 0.50),
                      "latency_ms_p99": percentile(scraper.latencies_ms, 0.99),
                      "latency_ms_max": max(scraper.latencies_ms, default=None)}
    check("no failed scrape", scraper.failures == 0 and scraper.requests > 0,
          f"{scraper.requests} requests, {scraper.failures} failed {scraper.errors}")

    unexpected = unexpected_log_lines(gateway_log)
    report["unexpected_log_lines"] = unexpected[:50]
    check("no unexpected log line", not unexpected, f"{len(unexpected)}: {unexpected[:5]}")
    check("gateway exits cleanly", gateway_exit == 0, f"exit {gateway_exit}")
    check("load threads ran without errors", not (sampler.error_count or rewriter.error_count),
          f"sampler {sampler.errors}, rewriter {rewriter.errors}")
    report["checks"] = checks
    report["ok"] = all(c["ok"] for c in checks)
    return report


def format_report(report: dict) -> str:
    lines = [f"soak: {report['minutes']} min, shaper {report['shaper_mbit']} Mbit/s, "
             f"warm-up {report['warmup_s']:.0f} s"]
    for c in report["checks"]:
        lines.append(f"  {'PASS' if c['ok'] else 'FAIL'} {c['check']}: {c['detail']}")
    rest = report["rest"]
    lines.append(f"  REST scrape latency p50 {rest['latency_ms_p50']:.2f} ms, p99 {rest['latency_ms_p99']:.2f} ms, "
                 f"max {rest['latency_ms_max']:.2f} ms" if rest["latency_ms_p50"] is not None else "  no scrape")
    lines.append(f"  pods: {report['pods']}")
    if "tcp_mbit" in report:
        lines.append(f"  TCP (critical) {report['tcp_mbit']:.1f} Mbit/s; UDP (scavenger) offered at the shaper rate")
    return "\n".join(lines)
