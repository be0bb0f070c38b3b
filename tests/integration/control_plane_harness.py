"""The live gateway that control_plane_test.py checks: two network namespaces, a dscp-gateway
bridging them with its REST server, and the helpers the checks share.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

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


class ControlPlaneHarness:
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
