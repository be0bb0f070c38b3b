#!/usr/bin/python3
"""Large and odd frames through `dscp-gateway replay` (cases: big_frames.json).

Builds IN.pcap with the standard library only (BIG TCP, IPv6 jumbograms, 9000-byte and
60 KiB frames, snapped records whose captured length is below their wire length), runs the
replay and checks every output record against its input:
  - captured length and wire length unchanged;
  - `expect: unchanged`: every byte identical;
  - `expect_dscp: N`: tshark reads DSCP N; only the DSCP bits (and, for IPv4, the header
    checksum) differ; ECN is kept; a valid IPv4 checksum stays valid, a bad one stays bad.
Then a capture the reader must refuse (a record beyond libpcap's 256 KiB limit, a record
cut short by the end of the file) must end with a clear error and no crash.

Usage: big_frames_test.py --gateway-binary build/gateway/dscp-gateway [--workdir DIR]
"""

import argparse
import ipaddress
import json
import re
import shutil
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

CASES = Path(__file__).with_name("big_frames.json")
MAX_RECORD = 262144  # libpcap's largest record for Ethernet, and the replay's promise
GATEWAY_TIMEOUT_SECONDS = 120
INPUT_DSCP = 10  # no class uses it, so a missed rewrite shows
INPUT_ECN = 1
PCAP_MAGIC_MICROSECONDS = 0xA1B2C3D4
PCAP_MAGIC_NANOSECONDS = 0xA1B23C4D


def marker_mac(index: int) -> bytes:
    return bytes([0x02, 0x42, 0x46, 0x00, index >> 8, index & 0xFF])


def ipv4_checksum(header: bytes) -> int:
    total = sum(struct.unpack(f"!{len(header) // 2}H", header))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def l4_header(kind: str, payload_length: int) -> bytes:
    if kind == "udp":
        length = payload_length + 8
        return struct.pack("!HHHH", 40000, 5201, length if length <= 0xFFFF else 0, 0)
    return struct.pack("!HHIIBBHHH", 40001, 443, 1, 0, 5 << 4, 0x18, 0xFFFF, 0, 0)


def build_frame(index: int, case: dict) -> bytes:
    """The whole frame on the wire (frame_len bytes)."""
    version, frame_length = case["ip"], case["frame_len"]
    protocol = 6 if case["l4"] == "tcp" else 17
    ethernet = marker_mac(index) + bytes.fromhex("020000000001") + struct.pack(
        "!H", 0x0800 if version == 4 else 0x86DD)
    tos = (INPUT_DSCP << 2) | INPUT_ECN
    source = ipaddress.ip_address(case["src"]).packed
    if version == 4:
        l4 = l4_header(case["l4"], frame_length - 14 - 20 - (8 if protocol == 17 else 20))
        payload_length = frame_length - 14 - 20 - len(l4)
        total_length = case.get("ip_total_length", 20 + len(l4) + payload_length)
        header = struct.pack("!BBHHHBBH4s4s", 0x45, tos, total_length, 0x1234, 0x4000, 64, protocol,
                             0, source, bytes([10, 96, 0, 10]))
        checksum = ipv4_checksum(header) ^ (0x5A5A if case.get("bad_checksum") else 0)
        ip = header[:10] + struct.pack("!H", checksum) + header[12:]
    else:
        jumbo = frame_length - 14 - 40 > 0xFFFF
        hop_by_hop = struct.pack("!BBBBI", protocol, 0, 0xC2, 4, frame_length - 14 - 40) if jumbo else b""
        l4 = l4_header(case["l4"], frame_length - 14 - 40 - len(hop_by_hop) - (8 if protocol == 17 else 20))
        payload_length = frame_length - 14 - 40 - len(hop_by_hop) - len(l4)
        first_word = (6 << 28) | (tos << 20) | 0x12345
        ip = struct.pack("!IHBB16s16s", first_word, 0 if jumbo else len(hop_by_hop) + len(l4) + payload_length,
                         0 if jumbo else protocol, 64, source, ipaddress.ip_address("fd00:96::10").packed)
        ip += hop_by_hop
    payload = bytes((offset * 7 + index) & 0xFF for offset in range(payload_length))
    frame = ethernet + ip + l4 + payload
    assert len(frame) == frame_length, (case["name"], len(frame), frame_length)
    return frame


def write_pcap(path: Path, records: list[tuple[bytes, int]], snaplen: int = MAX_RECORD) -> None:
    """records: (captured bytes, wire length)."""
    with path.open("wb") as out:
        out.write(struct.pack("<IHHiIII", PCAP_MAGIC_MICROSECONDS, 2, 4, 0, 0, snaplen, 1))
        for number, (data, wire_length) in enumerate(records):
            out.write(struct.pack("<IIII", 1_700_000_000 + number, number * 10, len(data), wire_length))
            out.write(data)


