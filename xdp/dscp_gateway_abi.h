/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Structures and constants shared by the BPF programs and the C++ gateway.
 * Defined once here so the kernel and user-space views can never disagree.
 * Plain C, kernel style: included by *.bpf.c (clang -target bpf) and by C++.
 */
#ifndef DSCP_GATEWAY_ABI_H
#define DSCP_GATEWAY_ABI_H

/* Kernel style like the *.bpf.c that include it, not the C++ .clang-format. */
/* clang-format off */

#ifdef __cplusplus
#include <cstdint>
#else
#include <linux/types.h>
#ifdef __bpf__
/* clang -target bpf has no libc stdint.h. */
typedef __u8 uint8_t;
typedef __u32 uint32_t;
typedef __u64 uint64_t;
#endif
#endif

/* Strict-priority classes; index 0 is served first. */
#define DG_MAX_CLASSES 8
/* Namespaces interned per gateway run; per-namespace counters are sized by it. */
#define DG_MAX_NAMESPACES 4096
/* Ids are 1-based in the pod table so that 0 can mean "no namespace". */
#define DG_NAMESPACE_NONE 0

#define DG_DSCP_MAX 63

/* Well-known overlay UDP ports; the gateway's are configurable. */
#define DG_VXLAN_PORT_IANA 4789
#define DG_VXLAN_PORT_LINUX 8472
#define DG_GENEVE_PORT 6081

/*
 * Pod table key: the pod's source address as 16 bytes, IPv4 stored
 * IPv4-mapped (::ffff:a.b.c.d) so one table serves both families.
 */
struct dg_pod_key {
	uint8_t addr[16];
};

/*
 * XDP programs on the node (xdp/dg_<leg>.bpf.c) and their loader (xdp/node_programs.h).
 *
 * Map and program names are declared here as bare identifiers: the BPF side uses
 * them as variable/function names, C++ stringifies them (DG_XDP_NAME) to find the
 * pins. Kernel object names are limited to 15 characters.
 */
#define DG_XDP_STRINGIFY_(x) #x
#define DG_XDP_NAME(x) DG_XDP_STRINGIFY_(x)

/* Pinned by name under /sys/fs/bpf: the instance `node attach` loads and the one
 * DPDK's net_af_xdp PMD loads from the same object share them. */
#define DG_XDP_MAP_LEGS dg_legs                 /* array, 1 x struct dg_xdp_legs */
#define DG_XDP_MAP_COUNTERS dg_xdp_counters     /* per-CPU array, DG_XDP_COUNTER_COUNT */
#define DG_XDP_MAP_HEARTBEAT dg_heartbeat       /* array, 1 x struct dg_xdp_heartbeat */
/* Not pinned: each load gets its own, the PMD inserts its sockets into it. The name
 * is fixed by DPDK 22.11's net_af_xdp (xdp_prog= devarg). */
#define DG_XDP_MAP_SOCKETS xsks_map
#define DG_XDP_MAX_QUEUES 64

#define DG_XDP_PROG_KERNEL_LEG dg_kernel_leg    /* on dgw-gateway (node egress) */
#define DG_XDP_PROG_UPLINK dg_uplink            /* on the uplink (node ingress) */
#define DG_XDP_PROG_NAPI dg_napi_pass           /* on dgw-kernel: gives it NAPI */

/* Object files, one program each: the PMD loads an object's first program. */
#define DG_XDP_OBJECT_KERNEL_LEG "dg_kernel_leg.bpf.o"
#define DG_XDP_OBJECT_UPLINK "dg_uplink.bpf.o"
#define DG_XDP_OBJECT_NAPI "dg_napi_pass.bpf.o"

/*
 * Where the programs redirect to, by ifindex (bpf_redirect). Not a devmap: the kernel
 * adds BPF_F_RDONLY_PROG to a devmap's flags, so libbpf 1.1 refuses to reuse a pinned
 * one ("parameter mismatch") and the PMD's load of our object would fail.
 * 0: not known yet, the program falls back (see the counters below).
 */
struct dg_xdp_legs {
	uint32_t uplink_ifindex;
	uint32_t gateway_leg_ifindex;
};

/* Heartbeat older than this (CLOCK_MONOTONIC, as bpf_ktime_get_ns) fails open. */
#define DG_XDP_HEARTBEAT_STALE_AFTER_NS_DEFAULT (250ULL * 1000 * 1000)

/*
 * The gateway's control thread writes last_beat_ns; `node attach` writes
 * stale_after_ns. stale_after_ns == 0 disables the check (frames go to a bound
 * socket whatever the heartbeat). A gateway that never beat is stale.
 */
struct dg_xdp_heartbeat {
	uint64_t last_beat_ns;
	uint64_t stale_after_ns;
};

