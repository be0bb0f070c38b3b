// Masqueraded pod egress (docs/architecture.md, "Masqueraded egress"): what the pod-stamp
// programs should hold, decided without touching the kernel. The gateway's reconciler
// (gateway/pod_stamp_reconciler.h) computes a plan here every second and applies only
// the differences to the pinned maps and the tc filters.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "control/pods.h"
#include "dscp_gateway_abi.h"

namespace dg {

// Pod address -> stamp codepoint (dg_stamp_codepoint of the pod's class).
using PodStampMap = std::unordered_map<dg_pod_key, uint8_t, PodKeyHash, PodKeyEqual>;

struct PodStampSource {
  dg_pod_key address;
  uint32_t class_id;  // the class the datapath gives the pod (overrides included)
};

// Classes at or beyond DG_STAMP_CLASS_LIMIT have no codepoint; their pods are left out.
PodStampMap DesiredPodStamps(const std::vector<PodStampSource>& pods);

struct PodStampChanges {
  std::vector<std::pair<dg_pod_key, uint8_t>> upserts;  // new or changed codepoint
  std::vector<dg_pod_key> erases;
};
PodStampChanges DiffPodStamps(const PodStampMap& applied, const PodStampMap& desired);

// Shell wildcards (fnmatch) on interface names: "veth*", "cali*".
bool MatchesAnyPattern(std::string_view interface, const std::vector<std::string>& patterns);

struct NodeLink {
  uint32_t ifindex = 0;
  std::string name;
  uint32_t master_ifindex = 0;  // a bridge it is a port of; 0: none
};

// The links that should carry the stamp program: those matching the patterns (the
// kernel leg never does, whatever its name).
struct PodLinkChanges {
  std::vector<NodeLink> attach;  // matching links not attached yet
  std::vector<uint32_t> forget;  // attached ifindexes that are gone or no longer match
};
PodLinkChanges DiffPodLinks(const std::vector<NodeLink>& links,
                            const std::vector<std::string>& patterns,
                            const std::vector<uint32_t>& attached, uint32_t kernel_leg_ifindex);

// What the guard trusts: the links carrying the stamp and, for bridged CNIs, their bridge
// (the node's stack receives a bridged frame from the bridge, not the veth). Sorted.
std::vector<uint32_t> TrustedIfindexes(const std::vector<NodeLink>& links,
                                       const std::vector<uint32_t>& attached);

}  // namespace dg
