#!/usr/bin/python3
"""Replays generated frames through `dscp-gateway replay` and judges the output with tshark.

    replay_oracle_test.py --gateway-binary build/gateway/dscp-gateway [--workdir DIR]
    replay_oracle_test.py --self-check [--workdir DIR]

The case table (cases.json) says, for every frame, which outer DSCP it must leave with
or that it must leave byte-identical. make_fixtures.py turns it into IN.pcap plus the
priorities ConfigMap and PodList. This script runs the gateway on them and checks
OUT.pcap. It pairs output frames with input frames by a per-frame marker (the
destination MAC) because the gateway may reorder frames across classes.

What is checked (tshark is the independent reader of the output headers):
  run level ("replay_run"): exit status 0, the --json object parses and its in/out
      totals equal the number of frames written, OUT.pcap holds as many frames as IN.pcap,
      and holds no frame that is not an input frame.
  marked frames: outer DSCP as expected, ECN as on input, IPv4 checksum status as on
      input (good stays good, bad stays bad), IPv6 flow label as on input, and every byte
      except the outer DSCP bits and IPv4 checksum identical (so tunnel inner frames too).
  unchanged frames: byte-identical.

Prints one line per failed check, then "N passed, M failed" where the entries are the
cases of the table plus the run-level entry "replay_run". Exits 1 on any failure.

--self-check proves the oracle itself: it stands in for the gateway with a small Python
reference rewrite (RFC 1624 incremental checksum update, shuffled output) and runs the
oracle once on correct output, which must pass, and once per deliberate corruption
(wrong DSCP, laundered checksum, changed inner header, dropped frame, ...), each of which
must fail exactly the cases it touched.

Needs Debian's python3 with python3-scapy (/usr/bin/python3) and tshark.
"""

import argparse
import json
import random
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree when meson runs us
sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_fixtures  # noqa: E402
from make_fixtures import FixtureFrame, Fixtures, ones_complement_sum  # noqa: E402
from scapy.utils import RawPcapReader, RawPcapWriter  # noqa: E402

RUN_LEVEL = "replay_run"
OUT_PCAP = "OUT.pcap"
GATEWAY_TIMEOUT_SECONDS = 90

# tshark field names (checked against `tshark -G fields`, Wireshark 4.0). With
# occurrence=f each field is its first occurrence in the frame, i.e. the outer header of
# that family; the outer family of every frame is known from the manifest, so a tunnel's
# inner header of the other family can never be mistaken for the outer one.
TSHARK_FIELDS = [
    "frame.number",
    "ip.dsfield.dscp",
    "ip.dsfield.ecn",
    "ip.checksum.status",
    "ipv6.tclass.dscp",
    "ipv6.tclass.ecn",
    "ipv6.flow",
    "vlan.priority",  # first occurrence: the outer 802.1Q tag
    "vlan.dei",
    "vlan.id",
    "ieee8021ad.priority",  # tshark names an 802.1ad (0x88a8) service tag's fields apart
    "ieee8021ad.dei",
    "ieee8021ad.id",
]
TSHARK_PREFERENCES = [
    "ip.check_checksum:TRUE",  # off by default: status would read "unverified"
    # Reassembly would make a fragment's fields describe the reassembled datagram.
    "ip.defragment:FALSE",
    "ipv6.defragment:FALSE",
]
CHECKSUM_STATUS_NAMES = {"0": "bad", "1": "good", "2": "unverified"}

# Where the gateway's --json object may put its totals. The replay mode's schema is its
# own; the oracle accepts these spellings at the top level or one level down under
# TOTALS_CONTAINERS, and says what it found when it finds none.
IN_COUNT_KEYS = ("packets_in", "frames_in", "total_in", "rx_packets", "in", "rx", "received", "input")
OUT_COUNT_KEYS = ("packets_out", "frames_out", "total_out", "tx_packets", "out", "tx", "sent", "output")
TOTALS_CONTAINERS = ("totals", "total", "packets", "frames", "counts", "summary")


