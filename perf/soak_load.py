"""The load perf/soak.py puts on a running gateway, each a thread that has joined the
namespace the gateway runs in (its REST port and the fake API server live on that
namespace's loopback):

  PolicyRewriter  rewrites the priorities file every second, valid and invalid in turn,
                  and waits until the gateway has taken each version (so that reload
                  errors can be compared with invalid writes one for one)
  PodChurner      pod events through the fake API server's control port, in batches, at a
                  fixed rate, with dropped watches and 410 Gone injected periodically
  RestScraper     GETs the REST endpoints at a fixed rate on one keep-alive connection
  ProcessSampler  RSS and open file descriptors of the gateway process

Every thread counts what it did and what failed; none raises out of its loop.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import threading
import time

from netns.calls import _enter_netns
from netns.common import write_atomically

CHURN_NODE = "virtual-node"
CHURN_NAMESPACES = [f"churn-{i}" for i in range(8)]
CHURN_POD_SLOTS = 256  # pods 10.203.<slot / 250>.<slot % 250 + 1>, created, changed, deleted


class LoadThread(threading.Thread):
    """A daemon thread in network namespace `netns` running tick() every `period` seconds
    (on a fixed schedule, so a slow tick does not lower the rate) until stop()."""

    def __init__(self, name: str, netns: str, period: float):
        super().__init__(name=name, daemon=True)
        self.netns, self.period = netns, period
        self.stopping = threading.Event()
        self.errors: list[str] = []  # first few, for the report
        self.error_count = 0

    def error(self, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < 10:
            self.errors.append(f"{time.strftime('%H:%M:%S')} {message}")

    def run(self) -> None:
        _enter_netns(self.netns)
        next_tick = time.monotonic()
        while not self.stopping.is_set():
            try:
                self.tick()
            except Exception as e:  # noqa: BLE001 - counted, the load goes on
                self.error(f"{type(e).__name__}: {e}")
            next_tick += self.period
            delay = next_tick - time.monotonic()
            if delay < -1.0:  # fell far behind (host busy): do not burst to catch up
                next_tick = time.monotonic()
            elif delay > 0:
                self.stopping.wait(delay)

    def tick(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=30)


class Http:
    """One keep-alive HTTP/1.1 connection, reopened after any failure."""

    def __init__(self, host: str, port: int, timeout: float = 5.0):
        self.host, self.port, self.timeout = host, port, timeout
        self.conn: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, bytes]:
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            data = None if body is None else json.dumps(body).encode()
            headers = {"Content-Type": "application/json"} if data is not None else {}
            self.conn.request(method, path, body=data, headers=headers)
            reply = self.conn.getresponse()
            return reply.status, reply.read()
        except (OSError, http.client.HTTPException):
            self.conn.close()
            self.conn = None
            raise

    def json(self, method: str, path: str, body: dict | None = None) -> dict:
        status, data = self.request(method, path, body)
        if status != 200:
            raise RuntimeError(f"{method} {path}: HTTP {status}: {data[:200]!r}")
        return json.loads(data)


class PolicyRewriter(LoadThread):
    """Writes `valid` versions (in turn) and `invalid` alternately, one per second; after
    each write waits (bounded) for /v1/policy to count it as a reload or a reload error."""

    ACK_TIMEOUT_S = 5.0

    def __init__(self, netns: str, path: str, rest_port: int, valid: list[str], invalid: str):
        super().__init__("policy-rewriter", netns, 1.0)
        self.path, self.valid, self.invalid = path, valid, invalid
        self.rest = Http("127.0.0.1", rest_port)
        self.writes = {"valid": 0, "invalid": 0}
        self.unacknowledged = 0
        self.turn = 1  # invalid first: valid[0] is what the gateway starts with

    def counts(self) -> tuple[int, int]:
        policy = self.rest.json("GET", "/v1/policy")
        return policy["reloads"], policy["reload_errors"]

    def tick(self) -> None:
        before = self.counts()
        invalid = self.turn % 2 == 1
        text = self.invalid if invalid else self.valid[(self.turn // 2) % len(self.valid)]
        self.turn += 1
        write_atomically(self.path, text)
        self.writes["invalid" if invalid else "valid"] += 1
        deadline = time.monotonic() + self.ACK_TIMEOUT_S
        while time.monotonic() < deadline:  # also when stopping: the last write counts too
            after = self.counts()
            if after[1 if invalid else 0] > before[1 if invalid else 0]:
                return
            time.sleep(0.05)
        self.unacknowledged += 1
        self.error(f"{'invalid' if invalid else 'valid'} write #{self.turn} not taken within {self.ACK_TIMEOUT_S} s")


class PodChurner(LoadThread):
    """`events_per_s` pod events (create, relabel, delete of pods on this node) in batches of
    `batch` through the control port; every `drop_every_s` a dropped pod watch, every
    `gone_every_s` a compaction plus 410 Gone on the next pod watch."""

    def __init__(self, netns: str, control_port: int, events_per_s: int, batch: int = 10,
                 drop_every_s: float = 7.0, gone_every_s: float = 23.0):
        super().__init__("pod-churner", netns, batch / events_per_s)
        self.control = Http("127.0.0.1", control_port, timeout=10.0)
        self.batch = batch
        self.drop_every, self.gone_every = drop_every_s, gone_every_s
        self.random = random.Random(20261202)
        self.live: dict[int, str] = {}  # slot -> namespace
        self.generation = 0
        self.events = 0
        self.drops = 0
        self.gones = 0
        self.started = time.monotonic()
        self.next_drop = self.started + drop_every_s
        self.next_gone = self.started + gone_every_s

    def setup(self) -> None:
        """The churn namespaces (called before start(), from inside the namespace)."""
        for namespace in CHURN_NAMESPACES:
            self.control.json("POST", "/namespaces", {"name": namespace})

    def op(self, slot: int) -> dict:
        name = f"churn-{slot}"
        if slot in self.live and self.random.random() < 0.5:
            namespace = self.live.pop(slot)
            return {"op": "delete", "resource": "pods", "namespace": namespace, "name": name}
        namespace = self.live.get(slot) or self.random.choice(CHURN_NAMESPACES)
        self.live[slot] = namespace
        self.generation += 1
        return {"op": "pod", "name": name, "namespace": namespace, "node": CHURN_NODE,
                "ip": f"10.203.{slot // 250}.{slot % 250 + 1}", "phase": "Running",
                "labels": {"generation": str(self.generation)}}

    def tick(self) -> None:
        ops = [self.op(self.random.randrange(CHURN_POD_SLOTS)) for _ in range(self.batch)]
        self.control.json("POST", "/batch", {"ops": ops})
        self.events += len(ops)
        now = time.monotonic()
        if now >= self.next_gone:
            self.next_gone += self.gone_every
            self.control.json("POST", "/compact", {})
            self.control.json("POST", "/fault/gone", {"resource": "pods", "op": "watch"})
            self.control.json("POST", "/fault/drop-watch", {"resource": "pods"})
            self.gones += 1
        elif now >= self.next_drop:
            self.next_drop += self.drop_every
            self.control.json("POST", "/fault/drop-watch", {"resource": "pods"})
            self.drops += 1


class RestScraper(LoadThread):
    """GETs `paths` in turn, `per_s` times a second; anything but 200 is a failure."""

    def __init__(self, netns: str, rest_port: int, paths: list[str], per_s: int):
        super().__init__("rest-scraper", netns, 1.0 / per_s)
        self.rest = Http("127.0.0.1", rest_port)
        self.paths = paths
        self.requests = 0
        self.failures = 0
        self.latencies_ms: list[float] = []

    def tick(self) -> None:
        path = self.paths[self.requests % len(self.paths)]
        self.requests += 1
        start = time.perf_counter()
        try:
            status, _ = self.rest.request("GET", path)
        except (OSError, http.client.HTTPException) as e:
            self.failures += 1
            self.error(f"GET {path}: {type(e).__name__}: {e}")
            return
        self.latencies_ms.append((time.perf_counter() - start) * 1000)
        if status != 200:
            self.failures += 1
            self.error(f"GET {path}: HTTP {status}")


def process_sample(pid: int) -> dict:
    """RSS (KiB, from /proc/PID/status) and open file descriptors of a process."""
    rss_kib = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss_kib = int(line.split()[1])
    return {"rss_kib": rss_kib, "fds": len(os.listdir(f"/proc/{pid}/fd"))}


class ProcessSampler(LoadThread):
    """process_sample() of `pid` every `period` seconds, with the time since start."""

    def __init__(self, netns: str, pid: int, period: float):
        super().__init__("process-sampler", netns, period)
        self.pid = pid
        self.started = time.monotonic()
        self.samples: list[dict] = []

    def tick(self) -> None:
        sample = process_sample(self.pid)
        sample["t_s"] = round(time.monotonic() - self.started, 1)
        self.samples.append(sample)
