"""control_plane_test.py's hot-reload checks: a policy reload under iperf3 loses nothing
and switches the DSCP once; an invalid reload is rejected once and the old marking stays.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from control_plane_harness import (
    CheckFailed, DSCP_AFTER, DSCP_BEFORE, DST_IP, IPERF_LEN, IPERF_PORT, IPERF_RATE,
    IPERF_SECONDS, POD_NAMESPACE, PROBE_PORT, RELOAD_AT_S, RELOAD_WAIT_S, SRC_IP, UDP_PROBES,
    expect, priorities_configmap, runs,
)
from control_plane_harness import nh


class ReloadChecks:
    """Mixed into ControlPlaneTest; uses ControlPlaneHarness's gateway and helpers."""

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