def read_pcap(path: Path) -> list[tuple[bytes, int]]:
    data = path.read_bytes()
    magic, = struct.unpack_from("<I", data, 0)
    if magic not in (PCAP_MAGIC_MICROSECONDS, PCAP_MAGIC_NANOSECONDS):
        raise ValueError(f"{path}: not a little-endian pcap (magic {magic:#x})")
    records, offset = [], 24
    while offset < len(data):
        _, _, captured, wire_length = struct.unpack_from("<IIII", data, offset)
        offset += 16
        records.append((data[offset:offset + captured], wire_length))
        offset += captured
    return records


def render_inputs(workdir: Path, table: dict) -> tuple[Path, Path]:
    indented = "".join("    " + line + "\n" for line in table["policy"].splitlines())
    priorities = workdir / "priorities.yaml"
    priorities.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: dscp-gateway-priorities\n"
                          "data:\n  priorities.yaml: |\n" + indented)
    items = []
    for pod in table["pods"]:
        items.append({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": pod["name"], "namespace": pod["namespace"], "uid": pod["name"] + "-uid",
                         "creationTimestamp": "2024-01-01T00:00:00Z"},
            "spec": {},
            "status": {"phase": "Running", "podIP": pod["ips"][0], "podIPs": [{"ip": ip} for ip in pod["ips"]]},
        })
    pods = workdir / "pods.json"
    pods.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
    return priorities, pods


def run_replay(gateway: str, priorities: Path, pods: Path, in_pcap: Path, out_pcap: Path):
    command = [gateway, "replay", "--priorities", str(priorities), "--pods", str(pods), "--in", str(in_pcap),
               "--out", str(out_pcap), "--json"]
    return subprocess.run(command, capture_output=True, text=True, timeout=GATEWAY_TIMEOUT_SECONDS)


def json_report(stdout: str) -> dict:
    for match in re.finditer(r"(?m)^\{", stdout):
        try:
            return json.JSONDecoder().raw_decode(stdout, match.start())[0]
        except json.JSONDecodeError:
            continue
    raise ValueError("no JSON object on stdout")


def tshark_dscp(path: Path) -> dict[str, str]:
    """destination MAC -> the first (outer) DSCP tshark reads."""
    command = ["tshark", "-r", str(path), "-n", "-T", "fields", "-E", "occurrence=f", "-e", "eth.dst",
               "-e", "ip.dsfield.dscp", "-e", "ipv6.tclass.dscp"]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    values = {}
    for line in result.stdout.splitlines():
        mac, ipv4_dscp, ipv6_dscp = (line.split("\t") + ["", ""])[:3]
        values[mac] = ipv4_dscp or ipv6_dscp
    return values


def allowed_mask(case: dict, length: int) -> dict[int, int]:
    """offset -> the bits a marked frame may change there."""
    if "expect_dscp" not in case:
        return {}
    l3 = 14
    if case["ip"] == 4:
        mask = {l3 + 1: 0xFC, l3 + 10: 0xFF, l3 + 11: 0xFF}
    else:
        mask = {l3: 0x0F, l3 + 1: 0xC0}
    return {offset: bits for offset, bits in mask.items() if offset < length}


def check_case(index: int, case: dict, before: tuple[bytes, int], after: tuple[bytes, int] | None,
               tshark: dict[str, str]) -> list[str]:
    if after is None:
        return ["missing from the output"]
    problems = []
    (data_in, wire_in), (data_out, wire_out) = before, after
    if len(data_out) != len(data_in):
        problems.append(f"captured length {len(data_in)} came out as {len(data_out)}")
    if wire_out != wire_in:
        problems.append(f"wire length {wire_in} came out as {wire_out}")
    mask = allowed_mask(case, len(data_in))
    changed = [offset for offset in range(min(len(data_in), len(data_out)))
               if (data_in[offset] ^ data_out[offset]) & ~mask.get(offset, 0)]
    if changed:
        problems.append(f"{len(changed)} bytes changed that must not, first at offset {changed[0]}")
    if "expect_dscp" in case and not problems:
        mac = ":".join(f"{byte:02x}" for byte in marker_mac(index))
        if tshark.get(mac) != str(case["expect_dscp"]):
            problems.append(f"tshark reads DSCP {tshark.get(mac)!r}, expected {case['expect_dscp']}")
        if case["ip"] == 4:
            ecn_in, ecn_out = data_in[15] & 0x03, data_out[15] & 0x03
            valid_in = ipv4_checksum(data_in[14:34]) == 0
            valid_out = ipv4_checksum(data_out[14:34]) == 0
            if ecn_in != ecn_out:
                problems.append(f"ECN {ecn_in} came out as {ecn_out}")
            if valid_in != valid_out:
                problems.append(f"IPv4 checksum {'valid' if valid_in else 'bad'} came out "
                                f"{'valid' if valid_out else 'bad'}")
        elif (data_in[15] & 0x30) != (data_out[15] & 0x30):
            problems.append("ECN changed")
    return problems


