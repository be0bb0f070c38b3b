// SPDX-License-Identifier: Apache-2.0
/*
 * Masqueraded pod egress (docs/architecture.md, "Masqueraded egress"). The node's NAT
 * replaces a pod's source address with the node's before the gateway sees the frame;
 * DSCP survives NAT and the veth into the gateway's AF_XDP socket, so the pod's class
 * travels there as a stamp codepoint (dg_stamp_codepoint, RFC 2474 pool 3).
 *
 * dg_pod_stamp, tc ingress on each pod's host-side veth (what the pod sends): a source
 * in the stamp map gets its class's codepoint, whatever DSCP the pod wrote, so a pod
 * cannot pick its class. A source not in the map keeps its DSCP, except a stamp
 * codepoint, which is cleared: frames leaving a stamped veth are trusted by the guard.
 *
 * dg_stamp_guard, tc egress on the kernel leg: the trust boundary. Frames that entered
 * the node through a stamped veth (or its bridge) pass while the gateway is alive; any
 * other frame (the node's own processes, host-network pods, forwarded traffic) carrying
 * a stamp codepoint gets DSCP 0, and so does every stamp while the node fails open.
 *
 * Both keep ECN and never drop. They return TC_ACT_UNSPEC: the next filter on the hook
 * (a CNI's own, e.g. Cilium's on lxc*) still runs; with none the frame is accepted.
 * TC_ACT_OK would end classification and skip it.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "dg_counters.bpf.h"
#include "dg_heartbeat.bpf.h"
#include "dscp_gateway_abi.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, DG_STAMP_MAX_PODS);
	__type(key, struct dg_pod_key);
	__type(value, __u8);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} DG_STAMP_MAP_PODS SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, DG_STAMP_MAX_IFS);
	__type(key, __u32);
	__type(value, __u8);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} DG_STAMP_MAP_TRUSTED_IFS SEC(".maps");

#define DG_ETH_P_8021Q 0x8100
#define DG_ETH_P_8021AD 0x88A8
#define DG_VLAN_TAG_LEN 4
#define DG_IPV4_CSUM_OFF 10
#define DG_IPV4_SADDR_OFF 12
#define DG_IPV6_SADDR_OFF 8

struct dg_ip_header {
	__u32 l3_offset;
	__u16 proto; /* ETH_P_IP or ETH_P_IPV6, host order */
	__u8 first[2]; /* the IP header's first two bytes: where DSCP is */
};

/* Ethernet, up to two VLAN tags, then IPv4 or IPv6: 0 when found. */
static __always_inline int dg_find_ip(struct __sk_buff *skb, struct dg_ip_header *ip)
{
	__u32 offset = ETH_HLEN;
	__be16 proto;
	int tag;

	if (bpf_skb_load_bytes(skb, 12, &proto, sizeof(proto)))
		return -1;
#pragma unroll
	for (tag = 0; tag < 2; tag++) {
		if (proto != bpf_htons(DG_ETH_P_8021Q) &&
		    proto != bpf_htons(DG_ETH_P_8021AD))
			break;
		if (bpf_skb_load_bytes(skb, offset + 2, &proto, sizeof(proto)))
			return -1;
		offset += DG_VLAN_TAG_LEN;
	}
	if (proto != bpf_htons(ETH_P_IP) && proto != bpf_htons(ETH_P_IPV6))
		return -1;
	if (bpf_skb_load_bytes(skb, offset, ip->first, sizeof(ip->first)))
		return -1;
	ip->l3_offset = offset;
	ip->proto = bpf_ntohs(proto);
	return 0;
}

static __always_inline __u8 dg_dscp_of(const struct dg_ip_header *ip)
{
	if (ip->proto == ETH_P_IP)
		return ip->first[1] >> 2;
	return ((ip->first[0] & 0x0f) << 2) | (ip->first[1] >> 6);
}

