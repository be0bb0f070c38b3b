// The per-burst fast path between receive and the scheduler: parse, look the source up,
// rewrite DSCP. Burst in, per-packet class and namespace out; no allocation, no locks.
#pragma once

#include <cstdint>

#include "gateway/counters.h"
#include "gateway/packet_parser.h"
#include "gateway/policy_snapshot.h"

struct rte_mbuf;

namespace dg {

class PodTable;

// Remembers each fragmented datagram's decision from its first fragment so later
// fragments (which carry no UDP/overlay header) get the same mark. Direct-mapped: a
// collision only costs a fallback to the outer source, never a wrong pairing, because
// slots are matched by the full 64-bit tag.
class FragmentDecisionCache {
 public:
  static constexpr uint32_t kSlots = 4096;

  void Remember(uint64_t tag, uint32_t namespace_id) {
    Slot& slot = slots_[tag & (kSlots - 1)];
    slot.tag = tag;
    slot.namespace_id = namespace_id;
  }
  bool Find(uint64_t tag, uint32_t* namespace_id) const {
    const Slot& slot = slots_[tag & (kSlots - 1)];
    if (slot.tag != tag) return false;
    *namespace_id = slot.namespace_id;
    return true;
  }

 private:
  struct Slot {
    uint64_t tag = 0;
    uint32_t namespace_id = 0;
  };
  Slot slots_[kSlots];
};

struct PipelineContext {
  const PodTable* pods = nullptr;
  const std::atomic<const PolicySnapshot*>* policy = nullptr;
  WorkerCounters* counters = nullptr;
  OverlayPorts overlay_ports;
  FragmentDecisionCache fragments;
};

// Frames that are not IP ride the top class: ARP and friends are tiny and the network
// stops working without them.
inline constexpr uint8_t kNonIpClass = 0;

// Classifies and marks `count` packets in place. Fills class_ids/namespace_ids for the
// scheduler (namespace DG_NAMESPACE_NONE for unmarked frames). Returns `count`.
// namespace_ids are pod-table values: the namespace id plus the pod's override slot
// (policy_snapshot.h, NamespaceOfPodValue/SlotOfPodValue), which the worker's per-pod
// limiter reads.
// With `policy.observe_only` nothing is written: what would change is counted instead.
uint16_t ClassifyAndMarkBurst(PipelineContext& context, const PolicySnapshot& policy,
                              rte_mbuf* const* packets, uint16_t count, uint8_t* class_ids,
                              uint32_t* namespace_ids);

}  // namespace dg
