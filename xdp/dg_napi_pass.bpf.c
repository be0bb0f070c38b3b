// SPDX-License-Identifier: Apache-2.0
/*
 * On dgw-kernel. Does nothing to frames: its presence gives the veth the NAPI
 * context that an XDP_REDIRECT into its peer (dgw-gateway, from the uplink
 * program) needs; without it the redirect fails with -ENXIO unless GRO is on.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "dscp_gateway_abi.h"

SEC("xdp")
int DG_XDP_PROG_NAPI(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Apache-2.0";
