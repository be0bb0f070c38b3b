/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The per-CPU counter array every node program counts into (DG_XDP_COUNTERS in
 * dscp_gateway_abi.h), pinned by name so all loads, XDP and tc, share one.
 */
#ifndef DG_COUNTERS_BPF_H
#define DG_COUNTERS_BPF_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "dscp_gateway_abi.h"

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, DG_XDP_COUNTER_COUNT);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} DG_XDP_MAP_COUNTERS SEC(".maps");

static __always_inline void dg_count(enum dg_xdp_counter counter)
{
	__u32 key = counter;
	__u64 *value = bpf_map_lookup_elem(&DG_XDP_MAP_COUNTERS, &key);

	if (value)
		*value += 1;
}

#endif /* DG_COUNTERS_BPF_H */
