// What the control plane needs of the datapath, as two small interfaces (Katran-style
// adapters). gateway/ implements them over the DPDK tables, ports and worker counters;
// unit tests implement them with fakes, so the control plane runs without root or DPDK.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "control/gateway_config.h"
#include "control/pods.h"
#include "control/policy.h"
#include "dscp_gateway_abi.h"
#include "gateway/counters.h"

namespace dg {

// What the control plane knows about each address in the datapath table.
struct PodDirectoryEntry {
  std::string address;
  std::string namespace_name;
  std::string pod_name;
  uint32_t namespace_id = DG_NAMESPACE_NONE;
  std::string pod_uid;
  PodAnnotations annotations;
  uint32_t pod_slot = 0;  // per-pod override slot (control/pod_overrides.h); 0: none
};

struct PodSyncResult {
  uint32_t added = 0;
  uint32_t updated = 0;
  uint32_t removed = 0;
  uint32_t failed = 0;  // table full: those addresses stay unmarked (and are counted)
};

// The tables the workers read (policy snapshot, pod table) and the counters they write.
// Control thread only.
class DatapathTables {
 public:
  virtual ~DatapathTables() = default;

  // The policy the workers classify with now, and its snapshot generation.
  virtual const PriorityPolicy& policy() const = 0;
  virtual uint64_t policy_generation() const = 0;
  // Replaces the policy; workers pick it up with their next burst.
  virtual void PublishPolicy(PriorityPolicy policy) = 0;
  // datapath.mode, published with the policy snapshot (workers pick it up per burst).
  virtual DatapathMode datapath_mode() const = 0;
  virtual void PublishDatapathMode(DatapathMode mode) = 0;
  // Classes named by namespace labels; PriorityPolicy::ClassForNamespace ranks them.
  virtual void PublishNamespaceLabelClasses(
      std::map<std::string, std::string> class_name_by_namespace) = 0;
  // Namespace id (what the workers count by) -> name and current class.
  virtual const std::string& NamespaceName(uint32_t namespace_id) const = 0;
  virtual uint32_t ClassOfNamespace(uint32_t namespace_id) const = 0;

  // The pod table, applied by differences (a wanted entry never disappears meanwhile).
  virtual PodSyncResult ApplyPods(const std::vector<PodTableEntry>& entries) = 0;
  virtual bool UpsertPod(const PodTableEntry& entry) = 0;  // false: table full
  virtual void ErasePod(const dg_pod_key& key) = 0;
  virtual std::vector<PodDirectoryEntry> Pods() const = 0;
  virtual uint32_t pod_table_size() const = 0;
  virtual uint32_t pod_table_capacity() const = 0;
  // What a pod's annotations got it (nullptr for slot 0), and refusals counted so far.
  virtual const PodOverrideDecision* PodOverride(uint32_t pod_slot) const = 0;
  virtual std::array<uint64_t, kPodOverrideRefusalCount> PodOverrideRefusals() const = 0;

  // Worker counters summed, per-class series by queue position.
  virtual CounterTotals ReadCounters() const = 0;
  // The worker's loop counter alone: cheap enough to sample every tick.
  virtual uint64_t Heartbeat() const = 0;
};

enum class PortRole { kKernel, kUplink };

struct PortStatistics {
  uint64_t rx_packets = 0, rx_bytes = 0, tx_packets = 0, tx_bytes = 0;
  uint64_t rx_missed = 0, rx_errors = 0, tx_errors = 0, rx_nombuf = 0;
};

// The two legs of the bump in the wire, as the PMD reports them.
class PortView {
 public:
  virtual ~PortView() = default;
  virtual PortStatistics Statistics(PortRole role) const = 0;
  virtual bool LinkUp(PortRole role) const = 0;
};

}  // namespace dg
