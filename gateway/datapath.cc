#include "gateway/datapath.h"

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>

#include <algorithm>

namespace dg {

Datapath::~Datapath() {
  pod_directory.reset();
  pod_table.reset();  // detaches from qsbr before it goes
  publisher.reset();
  rte_free(qsbr);
}

std::vector<PodDirectoryEntry> DpdkDatapathTables::Pods() const {
  std::vector<PodDirectoryEntry> pods;
  pods.reserve(datapath_.pod_directory->entries().size());
  for (const auto& [key, entry] : datapath_.pod_directory->entries()) pods.push_back(entry);
  return pods;
}

CounterTotals DpdkDatapathTables::ReadCounters() const {
  const WorkerCounters* workers[] = {datapath_.counters.get()};
  return SumCounters(workers, 1);
}

EnvResult<std::unique_ptr<EalSession>> EalSession::Init(const std::vector<std::string>& eal_args) {
  std::vector<std::string> arguments = {"dscp-gateway"};
  arguments.insert(arguments.end(), eal_args.begin(), eal_args.end());
  std::vector<char*> argv;
  for (std::string& argument : arguments) argv.push_back(argument.data());
  argv.push_back(nullptr);
  if (rte_eal_init(static_cast<int>(arguments.size()), argv.data()) < 0) {
    return EnvironmentError{"rte_eal_init",
                            std::string(rte_strerror(rte_errno)) +
                                " (hugepages reserved and mounted? another process with the same "
                                "--file-prefix?)"};
  }
  return std::unique_ptr<EalSession>(new EalSession());
}

EalSession::~EalSession() { rte_eal_cleanup(); }

Result<std::unique_ptr<Datapath>> BuildDatapath(const PolicyInputs& inputs,
                                                const std::vector<uint16_t>& vxlan_ports,
                                                const std::vector<uint16_t>& geneve_ports,
                                                uint32_t pod_table_capacity) {
  auto datapath = std::make_unique<Datapath>();
  const size_t qsbr_size = rte_rcu_qsbr_get_memsize(RTE_MAX_LCORE);
  datapath->qsbr =
      static_cast<rte_rcu_qsbr*>(rte_zmalloc("dg_qsbr", qsbr_size, RTE_CACHE_LINE_SIZE));
  if (datapath->qsbr == nullptr || rte_rcu_qsbr_init(datapath->qsbr, RTE_MAX_LCORE) != 0) {
    return ConfigError{"", "datapath",
                       "cannot allocate the RCU state (hugepage memory exhausted?)"};
  }
  datapath->publisher = std::make_unique<PolicyPublisher>(datapath->qsbr);
  datapath->publisher->SetPolicy(inputs.policy);
  auto pod_table = PodTable::Create("dg_pods", pod_table_capacity, datapath->qsbr);
  if (!pod_table) return pod_table.error();
  datapath->pod_table = std::move(*pod_table);
  datapath->pod_directory =
      std::make_unique<PodDirectory>(datapath->pod_table.get(), datapath->publisher.get());
  const PodSyncResult synced = datapath->pod_directory->ReplaceAll(inputs.pods);
  if (synced.failed != 0) {
    return ConfigError{"", "datapath.podTableSize",
                       std::to_string(synced.failed) + " pod addresses did not fit in a table of " +
                           std::to_string(pod_table_capacity)};
  }
  datapath->counters = std::make_unique<WorkerCounters>();
  datapath->pipeline = std::make_unique<PipelineContext>();
  PipelineContext& pipeline = *datapath->pipeline;
  pipeline.pods = datapath->pod_table.get();
  pipeline.policy = &datapath->publisher->Current();
  pipeline.counters = datapath->counters.get();
  pipeline.overlay_ports.vxlan_count =
      static_cast<uint8_t>(std::min<size_t>(vxlan_ports.size(), OverlayPorts::kMaxPorts));
  std::copy_n(vxlan_ports.begin(), pipeline.overlay_ports.vxlan_count,
              pipeline.overlay_ports.vxlan);
  pipeline.overlay_ports.geneve_count =
      static_cast<uint8_t>(std::min<size_t>(geneve_ports.size(), OverlayPorts::kMaxPorts));
  std::copy_n(geneve_ports.begin(), pipeline.overlay_ports.geneve_count,
              pipeline.overlay_ports.geneve);
  return datapath;
}

Result<PolicyInputs> LoadPolicyInputs(const std::string& priorities_path,
                                      const std::string& pods_path, uint64_t shaper_rate_bps) {
  PolicyInputs inputs;
  if (priorities_path.empty()) {
    inputs.policy = DefaultPriorityPolicy();
  } else {
    auto policy = LoadPrioritiesFile(priorities_path, shaper_rate_bps);
    if (!policy) return policy.error();
    inputs.policy = std::move(*policy);
  }
  if (!pods_path.empty()) {
    auto pods = LoadPodListFile(pods_path);
    if (!pods) return pods.error();
    inputs.pods = BuildPodTableEntries(*pods);
  }
  return inputs;
}

}  // namespace dg
