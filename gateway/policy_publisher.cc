#include "gateway/policy_publisher.h"

#include <rte_rcu_qsbr.h>

#include <algorithm>
#include <iterator>
#include <memory>

namespace dg {

PolicyPublisher::PolicyPublisher(rte_rcu_qsbr* qsbr)
    : qsbr_(qsbr), policy_(DefaultPriorityPolicy()), names_(1) {
  Publish();
}

PolicyPublisher::~PolicyPublisher() { delete current_.load(std::memory_order_acquire); }

void PolicyPublisher::SetPolicy(PriorityPolicy policy) {
  policy_ = std::move(policy);
  Publish();
}

void PolicyPublisher::SetDatapathMode(DatapathMode mode) {
  if (mode == mode_) return;
  mode_ = mode;
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
  std::fill(std::begin(snapshot->class_pcp), std::end(snapshot->class_pcp), kNoPcp);
  for (uint32_t c = 0; c < policy_.classes.size(); ++c) {
    snapshot->class_dscp[c] = policy_.classes[c].dscp;
    snapshot->class_pcp[c] = policy_.classes[c].pcp;
    snapshot->class_ceiling_bps[c] = policy_.classes[c].max_rate_bps;
  }
  for (uint32_t id = 0; id < DG_MAX_NAMESPACES; ++id) {
    snapshot->class_of_namespace[id] = static_cast<uint8_t>(
        id < names_.size() && id != DG_NAMESPACE_NONE ? ResolveClass(names_[id])
                                                      : policy_.default_class);
  }
  const PolicySnapshot* previous = current_.exchange(snapshot.release(), std::memory_order_acq_rel);
  // Workers may still hold `previous` until they next pass a quiescent state.
  if (qsbr_ != nullptr) rte_rcu_qsbr_synchronize(qsbr_, RTE_QSBR_THRID_INVALID);
  delete previous;
}

}  // namespace dg
