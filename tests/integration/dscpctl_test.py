#!/usr/bin/env python3
"""dscpctl against a stub of the gateway's REST API (stdlib only, no root, no DPDK).

  * nothing listening: exit 3 and "cannot reach dscp-gateway at ... (is it running?)";
  * a listener that never answers: exit 3 within --timeout;
  * a stub http.server on 127.0.0.1:0 serving canned /healthz, /readyz, /v1/stats,
    /v1/pods and /v1/policy documents (shaped like a live gateway's): status, stats
    (counters grow by a fixed step per request, so the rates are checkable), pods,
    policy, every --json form; a stalled gateway (status exit 1); HTTP 500 and a body
    that is not JSON (exit 4); bad usage (exit 2).
The last line is "N passed, M failed"; the exit status is 0 only if nothing failed.
"""

import argparse
import copy
import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import time
import traceback

# Per /v1/stats request the stub adds these; with --interval 0.2 that is 5000 pps and
# 50 Mbit/s on "critical", 1000 drops/s on "scavenger", 6000 pps into the kernel port.
CRITICAL_PACKETS_STEP = 1000
CRITICAL_BYTES_STEP = 1000 * 1250
SCAVENGER_DROPS_STEP = 200
KERNEL_RX_STEP = 1200
NOT_IP_STEP = 10
# In observe mode (stub.mode "observe"): critical's frames observed and would-mark per request.
OBSERVED_PACKETS_STEP = 400
OBSERVED_BYTES_STEP = 400 * 1000
WOULD_MARK_STEP = 300
UNKNOWN_SOURCE_STEP = 20
INTERVAL = 0.2
TOLERANCE = 0.25  # relative; the stub's clock runs in another thread of a busy host

HEALTHZ = {"status": "ok", "heartbeat": 1623754}
HEALTHZ_STALLED = {"status": "stalled", "heartbeat": 1623754}
READYZ = {"ready": True, "reason": ""}
READYZ_STALLED = {"ready": False, "reason": "datapath heartbeat stalled"}

UNCLASSIFIED_REASONS = ["not_ip", "vlan_depth", "truncated", "bad_ip_version", "bad_ihl", "bad_total_length",
                        "ipv6_ext_headers", "inner_malformed", "inner_not_ip", "headers_not_contiguous"]

POLICY = {
    "classes": [
        {"name": "critical", "dscp": 46, "max_rate_bps": 0, "min_rate_bps": 0, "pcp": 5},
        {"name": "high", "dscp": 34, "max_rate_bps": 0, "min_rate_bps": 0, "pcp": None},
        {"name": "standard", "dscp": 0, "max_rate_bps": 0, "min_rate_bps": 0, "pcp": None},
        {"name": "scavenger", "dscp": 8, "max_rate_bps": 500000000, "min_rate_bps": 20000000, "pcp": None},
    ],
    "default_class": "standard",
    "namespaces": {"ray-training": "critical", "ray-serve": "high", "batch-*": "scavenger"},
    "content_hash": "9e6daa3e71f54e6b",
    "source": "configs/priorities.yaml",
    "loaded_at": "2026-11-23T13:30:25Z",
    "generation": 3,
    "reloads": 2,
    "reload_errors": 1,
    "last_reload_error": "configs/priorities.yaml: classes[2].dscp: 64 is outside 0-63",
    "last_reload_error_at": "2026-11-23T13:31:00Z",
}