@dataclass
class Report:
    """Failed checks per entry (each case of the table, plus RUN_LEVEL)."""
    entries: list[str]
    frame_count: int
    failures: dict[str, list[str]] = field(default_factory=dict)

    def fail(self, entry: str, message: str) -> None:
        self.failures.setdefault(entry, []).append(message)

    @property
    def failed_entries(self) -> set[str]:
        return set(self.failures)

    def print_failures(self) -> None:
        for entry in self.entries:
            for message in self.failures.get(entry, []):
                print(f"FAIL {entry}: {message}")

    def summary_line(self) -> str:
        failed = len(self.failed_entries)
        return f"{len(self.entries) - failed} passed, {failed} failed"


# ---------------------------------------------------------------------------
# Reading captures.

def read_frames(path: Path) -> list[bytes]:
    reader = RawPcapReader(str(path))  # pcap (µs or ns) and pcapng alike
    try:
        return [bytes(data) for data, _ in reader]
    finally:
        reader.close()


def read_tshark_fields(path: Path) -> dict[int, dict[str, str]]:
    """frame number (1-based) -> {field: first occurrence, "" if absent}."""
    command = ["tshark", "-r", str(path), "-n", "-T", "fields",
               "-E", "header=n", "-E", "separator=/t", "-E", "occurrence=f"]
    for preference in TSHARK_PREFERENCES:
        command += ["-o", preference]
    for name in TSHARK_FIELDS:
        command += ["-e", name]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    rows = {}
    for line in result.stdout.splitlines():
        values = line.split("\t")
        values += [""] * (len(TSHARK_FIELDS) - len(values))
        row = dict(zip(TSHARK_FIELDS, values))
        rows[int(row["frame.number"])] = row
    return rows


@dataclass
class OuterHeader:
    """The outer IP header of a frame as tshark reads it; None where tshark has nothing."""
    dscp: int | None
    ecn: int | None
    checksum_status: str | None  # IPv4 only
    flow_label: int | None       # IPv6 only
    vlan: tuple[int, int, int] | None = None  # the outer tag's (priority, DEI, id); None untagged


def outer_header(row: dict[str, str], ip_version: int) -> OuterHeader:
    def number(name: str) -> int | None:
        return int(row[name], 0) if row.get(name) else None

    vlan = None
    for tag in ("ieee8021ad", "vlan"):  # an 802.1ad tag is always the outer one
        if row.get(f"{tag}.id"):
            vlan = (number(f"{tag}.priority"), number(f"{tag}.dei"), number(f"{tag}.id"))
            break
    if ip_version == 4:
        return OuterHeader(number("ip.dsfield.dscp"), number("ip.dsfield.ecn"),
                           CHECKSUM_STATUS_NAMES.get(row.get("ip.checksum.status", "")), None, vlan)
    return OuterHeader(number("ipv6.tclass.dscp"), number("ipv6.tclass.ecn"), None, number("ipv6.flow"), vlan)


def mac_text(data: bytes) -> str:
    return ":".join(f"{octet:02x}" for octet in data[:6])


# ---------------------------------------------------------------------------
# Gateway run and its --json report.

def parse_json_report(stdout: str):
    """The JSON object on stdout; tolerates DPDK log lines around it."""
    try:
        return json.loads(stdout)
    except json.JSONDecodeError:
        pass
    decoder = json.JSONDecoder()
    for match in re.finditer(r"(?m)^\s*\{", stdout):
        try:
            value, _ = decoder.raw_decode(stdout, match.end() - 1)
            return value
        except json.JSONDecodeError:
            continue
    raise ValueError("no JSON object on stdout")


def find_count(report: dict, keys: tuple[str, ...]) -> int | None:
    containers = [report] + [report[name] for name in TOTALS_CONTAINERS if isinstance(report.get(name), dict)]
    for container in containers:
        lowered = {str(key).lower(): value for key, value in container.items()}
        for key in keys:
            value = lowered.get(key)
            if isinstance(value, int) and not isinstance(value, bool):
                return value
    return None


