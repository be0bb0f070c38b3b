// Publishes PolicySnapshots to the workers and owns the namespace-name <-> id interning.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "control/gateway_config.h"
#include "control/pod_overrides.h"
#include "control/policy.h"
#include "gateway/policy_snapshot.h"

struct rte_rcu_qsbr;

namespace dg {

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

  const std::atomic<const PolicySnapshot*>& Current() const { return current_; }
  const PriorityPolicy& policy() const { return policy_; }
  uint64_t generation() const { return generation_; }

  // Replaces the policy; takes effect with the next burst each worker processes.
  void SetPolicy(PriorityPolicy policy);
  // Enforce or observe; published with the policy so a worker sees both change together.
  void SetDatapathMode(DatapathMode mode);
  DatapathMode datapath_mode() const { return mode_; }
  // podEgressStamp.enabled: workers trust stamp codepoints on non-pod sources.
  void SetPodStampsTrusted(bool trusted);

  // Classes named by a namespace label (Kubernetes); PriorityPolicy::ClassForNamespace
  // decides how they rank against the policy's own entries.
  void SetNamespaceLabelClasses(std::map<std::string, std::string> class_name_by_namespace);

  // Interns names, then publishes once if any was new. Ids are stable for the process's
  // life so per-namespace counters never change meaning.
  std::vector<uint32_t> InternNamespaces(const std::vector<std::string_view>& names);
  uint32_t InternNamespace(std::string_view name) { return InternNamespaces({name})[0]; }

  // A pod's override slot (control/pod_overrides.h) for one more of its addresses, decided
  // under the current policy; 0 if it needs none. Not published until PublishIfChanged(),
  // which must run before a pod table entry points at the slot.
  uint32_t AcquirePodSlot(const std::string& uid, const PodAnnotations& annotations);
  void ReleasePodSlot(const std::string& uid, uint32_t slot) { pod_slots_.Release(uid, slot); }
  void PublishIfChanged();
  const PodOverrideSlots& pod_slots() const { return pod_slots_; }

  // Id -> name for reporting; "" for unused ids.
  const std::string& NamespaceName(uint32_t namespace_id) const;
  uint32_t ClassOfNamespace(uint32_t namespace_id) const;

 private:
  void Publish();
  uint32_t ResolveClass(const std::string& namespace_name) const;

  rte_rcu_qsbr* qsbr_;
  PriorityPolicy policy_;
  DatapathMode mode_ = kDefaultDatapathMode;
  bool pod_stamps_trusted_ = false;
  uint64_t generation_ = 0;
  std::vector<std::string> names_;  // index = id; id 0 is DG_NAMESPACE_NONE
  std::unordered_map<std::string, uint32_t> ids_;
  std::map<std::string, std::string> label_classes_;
  PodOverrideSlots pod_slots_;
  bool pod_slots_changed_ = false;
  std::atomic<const PolicySnapshot*> current_{nullptr};
};

}  // namespace dg
