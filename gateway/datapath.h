// Assembles what a worker needs (tables, policy, counters, pipeline state) so `run`,
// `replay` and the tests build the datapath the same way.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "control/result.h"
#include "gateway/counters.h"
#include "gateway/gateway_app.h"
#include "gateway/pipeline.h"
#include "gateway/pod_table.h"
#include "gateway/policy_snapshot.h"

struct rte_rcu_qsbr;

namespace dg {

inline constexpr uint32_t kDefaultPodTableCapacity = 262144;

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

// Needs an initialised EAL. Loads `inputs` into the tables; a pod the table cannot hold
// is reported as an error rather than left silently unmarked.
Result<std::unique_ptr<Datapath>> BuildDatapath(const PolicyInputs& inputs,
                                                const std::vector<uint16_t>& vxlan_ports,
                                                const std::vector<uint16_t>& geneve_ports,
                                                uint32_t pod_table_capacity);

// rte_eal_init from a list of arguments (argv[0] added). Returns an error message.
Result<int> InitEal(const std::vector<std::string>& eal_args);

}  // namespace dg
