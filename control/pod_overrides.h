// Per-pod choices the priorities file lets pods make through annotations: a class of their
// own (dscp-gateway.io/class, only from podOverrides.allowedClasses), Volcano's offline
// marking (volcano.sh/qos-level < 0 -> podOverrides.offlineClass) and an egress limit
// (kubernetes.io/egress-bandwidth). Deciding is pure control-plane logic; the datapath
// sees the outcome through a per-pod slot (PodOverrideSlots) in the policy snapshot.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "control/policy.h"
#include "control/result.h"

namespace dg {

inline constexpr std::string_view kPodClassAnnotation = "dscp-gateway.io/class";
inline constexpr std::string_view kVolcanoQosLevelAnnotation = "volcano.sh/qos-level";
inline constexpr std::string_view kEgressBandwidthAnnotation = "kubernetes.io/egress-bandwidth";

// The annotations a pod carries that matter here, as written (empty: absent).
struct PodAnnotations {
  std::string requested_class;   // dscp-gateway.io/class
  std::string qos_level;         // volcano.sh/qos-level
  std::string egress_bandwidth;  // kubernetes.io/egress-bandwidth
  bool any() const {
    return !requested_class.empty() || !qos_level.empty() || !egress_bandwidth.empty();
  }
  bool operator==(const PodAnnotations&) const = default;
};

// Why an annotation was not honoured: label `reason` of
// dscp_gateway_pod_override_refused_total, in this order.
#define DG_POD_OVERRIDE_REFUSALS(X)                                                      \
  X(class_not_allowed, "the class exists but is not in podOverrides.allowedClasses")     \
  X(unknown_class, "the policy has no class of that name")                               \
  X(offline_pod, "the pod is Volcano offline work: podOverrides.offlineClass wins")      \
  X(invalid_qos_level, "volcano.sh/qos-level is not an integer")                         \
  X(invalid_egress_bandwidth, "kubernetes.io/egress-bandwidth is not a usable quantity") \
  X(slots_full, "every per-pod override slot is in use")

enum class PodOverrideRefusal : uint8_t {
#define DG_REFUSAL_ENUM(name, help) name,
  DG_POD_OVERRIDE_REFUSALS(DG_REFUSAL_ENUM)
#undef DG_REFUSAL_ENUM
};
inline constexpr size_t kPodOverrideRefusalCount = 0
#define DG_REFUSAL_COUNT(name, help) +1
    DG_POD_OVERRIDE_REFUSALS(DG_REFUSAL_COUNT)
#undef DG_REFUSAL_COUNT
    ;
std::string_view RefusalName(PodOverrideRefusal refusal);

// What a pod gets, and why.
struct PodOverrideDecision {
  std::optional<uint32_t> class_index;  // overrides the namespace's class when set
  std::string class_source;             // "pod-annotation", "volcano-offline" or "" (namespace)
  uint64_t egress_bps = 0;              // 0: not limited
  std::vector<PodOverrideRefusal> refusals;
  std::string why;  // the refusals in words, for /v1/pods; "" when everything was honoured
};

// Precedence: Volcano's offline marking (qos-level < 0 with offlineClass set) beats the
// pod's own class annotation, which beats the namespace rules. A refused or unknown class
// leaves the namespace's class in place.
PodOverrideDecision DecidePodOverride(const PodAnnotations& annotations,
                                      const PriorityPolicy& policy);

// A Kubernetes quantity ("10M", "1G", "500k", "1Mi", "1.5e6") as bits per second, the way
// the bandwidth plugin reads kubernetes.io/egress-bandwidth: resource.ParseQuantity, then
// Value() (rounded up), refused below 1 kbit/s or above 1 Pbit/s as kubelet does.
Result<uint64_t> ParseBandwidthQuantity(std::string_view text);

// Per-pod slots the datapath indexes by (the pod table value carries the slot). Slot 0
// means "no override"; a pod holds one slot for all its addresses while it has any of
// the annotations. Control thread only.
class PodOverrideSlots {
 public:
  static constexpr uint32_t kSlotCount = 4096;  // slot 0 unused

  // One more address of pod `uid`; returns its slot, 0 if it asks for nothing or every
  // slot is taken (counted as slots_full). `changed` tells whether the published view
  // (decisions, rates) changed.
  uint32_t Acquire(const std::string& uid, const PodAnnotations& annotations,
                   const PriorityPolicy& policy, bool* changed);
  // One address of pod `uid` fewer, given the slot Acquire returned for it (0: nothing to
  // release); the slot is freed with the last one.
  void Release(const std::string& uid, uint32_t slot);
  // Re-decides every pod under a new policy; new refusals are counted.
  void Redecide(const PriorityPolicy& policy);

  const PodOverrideDecision* Decision(uint32_t slot) const;
  const std::array<uint64_t, kPodOverrideRefusalCount>& refused_totals() const {
    return refused_totals_;
  }
  size_t in_use() const { return slot_of_uid_.size(); }

 private:
  struct Slot {
    std::string uid;
    PodAnnotations annotations;
    uint32_t references = 0;
    PodOverrideDecision decision;
  };
  void Decide(Slot& slot, const PriorityPolicy& policy);

  std::vector<Slot> slots_ = std::vector<Slot>(kSlotCount);
  std::vector<uint32_t> free_slots_;
  uint32_t next_unused_ = 1;
  std::unordered_map<std::string, uint32_t> slot_of_uid_;
  std::array<uint64_t, kPodOverrideRefusalCount> refused_totals_{};
};

}  // namespace dg
