// What the worker needs of the policy, flattened into one immutable block. The control
// thread builds a new snapshot and swaps the pointer (policy_publisher.h); workers load it
// once per burst.
#pragma once

#include <array>
#include <cstdint>

#include "control/pod_overrides.h"
#include "control/queue_settings.h"
#include "dscp_gateway_abi.h"

namespace dg {

// Namespaces beyond DG_MAX_NAMESPACES share this id; it follows the default class.
inline constexpr uint32_t kOverflowNamespaceId = DG_MAX_NAMESPACES - 1;

// Every class has a stamp codepoint (dg_stamp_codepoint).
static_assert(DG_MAX_CLASSES <= DG_STAMP_CLASS_LIMIT);

// Per-pod override slots (control/pod_overrides.h): slot 0 is "none".
inline constexpr uint32_t kPodSlotCount = PodOverrideSlots::kSlotCount;
// class_of_pod_slot for a pod that keeps its namespace's class.
inline constexpr uint8_t kFollowNamespaceClass = 0xff;

// The pod table's 32-bit value: the namespace id in the low 12 bits (DG_MAX_NAMESPACES),
// the pod's override slot above it. Most pods have slot 0 and their value is the bare
// namespace id.
inline constexpr uint32_t kPodValueNamespaceBits = 12;
static_assert(DG_MAX_NAMESPACES == 1u << kPodValueNamespaceBits);
static_assert(kPodSlotCount <= 1u << (32 - kPodValueNamespaceBits));
inline constexpr uint32_t PodTableValue(uint32_t namespace_id, uint32_t pod_slot) {
  return namespace_id | pod_slot << kPodValueNamespaceBits;
}
inline constexpr uint32_t NamespaceOfPodValue(uint32_t value) {
  return value & (DG_MAX_NAMESPACES - 1);
}
inline constexpr uint32_t SlotOfPodValue(uint32_t value) {
  return (value >> kPodValueNamespaceBits) % kPodSlotCount;
}

constexpr std::array<uint8_t, kPodSlotCount> EveryPodFollowsItsNamespace() {
  std::array<uint8_t, kPodSlotCount> classes{};
  classes.fill(kFollowNamespaceClass);
  return classes;
}

struct alignas(64) PolicySnapshot {
  uint64_t generation = 0;
  uint32_t default_class = 0;
  // datapath.mode observe: classify and count, forward unchanged and unshaped.
  bool observe_only = false;
  // podEgressStamp: classes [0, this) may be taken from a stamp codepoint on frames whose
  // source is not a pod (masqueraded pod egress); 0: stamps are not trusted.
  uint32_t stamp_class_count = 0;
  uint8_t class_dscp[DG_MAX_CLASSES] = {};
  uint8_t class_pcp[DG_MAX_CLASSES] = {};  // kNoPcp: leave the VLAN priority alone
  uint64_t class_ceiling_bps[DG_MAX_CLASSES] = {};
  ClassQueueSettings class_queue[DG_MAX_CLASSES] = {};
  uint64_t class_floor_bps[DG_MAX_CLASSES] = {};
  uint8_t class_of_namespace[DG_MAX_NAMESPACES] = {};
  // kFollowNamespaceClass: no override (always so for slot 0).
  std::array<uint8_t, kPodSlotCount> class_of_pod_slot = EveryPodFollowsItsNamespace();
  uint64_t pod_egress_bps[kPodSlotCount] = {};  // 0: not limited

  uint8_t ClassOf(uint32_t pod_value) const {
    const uint8_t pod_class = class_of_pod_slot[SlotOfPodValue(pod_value)];
    return pod_class != kFollowNamespaceClass ? pod_class
                                              : class_of_namespace[NamespaceOfPodValue(pod_value)];
  }
};

}  // namespace dg
