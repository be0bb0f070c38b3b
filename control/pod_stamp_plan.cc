#include "control/pod_stamp_plan.h"

#include <fnmatch.h>

#include <algorithm>
#include <set>

namespace dg {

PodStampMap DesiredPodStamps(const std::vector<PodStampSource>& pods) {
  PodStampMap desired;
  for (const PodStampSource& pod : pods) {
    if (pod.class_id >= DG_STAMP_CLASS_LIMIT) continue;
    desired[pod.address] = dg_stamp_codepoint(static_cast<uint8_t>(pod.class_id));
  }
  return desired;
}

PodStampChanges DiffPodStamps(const PodStampMap& applied, const PodStampMap& desired) {
  PodStampChanges changes;
  for (const auto& [address, codepoint] : desired) {
    auto found = applied.find(address);
    if (found == applied.end() || found->second != codepoint) {
      changes.upserts.emplace_back(address, codepoint);
    }
  }
  for (const auto& [address, codepoint] : applied) {
    if (!desired.contains(address)) changes.erases.push_back(address);
  }
  return changes;
}

bool MatchesAnyPattern(std::string_view interface, const std::vector<std::string>& patterns) {
  const std::string name(interface);
  return std::any_of(patterns.begin(), patterns.end(), [&](const std::string& pattern) {
    return fnmatch(pattern.c_str(), name.c_str(), 0) == 0;
  });
}

PodLinkChanges DiffPodLinks(const std::vector<NodeLink>& links,
                            const std::vector<std::string>& patterns,
                            const std::vector<uint32_t>& attached, uint32_t kernel_leg_ifindex) {
  PodLinkChanges changes;
  const std::set<uint32_t> was_attached(attached.begin(), attached.end());
  std::set<uint32_t> wanted;
  for (const NodeLink& link : links) {
    if (link.ifindex == kernel_leg_ifindex || !MatchesAnyPattern(link.name, patterns)) continue;
    wanted.insert(link.ifindex);
    if (!was_attached.contains(link.ifindex)) changes.attach.push_back(link);
  }
  for (uint32_t ifindex : was_attached) {
    if (!wanted.contains(ifindex)) changes.forget.push_back(ifindex);
  }
  return changes;
}

std::vector<uint32_t> TrustedIfindexes(const std::vector<NodeLink>& links,
                                       const std::vector<uint32_t>& attached) {
  const std::set<uint32_t> stamped(attached.begin(), attached.end());
  std::set<uint32_t> trusted;
  for (const NodeLink& link : links) {
    if (!stamped.contains(link.ifindex)) continue;
    trusted.insert(link.ifindex);
    if (link.master_ifindex != 0) trusted.insert(link.master_ifindex);
  }
  return {trusted.begin(), trusted.end()};
}

}  // namespace dg