/*
 * Masqueraded pod egress (xdp/dg_pod_stamp.bpf.c, docs/architecture.md "Masqueraded
 * egress"): before the node's NAT replaces a pod's source address, tc on the pod's
 * host-side veth writes the pod's class into DSCP as a codepoint of RFC 2474 pool 3
 * (xxxx01, experimental or local use), which no class's real DSCP can be. The gateway
 * trusts it only on frames whose source is not a pod, and rewrites it to the class's DSCP.
 */
#define DG_STAMP_CLASS_LIMIT 16 /* 4 bits of class id in the codepoint */

static inline uint8_t dg_stamp_codepoint(uint8_t class_id)
{
	return (uint8_t)((class_id << 2) | 1);
}

static inline int dg_is_stamp_codepoint(uint8_t dscp)
{
	return (dscp & 3) == 1;
}

/* Only meaningful when dg_is_stamp_codepoint(dscp). */
static inline uint8_t dg_stamp_class(uint8_t dscp)
{
	return (uint8_t)((dscp >> 2) & 0xf);
}

/* Pinned next to the XDP maps; the gateway's reconciler fills both. */
#define DG_STAMP_MAP_PODS dg_pod_stamps       /* hash, struct dg_pod_key -> __u8 codepoint */
#define DG_STAMP_MAP_TRUSTED_IFS dg_stamp_ifs /* hash, __u32 ifindex -> __u8 (1) */
#define DG_STAMP_MAX_PODS 65536
#define DG_STAMP_MAX_IFS 4096

#define DG_STAMP_PROG_STAMP dg_pod_stamp /* tc ingress, pod host-side veths */
#define DG_STAMP_PROG_GUARD dg_stamp_guard /* tc egress, the node's kernel leg */
#define DG_STAMP_OBJECT "dg_pod_stamp.bpf.o"

/*
 * Per-CPU counters of the node's programs, one array. X(enum, metric name, help):
 * rendered as dscp_gateway_xdp_<name>_total.
 */
#define DG_XDP_COUNTERS(X)                                                          \
	X(DG_XDP_TO_GATEWAY, "to_gateway_frames",                                   \
	  "Kernel-leg frames redirected to the gateway's AF_XDP socket")           \
	X(DG_XDP_FAIL_OPEN_NO_SOCKET, "fail_open_no_socket_frames",                 \
	  "Kernel-leg frames sent straight to the uplink: no gateway socket bound") \
	X(DG_XDP_FAIL_OPEN_STALE_HEARTBEAT, "fail_open_stale_heartbeat_frames",     \
	  "Kernel-leg frames sent straight to the uplink: gateway heartbeat stale") \
	X(DG_XDP_FAIL_OPEN_UNAVAILABLE, "fail_open_unavailable_frames",             \
	  "Kernel-leg frames passed to the gateway leg's stack: uplink not set") \
	X(DG_XDP_BYPASS_TO_KERNEL, "bypass_to_kernel_frames",                       \
	  "Uplink frames redirected to the kernel leg without userspace")          \
	X(DG_XDP_BYPASS_TO_GATEWAY, "bypass_to_gateway_frames",                     \
	  "Uplink frames sent to the gateway's uplink socket: kernel leg not set") \
	X(DG_XDP_BYPASS_UNAVAILABLE, "bypass_unavailable_frames",                   \
	  "Uplink frames passed to the uplink's stack: no kernel leg, no socket")  \
	X(DG_XDP_POD_STAMPED, "pod_stamped_frames",                                 \
	  "Pod frames whose DSCP got their class's stamp codepoint (pod veths)")   \
	X(DG_XDP_POD_STAMP_NOT_POD, "pod_stamp_not_pod_frames",                     \
	  "IP frames on a stamped pod veth from an address not in the stamp map")  \
	X(DG_XDP_POD_STAMP_NOT_IP, "pod_stamp_not_ip_frames",                       \
	  "Frames on a stamped pod veth that are not IPv4 or IPv6")                \
	X(DG_XDP_STAMP_FORGERIES, "stamp_forgeries",                                \
	  "Frames not stamped by us carrying a stamp codepoint: DSCP set to 0")    \
	X(DG_XDP_STAMP_FAIL_OPEN, "stamp_cleared_fail_open_frames",                 \
	  "Stamped frames set to DSCP 0: gateway heartbeat stale, node fails open")

#define DG_XDP_COUNTER_ENUM_(id, name, help) id,
enum dg_xdp_counter { DG_XDP_COUNTERS(DG_XDP_COUNTER_ENUM_) DG_XDP_COUNTER_COUNT };
#undef DG_XDP_COUNTER_ENUM_

/* clang-format on */

#endif /* DSCP_GATEWAY_ABI_H */
