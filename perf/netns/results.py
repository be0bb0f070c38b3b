"""An experiment's numbers: medians over repeats, per-class drops from the daemon's
final counters, and the result table."""

from __future__ import annotations

import json
import re
import statistics

def combine_runs(runs: list) -> dict:
    """Several measure() results of one mode -> medians of every numeric field, the
    rest (and the intervals) from the run whose high_bps is the median; all runs kept."""
    ordered = sorted(runs, key=lambda r: r.get("high_bps") or 0.0)
    combined = dict(ordered[(len(ordered) - 1) // 2])
    for key in {k for r in runs for k in r}:
        values = [r[key] for r in runs if isinstance(r.get(key), (int, float)) and not isinstance(r.get(key), bool)]
        if values:
            combined[key] = statistics.median(values)
    combined["runs"] = runs
    combined["repeat"] = len(runs)
    return combined


_CLASS_LINE_RE = re.compile(r"^\s*class\s+(\S+)\s.*?\bdrops?=(\d+)")
_DROP_RES = [re.compile(r"drop\w*\s*[=:]\s*(\d+)", re.I),  # drops=12, dropped: 12
             re.compile(r"drop\w*\s+(\d+)", re.I),  # dropped 12
             re.compile(r"(\d+)\s+drop", re.I)]  # 12 dropped


def parse_class_drops(text: str, classes: list[str]) -> dict:
    """Per-class drops from the daemon's final counters.

    dscp-gateway prints one line per class on SIGINT:
        class scavenger dscp=8 packets=27143 bytes=39122521 drops=243715 peak_depth=1024
    (and per-namespace lines, "namespace batch-jobs class=scavenger ... drops=...",
    which are not counted again). Should that format change, fall back to: a JSON line
    with class objects, or the first drop-labelled number on a line naming the class."""
    found: dict = {}
    for line in text.splitlines():
        m = _CLASS_LINE_RE.match(line)
        if m and m.group(1) in classes:
            found[m.group(1)] = int(m.group(2))
    if found:
        return found
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("{"):
            try:
                _walk_json_drops(json.loads(stripped), classes, found)
                continue
            except ValueError:
                pass
        lower = [w.lower() for w in re.findall(r"[\w-]+", stripped)]
        named = [c for c in classes if c in lower and c not in found]
        if not named:
            continue
        for rx in _DROP_RES:
            m = rx.search(stripped)
            if m:
                found[named[0]] = int(m.group(1))
                break
    return found


def parse_class_counter(text: str, classes: list[str], key: str) -> dict:
    """One per-class counter (e.g. aqm_drops) from the daemon's final class lines;
    classes whose line lacks it are left out."""
    found: dict = {}
    rx = re.compile(r"^\s*class\s+(\S+)\s.*?\b" + re.escape(key) + r"=(\d+)")
    for line in text.splitlines():
        m = rx.match(line)
        if m and m.group(1) in classes:
            found[m.group(1)] = int(m.group(2))
    return found


def histogram_quantile(buckets: list, quantile: float) -> float | None:
    """The quantile of a histogram given as [(upper_bound, cumulative_count), ...] ending
    with (inf, total), interpolated linearly inside its bucket as Prometheus's
    histogram_quantile does; in the +Inf bucket, that bucket's lower bound. None if empty."""
    if not buckets or buckets[-1][1] == 0:
        return None
    target = quantile * buckets[-1][1]
    previous_bound, previous_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= target:
            if bound == float('inf'):
                return previous_bound
            fraction = (target - previous_count) / max(count - previous_count, 1e-9)
            return previous_bound + (bound - previous_bound) * fraction
        previous_bound, previous_count = bound, count
    return previous_bound


def class_sojourn_mean_ms(text: str, class_name: str) -> float | None:
    """Mean time packets of one class waited in the gateway's queue, from its final class
    line (queue_sojourn_seconds_sum / _count, over the process's whole life)."""
    m = re.search(r"^\s*class\s+" + re.escape(class_name) + r"\s.*?\bqueue_sojourn_seconds_count=(\d+)"
                  r"\s+queue_sojourn_seconds_sum=([\d.]+)", text, re.M)
    if not m or int(m.group(1)) == 0:
        return None
    return 1000 * float(m.group(2)) / int(m.group(1))


def _walk_json_drops(node, classes, found) -> None:
    if isinstance(node, dict):
        name = node.get("name") or node.get("class")
        if name in classes:
            for k, v in node.items():
                if k.lower().startswith("drop") and isinstance(v, int) and name not in found:
                    found[name] = v
                    break
        for k, v in node.items():
            if k in classes and isinstance(v, dict):
                _walk_json_drops(dict(v, name=k), classes, found)
            elif isinstance(v, (dict, list)):
                _walk_json_drops(v, classes, found)
    elif isinstance(node, list):
        for v in node:
            _walk_json_drops(v, classes, found)


def _mbit(bps) -> str:
    return "" if bps is None else f"{bps / 1e6:.1f}"


def format_table(report: dict) -> str:
    rtt = any(report.get(m, {}).get("rtt_p99_ms") is not None for m in report["modes"])
    rows = [("mode", "high Mbit/s", "% shaper", "retr", "low Mbit/s")
            + (("rtt p50/p99 ms", "host rtt p50/p99") if rtt else ()) + ("drops (class=pkts)",)]
    for mode in report["modes"]:
        r = report.get(mode, {})
        high = r.get("high_bps")
        shaper = r.get("shaper_bps") or report["shaper_bps"]
        shaped = r.get("shaped", report["shaped"])
        pct = "" if high is None or not shaped else f"{100 * high / shaper:.0f}%"
        retr = r.get("high_retransmits")
        drops = " ".join(f"{k}={v}" for k, v in r.get("drops", {}).items())
        for counter, label in (("aqm_drops", "codel"), ("ecn_marks", "ce")):
            if any(r.get(counter, {}).values()):
                drops += f" {label}:" + ",".join(f"{k}={v}" for k, v in r[counter].items() if v)
        rtt_cell = ()
        if rtt:
            rtt_cell = tuple("" if r.get(f"{key}_p99_ms") is None
                             else f"{r[f'{key}_p50_ms']:.2f}/{r[f'{key}_p99_ms']:.2f}" for key in ("rtt", "host_rtt"))
        retr_cell = "" if retr is None else (str(int(retr)) if float(retr).is_integer() else f"{retr:.1f}")
        rows.append((mode, _mbit(high), pct, retr_cell, _mbit(r.get("low_bps"))) + rtt_cell + (drops,))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for i, row in enumerate(rows):
        cells = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:-1], widths[1:-1])] + [row[-1]]
        lines.append("  ".join(cells).rstrip())
        if i == 0:
            lines.append("-" * len(lines[0]))
    flood = "off" if report["flood_bps"] is None else f"{report['flood_bps'] / 1e6:.0f} Mbit/s UDP"
    title = (f"forwarder {report['forwarder']}, shaper {report['shaper_bps'] / 1e6:.0f} Mbit/s"
             f"{'' if report['shaped'] else ' (not enforced by testpmd)'}, flood {flood}, "
             f"{report['duration_s']} s TCP" + (f", {report['plumbing']} plumbing" if report.get("plumbing") else ""))
    if report.get("loadavg_start_1_5_15"):
        loads = "/".join(f"{v:.1f}" for v in report["loadavg_start_1_5_15"])
        title += f"\nhost load (1/5/15 min) {loads} at start on {report.get('cpus')} CPUs: judge modes by ratios"
    notes = [f"{m}: high flow error: {report[m]['high_error']}" for m in report["modes"]
             if report.get(m, {}).get("high_error")]
    return "\n".join([title] + lines + notes)
