// What the worker needs of the policy, flattened into one immutable block. The control
// thread builds a new snapshot and swaps the pointer (policy_publisher.h); workers load it
// once per burst.
#pragma once

#include <cstdint>

#include "dscp_gateway_abi.h"

namespace dg {

// Namespaces beyond DG_MAX_NAMESPACES share this id; it follows the default class.
inline constexpr uint32_t kOverflowNamespaceId = DG_MAX_NAMESPACES - 1;

struct alignas(64) PolicySnapshot {
  uint64_t generation = 0;
  uint32_t default_class = 0;
  // datapath.mode observe: classify and count, forward unchanged and unshaped.
  bool observe_only = false;
  uint8_t class_dscp[DG_MAX_CLASSES] = {};
  uint8_t class_pcp[DG_MAX_CLASSES] = {};  // kNoPcp: leave the VLAN priority alone
  uint64_t class_ceiling_bps[DG_MAX_CLASSES] = {};
  uint8_t class_of_namespace[DG_MAX_NAMESPACES] = {};
};

}  // namespace dg