def check_cases(gateway: str, workdir: Path, table: dict) -> list[str]:
    priorities, pods = render_inputs(workdir, table)
    cases = table["cases"]
    records = []
    for index, case in enumerate(cases):
        frame = build_frame(index, case)
        records.append((frame[:case.get("snap_to", len(frame))], len(frame)))
    in_pcap, out_pcap = workdir / "IN.pcap", workdir / "OUT.pcap"
    write_pcap(in_pcap, records)
    result = run_replay(gateway, priorities, pods, in_pcap, out_pcap)
    (workdir / "gateway.stdout").write_text(result.stdout)
    (workdir / "gateway.stderr").write_text(result.stderr)
    if result.returncode != 0:
        return [f"replay_run: exit status {result.returncode}; stderr: {result.stderr.strip()[-400:]}"]
    failures = []
    report = json_report(result.stdout)
    if report.get("packets_in") != len(cases) or report.get("packets_out") != len(cases):
        failures.append(f"replay_run: packets_in {report.get('packets_in')}, packets_out "
                        f"{report.get('packets_out')}, expected {len(cases)} each")
    if report.get("frames_not_carried") != 0:
        failures.append(f"replay_run: frames_not_carried is {report.get('frames_not_carried')!r}, expected 0")
    output = read_pcap(out_pcap)
    by_marker: dict[bytes, list[tuple[bytes, int]]] = {}
    for record in output:
        by_marker.setdefault(record[0][:6], []).append(record)
    if len(output) != len(cases):
        failures.append(f"replay_run: {len(output)} records out for {len(cases)} in")
    tshark = tshark_dscp(out_pcap)
    for index, case in enumerate(cases):
        matches = by_marker.get(marker_mac(index), [])
        if len(matches) > 1:
            failures.append(f"{case['name']}: {len(matches)} output records")
            continue
        for problem in check_case(index, case, records[index], matches[0] if matches else None, tshark):
            failures.append(f"{case['name']}: {problem}")
    return failures


def check_refused(gateway: str, workdir: Path, table: dict) -> list[str]:
    """Captures the reader cannot carry end in a clear error, never a crash or a cut."""
    priorities, pods = render_inputs(workdir, table)
    failures = []
    small = build_frame(0, table["cases"][0])
    oversized = bytes(MAX_RECORD + 1)
    scenarios = {
        "record_over_256k": ([(small, len(small)), (oversized, len(oversized))], MAX_RECORD + 1, None),
        "record_cut_by_end_of_file": ([(small, len(small)), (small, len(small))], MAX_RECORD, 10),
    }
    for name, (records, snaplen, cut_bytes) in scenarios.items():
        in_pcap = workdir / f"{name}.pcap"
        write_pcap(in_pcap, records, snaplen)
        if cut_bytes:
            in_pcap.write_bytes(in_pcap.read_bytes()[:-cut_bytes])
        result = run_replay(gateway, priorities, pods, in_pcap, workdir / f"{name}.out.pcap")
        if result.returncode < 0:
            failures.append(f"{name}: crashed with signal {-result.returncode}")
        elif result.returncode == 0:
            failures.append(f"{name}: exit status 0 for a capture it could not carry")
        elif f"{in_pcap}" not in result.stderr or "record 2" not in result.stderr:
            failures.append(f"{name}: the error names neither the file nor the record: {result.stderr.strip()[-300:]}")
    return failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gateway-binary", required=True)
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args()
    if shutil.which("tshark") is None:
        print("FAIL: tshark is not installed (apt-get install tshark)")
        return 1
    table = json.loads(CASES.read_text())
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="dg-big-frames-"))
    workdir.mkdir(parents=True, exist_ok=True)
    failures = check_cases(args.gateway_binary, workdir, table) + check_refused(args.gateway_binary, workdir, table)
    for failure in failures:
        print(f"FAIL {failure}")
    print(f"{len(table['cases'])} cases, 2 refused captures: {len(failures)} failures")
    if failures:
        print(f"kept {workdir}")
        return 1
    if args.workdir is None:
        shutil.rmtree(workdir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
