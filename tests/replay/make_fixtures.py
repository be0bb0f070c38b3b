#!/usr/bin/python3
"""Builds the replay test's inputs from the case table (cases.json).

Writes into an output directory:
  IN.pcap                    one or more frames per case, in table order
  priorities-configmap.yaml  the ConfigMap (data key priorities.yaml) the gateway loads
  pods.json                  a PodList like `kubectl get pods -A -o json`
  manifest.json              per frame: case, pairing marker, expectation and offsets,
                             read by replay_oracle_test.py

Every frame's destination MAC is its pairing marker, 02:44:47:CC:CC:FF (CCCC = case
number, FF = frame number within the case). The gateway may reorder frames across
classes, so the oracle pairs output with input by this marker rather than by position;
the destination MAC is used because it is the only part of a frame that even the
10-byte truncated case still has. The payload also carries the case name as text so
a human reading a capture can tell frames apart.

Needs Debian's python3 with python3-scapy (/usr/bin/python3), not a pyenv python.
"""

import argparse
import json
import logging
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

logging.getLogger("scapy.runtime").setLevel(logging.ERROR)  # IPOption parsing chatter

from scapy.contrib.geneve import GENEVE, GeneveOptions  # noqa: E402
from scapy.contrib.lldp import (  # noqa: E402
    LLDPDUChassisID, LLDPDUEndOfLLDPDU, LLDPDUPortID, LLDPDUTimeToLive)
from scapy.layers.inet import IP, TCP, UDP, IPOption, fragment  # noqa: E402
from scapy.layers.inet6 import (  # noqa: E402
    IPv6, IPv6ExtHdrDestOpt, IPv6ExtHdrFragment, IPv6ExtHdrHopByHop, fragment6)
from scapy.layers.l2 import ARP, Dot1AD, Dot1Q, Ether  # noqa: E402
from scapy.layers.vxlan import VXLAN  # noqa: E402
from scapy.packet import Raw  # noqa: E402
from scapy.utils import RawPcapWriter  # noqa: E402

CASE_TABLE = Path(__file__).with_name("cases.json")

IN_PCAP = "IN.pcap"
PRIORITIES_CONFIGMAP = "priorities-configmap.yaml"
POD_LIST = "pods.json"
MANIFEST = "manifest.json"

MARKER_OUI = (0x02, 0x44, 0x47)  # locally administered unicast, "DG"
OUTER_SRC_MAC = "02:00:00:00:00:01"
INNER_SRC_MAC = "02:00:00:00:01:01"
INNER_DST_MAC = "02:00:00:00:01:02"
ETHERTYPE_TEB = 0x6558
OUTER_TCI_OFFSET = 14  # the outer VLAN tag's PCP:3 DEI:1 VID:12, after its TPID  # Geneve protocol type for an Ethernet payload

# Fixed capture timestamps keep IN.pcap byte-for-byte reproducible.
FIRST_TIMESTAMP_SECONDS = 1_700_000_000

IPV6_EXTENSION_HEADERS = {
    "hop_by_hop": IPv6ExtHdrHopByHop,
    "destination_options": IPv6ExtHdrDestOpt,
    "fragment": IPv6ExtHdrFragment,
}


@dataclass
class FixtureFrame:
    """One frame of IN.pcap and what the gateway must do with it."""
    case: str
    frame_in_case: int       # 1-based
    frames_in_case: int
    marker: str              # destination MAC, unique per frame
    expect_dscp: int | None  # None: the frame must leave byte-identical
    # Where the header that gets the mark starts; set for frames with expect_dscp.
    outer_ip_version: int | None = None
    outer_ip_offset: int | None = None
    # Start of the encapsulated Ethernet frame for VXLAN/Geneve cases (must not change).
    inner_offset: int | None = None
    # What the generator put into the outer header, so the oracle can cross-check
    # its own reading of IN.pcap (a fixture bug must not look like a gateway bug).
    input_dscp: int | None = None
    input_ecn: int | None = None
    input_ipv4_checksum_good: bool | None = None
    input_flow_label: int | None = None
    # 802.1p: the outer VLAN tag's priority the frame must leave with (None: the tag, if
    # any, leaves as it came), and the outer tag as generated (tagged marked frames).
    expect_pcp: int | None = None
    input_pcp: int | None = None
    input_dei: int | None = None
    input_vlan_id: int | None = None

    @property
    def which(self) -> str:
        """Prefix for messages about this frame: empty unless the case has several."""
        return "" if self.frames_in_case == 1 else f"frame {self.frame_in_case}/{self.frames_in_case}: "