PODS = {
    "count": 7,
    "pods": [
        {"ip": "fd00:10:244:2::1f", "namespace": "ray-training", "pod": "raycluster-train-worker-gpu-5tq9w",
         "class": "critical", "dscp": 46},
        {"ip": "10.244.1.17", "namespace": "ray-training", "pod": "raycluster-train-head-7xk2p",
         "class": "critical", "dscp": 46},
        {"ip": "10.244.1.22", "namespace": "ray-serve", "pod": "llm-serve-raycluster-head-9rkdf",
         "class": "high", "dscp": 34},
        {"ip": "10.244.0.3", "namespace": "kube-system", "pod": "coredns-5d78c9869d-2lmvx",
         "class": "standard", "dscp": 0},
        {"ip": "10.244.3.9", "namespace": "default", "pod": "curl-debug", "class": "standard", "dscp": 0},
        {"ip": "10.244.2.31", "namespace": "ray-training", "pod": "raycluster-train-worker-gpu-5tq9w",
         "class": "critical", "dscp": 46},
        {"ip": "10.244.3.12", "namespace": "batch-etl", "pod": "hourly-aggregate-28751880-qz2mc",
         "class": "scavenger", "dscp": 8},
    ],
}

KUBERNETES = {
    "enabled": True, "server": "https://10.96.0.1:443", "synced": True, "pods_cached": 7, "rejected_objects": 1,
    "sync_lag_mean_seconds": 0.0042,
    "watches": [
        {"resource": "/api/v1/pods", "synced": True, "lists": 1, "relists": 2, "watch_restarts": 3, "errors": 1,
         "events": 40, "bookmarks": 5, "resource_version": "1234", "last_event_at": "2026-11-23T13:40:00Z",
         "last_error": "watch /api/v1/pods: 410 Gone", "last_error_at": "2026-11-23T13:39:00Z"},
        {"resource": "/api/v1/namespaces/dscp-gateway/configmaps", "synced": True, "lists": 1, "relists": 0,
         "watch_restarts": 0, "errors": 0, "events": 1, "bookmarks": 0, "resource_version": "99",
         "last_event_at": "", "last_error": "", "last_error_at": ""},
    ],
}

# (namespace, pod, ip) in the order `dscpctl pods` must print them.
PODS_SORTED = sorted((p["namespace"], p["pod"], p["ip"]) for p in PODS["pods"])


def stats_document(step: int, uptime: float, observe: bool = False) -> dict:
    """A /v1/stats document after `step` requests, shaped like the live gateway's (in
    observe mode: its critical traffic observed instead of queued)."""

    def port(device, rx_packets, tx_packets):
        return {"device": device, "link_up": True, "rx_packets": rx_packets, "rx_bytes": rx_packets * 100,
                "tx_packets": tx_packets, "tx_bytes": tx_packets * 100, "rx_missed": 3, "rx_errors": 0,
                "tx_errors": 0, "rx_nombuf": 0}

    def klass(name, dscp, max_rate, packets=0, byte_count=0, drops=0, depth=0, peak=0, sojourn=0.0):
        return {"name": name, "dscp": dscp, "max_rate_bps": max_rate, "packets": packets, "bytes": byte_count,
                "drops": drops, "queue_depth": depth, "queue_peak_depth": peak, "sojourn_mean_us": sojourn,
                "ceiling_tokens_bytes": 0}

    critical_packets = 5000 + CRITICAL_PACKETS_STEP * step
    critical_bytes = 6250000 + CRITICAL_BYTES_STEP * step
    scavenger_drops = 40 + SCAVENGER_DROPS_STEP * step
    unclassified = {reason: 0 for reason in UNCLASSIFIED_REASONS}
    unclassified["not_ip"] = 7 + NOT_IP_STEP * step
    document = {
        "classes": [
            klass("critical", 46, 0, critical_packets, critical_bytes, 0, 3, 17, 12.5),
            klass("high", 34, 0),
            klass("standard", 0, 0, 6, 496, 0, 0, 2, 1.25),
            klass("scavenger", 8, 500000000, 900, 900000, scavenger_drops, 1024, 1024, 4100.0),
        ],
        "namespaces": [
            {"namespace": "(unmarked)", "class": "standard", "packets": 6, "bytes": 496, "drops": 0},
            {"namespace": "ray-training", "class": "critical", "packets": critical_packets, "bytes": critical_bytes,
             "drops": 0},
            {"namespace": "batch-etl", "class": "scavenger", "packets": 900 + SCAVENGER_DROPS_STEP * step,
             "bytes": 900000, "drops": scavenger_drops},
        ],
        "unclassified": unclassified,
        "kernel_rx_packets": 5906 + KERNEL_RX_STEP * step,
        "uplink_tx_packets": critical_packets + 906,
        "unknown_source": 6 + UNKNOWN_SOURCE_STEP * step,
        "marked": critical_packets + 900,
        "heartbeat": 1648011 + 100000 * step,
        "ports": {"kernel": port("net_af_xdp0", 5906 + KERNEL_RX_STEP * step, 5),
                  "uplink": port("net_af_xdp1", 5, critical_packets + 906)},
        "shaper": {"rate_bps": 200000000, "tokens_bytes": 25000, "framing_overhead_bytes": 24},
        "pod_table": {"entries": 7, "capacity": 262144},
        "policy_generation": 3,
        "uptime_seconds": uptime,
        "kubernetes": KUBERNETES,
        "datapath": {"mode": "observe" if observe else "enforce"},
    }
    if observe:
        critical = document["classes"][0]
        critical["observed_packets"] = OBSERVED_PACKETS_STEP * step
        critical["observed_bytes"] = OBSERVED_BYTES_STEP * step
        critical["would_mark_packets"] = WOULD_MARK_STEP * step
        document["namespaces"][1]["would_mark_packets"] = WOULD_MARK_STEP * step
    return document


