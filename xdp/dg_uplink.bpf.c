// SPDX-License-Identifier: Apache-2.0
/*
 * On the uplink: the node's ingress. Every frame arriving here is for the node
 * (its addresses and MAC moved to dgw-kernel), so it goes straight to the kernel
 * leg: redirected into dgw-gateway, which hands it to its peer dgw-kernel, never
 * through userspace.
 *
 * Where that redirect is impossible (the kernel leg is not set in dg_legs: before
 * `node attach` wrote it) the frame goes to the gateway's uplink
 * AF_XDP socket when one is bound (the worker passes it back to the kernel leg),
 * else to the uplink's own stack (XDP_PASS), which is what happens without any
 * program. Redirect failures after the program returns (target down, frame
 * larger than the target's MTU) are drops counted by the kernel (xdp:xdp_redirect_err
 * tracepoint), not here.
 */
#include "dg_xdp_maps.bpf.h"

SEC("xdp")
int DG_XDP_PROG_UPLINK(struct xdp_md *ctx)
{
	struct dg_xdp_legs *legs = dg_redirect_targets();

	if (legs && legs->gateway_leg_ifindex) {
		dg_count(DG_XDP_BYPASS_TO_KERNEL);
		return bpf_redirect(legs->gateway_leg_ifindex, 0);
	}
	if (bpf_redirect_map(&DG_XDP_MAP_SOCKETS, ctx->rx_queue_index, XDP_PASS) ==
	    XDP_REDIRECT) {
		dg_count(DG_XDP_BYPASS_TO_GATEWAY);
		return XDP_REDIRECT;
	}
	dg_count(DG_XDP_BYPASS_UNAVAILABLE);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Apache-2.0";
