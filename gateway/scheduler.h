// Per-class bounded FIFO queues, strict-priority dequeue behind a port shaper, with an
// optional ceiling per class so a top class cannot starve the ones below it, and an
// optional floor per class so no class with one starves under the ones above it. Owned
// by one worker lcore: no locks, no allocation after Init.
#pragma once

#include <cstdint>
#include <memory>

#include "control/queue_settings.h"
#include "dscp_gateway_abi.h"
#include "gateway/codel.h"
#include "gateway/counters.h"
#include "gateway/token_bucket.h"

struct rte_mbuf;

namespace dg {

struct PolicySnapshot;

struct SchedulerConfig {
  uint32_t queue_depth = 1024;    // per class; rounded up to a power of two
  uint64_t port_rate_bps = 0;     // 0: unshaped
  uint64_t port_burst_bytes = 0;  // 0: derived (see DerivedBurstBytes)
  uint32_t framing_overhead_bytes = 24;
  uint64_t tsc_hz = 0;
  // replay: never drop (it applies backpressure instead), so no CoDel and no byte limit.
  bool lossless = false;
};

// Bytes a frame occupies on the wire: at least the 60-byte minimum frame (without FCS,
// as the NIC pads) plus preamble, SFD, FCS and inter-frame gap.
inline uint32_t WireBytes(uint32_t frame_length, uint32_t framing_overhead_bytes) {
  return (frame_length < 60 ? 60 : frame_length) + framing_overhead_bytes;
}

// Enough for 1 ms at the rate (smooth, yet tolerant of a late poll), never less than two
// jumbo frames so any single frame can pass.
uint64_t DerivedBurstBytes(uint64_t rate_bps);

struct QueuedPacket {
  rte_mbuf* mbuf;
  uint32_t namespace_id;
  uint32_t wire_bytes;
  uint64_t enqueue_tsc;
};

class StrictPriorityScheduler {
 public:
  StrictPriorityScheduler(const SchedulerConfig& config, WorkerCounters* counters,
                          uint64_t now_tsc);
  ~StrictPriorityScheduler();
  StrictPriorityScheduler(const StrictPriorityScheduler&) = delete;
  StrictPriorityScheduler& operator=(const StrictPriorityScheduler&) = delete;

  // Tail-drops (frees and counts) what does not fit. Returns the number queued.
  uint16_t EnqueueBurst(rte_mbuf* const* packets, const uint8_t* class_ids,
                        const uint32_t* namespace_ids, uint16_t count, uint64_t now_tsc);

  // The uncongested shortcut: when every queue is empty and the port shaper and the
  // ceilings have tokens for the whole burst, writes it to `out` in the order
  // EnqueueBurst + DequeueBurst would (by class, arrival order within a class), with the
  // same counters (sojourn 0; peak depth untouched: these frames never wait) and returns
  // `count`. Otherwise returns 0 and touches nothing: the caller enqueues as usual. A
  // burst of several classes, one of them with a floor, always takes the queue (the floor
  // could reorder it). Frames that never wait give CoDel nothing to act on.
  uint16_t CutThroughBurst(rte_mbuf* const* packets, const uint8_t* class_ids,
                           const uint32_t* namespace_ids, uint16_t count, uint64_t now_tsc,
                           rte_mbuf** out);

  // Floors first, then strict priority (see SelectClass); each head packet of the chosen
  // class then passes CoDel, which may drop it or mark it CE. Stops when the port shaper
  // runs out of tokens. Returns count.
  uint16_t DequeueBurst(rte_mbuf** packets, uint16_t max_count, uint64_t now_tsc);

  // Applies the per-class ceilings, floors and queue settings of a new policy generation
  // (worker calls this when it notices the generation change; cheap no-op otherwise).
  void ApplyPolicy(const PolicySnapshot& snapshot, uint64_t now_tsc);

  // Frees every queued packet (shutdown past its drain deadline). Returns how many.
  uint32_t DiscardAll();

  uint32_t Depth(uint32_t class_id) const {
    return queues_[class_id].tail - queues_[class_id].head;
  }
  uint32_t TotalDepth() const;
  uint32_t FreeSlots(uint32_t class_id) const { return capacity_ - Depth(class_id); }
  uint64_t QueuedBytes(uint32_t class_id) const { return queues_[class_id].wire_bytes; }
  uint32_t capacity() const { return capacity_; }
  const TokenBucket& port_shaper() const { return port_shaper_; }

 private:
  static constexpr uint32_t kNoClass = DG_MAX_CLASSES;

  // Why a class may send its head now: below its floor (served before strict priority),
  // or the highest-priority class below its ceiling.
  struct ClassChoice {
    uint32_t class_id = kNoClass;
    bool within_floor = false;
  };

  // The class whose head goes next: the first backlogged class, in priority order, with
  // floor tokens for its head (and room under its ceiling); else the first backlogged
  // class with room under its ceiling. O(classes), reads only.
  ClassChoice SelectClass() const;

  // Sends the chosen class's packets while it stays chosen for the same reason (no refill
  // happens within a burst, so it cannot lose its turn to another class meanwhile).
  // Returns how many it took off the queue (sent or dropped by CoDel); 0 only when the
  // port shaper has no tokens for its head.
  uint16_t SendRun(ClassChoice choice, rte_mbuf** packets, uint16_t max_count, uint64_t now_tsc,
                   uint16_t* sent);

  struct ClassQueue {
    std::unique_ptr<QueuedPacket[]> slots;
    uint32_t head = 0;  // free-running; index = head & mask
    uint32_t tail = 0;
    uint64_t wire_bytes = 0;  // what the byte limit and CoDel's one-frame floor look at
  };

  // A class's queue settings as the worker uses them: times in TSC cycles.
  struct QueueManagement {
    bool codel = false;
    bool ecn = false;
    bool drop_non_ect = false;  // a signal on a packet CE cannot mark drops it
    uint64_t limit_bytes = UINT64_MAX;
    CodelParams codel_params;
  };

  void ApplyQueueSettings(uint32_t class_id, const ClassQueueSettings& settings);
  // Frees the frames CoDel dropped so far in this dequeue; returns 0 for the new count.
  static uint16_t FreeDropped(rte_mbuf** dropped, uint16_t count);

  SchedulerConfig config_;
  WorkerCounters* counters_;
  uint32_t capacity_;
  uint32_t mask_;
  ClassQueue queues_[DG_MAX_CLASSES];
  TokenBucket port_shaper_;
  TokenBucket class_ceilings_[DG_MAX_CLASSES];
  TokenBucket class_floors_[DG_MAX_CLASSES];  // unlimited(): the class has no floor
  uint64_t applied_generation_ = 0;
  uint64_t applied_ceiling_bps_[DG_MAX_CLASSES] = {};  // as requested, before byte rounding
  uint64_t applied_floor_bps_[DG_MAX_CLASSES] = {};
  uint64_t sojourn_bounds_cycles_[kSojournBucketCount];
  QueueManagement management_[DG_MAX_CLASSES];
  CodelQueueState codel_[DG_MAX_CLASSES];
};

}  // namespace dg