def run_gateway(gateway_command: list[str], fixtures: Fixtures, out_pcap: Path, report: Report):
    """Runs the replay; returns its stdout, or None when there is no output to judge."""
    command = gateway_command + [
        "replay", "--priorities", str(fixtures.priorities), "--pods", str(fixtures.pods),
        "--in", str(fixtures.in_pcap), "--out", str(out_pcap), "--json"]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=GATEWAY_TIMEOUT_SECONDS)
    except (OSError, subprocess.TimeoutExpired) as error:
        report.fail(RUN_LEVEL, f"could not run {' '.join(command)}: {error}")
        return None
    (fixtures.directory / "gateway.stdout").write_text(result.stdout)
    (fixtures.directory / "gateway.stderr").write_text(result.stderr)
    if result.returncode != 0:
        last_lines = " | ".join(result.stderr.strip().splitlines()[-3:])
        report.fail(RUN_LEVEL, f"gateway exited with status {result.returncode}"
                               + (f"; stderr ends: {last_lines}" if last_lines else ""))
    return result.stdout


def check_json_counts(stdout: str, frame_count: int, report: Report) -> None:
    try:
        summary = parse_json_report(stdout)
    except ValueError as error:
        report.fail(RUN_LEVEL, f"--json output does not parse: {error}")
        return
    if not isinstance(summary, dict):
        report.fail(RUN_LEVEL, f"--json output is a {type(summary).__name__}, not an object")
        return
    total_in, total_out = find_count(summary, IN_COUNT_KEYS), find_count(summary, OUT_COUNT_KEYS)
    if total_in is None or total_out is None:
        report.fail(RUN_LEVEL, f"--json output has no in/out totals (looked for {IN_COUNT_KEYS[0]}/"
                               f"{OUT_COUNT_KEYS[0]} and aliases); top-level keys: {sorted(summary)}")
        return
    if total_in != total_out:
        report.fail(RUN_LEVEL, f"--json reports {total_in} frames in but {total_out} out")
    if total_in != frame_count:
        report.fail(RUN_LEVEL, f"--json reports {total_in} frames in, IN.pcap has {frame_count}")


def check_json_pods(stdout: str, pods: list[dict], report: Report) -> None:
    """Each case-table pod with expect_pod appears in the report's per-pod rows (every one
    of its addresses) with those fields: what its annotations got it and why."""
    try:
        rows = {row["ip"]: row for row in parse_json_report(stdout).get("pods", [])}
    except (ValueError, AttributeError, KeyError, TypeError) as error:
        report.fail(RUN_LEVEL, f"--json output has no readable pods: {error}")
        return
    for pod in pods:
        for address in pod["ips"] if "expect_pod" in pod else []:
            row = rows.get(address)
            if row is None:
                report.fail(RUN_LEVEL, f"--json pods: no row for {pod['name']} {address}")
                continue
            for key, expected in pod["expect_pod"].items():
                if row.get(key) != expected:
                    report.fail(RUN_LEVEL, f"--json pods: {pod['name']} {address}: {key} is "
                                           f"{row.get(key)!r}, expected {expected!r}")


# ---------------------------------------------------------------------------
# Per-frame checks.

def rewritable_bits(frame: FixtureFrame) -> dict[int, int]:
    """Byte offset -> bits the gateway may change in this frame: outer DSCP and, for
    IPv4, the header checksum. ECN bits are deliberately not in the mask."""
    offset = frame.outer_ip_offset
    pcp = {make_fixtures.OUTER_TCI_OFFSET: 0xE0} if frame.expect_pcp is not None else {}
    if frame.outer_ip_version == 4:
        return {offset + 1: 0xFC, offset + 10: 0xFF, offset + 11: 0xFF} | pcp
    return {offset: 0x0F, offset + 1: 0xC0} | pcp  # traffic class straddles bytes 0-1


def changed_offsets(before: bytes, after: bytes, allowed: dict[int, int]) -> list[int]:
    return [offset for offset, (a, b) in enumerate(zip(before, after))
            if (a ^ b) & ~allowed.get(offset, 0) & 0xFF]


def check_unchanged_frame(frame: FixtureFrame, before: bytes, after: bytes, report: Report) -> None:
    if before == after:
        return
    if len(before) != len(after):
        report.fail(frame.case, f"{frame.which}expected byte-identical, length {len(before)} -> {len(after)}")
        return
    offsets = changed_offsets(before, after, {})
    report.fail(frame.case, f"{frame.which}expected byte-identical, {len(offsets)} byte(s) differ, "
                            f"first at offset {offsets[0]} (0x{before[offsets[0]]:02x} -> 0x{after[offsets[0]]:02x})")


