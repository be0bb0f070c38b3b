"""control_plane_test.py's observability checks: the REST endpoints, promtool on /metrics
and a real Prometheus scraping it.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import subprocess
import time

from control_plane_harness import (
    CLASSES, CheckFailed, DSCP_BEFORE, POD_NAME, POD_NAMESPACE, PROMETHEUS,
    PROMETHEUS_TIMEOUT_S, PROMTOOL, SRC_IP, expect,
)
from control_plane_harness import nh


class ObservabilityChecks:
    """Mixed into ControlPlaneTest; uses ControlPlaneHarness's gateway and helpers."""

    def check_endpoints(self) -> None:
        self.alive()
        r1 = self.rest("/healthz")
        expect(r1.status == 200, f"/healthz status {r1.status}: {r1.text}")
        time.sleep(0.3)
        r2 = self.rest("/healthz")
        expect(r2.status == 200, f"/healthz (2nd) status {r2.status}: {r2.text}")
        hb1, hb2 = r1.json().get("heartbeat"), r2.json().get("heartbeat")
        expect(isinstance(hb1, int) and isinstance(hb2, int) and hb2 > hb1,
               f"/healthz heartbeat did not advance: {hb1} -> {hb2}")
        print(f"  /healthz {r2.text.strip()} (heartbeat +{hb2 - hb1} in 0.3 s)")

        r = self.rest("/readyz")
        expect(r.status == 200 and r.json().get("ready") is True, f"/readyz: {r.status} {r.text}")

        pods = self.rest_json("/v1/pods")
        mine = [p for p in pods.get("pods", []) if p.get("ip") == SRC_IP]
        expect(len(mine) == 1, f"/v1/pods does not list {SRC_IP} once: {pods}")
        p = mine[0]
        expect(p.get("namespace") == POD_NAMESPACE and p.get("pod") == POD_NAME
               and p.get("class") == "critical" and p.get("dscp") == DSCP_BEFORE,
               f"/v1/pods entry for {SRC_IP} is {p}, expected {POD_NAMESPACE}/{POD_NAME} critical dscp 46")
        print(f"  /v1/pods {json.dumps(p)}")

        pol = self.rest_json("/v1/policy")
        got_classes = [(c.get("name"), c.get("dscp")) for c in pol.get("classes", [])]
        expect(got_classes == CLASSES, f"/v1/policy classes {got_classes}, expected {CLASSES}")
        expect(pol.get("default_class") == "standard", f"/v1/policy default_class {pol.get('default_class')}")
        expect(pol.get("namespaces") == {POD_NAMESPACE: "critical"},
               f"/v1/policy namespaces {pol.get('namespaces')}")
        expect(re.fullmatch(r"[0-9a-f]{8,}", str(pol.get("content_hash", ""))) is not None,
               f"/v1/policy content_hash {pol.get('content_hash')!r}")
        expect(pol.get("source") == self.priorities, f"/v1/policy source {pol.get('source')!r}")
        expect(pol.get("reloads") == 0 and pol.get("reload_errors") == 0,
               f"/v1/policy reloads/reload_errors at start: {pol.get('reloads')}/{pol.get('reload_errors')}")
        print(f"  /v1/policy content_hash {pol['content_hash']}")

        stats = self.rest_json("/v1/stats")
        names = [c.get("name") for c in stats.get("classes", [])]
        expect(names == [c for c, _ in CLASSES], f"/v1/stats classes {names}")
        ports = stats.get("ports", {})
        expect(set(ports) >= {"kernel", "uplink"} and all("rx_packets" in ports[k] for k in ("kernel", "uplink")),
               f"/v1/stats ports {ports}")
        expect(ports["kernel"].get("link_up") is True and ports["uplink"].get("link_up") is True,
               f"/v1/stats link state {ports}")

        r = self.rest("/no/such/path")
        expect(r.status == 404, f"GET /no/such/path: status {r.status}, expected 404")
        r = self.rest("/v1/stats", method="POST")
        expect(r.status == 405, f"POST /v1/stats: status {r.status}, expected 405: {r.text}")
        expect("GET" in r.headers.get("allow", ""), f"405 without Allow: GET: {r.headers}")

    def check_promtool(self) -> None:
        self.alive()
        r = self.rest("/metrics")
        expect(r.status == 200, f"GET /metrics: status {r.status}")
        ctype = r.headers.get("content-type", "")
        expect(ctype.startswith("text/plain"), f"/metrics content type {ctype!r}")
        p = subprocess.run([PROMTOOL, "check", "metrics"], input=r.body, capture_output=True, timeout=30)
        out = (p.stdout + p.stderr).decode("utf-8", "replace").strip()
        expect(p.returncode == 0, f"promtool check metrics exited {p.returncode}:\n{out}")
        n = sum(1 for line in r.text.splitlines() if line and not line.startswith("#"))
        print(f"  promtool: ok ({n} samples{'; ' + out if out else ''})")

    def check_prometheus(self) -> None:
        self.alive()
        port = self.h.call("gw", nh.free_tcp_port)
        tsdb = self.h.path("prometheus-data")
        os.makedirs(tsdb, exist_ok=True)
        cfg = self.h.path("prometheus.yml")
        with open(cfg, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n"
                    "scrape_configs:\n  - job_name: dscp-gateway\n"
                    f"    static_configs:\n      - targets: ['127.0.0.1:{self.rest_port}']\n")
        prom = self.h.spawn([PROMETHEUS, f"--config.file={cfg}", f"--storage.tsdb.path={tsdb}",
                             f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=1h",
                             "--log.level=warn"], "gw", "prometheus")
        try:
            deadline = time.monotonic() + PROMETHEUS_TIMEOUT_S
            up, series, last = None, None, "no answer yet"
            while time.monotonic() < deadline:
                if prom.poll() is not None:
                    raise CheckFailed(f"prometheus exited with {prom.returncode}:\n"
                                      f"{nh.tail(self.h.read_log('prometheus', 'err'), 15)}")
                try:
                    up = self.prom_query(port, 'up{job="dscp-gateway"}')
                    series = self.prom_query(port, "dscp_gateway_class_packets_total")
                except (OSError, http.client.HTTPException, nh.Failure, ValueError) as e:
                    last = f"{type(e).__name__}: {e}"
                    time.sleep(0.5)
                    continue
                up_ok = len(up) == 1 and up[0]["value"][1] == "1"
                classes = sorted(s["metric"].get("class", "") for s in series)
                if up_ok and classes == sorted(c for c, _ in CLASSES) and \
                        all(s["metric"].get("job") == "dscp-gateway" for s in series):
                    print(f"  prometheus on 127.0.0.1:{port}: up=1, dscp_gateway_class_packets_total for "
                          f"classes {classes} after {PROMETHEUS_TIMEOUT_S - (deadline - time.monotonic()):.1f} s")
                    return
                last = f"up={up} classes={classes}"
                time.sleep(0.5)
            raise CheckFailed(f"prometheus did not return our series within {PROMETHEUS_TIMEOUT_S:.0f} s; last: "
                              f"{last}\n{nh.tail(self.h.read_log('prometheus', 'err'), 15)}")
        finally:
            self.h.stop(prom, grace=5.0)

    def prom_query(self, port: int, query: str) -> list:
        from urllib.parse import quote
        r = self.h.call("gw", nh.http_request, "127.0.0.1", port, f"/api/v1/query?query={quote(query)}")
        if r.status != 200:
            raise ValueError(f"status {r.status}: {r.text[:200]}")
        doc = r.json()
        if doc.get("status") != "success":
            raise ValueError(str(doc)[:200])
        return doc["data"]["result"]
