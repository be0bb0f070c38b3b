// The namespace priority policy, as carried by the priorities ConfigMap.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "control/queue_settings.h"
#include "control/result.h"
#include "dscp_gateway_abi.h"

namespace dg {

// A class without `pcp`: VLAN tags keep the priority the sender gave them.
inline constexpr uint8_t kNoPcp = 0xff;
inline constexpr uint8_t kMaxPcp = 7;

struct TrafficClass {
  std::string name;
  uint8_t dscp = 0;
  uint64_t max_rate_bps = 0;  // 0: no ceiling
  ClassQueueSettings queue;   // `aqm` and `queueLimit`
  uint64_t min_rate_bps = 0;  // 0: no floor; served before strict priority up to this rate
  uint8_t pcp = kNoPcp;       // 802.1p priority for the outer VLAN tag, 0..kMaxPcp
};

// podOverrides: which choices pods may make through annotations (control/pod_overrides.h).
struct PodOverridePolicy {
  std::vector<uint32_t> allowed_classes;  // class indices a pod may name; default none
  std::optional<uint32_t> offline_class;  // Volcano offline pods' class; default: ignored
};

struct PriorityPolicy {
  std::vector<TrafficClass> classes;  // highest priority first, 1..DG_MAX_CLASSES
  uint32_t default_class = 0;         // index into classes
  std::vector<std::pair<std::string, uint32_t>> exact_namespaces;   // name -> class index
  std::vector<std::pair<std::string, uint32_t>> prefix_namespaces;  // "batch-" -> class index
  PodOverridePolicy pod_overrides;
  std::string content_hash;  // hex FNV-1a-64 of priorities.yaml text, to tell versions apart

  // Most specific first: an exact name entry, then `label_class` (the class a namespace
  // label asks for, if the policy defines it), then the longest matching prefix, else
  // default_class.
  uint32_t ClassForNamespace(std::string_view namespace_name,
                             std::string_view label_class = {}) const;
};

// `text` is either a whole ConfigMap (kind: ConfigMap, data.priorities.yaml holds the
// policy) or the bare priorities document. `source` names the file for error messages.
// Class rates written as percentages are shares of `shaper_rate_bps` (the gateway config's
// shaper.rate); with 0 (unshaped) a percentage is an error.
Result<PriorityPolicy> ParsePriorities(std::string_view text, const std::string& source,
                                       uint64_t shaper_rate_bps = 0);
Result<PriorityPolicy> LoadPrioritiesFile(const std::string& path, uint64_t shaper_rate_bps = 0);

// Policy used when none is configured: critical/high/standard/scavenger, nothing mapped.
PriorityPolicy DefaultPriorityPolicy();

// "500Mbit", "1.5Gbit", "10kbit", "200000000" (bit/s). 0 is allowed (means "unset").
Result<uint64_t> ParseRateBps(std::string_view text, const std::string& source,
                              const std::string& key);

}  // namespace dg