def check_marked_frame(frame: FixtureFrame, before: bytes, after: bytes,
                       header_in: OuterHeader, header_out: OuterHeader, report: Report) -> None:
    which, family = frame.which, f"IPv{frame.outer_ip_version}"
    if len(before) != len(after):
        report.fail(frame.case, f"{which}length changed {len(before)} -> {len(after)}")

    if header_out.dscp is None:
        report.fail(frame.case, f"{which}tshark finds no outer {family} header in the output frame")
    else:
        if header_out.dscp != frame.expect_dscp:
            report.fail(frame.case, f"{which}outer {family} DSCP is {header_out.dscp}, expected {frame.expect_dscp}")
        if header_out.ecn != header_in.ecn:
            report.fail(frame.case, f"{which}ECN changed {header_in.ecn} -> {header_out.ecn}")
        if frame.outer_ip_version == 4 and header_out.checksum_status != header_in.checksum_status:
            if header_in.checksum_status == "bad":
                why = "a corrupt checksum was laundered (recomputed instead of updated incrementally)"
            else:
                why = "checksum not (or wrongly) updated"
            report.fail(frame.case, f"{which}IPv4 header checksum {header_in.checksum_status} on input, "
                                    f"{header_out.checksum_status} on output: {why}")
        if frame.outer_ip_version == 6 and header_out.flow_label != header_in.flow_label:
            report.fail(frame.case, f"{which}IPv6 flow label changed {header_in.flow_label} -> {header_out.flow_label}")

    if frame.expect_pcp is not None:
        check_outer_vlan_priority(frame, header_in, header_out, report)

    offsets = changed_offsets(before, after, rewritable_bits(frame))
    inner = [offset for offset in offsets if frame.inner_offset is not None and offset >= frame.inner_offset]
    outer = [offset for offset in offsets if offset not in inner]
    if inner:
        report.fail(frame.case, f"{which}tunnel inner frame not byte-identical, "
                                f"{len(inner)} byte(s) differ, first at inner offset {inner[0] - frame.inner_offset}")
    if outer:
        allowed = "outer DSCP bits and IPv4 checksum" if frame.outer_ip_version == 4 else "outer DSCP bits"
        if frame.expect_pcp is not None:
            allowed += " and the outer tag's PCP bits"
        report.fail(frame.case, f"{which}{len(outer)} byte(s) outside the {allowed} "
                                f"changed, first at offset {outer[0]} (0x{before[outer[0]]:02x} -> 0x{after[outer[0]]:02x})")


def check_outer_vlan_priority(frame: FixtureFrame, header_in: OuterHeader, header_out: OuterHeader,
                              report: Report) -> None:
    """802.1p: the outer tag leaves with the class's priority, its DEI and VLAN id as they came."""
    which = frame.which
    if header_out.vlan is None:
        report.fail(frame.case, f"{which}tshark finds no VLAN tag in the output frame")
        return
    priority, dei, vlan_id = header_out.vlan
    if priority != frame.expect_pcp:
        report.fail(frame.case, f"{which}outer VLAN priority is {priority}, expected {frame.expect_pcp}")
    if header_in.vlan is not None and (dei, vlan_id) != header_in.vlan[1:]:
        report.fail(frame.case, f"{which}outer VLAN (DEI, id) changed {header_in.vlan[1:]} -> {(dei, vlan_id)}")


def check_fixture(frame: FixtureFrame, header_in: OuterHeader, report: Report) -> None:
    """tshark must read IN.pcap as the generator meant it; otherwise the case is void."""
    expected_status = {True: "good", False: "bad", None: None}[frame.input_ipv4_checksum_good]
    meant_vlan = None if frame.input_vlan_id is None else (frame.input_pcp, frame.input_dei, frame.input_vlan_id)
    seen = (header_in.dscp, header_in.ecn, header_in.checksum_status, header_in.flow_label, header_in.vlan)
    meant = (frame.input_dscp, frame.input_ecn, expected_status, frame.input_flow_label, meant_vlan)
    if seen != meant:
        report.fail(frame.case, f"{frame.which}fixture bug: tshark reads IN.pcap's outer header as "
                                f"(dscp, ecn, checksum, flow label, vlan) = {seen}, generator meant {meant}")


