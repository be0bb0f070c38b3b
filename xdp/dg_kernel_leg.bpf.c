// SPDX-License-Identifier: Apache-2.0
/*
 * On dgw-gateway (the gateway side of the kernel-facing veth): the node's egress.
 * Every frame goes to the gateway's AF_XDP socket for its rx queue when one is
 * bound and the gateway's heartbeat is fresh; otherwise straight to the uplink
 * (fail-open: unmarked, unshaped, the node stays connected).
 *
 * No lookup-then-redirect: the socket could go between the two and the frame
 * would be aborted. The last bpf_redirect_map() call wins, so trying the socket
 * and then the uplink (bpf_redirect) is race-free.
 */
#include "dg_heartbeat.bpf.h"
#include "dg_xdp_maps.bpf.h"

SEC("xdp")
int DG_XDP_PROG_KERNEL_LEG(struct xdp_md *ctx)
{
	enum dg_xdp_counter reason = DG_XDP_FAIL_OPEN_STALE_HEARTBEAT;
	struct dg_xdp_legs *legs;

	if (!dg_heartbeat_stale()) {
		if (bpf_redirect_map(&DG_XDP_MAP_SOCKETS, ctx->rx_queue_index,
				     XDP_PASS) == XDP_REDIRECT) {
			dg_count(DG_XDP_TO_GATEWAY);
			return XDP_REDIRECT;
		}
		reason = DG_XDP_FAIL_OPEN_NO_SOCKET;
	}
	legs = dg_redirect_targets();
	if (legs && legs->uplink_ifindex) {
		dg_count(reason);
		return bpf_redirect(legs->uplink_ifindex, 0);
	}
	dg_count(DG_XDP_FAIL_OPEN_UNAVAILABLE);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Apache-2.0";
