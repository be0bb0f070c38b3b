#!/usr/bin/env python3
"""Control-plane integration test: REST, /metrics, Prometheus and hot reload of a live
dscp-gateway forwarding between two network namespaces.

    src: eth0 10.203.0.1/24 (the "pod") -- gwk [gw: dscp-gateway, AF_XDP] gwu -- dst: eth0 10.203.0.2/24

The gateway is an L2 bump in the wire (static ARP both sides, unshaped) with its REST
server on the gw namespace's loopback. Checks, each reported PASS/FAIL by name:
  endpoints         /healthz (heartbeat advances), /readyz, /v1/pods, /v1/policy,
                    /v1/stats, 404 for an unknown path, 405 for POST
  promtool          `promtool check metrics` accepts the live /metrics text
  prometheus        a real Prometheus in the gw namespace scrapes it (up == 1 and the
                    class packet series with class labels)
  reload_no_loss    iperf3 UDP src->dst while the priorities file moves the pod's
                    namespace from critical (DSCP 46) to bulk (DSCP 10): no datagram lost,
                    the captured DSCP goes 46... then 10... with exactly one switch, and
                    /v1/policy counts one reload with a new content hash
  invalid_reload    a priorities file with dscp: 99 is rejected (last_reload_error names
                    the file, the key and 0-63; the error counter moves by one; traffic is
                    still marked with the old DSCP; exactly one "rejected" line on stderr)
  sigint_shutdown   SIGINT stops the daemon cleanly and it prints its final counters
The last line is "N passed, M failed"; the exit status is 1 on any failure and 77
(meson's "skipped") when not run as root.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import traceback

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO_ROOT, "perf"))  # the netns package, shared with perf/
import netns as nh  # noqa: E402

DEFAULT_GATEWAY = os.path.join(REPO_ROOT, "build", "gateway", "dscp-gateway")
PROMETHEUS, PROMTOOL = "/usr/bin/prometheus", "/usr/bin/promtool"

SRC_IP, DST_IP = "10.203.0.1", "10.203.0.2"
POD_NAME, POD_NAMESPACE = "trainer-0", "ray-training"
IPERF_PORT = 5201
PROBE_PORT = 9  # discard; nobody listens, the probes only need to be captured
IPERF_SECONDS, IPERF_RATE, IPERF_LEN = 6, "20M", 1000
RELOAD_AT_S = 3.0
READY_TIMEOUT_S = 30.0
RELOAD_WAIT_S = 3.5  # the gateway looks at its files every second (250 ms tick)
PROMETHEUS_TIMEOUT_S = 20.0

CLASSES = [("critical", 46), ("bulk", 10), ("standard", 0)]
DSCP_BEFORE, DSCP_AFTER = 46, 10


def priorities_configmap(pod_class: str, bulk_dscp: int | str = 10) -> str:
    return ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n"
            "  name: dscp-gateway-priorities\n  namespace: dscp-gateway\n"
            "data:\n  priorities.yaml: |\n"
            "    classes:\n"
            "      - {name: critical, dscp: 46}\n"
            f"      - {{name: bulk, dscp: {bulk_dscp}}}\n"
            "      - {name: standard, dscp: 0}\n"
            "    defaultClass: standard\n"
            f"    namespaces: {{{POD_NAMESPACE}: {pod_class}}}\n")


def pod_list() -> dict:
    return {"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""},
            "items": [{"apiVersion": "v1", "kind": "Pod",
                       "metadata": {"name": POD_NAME, "namespace": POD_NAMESPACE,
                                    "uid": "3b9e2c1d-7a4f-4e8b-9c0d-5e6f7a8b9c01",
                                    "creationTimestamp": "2024-05-01T12:00:00Z"},
                       "spec": {"nodeName": "netns-node", "containers": [{"name": "main", "image": "iperf3"}]},
                       "status": {"phase": "Running", "hostIP": SRC_IP, "podIP": SRC_IP,
                                  "podIPs": [{"ip": SRC_IP}]}}]}


# Sends N UDP datagrams (run inside src); argv: dst port count
UDP_PROBES = r"""
import socket, sys, time
dst, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(n):
    s.sendto(b"dscp-probe-%04d" % i + bytes(100), (dst, port))
    time.sleep(0.01)