# ---------------------------------------------------------------------------

def run_oracle(gateway_command: list[str], workdir: Path) -> Report:
    fixtures = make_fixtures.generate(workdir)
    report = Report(entries=fixtures.case_names + [RUN_LEVEL], frame_count=len(fixtures.frames))
    out_pcap = workdir / OUT_PCAP
    out_pcap.unlink(missing_ok=True)

    stdout = run_gateway(gateway_command, fixtures, out_pcap, report)
    if stdout is not None:
        check_json_counts(stdout, len(fixtures.frames), report)
        check_json_pods(stdout, make_fixtures.load_case_table()["pods"], report)

    try:
        output_frames = read_frames(out_pcap)
        output_fields = read_tshark_fields(out_pcap)
    except Exception as error:  # missing or unreadable: nothing can be judged
        report.fail(RUN_LEVEL, f"cannot read {out_pcap}: {error}")
        for name in fixtures.case_names:
            report.fail(name, "no readable OUT.pcap to judge")
        return report
    input_fields = read_tshark_fields(fixtures.in_pcap)

    if len(output_frames) != len(fixtures.frames):
        report.fail(RUN_LEVEL, f"OUT.pcap has {len(output_frames)} frames, IN.pcap {len(fixtures.frames)}")

    output_positions: dict[str, list[int]] = {}
    for position, data in enumerate(output_frames):
        output_positions.setdefault(mac_text(data), []).append(position)
    known_markers = {frame.marker for frame in fixtures.frames}
    for marker, positions in output_positions.items():
        if marker not in known_markers:
            report.fail(RUN_LEVEL, f"OUT.pcap frame {positions[0] + 1} matches no input frame "
                                   f"(destination MAC {marker})")

    for input_position, (frame, before) in enumerate(zip(fixtures.frames, fixtures.frame_bytes)):
        positions = output_positions.get(frame.marker, [])
        if len(positions) != 1:
            report.fail(frame.case, f"{frame.which}appears {len(positions)} times in OUT.pcap, expected once")
            if not positions:
                continue
        after = output_frames[positions[0]]
        if frame.expect_dscp is None:
            check_unchanged_frame(frame, before, after, report)
            continue
        header_in = outer_header(input_fields.get(input_position + 1, {}), frame.outer_ip_version)
        check_fixture(frame, header_in, report)
        header_out = outer_header(output_fields.get(positions[0] + 1, {}), frame.outer_ip_version)
        check_marked_frame(frame, before, after, header_in, header_out, report)
    return report


# ---------------------------------------------------------------------------
# --self-check: a reference gateway in Python, and corruptions the oracle must catch.

def rewrite_outer_dscp(data: bytes, frame: FixtureFrame, dscp: int, *, update_checksum: bool = True,
                       keep_ecn: bool = True) -> bytes:
    """The rewrite the gateway is specified to do. IPv4 checksum per RFC 1624 eqn. 3,
    HC' = ~(~HC + ~m + m'), over the 16-bit word holding version/IHL/TOS, so a bad
    checksum stays exactly as wrong as it was."""
    out, offset = bytearray(data), frame.outer_ip_offset
    if frame.outer_ip_version == 4:
        old_word = int.from_bytes(out[offset:offset + 2], "big")
        ecn = out[offset + 1] & 0x03 if keep_ecn else 0
        out[offset + 1] = (dscp << 2) | ecn
        new_word = int.from_bytes(out[offset:offset + 2], "big")
        if update_checksum:
            old_checksum = int.from_bytes(out[offset + 10:offset + 12], "big")
            total = ones_complement_sum(((~old_checksum & 0xFFFF).to_bytes(2, "big")
                                         + (~old_word & 0xFFFF).to_bytes(2, "big")
                                         + new_word.to_bytes(2, "big")))
            out[offset + 10:offset + 12] = (~total & 0xFFFF).to_bytes(2, "big")
    else:
        ecn = (out[offset + 1] >> 4) & 0x03 if keep_ecn else 0
        traffic_class = (dscp << 2) | ecn
        out[offset] = (out[offset] & 0xF0) | (traffic_class >> 4)
        out[offset + 1] = ((traffic_class & 0x0F) << 4) | (out[offset + 1] & 0x0F)
    return bytes(out)


