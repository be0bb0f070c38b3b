/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The gateway's heartbeat (written by its control thread while the worker runs), pinned by
 * name: dg_kernel_leg fails open when it is stale, dg_stamp_guard then clears stamps.
 */
#ifndef DG_HEARTBEAT_BPF_H
#define DG_HEARTBEAT_BPF_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "dscp_gateway_abi.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct dg_xdp_heartbeat);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} DG_XDP_MAP_HEARTBEAT SEC(".maps");

/* A gateway that is alive but hung keeps its sockets bound. */
static __always_inline int dg_heartbeat_stale(void)
{
	__u32 key = 0;
	struct dg_xdp_heartbeat *heartbeat;
	__s64 age;

	heartbeat = bpf_map_lookup_elem(&DG_XDP_MAP_HEARTBEAT, &key);
	if (!heartbeat)
		return 1;
	if (!heartbeat->stale_after_ns)
		return 0;
	/* Signed: a beat written just after this program read the clock is fresh. */
	age = (__s64)(bpf_ktime_get_ns() - heartbeat->last_beat_ns);
	return age > (__s64)heartbeat->stale_after_ns;
}

#endif /* DG_HEARTBEAT_BPF_H */
