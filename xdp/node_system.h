// The two non-rtnetlink knobs `node attach` turns: ethtool offloads (SIOCETHTOOL) and the
// per-interface IPv6 switch (/proc/sys/net/ipv6/conf/IFACE/disable_ipv6).
#pragma once

#include <string>

#include "control/result.h"

namespace dg::node {

// The offloads AF_XDP and XDP redirect care about, by their legacy ethtool commands: each
// toggles the whole group (e.g. "tso" = every TCP segmentation offload). kTxVlan is the
// ETH_FLAG_TXVLAN bit of ETHTOOL_[GS]FLAGS (`ethtool -K IF txvlan`): with it on, a VLAN
// device's tag stays in skb metadata, which XDP never sees.
enum class Offload { kTso, kGso, kGro, kTxChecksum, kTxVlan };
constexpr Offload kAllOffloads[] = {Offload::kTso, Offload::kGso, Offload::kGro,
                                    Offload::kTxChecksum, Offload::kTxVlan};
const char* OffloadName(Offload offload);  // "tso", "gso", "gro", "tx-checksum", "tx-vlan"

EnvResult<bool> GetOffload(const std::string& ifname, Offload offload);
// Sets and reads back: an interface that ignores the request is an error, not a silent skip.
EnvResult<void> SetOffload(const std::string& ifname, Offload offload, bool enabled);

EnvResult<bool> Ipv6Disabled(const std::string& ifname);
EnvResult<void> SetIpv6Disabled(const std::string& ifname, bool disabled);

}  // namespace dg::node