def rewrite_outer_pcp(data: bytes, pcp: int, tci_offset: int = make_fixtures.OUTER_TCI_OFFSET) -> bytes:
    """802.1p as specified: the PCP bits of the outer tag; DEI and VLAN id kept."""
    out = bytearray(data)
    out[tci_offset] = (pcp << 5) | (out[tci_offset] & 0x1F)
    return bytes(out)


def recompute_ipv4_checksum(data: bytes, offset: int) -> bytes:
    out = bytearray(data)
    header_length = (out[offset] & 0x0F) * 4
    out[offset + 10:offset + 12] = b"\0\0"
    checksum = ~ones_complement_sum(bytes(out[offset:offset + header_length])) & 0xFFFF
    out[offset + 10:offset + 12] = checksum.to_bytes(2, "big")
    return bytes(out)


def flip_bits(data: bytes, offset: int, bits: int) -> bytes:
    out = bytearray(data)
    out[offset] ^= bits
    return bytes(out)


# name -> (target "case" or "case#frame", what the broken gateway does, entries the oracle
#          must fail: None means just the target's case)
CORRUPTIONS = {
    "wrong_dscp": ("ipv4_pod_critical", "marks DSCP 47 instead of 46", None),
    "wrong_dscp_ipv6": ("ipv6_hbh_destopts_ecn_11", "marks DSCP 45 instead of 46", None),
    "wrong_dscp_tunnel": ("geneve_option_outer_ipv6_inner_ipv6", "marks DSCP 34 instead of 46", None),
    "default_class_not_applied": ("ipv4_unmapped_namespace_default_class", "leaves DSCP 10 instead of 0", None),
    "ecn_lost": ("ipv4_ecn_11_preserved", "clears ECN while marking", None),
    "stale_checksum": ("ipv4_options_ihl15_record_route", "marks without updating the checksum", None),
    "laundered_checksum": ("ipv4_bad_checksum_stays_bad", "recomputes the whole checksum", None),
    "inner_header_changed": ("vxlan_4789_outer_ipv4", "also changes the inner TTL", None),
    "inner_marked_too": ("vxlan_8472_outer_ipv4", "also marks the inner header", None),
    "inner_marked_instead": ("vxlan_outer_ipv4_inner_ipv6", "marks the inner IPv6 header, not the outer", None),
    "flow_label_changed": ("ipv6_pod_critical", "rewrites the IPv6 flow label", None),
    "fragment_missed": ("ipv4_fragments_first_middle_last#2", "leaves the middle fragment unmarked", None),
    "tunnel_fragment_missed": ("vxlan_outer_ipv4_fragments#3", "leaves the last underlay fragment unmarked", None),
    "unchanged_frame_marked": ("hostnetwork_pod_ip", "marks a hostNetwork pod's traffic", None),
    "malformed_frame_marked": ("ipv4_total_length_exceeds_frame", "marks a frame whose total length lies", None),
    "unknown_tunnel_marked": ("vxlan_inner_unknown_source", "marks a tunnel with an unknown inner source", None),
    "padding_stripped": ("ipv4_ethernet_padding", "trims the Ethernet padding", None),
    "pcp_not_set": ("vlan_pcp_rewritten_dei_and_vid_kept", "marks DSCP but leaves the tag's priority", None),
    "pcp_dei_cleared": ("vlan_pcp_rewritten_dei_and_vid_kept", "clears DEI while setting the priority", None),
    "pcp_on_inner_tag": ("qinq_pcp_outer_tag_only", "sets the priority on the inner (customer) tag", None),
    "pcp_on_classless_tag": ("vlan_class_without_pcp_keeps_priority", "sets priority 0 for a class without pcp",
                             None),
    "frame_dropped": ("arp_request", "drops the frame", {"arp_request", RUN_LEVEL}),
    "frame_duplicated": ("qinq_88a8_8100_ipv4", "sends the frame twice", {"qinq_88a8_8100_ipv4", RUN_LEVEL}),
    "json_count_wrong": (None, "reports one frame fewer out than in", {RUN_LEVEL}),
    "exit_nonzero": (None, "exits with status 3 after correct output", {RUN_LEVEL}),
    "no_output": (None, "writes no OUT.pcap and exits 1", "everything"),
}