/* DSCP := dscp, ECN kept; the IPv4 checksum updated incrementally (RFC 1624). */
static __always_inline void dg_write_dscp(struct __sk_buff *skb,
					  const struct dg_ip_header *ip, __u8 dscp)
{
	__u8 updated[2] = { ip->first[0], ip->first[1] };
	__u16 old_word, new_word;

	if (ip->proto == ETH_P_IP) {
		updated[1] = (dscp << 2) | (ip->first[1] & 0x03);
	} else {
		/* Version (4) | traffic class (8) | flow label (20). */
		updated[0] = (ip->first[0] & 0xf0) | (dscp >> 2);
		updated[1] = ((dscp & 0x03) << 6) | (ip->first[1] & 0x3f);
	}
	__builtin_memcpy(&old_word, ip->first, sizeof(old_word));
	__builtin_memcpy(&new_word, updated, sizeof(new_word));
	if (old_word == new_word)
		return;
	bpf_skb_store_bytes(skb, ip->l3_offset, updated, sizeof(updated), 0);
	if (ip->proto == ETH_P_IP)
		bpf_l3_csum_replace(skb, ip->l3_offset + DG_IPV4_CSUM_OFF, old_word,
				    new_word, sizeof(new_word));
}

static __always_inline int dg_load_source(struct __sk_buff *skb,
					  const struct dg_ip_header *ip,
					  struct dg_pod_key *key)
{
	__builtin_memset(key, 0, sizeof(*key));
	if (ip->proto == ETH_P_IP) {
		/* IPv4-mapped, as in the gateway's pod table. */
		key->addr[10] = 0xff;
		key->addr[11] = 0xff;
		return bpf_skb_load_bytes(skb, ip->l3_offset + DG_IPV4_SADDR_OFF,
					  &key->addr[12], 4);
	}
	return bpf_skb_load_bytes(skb, ip->l3_offset + DG_IPV6_SADDR_OFF,
				  key->addr, sizeof(key->addr));
}

SEC("tc")
int DG_STAMP_PROG_STAMP(struct __sk_buff *skb)
{
	struct dg_ip_header ip;
	struct dg_pod_key key;
	__u8 *codepoint;

	if (dg_find_ip(skb, &ip)) {
		dg_count(DG_XDP_POD_STAMP_NOT_IP);
		return TC_ACT_UNSPEC;
	}
	if (dg_load_source(skb, &ip, &key)) {
		dg_count(DG_XDP_POD_STAMP_NOT_IP);
		return TC_ACT_UNSPEC;
	}
	codepoint = bpf_map_lookup_elem(&DG_STAMP_MAP_PODS, &key);
	if (codepoint) {
		dg_write_dscp(skb, &ip, *codepoint);
		dg_count(DG_XDP_POD_STAMPED);
		return TC_ACT_UNSPEC;
	}
	dg_count(DG_XDP_POD_STAMP_NOT_POD);
	if (dg_is_stamp_codepoint(dg_dscp_of(&ip))) {
		dg_write_dscp(skb, &ip, 0);
		dg_count(DG_XDP_STAMP_FORGERIES);
	}
	return TC_ACT_UNSPEC;
}

SEC("tc")
int DG_STAMP_PROG_GUARD(struct __sk_buff *skb)
{
	__u32 ingress_ifindex = skb->ingress_ifindex;
	struct dg_ip_header ip;

	int trusted = ingress_ifindex &&
		      bpf_map_lookup_elem(&DG_STAMP_MAP_TRUSTED_IFS, &ingress_ifindex);

	/*
	 * With the gateway's heartbeat stale dg_kernel_leg fails open: the frame goes to
	 * the uplink as it is, and a stamp would reach the fabric. Cleared: unmarked.
	 */
	if (trusted && !dg_heartbeat_stale())
		return TC_ACT_UNSPEC;
	if (dg_find_ip(skb, &ip))
		return TC_ACT_UNSPEC;
	if (dg_is_stamp_codepoint(dg_dscp_of(&ip))) {
		dg_write_dscp(skb, &ip, 0);
		dg_count(trusted ? DG_XDP_STAMP_FAIL_OPEN : DG_XDP_STAMP_FORGERIES);
	}
	return TC_ACT_UNSPEC;
}

char LICENSE[] SEC("license") = "Apache-2.0";
