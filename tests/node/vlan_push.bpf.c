// SPDX-License-Identifier: Apache-2.0
/*
 * Test fixture for reach_test.py's pcp case (tc egress, direct action): IPv4
 * frames to VLAN_SUBNET leave tagged with VLAN_ID, priority VLAN_PCP and DEI
 * set, the way a VLAN sub-interface on that link would send them. This kernel
 * has no 802.1Q devices (CONFIG_VLAN_8021Q off); bpf_skb_vlan_push() stores
 * the tag exactly as a VLAN device does (in the skb's hardware-accelerated tag,
 * written into the frame by the link when it does not insert tags itself).
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#define VLAN_SUBNET 0x0ac92a00 /* 10.201.42.0/24 */
#define VLAN_MASK 0xffffff00
#define VLAN_ID 42
#define VLAN_PCP 1
#define VLAN_DEI 1

SEC("tc")
int vlan_push(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = data + sizeof(*eth);
	__u16 tci = (VLAN_PCP << 13) | (VLAN_DEI << 12) | VLAN_ID;

	if ((void *)(ip + 1) > data_end)
		return TC_ACT_OK;
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return TC_ACT_OK;
	if ((bpf_ntohl(ip->daddr) & VLAN_MASK) != VLAN_SUBNET)
		return TC_ACT_OK;
	bpf_skb_vlan_push(skb, bpf_htons(ETH_P_8021Q), tci);
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "Apache-2.0";
