#include "control/pod_overrides.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "control/log.h"

namespace dg {
namespace {

// Exact products of up to 20 digits and a binary multiplier (GCC's 128-bit integer).
__extension__ using Uint128 = unsigned __int128;

constexpr uint64_t kMinBandwidthBps = 1000;                 // kubelet: "unreasonably small"
constexpr uint64_t kMaxBandwidthBps = 1000000000000000ULL;  // kubelet: "unreasonably large"

std::optional<uint32_t> FindClassIndex(const PriorityPolicy& policy, std::string_view name) {
  for (uint32_t c = 0; c < policy.classes.size(); ++c) {
    if (policy.classes[c].name == name) return c;
  }
  return std::nullopt;
}

void Refuse(PodOverrideDecision& decision, PodOverrideRefusal refusal, const std::string& detail) {
  decision.refusals.push_back(refusal);
  if (!decision.why.empty()) decision.why += "; ";
  decision.why += std::string(RefusalName(refusal)) + ": " + detail;
}

// Volcano writes qos-level as a decimal integer ("-1" offline, "0".."2" online).
std::optional<int64_t> ParseQosLevel(std::string_view text) {
  int64_t value = 0;
  const char* end = text.data() + text.size();
  auto [stop, error] = std::from_chars(text.data(), end, value);
  if (error != std::errc() || stop != end) return std::nullopt;
  return value;
}

// Quantity suffixes (k8s.io/apimachinery/pkg/api/resource/suffix.go): binary (Ki..Ei),
// decimal SI (m, "", k, M, G, T, P, E) or a decimal exponent (e3, E-2).
struct Scale {
  int decimal_exponent = 0;
  int binary_exponent = 0;
};

std::optional<Scale> ParseQuantitySuffix(std::string_view suffix) {
  static constexpr std::pair<std::string_view, Scale> kSuffixes[] = {
      {"", {0, 0}},    {"m", {-3, 0}},  {"k", {3, 0}},   {"M", {6, 0}},   {"G", {9, 0}},
      {"T", {12, 0}},  {"P", {15, 0}},  {"E", {18, 0}},  {"Ki", {0, 10}}, {"Mi", {0, 20}},
      {"Gi", {0, 30}}, {"Ti", {0, 40}}, {"Pi", {0, 50}}, {"Ei", {0, 60}}};
  for (const auto& [name, scale] : kSuffixes) {
    if (suffix == name) return scale;
  }
  if (suffix.size() > 1 && (suffix[0] == 'e' || suffix[0] == 'E')) {
    std::string_view exponent = suffix.substr(1);
    if (exponent.front() == '+') exponent.remove_prefix(1);
    int value = 0;
    const char* end = exponent.data() + exponent.size();
    auto [stop, error] = std::from_chars(exponent.data(), end, value);
    if (error != std::errc() || stop != end || value > 1000 || value < -1000) return std::nullopt;
    return Scale{value, 0};
  }
  return std::nullopt;
}

}  // namespace

std::string_view RefusalName(PodOverrideRefusal refusal) {
  static constexpr std::string_view kNames[] = {
#define DG_REFUSAL_NAME(name, help) #name,
      DG_POD_OVERRIDE_REFUSALS(DG_REFUSAL_NAME)
#undef DG_REFUSAL_NAME
  };
  return kNames[static_cast<size_t>(refusal)];
}

Result<uint64_t> ParseBandwidthQuantity(std::string_view text) {
  auto invalid = [&](const std::string& why) {
    return ConfigError{"", std::string(kEgressBandwidthAnnotation),
                       "\"" + std::string(text) + "\" " + why +
                           "; expected a Kubernetes quantity such as 10M, 1G, 500k or 1Mi"};
  };
  // <sign><digits>[.<digits>]<suffix>, as resource.ParseQuantity reads it.
  size_t position = 0;
  bool negative = false;
  if (position < text.size() && (text[position] == '+' || text[position] == '-')) {
    negative = text[position] == '-';
    ++position;
  }
  std::string digits;  // integer and fraction digits together
  int fraction_digits = 0;
  bool seen_dot = false;
  for (; position < text.size(); ++position) {
    const char c = text[position];
    if (c >= '0' && c <= '9') {
      digits += c;
      if (seen_dot) ++fraction_digits;
    } else if (c == '.' && !seen_dot) {
      seen_dot = true;
    } else {
      break;
    }
  }
  if (digits.empty()) return invalid("is not a quantity");
  const auto scale = ParseQuantitySuffix(text.substr(position));
  if (!scale) return invalid("has an unknown suffix");

  digits.erase(0, std::min(digits.find_first_not_of('0'), digits.size()));
  if (digits.empty()) return invalid("is below 1k (kubelet refuses it)");
  if (negative) return invalid("is negative");
  // value = mantissa * 10^exponent * 2^binary, rounded up (Quantity.Value()). A rough
  // estimate first rejects what is far out of range, so the exact sum below cannot overflow
  // (at most 20 digits: the numerator stays below 2e15 * 10^20 < 2^128).
  if (digits.size() > 20) return invalid("has too many digits");
  const int exponent = scale->decimal_exponent - fraction_digits;
  const long double estimate =
      std::stold(digits) * std::pow(10.0L, exponent) * std::pow(2.0L, scale->binary_exponent);
  if (estimate > 2.0L * kMaxBandwidthBps) return invalid("is above 1P (kubelet refuses it)");
  if (estimate < kMinBandwidthBps / 2) return invalid("is below 1k (kubelet refuses it)");
  Uint128 value = 0;
  for (char c : digits) value = value * 10 + static_cast<unsigned>(c - '0');
  value <<= scale->binary_exponent;
  Uint128 divisor = 1;
  for (int e = 0; e < exponent; ++e) value *= 10;
  for (int e = 0; e < -exponent; ++e) divisor *= 10;
  value = (value + divisor - 1) / divisor;
  if (value < kMinBandwidthBps) return invalid("is below 1k (kubelet refuses it)");
  if (value > kMaxBandwidthBps) return invalid("is above 1P (kubelet refuses it)");
  return static_cast<uint64_t>(value);
}

PodOverrideDecision DecidePodOverride(const PodAnnotations& annotations,
                                      const PriorityPolicy& policy) {
  PodOverrideDecision decision;
  const PodOverridePolicy& rules = policy.pod_overrides;
  bool offline = false;
  if (!annotations.qos_level.empty()) {
    const auto level = ParseQosLevel(annotations.qos_level);
    if (!level) {
      Refuse(decision, PodOverrideRefusal::invalid_qos_level, "\"" + annotations.qos_level + "\"");
    } else if (*level < 0 && rules.offline_class) {
      offline = true;
      decision.class_index = *rules.offline_class;
      decision.class_source = "volcano-offline";
    }
  }
  if (!annotations.requested_class.empty()) {
    const std::string& requested = annotations.requested_class;
    const auto class_index = FindClassIndex(policy, requested);
    if (offline) {
      Refuse(decision, PodOverrideRefusal::offline_pod, "\"" + requested + "\"");
    } else if (!class_index) {
      Refuse(decision, PodOverrideRefusal::unknown_class, "\"" + requested + "\"");
    } else if (std::find(rules.allowed_classes.begin(), rules.allowed_classes.end(),
                         *class_index) == rules.allowed_classes.end()) {
      Refuse(decision, PodOverrideRefusal::class_not_allowed, "\"" + requested + "\"");
    } else {
      decision.class_index = *class_index;
      decision.class_source = "pod-annotation";
    }
  }
  if (!annotations.egress_bandwidth.empty()) {
    auto rate = ParseBandwidthQuantity(annotations.egress_bandwidth);
    if (rate) {
      decision.egress_bps = *rate;
    } else {
      Refuse(decision, PodOverrideRefusal::invalid_egress_bandwidth, rate.error().reason);
    }
  }
  return decision;
}

void PodOverrideSlots::Decide(Slot& slot, const PriorityPolicy& policy) {
  PodOverrideDecision next = DecidePodOverride(slot.annotations, policy);
  // A refusal is counted when it starts, not every time the same pod is looked at again.
  for (PodOverrideRefusal refusal : next.refusals) {
    const auto& before = slot.decision.refusals;
    if (std::find(before.begin(), before.end(), refusal) == before.end())
      ++refused_totals_[static_cast<size_t>(refusal)];
  }
  slot.decision = std::move(next);
}

uint32_t PodOverrideSlots::Acquire(const std::string& uid, const PodAnnotations& annotations,
                                   const PriorityPolicy& policy, bool* changed) {
  *changed = false;
  auto found = slot_of_uid_.find(uid);
  if (found != slot_of_uid_.end()) {
    Slot& slot = slots_[found->second];
    ++slot.references;
    if (!(slot.annotations == annotations)) {
      slot.annotations = annotations;
      Decide(slot, policy);
      *changed = true;
    }
    return found->second;
  }
  if (!annotations.any()) return 0;
  uint32_t index = 0;
  if (!free_slots_.empty()) {
    index = free_slots_.back();
    free_slots_.pop_back();
  } else if (next_unused_ < kSlotCount) {
    index = next_unused_++;
  } else {
    if (refused_totals_[static_cast<size_t>(PodOverrideRefusal::slots_full)]++ == 0) {
      DG_LOG_WARNING("policy",
                     "pod %s: every one of the %u per-pod override slots is in use; its "
                     "annotations are ignored (counted as slots_full; logged once)",
                     uid.c_str(), kSlotCount - 1);
    }
    return 0;
  }
  Slot& slot = slots_[index];
  slot = Slot{uid, annotations, 1, {}};
  Decide(slot, policy);
  slot_of_uid_.emplace(uid, index);
  *changed = true;
  return index;
}

void PodOverrideSlots::Release(const std::string& uid, uint32_t slot_index) {
  if (slot_index == 0) return;
  auto found = slot_of_uid_.find(uid);
  if (found == slot_of_uid_.end() || found->second != slot_index) return;
  Slot& slot = slots_[found->second];
  if (--slot.references != 0) return;
  slot = Slot{};
  free_slots_.push_back(found->second);
  slot_of_uid_.erase(found);
}

void PodOverrideSlots::Redecide(const PriorityPolicy& policy) {
  for (const auto& [uid, index] : slot_of_uid_) Decide(slots_[index], policy);
}

const PodOverrideDecision* PodOverrideSlots::Decision(uint32_t slot) const {
  if (slot == 0 || slot >= kSlotCount || slots_[slot].references == 0) return nullptr;
  return &slots_[slot].decision;
}

}  // namespace dg
