// Assembles what a worker needs (tables, policy, counters, pipeline state) so `run`,
// `replay` and the tests build the datapath the same way.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "control/datapath_tables.h"
#include "control/pods.h"
#include "control/policy.h"
#include "control/result.h"
#include "gateway/counters.h"
#include "gateway/pipeline.h"
#include "gateway/pod_table.h"
#include "gateway/policy_publisher.h"

struct rte_rcu_qsbr;

namespace dg {

struct PolicyInputs {
  PriorityPolicy policy;
  std::vector<PodTableEntry> pods;
};

// Loads the priorities ConfigMap and the PodList (either may be empty: default policy,
// empty table). Class rates in percent are shares of `shaper_rate_bps` (0: unshaped, and
// percentages are errors). Nothing is touched on error.
Result<PolicyInputs> LoadPolicyInputs(const std::string& priorities_path,
                                      const std::string& pods_path, uint64_t shaper_rate_bps);

struct Datapath {
  Datapath() = default;
  ~Datapath();
  Datapath(const Datapath&) = delete;
  Datapath& operator=(const Datapath&) = delete;

  rte_rcu_qsbr* qsbr = nullptr;
  std::unique_ptr<PolicyPublisher> publisher;
  std::unique_ptr<PodTable> pod_table;
  std::unique_ptr<PodDirectory> pod_directory;
  std::unique_ptr<WorkerCounters> counters;
  std::unique_ptr<PipelineContext> pipeline;
};

// The control plane's view of a Datapath (control/datapath_tables.h).
class DpdkDatapathTables final : public DatapathTables {
 public:
  explicit DpdkDatapathTables(Datapath& datapath) : datapath_(datapath) {}

  const PriorityPolicy& policy() const override { return datapath_.publisher->policy(); }
  uint64_t policy_generation() const override { return datapath_.publisher->generation(); }
  void PublishPolicy(PriorityPolicy policy) override {
    datapath_.publisher->SetPolicy(std::move(policy));
  }
  DatapathMode datapath_mode() const override { return datapath_.publisher->datapath_mode(); }
  void PublishDatapathMode(DatapathMode mode) override {
    datapath_.publisher->SetDatapathMode(mode);
  }
  void PublishNamespaceLabelClasses(
      std::map<std::string, std::string> class_name_by_namespace) override {
    datapath_.publisher->SetNamespaceLabelClasses(std::move(class_name_by_namespace));
  }
  const std::string& NamespaceName(uint32_t namespace_id) const override {
    return datapath_.publisher->NamespaceName(namespace_id);
  }
  uint32_t ClassOfNamespace(uint32_t namespace_id) const override {
    return datapath_.publisher->ClassOfNamespace(namespace_id);
  }
  PodSyncResult ApplyPods(const std::vector<PodTableEntry>& entries) override {
    return datapath_.pod_directory->ReplaceAll(entries);
  }
  bool UpsertPod(const PodTableEntry& entry) override {
    return datapath_.pod_directory->Upsert(entry);
  }
  void ErasePod(const dg_pod_key& key) override { datapath_.pod_directory->Erase(key); }
  std::vector<PodDirectoryEntry> Pods() const override;
  uint32_t pod_table_size() const override { return datapath_.pod_table->Size(); }
  uint32_t pod_table_capacity() const override { return datapath_.pod_table->Capacity(); }
  const PodOverrideDecision* PodOverride(uint32_t pod_slot) const override {
    return datapath_.publisher->pod_slots().Decision(pod_slot);
  }
  std::array<uint64_t, kPodOverrideRefusalCount> PodOverrideRefusals() const override {
    return datapath_.publisher->pod_slots().refused_totals();
  }
  CounterTotals ReadCounters() const override;
  uint64_t Heartbeat() const override { return datapath_.counters->heartbeat.Load(); }

 private:
  Datapath& datapath_;
};

// Needs an initialised EAL. Loads `inputs` into the tables; a pod the table cannot hold
// is reported as an error rather than left silently unmarked.
Result<std::unique_ptr<Datapath>> BuildDatapath(const PolicyInputs& inputs,
                                                const std::vector<uint16_t>& vxlan_ports,
                                                const std::vector<uint16_t>& geneve_ports,
                                                uint32_t pod_table_capacity);

// The DPDK environment of the process: rte_eal_init when made, rte_eal_cleanup when it
// goes, so every exit path cleans up by itself. Outlives everything built on it.
class EalSession {
 public:
  // `eal_args` follow argv[0].
  static EnvResult<std::unique_ptr<EalSession>> Init(const std::vector<std::string>& eal_args);
  ~EalSession();
  EalSession(const EalSession&) = delete;
  EalSession& operator=(const EalSession&) = delete;

 private:
  EalSession() = default;
};

}  // namespace dg