"""


class CheckFailed(Exception):
    pass


def expect(cond: bool, msg: str) -> None:
    if not cond:
        raise CheckFailed(msg)


def runs(values: list[int]) -> list[tuple[int, int]]:
    """[(value, count)] of consecutive equal values."""
    out: list[tuple[int, int]] = []
    for v in values:
        if out and out[-1][0] == v:
            out[-1] = (v, out[-1][1] + 1)
        else:
            out.append((v, 1))
    return out


def parse_metrics(text: str) -> dict[str, float]:
    """'name{labels}' (as written) -> value, for the simple lookups done here."""
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        try:
            samples[key] = float(value)
        except ValueError:
            pass
    return samples


class ControlPlaneTest:
    def __init__(self, args):
        self.args = args
        self.h = nh.NetnsHarness(args.prefix or nh.free_prefix("cp"), workdir_prefix="dscp-gw-cp-", tag="cp")
        self.gateway: subprocess.Popen | None = None
        self.rest_port: int | None = None
        self.priorities = self.h.path("priorities.yaml")
        self.pods = self.h.path("pods.json")
        self.config = self.h.path("gateway.yaml")
        self.final_stdout = ""
        self.gateway_rc: int | None = None

    # ---------------------------------------------------------------- setup
    def build(self) -> None:
        h = self.h
        for role in ("src", "gw", "dst"):
            h.add_namespace(role)
        h.add_veth("src", "eth0", "gw", "gwk")
        h.add_veth("gw", "gwu", "dst", "eth0")
        h.add_address("src", "eth0", f"{SRC_IP}/24")
        h.add_address("dst", "eth0", f"{DST_IP}/24")
        h.pin_neighbours(("src", "eth0", SRC_IP), ("dst", "eth0", DST_IP))
        h.log(f"topology up: {', '.join(h.created)}")

    def write_config(self) -> None:
        nh.write_atomically(self.priorities, priorities_configmap("critical"))
        with open(self.pods, "w") as f:
            json.dump(pod_list(), f, indent=2)
        eal = ["-l", "0-1", "--file-prefix", self.h.dpdk_file_prefix("gw"), "--no-pci",
               "--vdev", "net_af_xdp0,iface=gwk", "--vdev", "net_af_xdp1,iface=gwu"]
        with open(self.config, "w") as f:
            f.write("# control_plane_test.py\n"
                    f"eal: [{', '.join(json.dumps(a) for a in eal)}]\n"
                    "ports: {kernel: net_af_xdp0, uplink: net_af_xdp1}\n"
                    "shaper: {rate: 0}\n"
                    f"policy: {{priorities: {json.dumps(self.priorities)}, pods: {json.dumps(self.pods)}}}\n"
                    "rest: {listen: 127.0.0.1:0}\n")

    def start_gateway(self) -> None:
        self.write_config()
        self.h.detach_xdp("gw", ["gwk", "gwu"])
        cmd = [self.args.gateway_binary, "run", "--config", self.config]
        self.h.log(f"starting {' '.join(cmd)}")
        # stdin: a pipe that stays open (nothing in the gateway should wait on it).
        self.gateway = self.h.spawn(self.h.with_bpffs(cmd), "gw", "gateway", stdin=subprocess.PIPE)
        deadline = time.monotonic() + READY_TIMEOUT_S
        pinged = False
        while time.monotonic() < deadline:
            if self.gateway.poll() is not None:
                raise nh.Failure(f"gateway exited with {self.gateway.returncode} during startup\n"
                                 f"--- stderr ---\n{nh.tail(self.h.read_log('gateway', 'err'))}\n"
                                 f"--- stdout ---\n{nh.tail(self.h.read_log('gateway', 'out'))}")
            if self.rest_port is None:
                out = self.h.read_log("gateway", "out")
                m = re.search(r"REST on 127\.0\.0\.1:(\d+)", out)
                if m:
                    self.rest_port = int(m.group(1))
                    first = out.splitlines()[0] if out else ""
                    if "REST on" not in first:
                        self.h.log(f"note: the REST line is not the first stdout line (first: {first!r})")
            if self.rest_port is not None and not pinged:
                pinged = self.h.ping("src", DST_IP)
            if pinged:
                self.h.log(f"gateway ready: REST on 127.0.0.1:{self.rest_port}, src reaches dst")
                return
            time.sleep(0.2)
        raise nh.Failure(f"gateway not ready within {READY_TIMEOUT_S:.0f} s (REST port {self.rest_port}, "
                         f"ping {'ok' if pinged else 'failing'})\n"
                         f"--- stderr ---\n{nh.tail(self.h.read_log('gateway', 'err'))}\n"
                         f"--- stdout ---\n{nh.tail(self.h.read_log('gateway', 'out'))}")

    def stop_gateway(self) -> None:
        if self.gateway is None:
            return
        self.gateway_rc = self.h.stop(self.gateway, first=signal.SIGINT, grace=10.0)
        self.final_stdout = self.h.read_log("gateway", "out")
        self.gateway = None

    def teardown(self) -> None:
        try:
            self.stop_gateway()
        finally:
            self.h.teardown(keep=self.args.keep)

    # -------------------------------------------------------------- helpers
    def alive(self) -> None:
        if self.gateway is None or self.gateway.poll() is not None:
            rc = None if self.gateway is None else self.gateway.returncode
            raise CheckFailed(f"gateway is not running (exit {rc})\n"
                              f"--- stderr ---\n{nh.tail(self.h.read_log('gateway', 'err'))}")

    def rest(self, path: str, method: str = "GET") -> nh.HttpReply:
        return self.h.call("gw", nh.http_request, "127.0.0.1", self.rest_port, path, method)

    def rest_json(self, path: str) -> dict:
        r = self.rest(path)
        expect(r.status == 200, f"GET {path}: status {r.status}: {r.text[:300]}")
        return r.json()

    def metrics(self) -> dict[str, float]:
        r = self.rest("/metrics")
        expect(r.status == 200, f"GET /metrics: status {r.status}")
        return parse_metrics(r.text)

    def stderr_rejections(self) -> list[str]:
        return [line for line in self.h.read_log("gateway", "err").splitlines() if "rejected" in line]

    def start_capture(self, name: str, filt: str) -> subprocess.Popen:
        pcap = self.h.path(f"{name}.pcapng")
        p = self.h.spawn(["tshark", "-n", "-q", "-i", "eth0", "-f", filt, "-w", pcap], "dst", name)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if "Capturing on" in self.h.read_log(name, "err"):
                return p
            if p.poll() is not None:
                break
            time.sleep(0.1)
        raise CheckFailed(f"tshark capture did not start: {nh.tail(self.h.read_log(name, 'err'), 10)}")

    def finish_capture(self, name: str, p: subprocess.Popen) -> list[int]:
        """Stops the capture and returns ip.dsfield.dscp of every captured packet, in order."""
        time.sleep(0.3)  # let the last frames reach the socket
        self.h.stop(p, first=signal.SIGINT, grace=5.0)
        pcap = self.h.path(f"{name}.pcapng")
        r = subprocess.run(["tshark", "-n", "-r", pcap, "-T", "fields", "-e", "ip.dsfield.dscp"],
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise CheckFailed(f"tshark -r {pcap} failed: {r.stderr.strip()[-500:]}")
        values = []
        for line in r.stdout.splitlines():
            line = line.strip()
            if line:
                values.append(int(line, 0))
        return values

    def link_packets(self, role: str, dev: str = "eth0") -> dict:
        st = json.loads(self.h.sh(["ip", "-s", "-j", "link", "show", dev], role=role).stdout)[0]["stats64"]
        return {"tx": st["tx"]["packets"], "rx": st["rx"]["packets"], "rx_dropped": st["rx"]["dropped"]}

    def iperf_json(self, name: str) -> dict:
        text = self.h.read_log(name)
        try:
            return json.loads(text)
        except ValueError:
            start = text.find("{")
            try:
                return json.loads(text[start:]) if start >= 0 else {}
            except ValueError:
                return {}

    # ---------------------------------------------------------------- checks
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

    def check_reload_no_loss(self) -> None:
        self.alive()
        before = self.rest_json("/v1/policy")
        stats_before = self.rest_json("/v1/stats")
        src_before, dst_before = self.link_packets("src"), self.link_packets("dst")
        server = self.h.spawn(["iperf3", "-s", "-1", "--json", "-p", str(IPERF_PORT)], "dst", "iperf-server")
        client = None
        capture = None
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                ss = self.h.sh(["ss", "-Hltn", f"sport = :{IPERF_PORT}"], role="dst", check=False).stdout
                if ss.strip():
                    break
                expect(server.poll() is None, f"iperf3 server exited: {self.h.read_log('iperf-server')[-500:]}")
                time.sleep(0.1)
            capture = self.start_capture("cap-reload", f"udp and src host {SRC_IP} and dst port {IPERF_PORT}")
            client = self.h.spawn(["iperf3", "-c", DST_IP, "-p", str(IPERF_PORT), "-u", "-b", IPERF_RATE,
                                   "-l", str(IPERF_LEN), "-t", str(IPERF_SECONDS), "-w", "2M", "--json",
                                   "--get-server-output"], "src", "iperf-client")
            t0 = time.monotonic()
            time.sleep(RELOAD_AT_S)
            expect(client.poll() is None, f"iperf3 client ended early: {self.h.read_log('iperf-client')[-800:]}")
            nh.write_atomically(self.priorities, priorities_configmap("bulk"))
            t_reload = time.monotonic() - t0
            try:
                client.wait(timeout=IPERF_SECONDS + 20)
            except subprocess.TimeoutExpired:
                raise CheckFailed("iperf3 client did not finish") from None
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
            dscps = self.finish_capture("cap-reload", capture)
            capture = None
        finally:
            for p in (client, server, capture):
                if p is not None and p.poll() is None:
                    self.h.stop(p, first=signal.SIGINT, grace=3.0)

        # Whatever iperf3 sees, every frame src sent must have reached dst's interface:
        # iperf3 counts only gaps, so datagrams missing at the very end would not show.
        time.sleep(0.2)
        src_after, dst_after = self.link_packets("src"), self.link_packets("dst")
        stats_after = self.rest_json("/v1/stats")
        sent_frames = src_after["tx"] - src_before["tx"]
        got_frames = dst_after["rx"] - dst_before["rx"]

        def port_delta(port: str, key: str) -> int:
            return stats_after["ports"][port][key] - stats_before["ports"][port][key]

        gw_in, gw_out = port_delta("kernel", "rx_packets"), port_delta("uplink", "tx_packets")
        class_drops = sum(c.get("drops", 0) for c in stats_after.get("classes", []))

        cj, sj = self.iperf_json("iperf-client"), self.iperf_json("iperf-server")
        expect(not cj.get("error"), f"iperf3 client error: {cj.get('error')}")
        expect(not sj.get("error"), f"iperf3 server error: {sj.get('error')}")
        ssum = sj.get("end", {}).get("sum", {})
        lost, packets = ssum.get("lost_packets"), ssum.get("packets")
        csum = cj.get("end", {}).get("sum", {})
        sent = (cj.get("end", {}).get("streams") or [{}])[0].get("udp", {}).get("packets")
        streams = sj.get("end", {}).get("streams") or [{}]
        print(f"  iperf3: client sent {sent}, server received {packets}, lost {lost}, out of order "
              f"{streams[0].get('udp', {}).get('out_of_order', '?')}; priorities rewritten at {t_reload:.2f} s")
        print(f"  frames: src eth0 tx {sent_frames}, gateway kernel rx {gw_in} / uplink tx {gw_out}, "
              f"dst eth0 rx {got_frames} (rx_dropped +{dst_after['rx_dropped'] - dst_before['rx_dropped']}); "
              f"class drops {class_drops}")
        policy = self.rest_json("/v1/policy")
        pods = self.rest_json("/v1/pods")
        seq = runs(dscps)
        print(f"  capture: {len(dscps)} packets, DSCP runs {seq[:8]}{' ...' if len(seq) > 8 else ''}")
        print(f"  /v1/policy reloads {policy.get('reloads')} hash {before.get('content_hash')} -> "
              f"{policy.get('content_hash')}")

        expect(isinstance(packets, int) and packets > 0, f"iperf3 server counted no datagrams: {ssum}")
        expect(lost == 0, f"iperf3 server lost {lost} of {packets} datagrams")
        expect(csum.get("lost_packets", 0) == 0, f"iperf3 client reports {csum.get('lost_packets')} lost")
        expect(sent_frames == gw_in == gw_out == got_frames and class_drops == 0,
               f"frames lost on the way: src sent {sent_frames}, gateway took {gw_in} and sent {gw_out}, "
               f"dst received {got_frames}, class drops {class_drops}")
        expect([v for v, _ in seq] == [DSCP_BEFORE, DSCP_AFTER],
               f"DSCP sequence is {seq[:12]}, expected {DSCP_BEFORE}... then {DSCP_AFTER}... with one switch")
        expect(min(n for _, n in seq) >= 100, f"one side of the switch is too short to mean anything: {seq}")
        expect(policy.get("reloads") == 1, f"/v1/policy reloads {policy.get('reloads')}, expected 1")
        expect(policy.get("reload_errors") == 0, f"/v1/policy reload_errors {policy.get('reload_errors')}")
        expect(policy.get("content_hash") and policy.get("content_hash") != before.get("content_hash"),
               f"content_hash did not change: {before.get('content_hash')} -> {policy.get('content_hash')}")
        expect(policy.get("namespaces") == {POD_NAMESPACE: "bulk"}, f"/v1/policy namespaces {policy.get('namespaces')}")
        mine = [p for p in pods.get("pods", []) if p.get("ip") == SRC_IP]
        expect(len(mine) == 1 and mine[0].get("class") == "bulk" and mine[0].get("dscp") == DSCP_AFTER,
               f"/v1/pods after reload: {mine}")

    def check_invalid_reload(self) -> None:
        self.alive()
        before = self.rest_json("/v1/policy")
        errors_before = self.metrics().get("dscp_gateway_policy_reload_errors_total")
        expect(errors_before is not None, "no dscp_gateway_policy_reload_errors_total in /metrics")
        mine = [p for p in self.rest_json("/v1/pods").get("pods", []) if p.get("ip") == SRC_IP]
        expect(len(mine) == 1, f"/v1/pods does not list {SRC_IP}")
        old_dscp = mine[0]["dscp"]
        rejected_before = len(self.stderr_rejections())

        nh.write_atomically(self.priorities, priorities_configmap("bulk", bulk_dscp=99))
        t_write = time.monotonic()
        deadline = t_write + RELOAD_WAIT_S
        pol = before
        while time.monotonic() < deadline:
            pol = self.rest_json("/v1/policy")
            if pol.get("reload_errors", 0) > before.get("reload_errors", 0):
                break
            time.sleep(0.2)
        seen_after = time.monotonic() - t_write
        err = pol.get("last_reload_error", "")
        print(f"  rejected after {seen_after:.2f} s: last_reload_error {err!r}")
        expect(pol.get("reload_errors") == before.get("reload_errors", 0) + 1,
               f"/v1/policy reload_errors {before.get('reload_errors')} -> {pol.get('reload_errors')} "
               f"within {RELOAD_WAIT_S} s")
        for needle in (self.priorities, "data.priorities.yaml/classes[1].dscp", "0-63", "99"):
            expect(needle in err, f"last_reload_error does not mention {needle!r}: {err!r}")
        expect(pol.get("content_hash") == before.get("content_hash") and pol.get("reloads") == before.get("reloads"),
               f"the rejected file changed the policy: {before.get('content_hash')}/{before.get('reloads')} -> "
               f"{pol.get('content_hash')}/{pol.get('reloads')}")
        errors_after = self.metrics().get("dscp_gateway_policy_reload_errors_total")
        expect(errors_after == errors_before + 1,
               f"dscp_gateway_policy_reload_errors_total {errors_before} -> {errors_after}, expected +1")

        capture = self.start_capture("cap-invalid", f"udp and src host {SRC_IP} and dst port {PROBE_PORT}")
        try:
            self.h.sh([sys.executable, "-c", UDP_PROBES, DST_IP, str(PROBE_PORT), "20"], role="src")
            dscps = self.finish_capture("cap-invalid", capture)
            capture = None
        finally:
            if capture is not None:
                self.h.stop(capture, first=signal.SIGINT, grace=3.0)
        print(f"  probes after the rejection: {len(dscps)} captured, DSCP {sorted(set(dscps))} (old {old_dscp})")
        expect(len(dscps) >= 10, f"only {len(dscps)} of 20 probe datagrams captured")
        expect(set(dscps) == {old_dscp}, f"probes marked {runs(dscps)}, expected all {old_dscp}")

        # The watcher looks again every second: a repeated rejection would show by now.
        time.sleep(max(0.0, 2.5 - (time.monotonic() - t_write)))
        rejected = self.stderr_rejections()[rejected_before:]
        expect(len(rejected) == 1, f"{len(rejected)} 'rejected' lines on stderr for one bad file:\n" +
               "\n".join(rejected))
        print(f"  stderr: {rejected[0]}")

    def check_sigint_shutdown(self) -> None:
        self.alive()
        self.stop_gateway()
        out = self.final_stdout
        expect(self.gateway_rc == 0, f"gateway exit status {self.gateway_rc} after SIGINT\n"
               f"{nh.tail(self.h.read_log('gateway', 'err'), 10)}")
        lines = {m.group(1): (int(m.group(2)), int(m.group(3)), int(m.group(4))) for m in re.finditer(
            r"^class (\S+) dscp=(\d+) packets=(\d+) .*?drops=(\d+)", out, re.M)}
        print("  final: " + "; ".join(f"{k} dscp={v[0]} packets={v[1]} drops={v[2]}" for k, v in lines.items()))
        expect(set(lines) == {c for c, _ in CLASSES}, f"final counters list classes {sorted(lines)}:\n{nh.tail(out, 30)}")
        expect(lines["critical"][1] > 0 and lines["bulk"][1] > 0,
               f"final counters: critical/bulk packets {lines['critical'][1]}/{lines['bulk'][1]}")
        expect(all(v[2] == 0 for v in lines.values()), f"drops in the final counters: {lines}")


CHECKS = [
    ("endpoints", ControlPlaneTest.check_endpoints),
    ("promtool", ControlPlaneTest.check_promtool),
    ("prometheus", ControlPlaneTest.check_prometheus),
    ("reload_no_loss", ControlPlaneTest.check_reload_no_loss),
    ("invalid_reload", ControlPlaneTest.check_invalid_reload),
    ("sigint_shutdown", ControlPlaneTest.check_sigint_shutdown),
]


def preflight(args) -> None:
    missing = [t for t in ("ip", "ethtool", "iperf3", "tshark", "ss", "sysctl", "mount", "mountpoint")
               if shutil.which(t) is None]
    missing += [t for t in (PROMETHEUS, PROMTOOL) if not os.access(t, os.X_OK)]
    if missing:
        raise nh.Failure(f"missing tools: {', '.join(missing)}")
    if not os.access(args.gateway_binary, os.X_OK):
        raise nh.Failure(f"gateway binary not found or not executable: {args.gateway_binary}")
    nh.ensure_hugepages()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--gateway-binary", default=DEFAULT_GATEWAY, help="default: %(default)s")
    ap.add_argument("--prefix", default=None, help="namespace prefix (default cp<pid%%10000>-)")
    ap.add_argument("--keep", action="store_true", help="leave namespaces and logs for debugging")
    args = ap.parse_args(argv)
    args.gateway_binary = os.path.abspath(args.gateway_binary)
    if os.geteuid() != 0:
        print("SKIP: needs root (network namespaces, DPDK)")
        return 77

    nh.install_signal_handlers()
    results: list[tuple[str, bool]] = []
    t_start = time.monotonic()
    test = None
    try:
        try:
            preflight(args)
            test = ControlPlaneTest(args)
            test.build()
            test.start_gateway()
        except nh.Failure as e:
            print(f"setup failed: {e}", flush=True)
            for name, _ in CHECKS:
                print(f"FAIL {name}: not run (setup failed)", flush=True)
                results.append((name, False))
            if test:
                test.h.keep_logs = True
        else:
            for name, fn in CHECKS:
                t = time.monotonic()
                print(f"--- {name}", flush=True)
                try:
                    fn(test)
                    ok, why = True, ""
                except (CheckFailed, nh.Failure) as e:
                    ok, why = False, str(e)
                except nh.Interrupted:
                    raise
                except Exception:  # a bug in the test or an unexpected answer: report, go on
                    ok, why = False, traceback.format_exc()
                dt = time.monotonic() - t
                print(f"{'PASS' if ok else 'FAIL'} {name} ({dt:.1f} s){'' if ok else ': ' + why}", flush=True)
                results.append((name, ok))
                if not ok:
                    test.h.keep_logs = True
    except nh.Interrupted as e:
        print(f"interrupted ({e}), cleaning up", flush=True)
        done = {n for n, _ in results}
        results += [(n, False) for n, _ in CHECKS if n not in done]
    finally:
        nh.ignore_signals()
        if test:
            if test.h.keep_logs and test.gateway is not None:
                print(f"gateway stderr tail:\n{nh.tail(test.h.read_log('gateway', 'err'), 15)}")
            test.teardown()
    passed = sum(1 for _, ok in results if ok)
    failed = len(results) - passed
    print(f"total {time.monotonic() - t_start:.1f} s")
    print(f"{passed} passed, {failed} failed", flush=True)
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