@dataclass
class Fixtures:
    directory: Path
    in_pcap: Path
    priorities: Path
    pods: Path
    manifest: Path
    case_names: list[str]
    frames: list[FixtureFrame]
    frame_bytes: list[bytes]  # same order as frames and as IN.pcap


def as_int(value) -> int:
    """Table numbers may be written as JSON ints or as "0x..." strings."""
    return value if isinstance(value, int) else int(value, 0)


def hex_bytes(text: str) -> bytes:
    return bytes.fromhex("".join(text.split()))


def ones_complement_sum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def ipv4_header_checksum_good(frame: bytes, ip_offset: int) -> bool:
    header_length = (frame[ip_offset] & 0x0F) * 4
    return ones_complement_sum(frame[ip_offset:ip_offset + header_length]) == 0xFFFF


def marker_mac(case_number: int, frame_number: int) -> str:
    octets = (*MARKER_OUI, case_number >> 8, case_number & 0xFF, frame_number)
    return ":".join(f"{octet:02x}" for octet in octets)


def marker_payload(text: str, length: int) -> bytes:
    """`text` repeated to `length` bytes, so every fragment shows whose it is."""
    unit = (text + " ").encode()
    return (unit * (length // len(unit) + 1))[:length]


# ---------------------------------------------------------------------------
# Frame construction: a frame spec is a dict from cases.json (README.md, "frame").

def merged(defaults: dict, overrides: dict) -> dict:
    result = dict(defaults)
    result.update(overrides)
    return result


def build_ipv4(spec: dict, defaults: dict):
    fields = merged(defaults["ipv4"], spec)
    header = IP(src=fields["src"], dst=fields["dst"], ttl=fields["ttl"],
                tos=(fields["dscp"] << 2) | fields["ecn"])
    if "id" in fields:
        header.id = fields["id"]
    if "options_hex" in fields:
        header.options = [IPOption(hex_bytes(fields["options_hex"]))]
    # Malformations: scapy writes these fields as given (checksum below).
    for key, field in (("ihl", "ihl"), ("version", "version"), ("total_length", "len")):
        if key in fields:
            setattr(header, field, fields[key])
    return header


def build_ipv6(spec: dict, defaults: dict):
    fields = merged(defaults["ipv6"], spec)
    header = IPv6(src=fields["src"], dst=fields["dst"], hlim=fields["hop_limit"],
                  tc=(fields["dscp"] << 2) | fields["ecn"], fl=as_int(fields["flow_label"]))
    for name in fields.get("ext_headers", []):
        extension = IPV6_EXTENSION_HEADERS[name]()
        if name == "fragment":
            extension.id = fields.get("fragment_id", 1)  # scapy would pick a random one
        header = header / extension
    return header


def build_l4_and_payload(spec: dict, defaults: dict, marker_text: str):
    payload = Raw(marker_payload(marker_text, spec.get("payload_len", defaults["payload_len"])))
    if "vxlan" in spec:
        tunnel = merged(defaults["vxlan"], spec["vxlan"])
        inner = build_ethernet(tunnel["inner"], defaults, INNER_DST_MAC, INNER_SRC_MAC, marker_text)
        return (UDP(sport=defaults["udp"]["sport"], dport=tunnel["dport"])
                / VXLAN(vni=tunnel["vni"]) / inner)
    if "geneve" in spec:
        tunnel = merged(defaults["geneve"], spec["geneve"])
        options = [GeneveOptions(classid=as_int(option["class"]), type=as_int(option["type"]),
                                 data=hex_bytes(option["data_hex"]))
                   for option in tunnel.get("options", [])]
        inner = build_ethernet(tunnel["inner"], defaults, INNER_DST_MAC, INNER_SRC_MAC, marker_text)
        return (UDP(sport=defaults["udp"]["sport"], dport=tunnel["dport"])
                / GENEVE(vni=tunnel["vni"], proto=ETHERTYPE_TEB, options=options) / inner)
    if "tcp" in spec:
        ports = merged(defaults["tcp"], spec["tcp"])
        return TCP(sport=ports["sport"], dport=ports["dport"], flags="PA") / payload
    ports = merged(defaults["udp"], spec.get("udp", {}))
    return UDP(sport=ports["sport"], dport=ports["dport"]) / payload


def build_l3(spec: dict, defaults: dict, marker_text: str):
    """The packet after the Ethernet/VLAN headers, or a non-IP payload with its ethertype."""
    if "ipv4" in spec:
        return build_ipv4(spec["ipv4"], defaults) / build_l4_and_payload(spec, defaults, marker_text)
    if "ipv6" in spec:
        return build_ipv6(spec["ipv6"], defaults) / build_l4_and_payload(spec, defaults, marker_text)
    if "arp" in spec:
        return ARP(op=1, hwsrc=OUTER_SRC_MAC, psrc=spec["arp"]["psrc"], pdst=spec["arp"]["pdst"])
    if "lldp" in spec:
        return (LLDPDUChassisID(subtype=4, id=OUTER_SRC_MAC) / LLDPDUPortID(subtype=5, id="eth0")
                / LLDPDUTimeToLive(ttl=120) / LLDPDUEndOfLLDPDU())
    if "raw" in spec:
        return Raw(hex_bytes(spec["raw"]["payload_hex"]))
    raise ValueError(f"frame spec has no ipv4/ipv6/arp/lldp/raw: {spec}")


def wrap_in_ethernet(l3, spec: dict, dst_mac: str, src_mac: str):
    """Ethernet header plus the spec's VLAN tags (outermost first) in front of `l3`."""
    frame = Ether(dst=dst_mac, src=src_mac)
    if "raw" in spec:
        frame.type = as_int(spec["raw"]["ethertype"])
    if "lldp" in spec:
        frame.type = 0x88CC
    for tag in spec.get("vlans", []):
        tag_class = {0x8100: Dot1Q, 0x88A8: Dot1AD}[as_int(tag["tpid"])]
        frame = frame / tag_class(vlan=tag["vid"], prio=tag.get("pcp", 0), id=tag.get("dei", 0))
    return frame / l3


def build_ethernet(spec: dict, defaults: dict, dst_mac: str, src_mac: str, marker_text: str):
    return wrap_in_ethernet(build_l3(spec, defaults, marker_text), spec, dst_mac, src_mac)


def corrupt_ipv4_checksum(frame: bytes, ip_offset: int) -> bytes:
    """A checksum that is certainly wrong (the right one with bits flipped)."""
    checksum = int.from_bytes(frame[ip_offset + 10:ip_offset + 12], "big") ^ 0x5A5A
    return frame[:ip_offset + 10] + checksum.to_bytes(2, "big") + frame[ip_offset + 12:]


def build_case_frames(case: dict, case_number: int, defaults: dict) -> list[tuple[FixtureFrame, bytes]]:
    spec = case["frame"]
    if "fragment_size" in spec:
        whole = build_l3(spec, defaults, case["name"])
        if "ipv4" in spec:
            l3_packets = fragment(whole, fragsize=spec["fragment_size"])
        else:
            l3_packets = fragment6(whole, spec["fragment_size"])
    else:
        l3_packets = [build_l3(spec, defaults, case["name"])]

    outer_ip_version = 4 if "ipv4" in spec else 6 if "ipv6" in spec else None
    outer_ip_offset = 14 + 4 * len(spec.get("vlans", [])) if outer_ip_version else None
    expect_dscp = case.get("expect_dscp")
    if (expect_dscp is None) == (case.get("expect") != "unchanged"):
        raise ValueError(f"case {case['name']}: give exactly one of expect_dscp or expect: unchanged")
    expect_pcp = case.get("expect_pcp")
    if expect_pcp is not None and (expect_dscp is None or not spec.get("vlans")):
        raise ValueError(f"case {case['name']}: expect_pcp needs a VLAN-tagged frame with expect_dscp")

    results = []
    for frame_number, l3 in enumerate(l3_packets, start=1):
        marker = marker_mac(case_number, frame_number)
        packet = wrap_in_ethernet(l3, spec, marker, OUTER_SRC_MAC)
        data = bytes(packet)
        inner_offset = None
        for tunnel_layer in (VXLAN, GENEVE):
            if packet.haslayer(tunnel_layer):
                inner_offset = len(data) - len(bytes(packet[tunnel_layer].payload))
        if outer_ip_version == 4 and spec["ipv4"].get("checksum") == "bad":
            data = corrupt_ipv4_checksum(data, outer_ip_offset)
        if "pad_to" in spec:
            data = data.ljust(spec["pad_to"], b"\0")
        if "truncate_to" in spec:
            data = data[:spec["truncate_to"]]
        if len(data) < 6:
            raise ValueError(f"case {case['name']}: a frame needs its 6-byte marker")

        frame = FixtureFrame(case=case["name"], frame_in_case=frame_number,
                             frames_in_case=len(l3_packets), marker=marker, expect_dscp=expect_dscp)
        if expect_dscp is not None:
            frame.outer_ip_version = outer_ip_version
            frame.outer_ip_offset = outer_ip_offset
            frame.inner_offset = inner_offset
            frame.input_dscp, frame.input_ecn = read_dscp_ecn(data, outer_ip_version, outer_ip_offset)
            if outer_ip_version == 4:
                frame.input_ipv4_checksum_good = ipv4_header_checksum_good(data, outer_ip_offset)
            else:
                frame.input_flow_label = int.from_bytes(
                    data[outer_ip_offset + 1:outer_ip_offset + 4], "big") & 0xFFFFF
            if spec.get("vlans"):
                frame.expect_pcp = expect_pcp
                tci = int.from_bytes(data[OUTER_TCI_OFFSET:OUTER_TCI_OFFSET + 2], "big")
                frame.input_pcp, frame.input_dei, frame.input_vlan_id = tci >> 13, (tci >> 12) & 1, tci & 0xFFF
        results.append((frame, data))
    return results


def read_dscp_ecn(frame: bytes, ip_version: int, ip_offset: int) -> tuple[int, int]:
    if ip_version == 4:
        traffic_class = frame[ip_offset + 1]
    else:
        traffic_class = ((frame[ip_offset] & 0x0F) << 4) | (frame[ip_offset + 1] >> 4)
    return traffic_class >> 2, traffic_class & 0x03


# ---------------------------------------------------------------------------
# Policy files.

def yaml_scalar(value) -> str:
    """JSON strings and numbers are valid YAML flow scalars; quoting every string keeps
    keys like "batch-*" from being read as YAML aliases."""
    return json.dumps(value)


def render_priorities_yaml(policy: dict) -> str:
    lines = ["classes:"]
    for traffic_class in policy["classes"]:
        lines.append(f"  - name: {yaml_scalar(traffic_class['name'])}")
        lines.append(f"    dscp: {traffic_class['dscp']}")
        if "maxRate" in traffic_class:
            lines.append(f"    maxRate: {yaml_scalar(traffic_class['maxRate'])}")
        if "pcp" in traffic_class:
            lines.append(f"    pcp: {traffic_class['pcp']}")
    lines.append(f"defaultClass: {yaml_scalar(policy['defaultClass'])}")
    lines.append("namespaces:")
    for namespace, class_name in policy["namespaces"].items():
        lines.append(f"  {yaml_scalar(namespace)}: {yaml_scalar(class_name)}")
    if "podOverrides" in policy:
        lines.append("podOverrides:")
        allowed = policy["podOverrides"].get("allowedClasses", [])
        lines.append(f"  allowedClasses: [{', '.join(yaml_scalar(name) for name in allowed)}]")
        if "offlineClass" in policy["podOverrides"]:
            lines.append(f"  offlineClass: {yaml_scalar(policy['podOverrides']['offlineClass'])}")
    return "\n".join(lines) + "\n"


def render_priorities_configmap(policy: dict) -> str:
    body = "".join(f"    {line}\n" for line in render_priorities_yaml(policy).splitlines())
    return ("apiVersion: v1\n"
            "kind: ConfigMap\n"
            "metadata:\n"
            "  name: dscp-gateway-priorities\n"
            "  namespace: dscp-gateway\n"
            "data:\n"
            "  priorities.yaml: |\n" + body)


def render_pod_list(pods: list[dict]) -> dict:
    items = []
    for number, pod in enumerate(pods, start=1):
        phase = pod.get("phase", "Running")
        metadata = {
            "name": pod["name"],
            "namespace": pod["namespace"],
            "uid": f"00000000-0000-4000-8000-{number:012d}",
            "creationTimestamp": pod.get("created", "2024-01-01T00:00:00Z"),
        }
        if pod.get("deleting"):
            metadata["deletionTimestamp"] = "2024-08-01T00:00:00Z"
        if pod.get("annotations"):
            metadata["annotations"] = pod["annotations"]
        status = {"phase": phase}
        if pod["ips"]:
            status["podIP"] = pod["ips"][0]
            if not pod.get("pod_ip_only"):
                status["podIPs"] = [{"ip": ip} for ip in pod["ips"]]
        if pod.get("host_network"):
            status["hostIP"] = pod["ips"][0]
        items.append({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": metadata,
            "spec": {"hostNetwork": bool(pod.get("host_network", False)),
                     "containers": [{"name": "main", "image": "registry.example/app:1"}]},
            "status": status,
        })
    return {"apiVersion": "v1", "kind": "List", "items": items, "metadata": {"resourceVersion": ""}}


# ---------------------------------------------------------------------------

def load_case_table(path: Path = CASE_TABLE) -> dict:
    table = json.loads(path.read_text())
    names = [case["name"] for case in table["cases"]]
    duplicates = {name for name in names if names.count(name) > 1}
    if duplicates:
        raise ValueError(f"duplicate case names: {sorted(duplicates)}")
    return table


def generate(output_dir: Path, table_path: Path = CASE_TABLE) -> Fixtures:
    table = load_case_table(table_path)
    output_dir.mkdir(parents=True, exist_ok=True)

    frames, frame_bytes = [], []
    for case_number, case in enumerate(table["cases"], start=1):
        for frame, data in build_case_frames(case, case_number, table["defaults"]):
            frames.append(frame)
            frame_bytes.append(data)

    fixtures = Fixtures(directory=output_dir, in_pcap=output_dir / IN_PCAP,
                        priorities=output_dir / PRIORITIES_CONFIGMAP, pods=output_dir / POD_LIST,
                        manifest=output_dir / MANIFEST,
                        case_names=[case["name"] for case in table["cases"]],
                        frames=frames, frame_bytes=frame_bytes)

    writer = RawPcapWriter(str(fixtures.in_pcap), linktype=1, sync=True)  # 1: Ethernet
    writer.write_header(None)
    for number, data in enumerate(frame_bytes):
        writer.write_packet(data, sec=FIRST_TIMESTAMP_SECONDS + number, usec=0,
                            caplen=len(data), wirelen=len(data))
    writer.close()

    fixtures.priorities.write_text(render_priorities_configmap(table["policy"]))
    fixtures.pods.write_text(json.dumps(render_pod_list(table["pods"]), indent=2) + "\n")
    fixtures.manifest.write_text(json.dumps(
        {"cases": fixtures.case_names, "frames": [asdict(frame) for frame in frames]}, indent=1) + "\n")
    return fixtures


def load_manifest(directory: Path) -> list[FixtureFrame]:
    return [FixtureFrame(**entry) for entry in json.loads((directory / MANIFEST).read_text())["frames"]]


# ---------------------------------------------------------------------------
# Table lint: an independent model of the policy, to catch typos in expect_dscp.
# It is a development aid (run by --lint and by the oracle's --self-check), not part of
# the oracle: the table's hand-written expectations are what the gateway is held to.

def lint_case_table(table: dict) -> list[str]:
    policy, problems = table["policy"], []
    dscp_of_class = {traffic_class["name"]: traffic_class["dscp"] for traffic_class in policy["classes"]}
    pcp_of_class = {traffic_class["name"]: traffic_class.get("pcp") for traffic_class in policy["classes"]}

    def class_of_namespace(namespace: str) -> str:
        if namespace in policy["namespaces"] and not namespace.endswith("*"):
            return policy["namespaces"][namespace]
        prefixes = [(pattern[:-1], class_name) for pattern, class_name in policy["namespaces"].items()
                    if pattern.endswith("*") and namespace.startswith(pattern[:-1])]
        if prefixes:
            return max(prefixes, key=lambda prefix: len(prefix[0]))[1]
        return policy["defaultClass"]

    owner = {}  # address -> pod, after the pods.h filtering and conflict rules
    for pod in table["pods"]:
        if pod.get("host_network") or pod.get("phase", "Running") in ("Succeeded", "Failed"):
            continue
        for address in pod["ips"][:1] if pod.get("pod_ip_only") else pod["ips"]:
            rank = (not pod.get("deleting"), pod.get("created", ""))
            current = owner.get(address)
            if current is None or rank > (not current.get("deleting"), current.get("created", "")):
                owner[address] = pod

    malformed_keys = {"truncate_to", "ihl", "version", "total_length"}
    for case in table["cases"]:
        spec = case["frame"]
        if malformed_keys & (set(spec) | set(spec.get("ipv4", {}))):
            if case.get("expect") != "unchanged":
                problems.append(f"{case['name']}: malformed frame should expect unchanged")
            continue
        classified = spec
        for tunnel in ("vxlan", "geneve"):
            if tunnel in spec:
                classified = spec[tunnel]["inner"]
        ip_spec = classified.get("ipv4") or classified.get("ipv6")
        pod = owner.get(ip_spec["src"]) if ip_spec else None
        model = dscp_of_class[class_of_namespace(pod["namespace"])] if pod else None
        if model != case.get("expect_dscp"):
            problems.append(f"{case['name']}: table says {case.get('expect_dscp', 'unchanged')}, "
                            f"policy model says {'unchanged' if model is None else model}")
        pcp_model = pcp_of_class[class_of_namespace(pod["namespace"])] if pod and spec.get("vlans") else None
        if pcp_model != case.get("expect_pcp"):
            problems.append(f"{case['name']}: table says expect_pcp {case.get('expect_pcp')}, "
                            f"policy model says {pcp_model}")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, help="directory to write the fixtures into")
    parser.add_argument("--cases", type=Path, default=CASE_TABLE, help="case table (default: %(default)s)")
    parser.add_argument("--lint", action="store_true", help="check expect_dscp against the policy model")
    args = parser.parse_args()
    if args.lint:
        problems = lint_case_table(load_case_table(args.cases))
        print("\n".join(problems) or "case table agrees with the policy model")
        if problems:
            return 1
    if args.out:
        fixtures = generate(args.out, args.cases)
        print(f"{len(fixtures.case_names)} cases, {len(fixtures.frames)} frames -> {fixtures.directory}")
    elif not args.lint:
        parser.error("give --out DIR and/or --lint")
    return 0


if __name__ == "__main__":
    sys.exit(main())
