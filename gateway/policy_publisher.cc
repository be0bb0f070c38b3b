#include "gateway/policy_publisher.h"

#include <algorithm>
#include <iterator>
#include <memory>

#include "gateway/rcu_wait.h"

namespace dg {

PolicyPublisher::PolicyPublisher(rte_rcu_qsbr* qsbr)
    : qsbr_(qsbr), policy_(DefaultPriorityPolicy()), names_(1) {
  Publish();
}

PolicyPublisher::~PolicyPublisher() { delete current_.load(std::memory_order_acquire); }

void PolicyPublisher::SetPolicy(PriorityPolicy policy) {
  policy_ = std::move(policy);
  pod_slots_.Redecide(policy_);  // class indices and allowed classes may have changed
  Publish();
}

uint32_t PolicyPublisher::AcquirePodSlot(const std::string& uid,
                                         const PodAnnotations& annotations) {
  bool changed = false;
  const uint32_t slot = pod_slots_.Acquire(uid, annotations, policy_, &changed);
  pod_slots_changed_ = pod_slots_changed_ || changed;
  return slot;
}

void PolicyPublisher::PublishIfChanged() {
  if (pod_slots_changed_) Publish();
}

void PolicyPublisher::SetDatapathMode(DatapathMode mode) {
  if (mode == mode_) return;
  mode_ = mode;
  Publish();
}

void PolicyPublisher::SetPodStampsTrusted(bool trusted) {
  if (trusted == pod_stamps_trusted_) return;
  pod_stamps_trusted_ = trusted;
  Publish();
}

void PolicyPublisher::SetNamespaceLabelClasses(
    std::map<std::string, std::string> class_name_by_namespace) {
  label_classes_ = std::move(class_name_by_namespace);
  Publish();
}

uint32_t PolicyPublisher::ResolveClass(const std::string& namespace_name) const {
  const auto label = label_classes_.find(namespace_name);
  return policy_.ClassForNamespace(namespace_name,
                                   label == label_classes_.end() ? "" : label->second);
}

std::vector<uint32_t> PolicyPublisher::InternNamespaces(
    const std::vector<std::string_view>& names) {
  std::vector<uint32_t> ids;
  ids.reserve(names.size());
  bool added = false;
  for (std::string_view name : names) {
    auto found = ids_.find(std::string(name));
    if (found != ids_.end()) {
      ids.push_back(found->second);
      continue;
    }
    if (names_.size() >= kOverflowNamespaceId) {
      ids.push_back(kOverflowNamespaceId);
      continue;
    }
    const uint32_t id = static_cast<uint32_t>(names_.size());
    names_.emplace_back(name);
    ids_.emplace(std::string(name), id);
    ids.push_back(id);
    added = true;
  }
  if (added) Publish();
  return ids;
}

const std::string& PolicyPublisher::NamespaceName(uint32_t namespace_id) const {
  static const std::string kOverflowName = "(other)";
  static const std::string kNoName;
  if (namespace_id == kOverflowNamespaceId) return kOverflowName;
  return namespace_id < names_.size() ? names_[namespace_id] : kNoName;
}

uint32_t PolicyPublisher::ClassOfNamespace(uint32_t namespace_id) const {
  return current_.load(std::memory_order_acquire)
      ->class_of_namespace[namespace_id % DG_MAX_NAMESPACES];
}

void PolicyPublisher::Publish() {
  auto snapshot = std::make_unique<PolicySnapshot>();
  snapshot->generation = ++generation_;
  snapshot->default_class = policy_.default_class;
  snapshot->observe_only = mode_ == DatapathMode::kObserve;
  snapshot->stamp_class_count =
      pod_stamps_trusted_ ? static_cast<uint32_t>(policy_.classes.size()) : 0;
  std::fill(std::begin(snapshot->class_pcp), std::end(snapshot->class_pcp), kNoPcp);
  for (uint32_t c = 0; c < policy_.classes.size(); ++c) {
    snapshot->class_dscp[c] = policy_.classes[c].dscp;
    snapshot->class_pcp[c] = policy_.classes[c].pcp;
    snapshot->class_ceiling_bps[c] = policy_.classes[c].max_rate_bps;
    snapshot->class_queue[c] = policy_.classes[c].queue;
    snapshot->class_floor_bps[c] = policy_.classes[c].min_rate_bps;
  }
  for (uint32_t id = 0; id < DG_MAX_NAMESPACES; ++id) {
    snapshot->class_of_namespace[id] = static_cast<uint8_t>(
        id < names_.size() && id != DG_NAMESPACE_NONE ? ResolveClass(names_[id])
                                                      : policy_.default_class);
  }
  for (uint32_t slot = 0; slot < kPodSlotCount; ++slot) {
    const PodOverrideDecision* decision = pod_slots_.Decision(slot);
    snapshot->class_of_pod_slot[slot] = decision != nullptr && decision->class_index
                                            ? static_cast<uint8_t>(*decision->class_index)
                                            : kFollowNamespaceClass;
    snapshot->pod_egress_bps[slot] = decision != nullptr ? decision->egress_bps : 0;
  }
  pod_slots_changed_ = false;
  const PolicySnapshot* previous = current_.exchange(snapshot.release(), std::memory_order_acq_rel);
  // Workers may still hold `previous` until they next pass a quiescent state.
  if (qsbr_ != nullptr) WaitForQuiescentReaders(qsbr_);
  delete previous;
}

}  // namespace dg
