#!/usr/bin/env python3
"""Mixed egress traffic for the pipeline benchmarks, written with scapy.

Writes into OUTDIR:
  mix.pcap         frames of 64-1500 bytes: IPv4, IPv6, 802.1Q-tagged IPv4, VXLAN
                   (outer node address, inner pod address), TCP and UDP, ~1,000 flows
                   from pods spread over 8 namespaces, plus a few from the node itself
  priorities.yaml  the ConfigMap mapping those namespaces to four classes
  pods.json        the PodList (dual stack: every pod has an IPv4 and an IPv6 address)
  mix.json         what was generated (counts per kind, sizes, flows), for the report

Deterministic for a given --seed. Nothing is sent anywhere: this only writes files.

    /usr/bin/python3 perf/gen_traffic.py OUTDIR [--packets 4096] [--flows 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys

from netns.policies import FOUR_CLASSES

NAMESPACES = ["ray-training", "ray-serve", "inference", "default",
              "monitoring", "web", "batch-etl", "batch-reports"]
PODS_PER_NAMESPACE = 16
PRIORITIES = FOUR_CLASSES + """namespaces:
  ray-training: critical
  ray-serve: high
  inference: high
  batch-*: scavenger
"""
NODE_V4 = ("10.0.0.1", "10.0.0.2")  # VXLAN endpoints and the node's own traffic
# Share of each kind of frame (sums to 1).
KINDS = [("ipv4", 0.45), ("ipv6", 0.20), ("vlan", 0.15), ("vxlan", 0.15), ("node", 0.05)]


def pod_v4(ns_index: int, pod: int) -> str:
    return f"10.244.{ns_index}.{pod + 2}"


def pod_v6(ns_index: int, pod: int) -> str:
    return f"fd00:244:0:{ns_index:x}::{pod + 2:x}"


def pod_list() -> dict:
    items = []
    for n, namespace in enumerate(NAMESPACES):
        for p in range(PODS_PER_NAMESPACE):
            v4, v6 = pod_v4(n, p), pod_v6(n, p)
            items.append({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": f"{namespace}-{p}", "namespace": namespace,
                             "uid": f"00000000-0000-4000-8000-{n:06x}{p:06x}",
                             "creationTimestamp": "2024-05-01T12:00:00Z"},
                "spec": {"nodeName": "bench-node", "containers": [{"name": "main", "image": "bench"}]},
                "status": {"phase": "Running", "hostIP": NODE_V4[0], "podIP": v4,
                           "podIPs": [{"ip": v4}, {"ip": v6}]},
            })
    return {"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": items}


def configmap() -> str:
    body = "".join(f"    {line}\n" for line in PRIORITIES.splitlines())
    return ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: dscp-gateway-priorities\n"
            "  namespace: dscp-gateway\ndata:\n  priorities.yaml: |\n" + body)


def frame_size(rng: random.Random) -> int:
    """Bimodal like real egress: half minimum-size (ACKs), a quarter full-size."""
    r = rng.random()
    if r < 0.5:
        return 64
    if r < 0.75:
        return 1500
    return rng.randint(65, 1499)


def generate(outdir: str, packets: int = 4096, flows: int = 1000, seed: int = 1) -> dict:
    # scapy is imported here so that importing this module (for its constants) is cheap.
    from scapy.all import IP, TCP, UDP, VXLAN, Dot1Q, Ether, IPv6, Raw, wrpcap  # noqa: PLC0415

    rng = random.Random(seed)
    os.makedirs(outdir, exist_ok=True)
    kinds, weights = zip(*KINDS)
    flow_list = []
    for f in range(flows):
        kind = rng.choices(kinds, weights)[0]
        n, p = rng.randrange(len(NAMESPACES)), rng.randrange(PODS_PER_NAMESPACE)
        flow_list.append({"kind": kind, "ns": n, "pod": p, "tcp": rng.random() < 0.5,
                          "sport": rng.randint(1024, 65535), "dport": rng.choice([80, 443, 5201, 6379, 8080, 9000]),
                          "dst": rng.randint(1, 250), "id": f})

    frames, counts, sizes = [], {k: 0 for k in kinds}, []
    src_mac, dst_mac = "02:00:00:00:00:01", "02:00:00:00:00:02"
    for i in range(packets):
        flow = flow_list[i % flows] if i < flows else rng.choice(flow_list)  # every flow appears
        size = frame_size(rng)
        kind = flow["kind"]
        l4 = (TCP(sport=flow["sport"], dport=flow["dport"], flags="A", seq=i) if flow["tcp"]
              else UDP(sport=flow["sport"], dport=flow["dport"]))
        if kind == "ipv6":
            pkt = Ether(src=src_mac, dst=dst_mac) / IPv6(src=pod_v6(flow["ns"], flow["pod"]),
                                                         dst=f"fd00:96::{flow['dst']:x}") / l4
        elif kind == "vxlan":
            inner = Ether(src="02:00:00:00:01:01", dst="02:00:00:00:01:02") / IP(
                src=pod_v4(flow["ns"], flow["pod"]), dst=f"10.245.{flow['ns']}.{flow['dst']}") / l4
            pkt = Ether(src=src_mac, dst=dst_mac) / IP(src=NODE_V4[0], dst=NODE_V4[1]) / UDP(
                sport=flow["sport"], dport=4789) / VXLAN(vni=42) / inner
        else:
            src = NODE_V4[0] if kind == "node" else pod_v4(flow["ns"], flow["pod"])
            ip = IP(src=src, dst=f"10.96.{flow['ns']}.{flow['dst']}", id=i & 0xffff)
            eth = Ether(src=src_mac, dst=dst_mac)
            pkt = (eth / Dot1Q(vlan=100 + flow["ns"]) / ip / l4) if kind == "vlan" else (eth / ip / l4)
        pad = size - len(pkt)
        if pad > 0:
            pkt = pkt / Raw(bytes(pad))
        frames.append(pkt)
        counts[kind] += 1
        sizes.append(len(pkt))

    pcap = os.path.join(outdir, "mix.pcap")
    wrpcap(pcap, frames)
    priorities = os.path.join(outdir, "priorities.yaml")
    with open(priorities, "w") as f:
        f.write(configmap())
    pods = os.path.join(outdir, "pods.json")
    with open(pods, "w") as f:
        json.dump(pod_list(), f, indent=1)
    summary = {"pcap": pcap, "priorities": priorities, "pods": pods, "packets": packets,
               "flows": flows, "namespaces": len(NAMESPACES),
               "pod_addresses": 2 * len(NAMESPACES) * PODS_PER_NAMESPACE,
               "kinds": counts, "bytes_min": min(sizes), "bytes_max": max(sizes),
               "bytes_mean": sum(sizes) / len(sizes), "seed": seed}
    with open(os.path.join(outdir, "mix.json"), "w") as f:
        json.dump(summary, f, indent=2)
    return summary


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("outdir")
    ap.add_argument("--packets", type=int, default=4096)
    ap.add_argument("--flows", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    print(json.dumps(generate(args.outdir, args.packets, args.flows, args.seed), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