def reference_gateway(mode: str, argv: list[str]) -> int:
    """Stands in for `dscp-gateway replay ...`: applies the manifest's expectations,
    then the corruption named by `mode` ("correct" applies none)."""
    parser = argparse.ArgumentParser(prog="reference-gateway")
    parser.add_argument("subcommand", choices=["replay"])
    for option in ("--priorities", "--pods", "--in", "--out"):
        parser.add_argument(option, required=True, type=Path)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if mode == "no_output":
        return 1

    frames = make_fixtures.load_manifest(args.__dict__["in"].parent)
    inputs = read_frames(args.__dict__["in"])
    target = CORRUPTIONS.get(mode, (None,))[0] or ""
    target_case, _, target_frame = target.partition("#")

    outputs = []
    for frame, data in zip(frames, inputs):
        is_target = frame.case == target_case and frame.frame_in_case == int(target_frame or 1)
        marked = data if frame.expect_dscp is None else rewrite_outer_dscp(data, frame, frame.expect_dscp)
        if frame.expect_pcp is not None:
            marked = rewrite_outer_pcp(marked, frame.expect_pcp)
        if is_target:
            marked = corrupt(mode, frame, data, marked)
            if marked is None:
                continue
            if mode == "frame_duplicated":
                outputs.append(marked)
        outputs.append(marked)
    random.Random(1624).shuffle(outputs)  # the real gateway may reorder across classes

    writer = RawPcapWriter(str(args.out), linktype=1, sync=True, nano=True)  # as DPDK's pcap PMD
    writer.write_header(None)
    for number, data in enumerate(outputs):
        writer.write_packet(data, sec=make_fixtures.FIRST_TIMESTAMP_SECONDS + number, usec=0,
                            caplen=len(data), wirelen=len(data))
    writer.close()

    reported_out = len(outputs) - (1 if mode == "json_count_wrong" else 0)
    print("EAL: Detected CPU lcores: 2")  # real DPDK logs to stdout too
    print(json.dumps({"packets_in": len(inputs), "packets_out": reported_out,
                      "classes": {}, "namespaces": {}, "reasons": {}}))
    return 3 if mode == "exit_nonzero" else 0


def corrupt(mode: str, frame: FixtureFrame, original: bytes, marked: bytes) -> bytes | None:
    """What the broken gateway emits for the target frame; None drops it."""
    if mode.startswith("wrong_dscp"):
        wrong = {"wrong_dscp": 47, "wrong_dscp_ipv6": 45, "wrong_dscp_tunnel": 34}[mode]
        return rewrite_outer_dscp(original, frame, wrong)
    if mode in ("default_class_not_applied", "fragment_missed", "tunnel_fragment_missed"):
        return original
    if mode == "ecn_lost":
        return rewrite_outer_dscp(original, frame, frame.expect_dscp, keep_ecn=False)
    if mode == "stale_checksum":
        return rewrite_outer_dscp(original, frame, frame.expect_dscp, update_checksum=False)
    if mode == "laundered_checksum":
        return recompute_ipv4_checksum(marked, frame.outer_ip_offset)
    inner_ip = (frame.inner_offset or 0) + 14
    if mode == "inner_header_changed":
        return flip_bits(marked, inner_ip + 8, 0x01)  # inner IPv4 TTL
    if mode == "inner_marked_too":
        return flip_bits(marked, inner_ip + 1, 0x80)  # inner IPv4 DSCP
    if mode == "inner_marked_instead":
        return flip_bits(original, inner_ip + 1, 0x80)  # inner IPv6 traffic class
    if mode == "flow_label_changed":
        return flip_bits(marked, frame.outer_ip_offset + 3, 0x01)
    if mode in ("unchanged_frame_marked", "malformed_frame_marked", "unknown_tunnel_marked"):
        fake = FixtureFrame(case=frame.case, frame_in_case=1, frames_in_case=1, marker=frame.marker,
                            expect_dscp=46, outer_ip_version=4, outer_ip_offset=14)
        return rewrite_outer_dscp(original, fake, 46)
    if mode == "pcp_not_set":
        return rewrite_outer_dscp(original, frame, frame.expect_dscp)
    if mode == "pcp_dei_cleared":
        return flip_bits(marked, make_fixtures.OUTER_TCI_OFFSET, 0x10)
    if mode == "pcp_on_inner_tag":
        inner_tci = make_fixtures.OUTER_TCI_OFFSET + 4
        return rewrite_outer_pcp(rewrite_outer_dscp(original, frame, frame.expect_dscp), frame.expect_pcp, inner_tci)
    if mode == "pcp_on_classless_tag":
        return rewrite_outer_pcp(marked, 0)
    if mode == "padding_stripped":
        return marked[:14 + int.from_bytes(marked[16:18], "big")]
    if mode == "frame_dropped":
        return None
    return marked