class Stub(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), StubHandler)
        self.mode = "ok"  # ok | observe | stalled | fail500 | garbage
        self.lock = threading.Lock()
        self.stats_requests = 0
        self.started = time.monotonic()
        self.paths = []


class StubHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # keep the test log readable
        pass

    def reply(self, status, body, content_type="application/json"):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        stub = self.server
        path = self.path.split("?", 1)[0]
        if path.startswith("/gw/"):  # a gateway behind a path prefix
            path = path[3:]
        with stub.lock:
            stub.paths.append(self.path)
            mode = stub.mode
        if mode == "fail500":
            self.reply(500, "internal error: stub told to fail\n", "text/plain")
            return
        if mode == "garbage":
            self.reply(200, "<html>not the API</html>\n", "text/html")
            return
        stalled = mode == "stalled"
        if path == "/healthz":
            self.reply(503 if stalled else 200, json.dumps(HEALTHZ_STALLED if stalled else HEALTHZ))
        elif path == "/readyz":
            self.reply(503 if stalled else 200, json.dumps(READYZ_STALLED if stalled else READYZ))
        elif path == "/v1/stats":
            with stub.lock:
                step = stub.stats_requests
                stub.stats_requests += 1
                uptime = 3723.5 + time.monotonic() - stub.started
            self.reply(200, json.dumps(stats_document(step, uptime, mode == "observe")))
        elif path == "/v1/pods":
            self.reply(200, json.dumps(PODS))
        elif path == "/v1/policy":
            self.reply(200, json.dumps(POLICY))
        else:
            self.reply(404, json.dumps({"error": "not found"}))


class Runner:
    def __init__(self, dscpctl):
        self.dscpctl = dscpctl
        self.passed = 0
        self.failed = 0

    def run(self, args, env=None, timeout=20):
        full_env = dict(os.environ)
        full_env.pop("DSCPCTL_ENDPOINT", None)
        if env:
            full_env.update(env)
        started = time.monotonic()
        p = subprocess.run([self.dscpctl] + args, capture_output=True, text=True, timeout=timeout, env=full_env)
        return p.returncode, p.stdout, p.stderr, time.monotonic() - started

    def case(self, name, function):
        try:
            function()
        except AssertionError as error:
            self.failed += 1
            print(f"FAIL {name}: {error}", flush=True)
            return
        except Exception:  # a crash in the case is a failure too, with its traceback
            self.failed += 1
            print(f"FAIL {name}: unexpected exception", flush=True)
            traceback.print_exc()
            return
        self.passed += 1
        print(f"ok   {name}", flush=True)


