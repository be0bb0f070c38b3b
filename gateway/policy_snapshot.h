// What the worker needs of the policy, flattened into one immutable block. The control
// thread builds a new snapshot and swaps the pointer; workers load it once per burst.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "control/policy.h"
#include "dscp_gateway_abi.h"

struct rte_rcu_qsbr;

namespace dg {

// Namespaces beyond DG_MAX_NAMESPACES share this id; it follows the default class.
inline constexpr uint32_t kOverflowNamespaceId = DG_MAX_NAMESPACES - 1;

struct alignas(64) PolicySnapshot {
  uint64_t generation = 0;
  uint32_t class_count = 0;
  uint32_t default_class = 0;
  uint8_t class_dscp[DG_MAX_CLASSES] = {};
  uint64_t class_ceiling_bps[DG_MAX_CLASSES] = {};
  uint8_t class_of_namespace[DG_MAX_NAMESPACES] = {};
};

// Owns the namespace-name <-> id interning and the published snapshot. Control thread
// only; the worker side is the atomic pointer returned by Current().
class PolicyPublisher {
 public:
  // `qsbr` guards snapshot reclamation; nullptr when no worker thread runs concurrently
  // (tests, replay before start).
  explicit PolicyPublisher(rte_rcu_qsbr* qsbr);
  ~PolicyPublisher();
  PolicyPublisher(const PolicyPublisher&) = delete;
  PolicyPublisher& operator=(const PolicyPublisher&) = delete;

  void SetQsbr(rte_rcu_qsbr* qsbr) { qsbr_ = qsbr; }

  const std::atomic<const PolicySnapshot*>& Current() const { return current_; }
  const PriorityPolicy& policy() const { return policy_; }
  uint64_t generation() const { return generation_; }

  // Replaces the policy; takes effect with the next burst each worker processes.
  void SetPolicy(PriorityPolicy policy);

  // Classes named by a namespace label (Kubernetes); PriorityPolicy::ClassForNamespace
  // decides how they rank against the policy's own entries.
  void SetNamespaceLabelClasses(std::map<std::string, std::string> class_name_by_namespace);

  // Interns names, then publishes once if any was new. Ids are stable for the process's
  // life so per-namespace counters never change meaning.
  std::vector<uint32_t> InternNamespaces(const std::vector<std::string_view>& names);
  uint32_t InternNamespace(std::string_view name) { return InternNamespaces({name})[0]; }

  // Id -> name for reporting; "" for unused ids.
  const std::string& NamespaceName(uint32_t namespace_id) const;
  uint32_t NamespaceCount() const { return static_cast<uint32_t>(names_.size()); }
  uint32_t ClassOfNamespace(uint32_t namespace_id) const;

 private:
  void Publish();
  uint32_t ResolveClass(const std::string& namespace_name) const;

  rte_rcu_qsbr* qsbr_;
  PriorityPolicy policy_;
  uint64_t generation_ = 0;
  std::vector<std::string> names_;  // index = id; id 0 is DG_NAMESPACE_NONE
  std::unordered_map<std::string, uint32_t> ids_;
  std::map<std::string, std::string> label_classes_;
  std::atomic<const PolicySnapshot*> current_{nullptr};
};

}  // namespace dg
