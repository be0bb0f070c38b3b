"""Reading iperf3 --json output: a TCP flow's goodput, a UDP flood's rates, and
per-second receiver-side throughput."""

from __future__ import annotations

import json

from .common import tail

def iperf_json(text: str) -> dict | None:
    try:
        return json.loads(text)
    except ValueError:
        # --json output may be preceded by junk if the process was killed mid-way.
        start = text.find("{")
        if start < 0:
            return None
        try:
            return json.loads(text[start:])
        except ValueError:
            return None


def iperf_error(text: str) -> str:
    j = iperf_json(text)
    if j and j.get("error"):
        return j["error"]
    return "no iperf3 result" if not text.strip() else tail(text, 5)


def tcp_result(text: str) -> dict:
    j = iperf_json(text)
    end = (j or {}).get("end", {})
    if not j or j.get("error") or "sum_received" not in end:
        # A flow that cannot even finish its control exchange has collapsed: count it as 0.
        return {"high_bps": 0.0, "high_retransmits": None, "high_error": iperf_error(text)}
    return {"high_bps": float(end["sum_received"]["bits_per_second"]),
            "high_retransmits": end.get("sum_sent", {}).get("retransmits"),
            "high_sent_bps": float(end.get("sum_sent", {}).get("bits_per_second", 0.0))}


def flood_result(client_text: str, server_text: str, window: tuple[float, float]) -> dict:
    """Received flood rate while the TCP flow ran (from the UDP server's per-second
    intervals), over the whole flood, and the offered rate (client side)."""
    res: dict = {"low_bps": None}
    client = iperf_json(client_text) or {}
    server = iperf_json(server_text) or {}
    if client.get("error") and "terminated" not in client["error"]:  # we interrupt it on purpose
        res["low_error"] = client["error"]
    sent = client.get("end", {}).get("sum_sent", {})
    if "bits_per_second" in sent:
        res["low_sent_bps"] = float(sent["bits_per_second"])
    # iperf3 3.12: the UDP server's end.sum says 0 bit/s; sum_received is right.
    recv = server.get("end", {}).get("sum_received", {})
    if "bits_per_second" in recv:
        res["low_bps_total"] = float(recv["bits_per_second"])
        res["low_lost_percent"] = recv.get("lost_percent")
    lo, hi = window
    nbytes, secs, all_bytes, all_secs = 0, 0.0, 0, 0.0
    for iv in server.get("intervals", []):
        s = iv.get("sum", {})
        all_bytes += s.get("bytes", 0)
        all_secs += s.get("seconds", 0.0)
        mid = (s.get("start", 0.0) + s.get("end", 0.0)) / 2
        if lo + 0.5 <= mid <= hi - 0.5:
            nbytes += s.get("bytes", 0)
            secs += s.get("seconds", 0.0)
    if all_secs > 0:
        res["low_bps_total"] = all_bytes * 8 / all_secs
    if secs > 0:
        res["low_bps"] = nbytes * 8 / secs
    elif "low_bps_total" in res:
        res["low_bps"] = res["low_bps_total"]
    return res


def intervals(server_text: str, offset_s: float) -> list:
    """Receiver-side per-interval throughput from an iperf3 server's --json output, as
    [start_s, end_s, bits_per_second] with `offset_s` added to the times."""
    out = []
    for iv in (iperf_json(server_text) or {}).get("intervals", []):
        s = iv.get("sum", {})
        if "start" in s and "end" in s:
            out.append([round(s["start"] + offset_s, 3), round(s["end"] + offset_s, 3),
                        float(s.get("bits_per_second", 0.0))])
    return out