def self_check(workdir: Path) -> int:
    table = make_fixtures.load_case_table()
    problems = make_fixtures.lint_case_table(table)
    for problem in problems:
        print(f"BAD  case table: {problem}")

    script = str(Path(__file__).resolve())
    every_entry = {case["name"] for case in table["cases"]} | {RUN_LEVEL}
    scenarios = {"correct": (None, "applies the reference rewrite and shuffles the output", set())}
    scenarios |= CORRUPTIONS
    passed = failed = 0
    for name, (target, behaviour, must_fail) in scenarios.items():
        if must_fail is None:
            must_fail = {target.partition("#")[0]}
        elif must_fail == "everything":
            must_fail = every_entry
        report = run_oracle([sys.executable, script, "--act-as-reference-gateway", name], workdir / name)
        if report.failed_entries == must_fail:
            passed += 1
            print(f"ok   {name}: a gateway that {behaviour}: oracle says {report.summary_line()}")
            if len(must_fail) < 3:  # show which checks caught it
                for entry in sorted(must_fail):
                    for message in report.failures[entry]:
                        print(f"       caught: FAIL {entry}: {message}")
        else:
            failed += 1
            print(f"BAD  {name}: a gateway that {behaviour}: oracle should fail exactly {sorted(must_fail)}, "
                  f"but failed {sorted(report.failed_entries)}; its report:")
            report.print_failures()
    failed += len(problems)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


# ---------------------------------------------------------------------------

def main() -> int:
    if len(sys.argv) > 2 and sys.argv[1] == "--act-as-reference-gateway":  # spawned by --self-check
        return reference_gateway(sys.argv[2], sys.argv[3:])

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--gateway-binary", type=Path, help="the dscp-gateway executable to test")
    mode.add_argument("--self-check", action="store_true",
                      help="test the oracle against a reference rewrite and deliberate corruptions")
    parser.add_argument("--workdir", type=Path,
                        help="keep fixtures, OUT.pcap and gateway logs here (default: a temporary "
                             "directory, removed when everything passed)")
    args = parser.parse_args()

    if shutil.which("tshark") is None:
        print(f"FAIL {RUN_LEVEL}: tshark is not installed (apt-get install tshark)")
        print("0 passed, 1 failed")
        return 1

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="replay-oracle-"))
    workdir.mkdir(parents=True, exist_ok=True)
    if args.self_check:
        status = self_check(workdir)
    else:
        report = run_oracle([str(args.gateway_binary.resolve())], workdir)
        print(f"replay oracle: {len(report.entries) - 1} cases, {report.frame_count} frames "
              f"through {args.gateway_binary} replay")
        report.print_failures()
        if report.failures:
            print(f"fixtures, OUT.pcap and gateway logs kept in {workdir}")
        print(report.summary_line())
        status = 1 if report.failures else 0
    if status == 0 and args.workdir is None:
        shutil.rmtree(workdir)
    return status


if __name__ == "__main__":
    sys.exit(main())