def check(condition, message, *outputs):
    if not condition:
        detail = "".join(f"\n--- output ---\n{o}" for o in outputs if o)
        raise AssertionError(message + detail)


def near(value, expected):
    return abs(value - expected) <= TOLERANCE * expected


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def table_rows(stdout: str, header_start: str) -> dict:
    """Rows of the table whose header line starts with `header_start`, by first cell."""
    rows = {}
    lines = stdout.splitlines()
    for i, line in enumerate(lines):
        if line.startswith(header_start):
            for row in lines[i + 1:]:
                if not row.strip():
                    break
                cells = row.split()
                rows[cells[0]] = cells
            break
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dscpctl", required=True, help="path of the dscpctl binary")
    args = parser.parse_args()
    r = Runner(args.dscpctl)

    # --- nothing listening ---------------------------------------------------------------
    dead_port = free_port()
    dead = f"http://127.0.0.1:{dead_port}"

    def unreachable():
        rc, out, err, _ = r.run(["--endpoint", dead, "status"])
        check(rc == 3, f"exit {rc}, want 3", err)
        check(f"dscpctl: cannot reach dscp-gateway at {dead}: Connection refused (is it running? --endpoint?)"
              in err, "message", err)
        check(err.count("\n") == 1, "one line on stderr", err)
        check(out == "", "nothing on stdout", out)

    def unreachable_from_environment():
        rc, _, err, _ = r.run(["pods"], env={"DSCPCTL_ENDPOINT": f"127.0.0.1:{dead_port}"})
        check(rc == 3 and f"at {dead}:" in err, f"exit {rc}, want 3 naming {dead}", err)

    def no_answer_times_out():
        with socket.socket() as silent:  # accepts in the kernel's backlog, never answers
            silent.bind(("127.0.0.1", 0))
            silent.listen(8)
            endpoint = f"http://127.0.0.1:{silent.getsockname()[1]}"
            rc, _, err, elapsed = r.run(["--endpoint", endpoint, "--timeout", "0.5", "policy"])
        check(rc == 3, f"exit {rc}, want 3", err)
        check("did not answer GET /v1/policy within 0.5 s" in err, "message", err)
        check(elapsed < 3, f"took {elapsed:.1f} s with --timeout 0.5")

    r.case("unreachable: exit 3 and one clear line", unreachable)
    r.case("unreachable via DSCPCTL_ENDPOINT (host:port form)", unreachable_from_environment)
    r.case("listener that never answers: exit 3 within --timeout", no_answer_times_out)

    # --- the stub ------------------------------------------------------------------------
    stub = Stub()
    threading.Thread(target=stub.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{stub.server_address[1]}"
    base = ["--endpoint", endpoint]

    def status():
        rc, out, err, _ = r.run(base + ["status"])
        check(rc == 0, f"exit {rc}, want 0", out, err)
        for expected in ["health:", "ok (worker heartbeat 1623754)", "readiness:", "ready", "uptime:", "1h02m",
                         "configs/priorities.yaml", "9e6daa3e71f54e6b", "generation 3", "2026-11-23T13:30:25Z",
                         "2 applied, 1 rejected", "classes[2].dscp: 64 is outside 0-63",
                         "7 / 262144 entries", "200 Mbit/s",
                         "kubernetes:", "synced with https://10.96.0.1:443, 7 pods cached, 1 objects rejected",
                         "/api/v1/pods: synced, 40 events, 2 relists, 1 errors; last: watch /api/v1/pods: 410 Gone",
                         "/api/v1/namespaces/dscp-gateway/configmaps: synced, 1 events"]:
            check(expected in out, f"missing {expected!r}", out)

    def status_json():
        rc, out, err, _ = r.run(base + ["--json", "status"])
        check(rc == 0, f"exit {rc}", err)
        document = json.loads(out)
        check(document["healthz"] == HEALTHZ and document["readyz"] == READYZ, "healthz/readyz", out)
        check(document["policy"]["content_hash"] == POLICY["content_hash"], "policy", out)
        check(document["stats"]["pod_table"]["capacity"] == 262144, "stats", out)

    def status_stalled():
        stub.mode = "stalled"
        try:
            rc, out, err, _ = r.run(base + ["status"])
        finally:
            stub.mode = "ok"
        check(rc == 1, f"exit {rc}, want 1 (answered, not healthy)", out, err)
        check("stalled" in out and "not ready: datapath heartbeat stalled" in out, "status lines", out)

    def stats():
        rc, out, err, _ = r.run(base + ["stats", "--interval", str(INTERVAL)])
        check(rc == 0, f"exit {rc}, want 0", out, err)
        classes = table_rows(out, "CLASS")
        critical = classes.get("critical")
        check(critical is not None, "no critical row", out)
        # CLASS DSCP PPS MBIT/S DROPS/S DROPS QUEUE PEAK SOJOURN
        pps, mbps = float(critical[2]), float(critical[3])
        expected_pps = CRITICAL_PACKETS_STEP / INTERVAL
        expected_mbps = CRITICAL_BYTES_STEP * 8 / 1e6 / INTERVAL
        check(near(pps, expected_pps), f"critical pps {pps}, want ~{expected_pps}", out)
        check(near(mbps, expected_mbps), f"critical Mbit/s {mbps}, want ~{expected_mbps}", out)
        check(critical[1] == "46" and critical[6] == "3" and critical[7] == "17" and critical[8] == "12.5",
              "critical dscp/queue/peak/sojourn", out)
        scavenger = classes["scavenger"]
        check(scavenger[8] == "-", "no sojourn for a class that sent nothing in the interval", out)
        drops_per_s = float(scavenger[4])
        check(near(drops_per_s, SCAVENGER_DROPS_STEP / INTERVAL), f"scavenger drops/s {drops_per_s}", out)
        check(int(scavenger[5]) >= 40 + SCAVENGER_DROPS_STEP, "scavenger total drops", out)
        check(float(classes["high"][2]) == 0, "idle class has no rate", out)
        ports = table_rows(out, "PORT")
        # PORT DEVICE LINK RX-PPS RX-MBIT/S TX-PPS TX-MBIT/S RX-MISSED RX-NOMBUF ERRORS
        kernel_rx = float(ports["kernel"][3])
        check(near(kernel_rx, KERNEL_RX_STEP / INTERVAL), f"kernel rx pps {kernel_rx}", out)
        check(ports["kernel"][1] == "net_af_xdp0" and ports["kernel"][2] == "up" and ports["kernel"][7] == "3",
              "kernel port row", out)
        check("uplink" in ports, "uplink port row", out)
        namespaces = table_rows(out, "NAMESPACE")
        check(list(namespaces)[0] == "ray-training", "busiest namespace first", out)
        ray = namespaces["ray-training"]
        check(ray[1] == "critical" and near(float(ray[2]), expected_pps), "ray-training row", out)
        check(near(float(namespaces["batch-etl"][4]), SCAVENGER_DROPS_STEP / INTERVAL), "batch-etl drops/s", out)
        check("(unmarked)" in namespaces, "unmarked row", out)
        reasons = table_rows(out, "UNCLASSIFIED REASON")
        check(list(reasons) == ["not_ip"], f"only non-zero reasons, got {list(reasons)}", out)
        check(near(float(reasons["not_ip"][1]), NOT_IP_STEP / INTERVAL), "not_ip rate", out)
        check("unknown source: " in out and "IP frames from addresses not in the pod table" in out,
              "unknown source line", out)
        counters = table_rows(out, "WORKER COUNTER")
        check(near(float(counters.get("unknown_source", [0, 0])[1]), UNKNOWN_SOURCE_STEP / INTERVAL),
              "worker counter table: unknown_source rate", out)
        check("drain_drops" in counters, "worker counter table lists every counter of the metric list", out)
        unknown_total = int(out.split("unknown source: ", 1)[1].split()[0])
        check(unknown_total >= 6 + UNKNOWN_SOURCE_STEP, "unknown source total", out)

    def stats_json():
        rc, out, err, elapsed = r.run(base + ["--json", "--interval", str(INTERVAL), "stats"])
        check(rc == 0, f"exit {rc}", out, err)
        document = json.loads(out)
        check(len(document["samples"]) == 2, "two samples", out)
        first, second = document["samples"]
        check(second["classes"][0]["packets"] - first["classes"][0]["packets"] == CRITICAL_PACKETS_STEP,
              "samples are consecutive raw documents", out)
        rates = document["rates"]
        check(INTERVAL * 0.9 <= rates["interval_seconds"] <= INTERVAL + 0.5, "interval", out)
        critical = next(c for c in rates["classes"] if c["name"] == "critical")
        check(abs(critical["sojourn_mean_us"] - 12.5) < 0.01, "interval sojourn mean", out)
        check(next(c for c in rates["classes"] if c["name"] == "high")["sojourn_mean_us"] is None,
              "idle class: null sojourn", out)
        check(near(critical["pps"], CRITICAL_PACKETS_STEP / INTERVAL), f"pps {critical['pps']}", out)
        check(near(critical["mbps"], CRITICAL_BYTES_STEP * 8 / 1e6 / INTERVAL), "mbps", out)
        check(near(rates["ports"]["kernel"]["rx_pps"], KERNEL_RX_STEP / INTERVAL), "port rate", out)
        check(near(rates["unknown_source"]["per_s"], UNKNOWN_SOURCE_STEP / INTERVAL), "unknown source", out)
        check(rates["unclassified"]["not_ip"]["total"] > 0, "unclassified", out)
        check(elapsed >= INTERVAL, "waited the interval")

    def stats_enforce_has_no_observed_tables():
        rc, out, err, _ = r.run(base + ["stats", "--interval", str(INTERVAL)])
        check(rc == 0, f"exit {rc}, want 0", out, err)
        check("datapath: enforce" in out, "mode line", out)
        check("OBSERVED" not in out, "no observe tables in enforce mode", out)

    def stats_observe():
        stub.mode = "observe"
        try:
            rc, out, err, _ = r.run(base + ["stats", "--interval", str(INTERVAL)])
        finally:
            stub.mode = "ok"
        check(rc == 0, f"exit {rc}, want 0", out, err)
        check("datapath: observe (classified and counted; forwarded unchanged and unshaped)" in out, "mode line", out)
        # OBSERVED CLASS PPS MBIT/S WOULD-MARK/S WOULD-MARK
        critical = table_rows(out, "OBSERVED CLASS").get("critical", [])
        check(len(critical) == 5, "critical row", out)
        check(near(float(critical[1]), OBSERVED_PACKETS_STEP / INTERVAL), f"observed pps {critical[1]}", out)
        check(near(float(critical[2]), OBSERVED_BYTES_STEP * 8 / 1e6 / INTERVAL), f"observed Mbit/s {critical[2]}",
              out)
        check(near(float(critical[3]), WOULD_MARK_STEP / INTERVAL), f"would-mark/s {critical[3]}", out)
        check(int(critical[4]) >= WOULD_MARK_STEP, f"would-mark total {critical[4]}", out)
        namespaces = table_rows(out, "OBSERVED NAMESPACE")
        check(list(namespaces) == ["ray-training"], "only namespaces that would have been marked", out)
        ray = namespaces["ray-training"]
        check(ray[1] == "critical" and near(float(ray[2]), WOULD_MARK_STEP / INTERVAL), "ray-training row", out)

    def stats_observe_json():
        stub.mode = "observe"
        try:
            rc, out, err, _ = r.run(base + ["--json", "--interval", str(INTERVAL), "stats"])
        finally:
            stub.mode = "ok"
        check(rc == 0, f"exit {rc}", out, err)
        rates = json.loads(out)["rates"]
        check(rates["datapath_mode"] == "observe", "datapath_mode", out)
        critical = next(c for c in rates["classes"] if c["name"] == "critical")
        check(near(critical["would_mark_per_s"], WOULD_MARK_STEP / INTERVAL), "class would_mark_per_s", out)
        ray = next(n for n in rates["namespaces"] if n["namespace"] == "ray-training")
        check(near(ray["would_mark_per_s"], WOULD_MARK_STEP / INTERVAL), "namespace would_mark_per_s", out)

    def pods():
        rc, out, err, _ = r.run(base + ["pods"])
        check(rc == 0, f"exit {rc}", out, err)
        rows = [line.split() for line in out.splitlines()[1:] if line.strip() and not line.endswith("addresses")]
        check(out.splitlines()[0].split() == ["IP", "NAMESPACE", "POD", "CLASS", "DSCP", "FROM", "REQUESTED",
                                              "EGRESS", "REFUSED"], "header", out)
        check([(c[1], c[2], c[0]) for c in rows] == PODS_SORTED, "rows sorted by namespace, pod", out)
        by_ip = {c[0]: c for c in rows}
        check(by_ip["fd00:10:244:2::1f"][3:5] == ["critical", "46"], "IPv6 pod row", out)
        check(by_ip["10.244.3.12"][1:5] == ["batch-etl", "hourly-aggregate-28751880-qz2mc", "scavenger", "8"],
              "batch pod row", out)
        check("7 pod addresses" in out, "count line", out)

    def pods_json():
        rc, out, err, _ = r.run(base + ["pods", "--json"])
        check(rc == 0 and json.loads(out) == PODS, f"exit {rc}; raw document", out, err)

    def policy():
        rc, out, err, _ = r.run(base + ["policy"])
        check(rc == 0, f"exit {rc}", out, err)
        classes = table_rows(out, "PRIO")
        check(classes["0"][1:4] == ["critical", "46", "EF"], "critical row", out)
        check(classes["1"][1:4] == ["high", "34", "AF41"], "high row", out)
        check(classes["3"][1:6] == ["scavenger", "8", "CS1", "500", "Mbit/s"], "scavenger row with ceiling", out)
        check(classes["0"][4:6] == ["-", "-"], "critical: no ceiling, no floor", out)
        check("batch-*" in classes["3"] and "(default)" in classes["2"], "namespaces per class", out)
        mappings = table_rows(out, "NAMESPACE")
        check(mappings == {"batch-*": ["batch-*", "scavenger"], "ray-serve": ["ray-serve", "high"],
                           "ray-training": ["ray-training", "critical"]}, "namespace mappings", out)
        for expected in ["default class:", "standard", "9e6daa3e71f54e6b", "2026-11-23T13:30:25Z",
                         "2 applied, 1 rejected", "64 is outside 0-63 (at 2026-11-23T13:31:00Z)"]:
            check(expected in out, f"missing {expected!r}", out)

    def policy_min_rate():
        rc, out, err, _ = r.run(base + ["policy"])
        check(rc == 0, f"exit {rc}", out, err)
        check(out.splitlines()[0].split()[4:8] == ["MAX", "RATE", "MIN", "RATE"], "MAX RATE, MIN RATE header", out)
        check(table_rows(out, "PRIO")["3"][4:8] == ["500", "Mbit/s", "20", "Mbit/s"], "scavenger's floor", out)

    def policy_pcp():
        rc, out, err, _ = r.run(base + ["policy"])
        check(rc == 0, f"exit {rc}", out, err)
        classes = table_rows(out, "PRIO")
        # PRIO CLASS DSCP PHB MAX-RATE MIN-RATE PCP NAMESPACES
        check(classes["0"][6:8] == ["5", "ray-training"], "critical's PCP", out)
        check(classes["3"][8:10] == ["-", "batch-*"], "no PCP: -", out)

    def policy_json():
        rc, out, err, _ = r.run(base + ["--json", "policy"])
        check(rc == 0 and json.loads(out) == POLICY, f"exit {rc}; raw document", out, err)

    def path_prefix():
        with stub.lock:
            stub.paths.clear()
        rc, out, err, _ = r.run(["--endpoint", endpoint + "/gw/", "policy", "--json"])
        check(rc == 0 and json.loads(out) == POLICY, f"exit {rc}", out, err)
        check(stub.paths == ["/gw/v1/policy"], f"requested {stub.paths}")

    def http_500():
        stub.mode = "fail500"
        try:
            results = [r.run(base + [command]) for command in ["status", "stats", "pods", "policy"]]
        finally:
            stub.mode = "ok"
        for rc, out, err, _ in results:
            check(rc == 4, f"exit {rc}, want 4", out, err)
            check("HTTP 500 Internal Server Error" in err and "stub told to fail" in err, "message", err)

    def not_json():
        stub.mode = "garbage"
        try:
            rc, out, err, _ = r.run(base + ["pods"])
        finally:
            stub.mode = "ok"
        check(rc == 4 and "not a JSON object" in err, f"exit {rc}, want 4", err)

    def usage():
        for argv, needle in [([], "a command is required"), (["frobnicate"], "unknown command 'frobnicate'"),
                             (["stats", "--interval", "soon"], "--interval takes seconds"),
                             (["stats", "--interval", "0"], "--interval takes seconds"),
                             (["status", "--timeout"], "--timeout needs a value"),
                             (["--bogus", "status"], "unknown option '--bogus'"),
                             (["status", "pods"], "one command at a time"),
                             (["--endpoint", "https://127.0.0.1:9470", "status"], "https is not supported"),
                             (["--endpoint", "ftp://x", "status"], "unsupported scheme"),
                             (["--endpoint", "http://127.0.0.1:99999", "status"], "port must be 1-65535")]:
            rc, out, err, _ = r.run(base + argv)
            check(rc == 2, f"{argv}: exit {rc}, want 2", err)
            check(needle in err and "usage: dscpctl" in err, f"{argv}: message {needle!r}", err)
        rc, out, _, _ = r.run(["--help"])
        check(rc == 0 and out.startswith("usage: dscpctl") and "status|" not in out, "--help", out)

    r.case("status", status)
    r.case("status --json", status_json)
    r.case("status of a stalled gateway: exit 1", status_stalled)
    r.case("stats --interval 0.2: rates", stats)
    r.case("stats --json: samples and rates", stats_json)
    r.case("stats in enforce mode: no observe tables", stats_enforce_has_no_observed_tables)
    r.case("stats in observe mode: observed and would-mark per class and namespace", stats_observe)
    r.case("stats --json in observe mode: would-mark rates", stats_observe_json)
    r.case("pods: sorted rows", pods)
    r.case("pods --json", pods_json)
    r.case("policy: classes, mappings, status", policy)
    r.case("policy: MIN RATE column", policy_min_rate)
    r.case("policy: PCP column", policy_pcp)
    r.case("policy --json", policy_json)
    r.case("endpoint with a path prefix", path_prefix)
    r.case("HTTP 500: exit 4", http_500)
    r.case("body that is not JSON: exit 4", not_json)
    r.case("bad usage: exit 2 with usage", usage)
    stub.shutdown()

    print(f"{r.passed} passed, {r.failed} failed")
    return 0 if r.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
