// Source address -> namespace id, read by workers without locks while the control
// thread updates it. IPv4 addresses (IPv4-mapped keys) live in Ipv4PodTable, 8-byte
// slots read in one cache line (gateway/ipv4_pod_table.h); IPv6 addresses in an rte_hash
// in lock-free reader/writer mode, with deleted key slots reclaimed through RCU (QSBR)
// once every worker has passed a quiescent state.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "control/datapath_tables.h"
#include "control/pods.h"
#include "control/result.h"
#include "dscp_gateway_abi.h"

struct rte_hash;
struct rte_rcu_qsbr;

namespace dg {

class Ipv4PodTable;
class PolicyPublisher;

// The most keys one LookupBurst call takes (rte_hash's bulk limit).
inline constexpr uint32_t kPodLookupBurstMax = 64;

class PodTable {
 public:
  // `qsbr` must be the variable the workers report quiescent states to.
  static Result<std::unique_ptr<PodTable>> Create(const std::string& name, uint32_t capacity,
                                                  rte_rcu_qsbr* qsbr);
  ~PodTable();
  PodTable(const PodTable&) = delete;
  PodTable& operator=(const PodTable&) = delete;

  // Worker side. Writes DG_NAMESPACE_NONE for addresses not in the table. Every IPv4
  // key's bucket is prefetched before any is compared.
  void LookupBurst(const dg_pod_key* const* keys, uint32_t count, uint32_t* namespace_ids) const;

  // Control side (a single writer). Upsert fails beyond the capacity, which counts both
  // families together.
  bool Upsert(const dg_pod_key& key, uint32_t namespace_id);
  bool Remove(const dg_pod_key& key);
  uint32_t Size() const;
  uint32_t Capacity() const { return capacity_; }
  // Slots of the IPv4 array now (8 bytes each): what perf/table_scale_bench's memory
  // floor reads.
  uint32_t Ipv4SlotCount() const;

 private:
  PodTable(std::unique_ptr<Ipv4PodTable> ipv4, rte_hash* ipv6, uint32_t capacity,
           rte_rcu_qsbr* qsbr);
  bool UpsertIpv6(const dg_pod_key& key, uint32_t namespace_id);
  std::unique_ptr<Ipv4PodTable> ipv4_;
  rte_hash* ipv6_;
  uint32_t capacity_;
  rte_rcu_qsbr* qsbr_;
  // Counted here: rte_hash_count() includes deleted slots still waiting for RCU.
  uint32_t size_ = 0;
};

using PodTableKeyHash = PodKeyHash;  // control/pods.h
using PodTableKeyEqual = PodKeyEqual;

// Control-side mirror of the datapath table. Applies a desired set by differences
// only, so the datapath never sees an entry disappear that is still wanted.
class PodDirectory {
 public:
  PodDirectory(PodTable* table, PolicyPublisher* publisher)
      : table_(table), publisher_(publisher) {}

  PodSyncResult ReplaceAll(const std::vector<PodTableEntry>& desired);
  // One address, for watch events. False if the table is full (the address stays unmarked).
  bool Upsert(const PodTableEntry& entry);
  void Erase(const dg_pod_key& key);
  const std::unordered_map<dg_pod_key, PodDirectoryEntry, PodTableKeyHash, PodTableKeyEqual>&
  entries() const {
    return entries_;
  }

 private:
  PodTable* table_;
  PolicyPublisher* publisher_;
  std::unordered_map<dg_pod_key, PodDirectoryEntry, PodTableKeyHash, PodTableKeyEqual> entries_;
};

}  // namespace dg
