/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Maps and helpers shared by the node's XDP programs. Each object gets its own
 * definition; LIBBPF_PIN_BY_NAME makes every load (ours and DPDK net_af_xdp's
 * xdp_prog=) reuse the one pinned in /sys/fs/bpf, so counters, the redirect
 * targets and the heartbeat survive whoever attached the program.
 */
#ifndef DG_XDP_MAPS_BPF_H
#define DG_XDP_MAPS_BPF_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "dg_counters.bpf.h"
#include "dscp_gateway_abi.h"

/* One socket per rx queue; unpinned: the PMD fills the instance it loaded. */
struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, DG_XDP_MAX_QUEUES);
	__type(key, __u32);
	__type(value, __u32);
} DG_XDP_MAP_SOCKETS SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct dg_xdp_legs);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} DG_XDP_MAP_LEGS SEC(".maps");

static __always_inline struct dg_xdp_legs *dg_redirect_targets(void)
{
	__u32 key = 0;

	return bpf_map_lookup_elem(&DG_XDP_MAP_LEGS, &key);
}

#endif /* DG_XDP_MAPS_BPF_H */
