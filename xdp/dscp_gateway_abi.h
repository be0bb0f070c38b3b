/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Structures and constants shared by the BPF programs and the C++ gateway.
 * Defined once here so the kernel and user-space views can never disagree.
 * Plain C, kernel style: included by *.bpf.c (clang -target bpf) and by C++.
 */
#ifndef DSCP_GATEWAY_ABI_H
#define DSCP_GATEWAY_ABI_H

#ifdef __cplusplus
#include <cstdint>
#else
#include <linux/types.h>
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

#endif /* DSCP_GATEWAY_ABI_H */
