"""The targets perf/run reports (not asserts): issue 10's table first, then the earlier
ones. Each row: what is measured, the goal, this run's value and PASS / MISS (n/a when the
section did not run). docs/performance.md ("Targets of issue 10") explains each miss."""
from __future__ import annotations


def _difference(value, baseline):
    return None if value is None or baseline is None else value - baseline


def _get(results: dict, path: list):
    node = results
    for part in path:
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            return None
    return node


def _congestion_rows(results: dict, key: str, baseline_key: str, label: str, rtt_goal_ms: float) -> list:
    """RTT p99, share of R on the wire and retransmits over tail drop's for one AQM variant."""
    def get(variant, field):
        return _get(results, ["congestion", variant, field])
    return [
        (f"{label}: high RTT p99 (ms)", f"<= {rtt_goal_ms:g}", get(key, "rtt_p99_ms"),
         lambda v: v <= rtt_goal_ms),
        (f"{label}: high / R (wire bytes)", ">= 0.99", get(key, "high_wire_share_of_shaper"), lambda v: v >= 0.99),
        (f"{label}: retransmits over tail drop's", "<= 0 more",
         _difference(get(key, "high_retransmits"), get(baseline_key, "high_retransmits")), lambda v: v <= 0),
    ]


def evaluate_targets(results: dict) -> list[dict]:
    get = lambda path: _get(results, path)  # noqa: E731
    table = {row["entries"]: row for row in results.get("table_scale", [])}
    issue_10 = [
        ("pipeline: gateway / testpmd io (Mpps)", ">= 0.80", get(["pipeline", "ratio_io"]), lambda v: v >= 0.8),
        ("pipeline: the same per CPU-second of the lcore", ">= 0.80", get(["pipeline", "ratio_io_per_cpu"]),
         lambda v: v >= 0.8),
        ("table: 1M entries / 100 entries", ">= 0.85", (table.get(1_000_000) or {}).get("ratio"),
         lambda v: v >= 0.85),
        *_congestion_rows(results, "priority_ecn", "priority_no_aqm_ecn", "200 Mbit/s, CoDel, pods with ECN", 1),
        *_congestion_rows(results, "priority", "priority_no_aqm", "200 Mbit/s, CoDel, pods without ECN", 1),
        *_congestion_rows(results, "priority_1g_ecn", "priority_1g_no_aqm", "1 Gbit/s, CoDel, pods with ECN", 0.5),
        ("AF_XDP: gateway / testpmd TCP goodput", ">= 1.0", get(["afxdp", "ratio_tcp"]), lambda v: v >= 1.0),
    ]
    earlier = [
        ("congestion: priority high / R (wire bytes)", ">= 0.95",
         get(["congestion", "priority", "high_wire_share_of_shaper"]), lambda v: v >= 0.95),
        ("congestion: FIFO high / R (wire bytes)", "<= 0.20",
         get(["congestion", "fifo", "high_wire_share_of_shaper"]), lambda v: v <= 0.2),
        ("congestion: floor high / R (wire bytes)", ">= 0.89",
         get(["congestion", "floor", "high_wire_share_of_shaper"]), lambda v: v >= 0.89),
        ("congestion: floor scavenger (10% floor) / R (wire bytes)", ">= 0.095",
         get(["congestion", "floor", "low_wire_share_of_shaper"]), lambda v: v >= 0.095),
        ("update: visibility p99 (us)", "<= 10000", get(["update", "p99_us"]), lambda v: v <= 10_000),
        ("pod limit: gateway TCP frames / limit", "0.90-1.10",
         get(["podlimit", "gateway", "wire_share_of_limit"]), lambda v: 0.9 <= v <= 1.1),
    ]
    rows = []
    for group, entries in (("issue 10", issue_10), ("earlier", earlier)):
        for name, target, value, check in entries:
            met = None if value is None else bool(check(value))
            rows.append({"group": group, "name": name, "target": target, "value": value, "met": met,
                         "verdict": "n/a" if met is None else ("PASS" if met else "MISS")})
    return rows


def format_targets(rows: list[dict]) -> str:
    """The targets as plain text, one per line, for perf/run's output."""
    width = max(len(r["name"]) for r in rows)
    lines = []
    for r in rows:
        value = "-" if r["value"] is None else f"{r['value']:.3f}"
        lines.append(f"{r['verdict']:<4}  {r['name']:<{width}}  {r['target']:<10} {value}  ({r['group']})")
    return "\n".join(lines)
