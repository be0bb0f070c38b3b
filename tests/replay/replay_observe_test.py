#!/usr/bin/python3
"""datapath.mode observe through `dscp-gateway replay --mode observe`, on the oracle's fixtures.

Checks: OUT.pcap is IN.pcap frame for frame, in order and byte-identical; the per-class
observed_packets equal the per-class packets of an enforce replay of the same capture
(classified exactly as enforce would); and the per-class would_mark_packets equal the number
of frames the enforce run actually changed, grouped by the DSCP they left with (the policy's
DSCPs are distinct, so DSCP names the class).
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.dont_write_bytecode = True
sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_fixtures  # noqa: E402
from replay_oracle_test import parse_json_report, read_frames  # noqa: E402


def replay(binary: Path, fixtures, mode: str, out: Path) -> dict:
    result = subprocess.run([str(binary), "replay", "--priorities", str(fixtures.priorities), "--pods",
                             str(fixtures.pods), "--in", str(fixtures.in_pcap), "--out", str(out), "--json",
                             "--mode", mode], capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise SystemExit(f"FAIL replay --mode {mode} exited {result.returncode}: {result.stderr}")
    return parse_json_report(result.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--gateway-binary", type=Path, required=True)
    args = parser.parse_args()
    failures = []
    with tempfile.TemporaryDirectory(prefix="replay-observe-") as directory:
        workdir = Path(directory)
        fixtures = make_fixtures.generate(workdir)
        enforce = replay(args.gateway_binary, fixtures, "enforce", workdir / "ENFORCE.pcap")
        observe = replay(args.gateway_binary, fixtures, "observe", workdir / "OBSERVE.pcap")
        inputs = read_frames(fixtures.in_pcap)
        if read_frames(workdir / "OBSERVE.pcap") != inputs:
            failures.append("observe output is not the input, frame for frame and in order")
        enforced = {frame[:6]: frame for frame in read_frames(workdir / "ENFORCE.pcap")}
        changed_by_dscp: dict[int, int] = {}
        for frame, before in zip(fixtures.frames, inputs):
            after = enforced.get(before[:6])
            if after is not None and after != before and frame.expect_dscp is not None:
                changed_by_dscp[frame.expect_dscp] = changed_by_dscp.get(frame.expect_dscp, 0) + 1
        policy = make_fixtures.load_case_table()["policy"]
        dscp_of = {c["name"]: c["dscp"] for c in policy["classes"]}
        enforce_classes = {c["name"]: c for c in enforce["classes"]}
        for row in observe["classes"]:
            name = row["name"]
            if row.get("observed_packets") != enforce_classes[name].get("packets"):
                failures.append(f"class {name}: observed {row.get('observed_packets')}, "
                                f"enforce sent {enforce_classes[name].get('packets')}")
            if row.get("would_mark_packets", 0) != changed_by_dscp.get(dscp_of[name], 0):
                failures.append(f"class {name}: would_mark {row.get('would_mark_packets')}, "
                                f"enforce changed {changed_by_dscp.get(dscp_of[name], 0)}")
            if row.get("packets", 0) != 0:
                failures.append(f"class {name}: {row['packets']} packets went through a queue in observe mode")
        if observe.get("marked") != 0 or observe.get("observe_forwarded") != len(inputs):
            failures.append(f"observe marked {observe.get('marked')}, forwarded {observe.get('observe_forwarded')} "
                            f"of {len(inputs)}")
        if observe.get("unknown_source") != enforce.get("unknown_source"):
            failures.append("unknown_source differs between the modes")
    for failure in failures:
        print(f"FAIL {failure}")
    print(f"replay observe: {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
