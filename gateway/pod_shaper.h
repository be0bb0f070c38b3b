// Per-pod egress limits (kubernetes.io/egress-bandwidth): a token bucket and a short FIFO
// per pod override slot, owned by one worker. A shaper, not a policer: a policer drops
// whatever exceeds the bucket, and a TCP flow answers bursts of loss with timeouts and
// ends far below its limit; a queue of ~25 ms at the pod's rate (the latency the bandwidth
// plugin gives its TBF) turns the excess into delay, so TCP settles at the rate with a
// bounded RTT. Frames leave the pod queue into the class queues, so other pods never wait
// behind a limited one. The rates come from the policy snapshot (pod_egress_bps); this
// state is the worker's alone: no locks, no allocation after construction.
#pragma once

#include <cstdint>
#include <memory>

#include "gateway/counters.h"
#include "gateway/policy_snapshot.h"
#include "gateway/token_bucket.h"

struct rte_mbuf;

namespace dg {

class PodShaper {
 public:
  static constexpr uint32_t kQueuePackets = 128;  // per pod, a power of two
  static constexpr uint64_t kQueueLatencyMicros = 25'000;
  static constexpr uint64_t kBucketMicros = 10'000;

  PodShaper(uint64_t tsc_hz, WorkerCounters* counters);
  PodShaper(const PodShaper&) = delete;
  PodShaper& operator=(const PodShaper&) = delete;

  // Takes the pod rates of a new snapshot generation (cheap no-op otherwise).
  void ApplyPolicy(const PolicySnapshot& snapshot, uint64_t now_tsc);

  // Keeps in place, in order, the frames that may go on now (unlimited pods, and limited
  // ones within their bucket with nothing queued before them); queues the rest in their
  // pod's FIFO, or drops them when it is full. Returns how many were kept.
  uint16_t AdmitBurst(rte_mbuf** packets, uint8_t* class_ids, uint32_t* pod_values, uint16_t count,
                      uint64_t now_tsc);

  // Up to `max_count` queued frames whose pods' buckets allow them now, with their class
  // under `policy` and their pod value. Pods take turns.
  uint16_t ReleaseBurst(const PolicySnapshot& policy, rte_mbuf** packets, uint8_t* class_ids,
                        uint32_t* pod_values, uint16_t max_count, uint64_t now_tsc);

  uint32_t Backlog() const { return backlog_packets_; }
  uint32_t DiscardAll();  // frees every queued frame (shutdown); returns how many

 private:
  struct Entry {
    rte_mbuf* mbuf;
    uint32_t pod_value;
    uint32_t bytes;
  };
  struct PodQueue {
    TokenBucket bucket;
    uint64_t applied_bps = 0;
    uint64_t byte_limit = 0;
    uint64_t queued_bytes = 0;
    uint32_t head = 0;  // free-running; index = head % kQueuePackets
    uint32_t tail = 0;
  };
  void Deactivate(uint32_t active_index);

  uint64_t tsc_hz_;
  WorkerCounters* counters_;
  uint64_t applied_generation_ = 0;
  std::unique_ptr<PodQueue[]> queues_;
  std::unique_ptr<Entry[]> entries_;          // kQueuePackets per slot
  std::unique_ptr<uint16_t[]> active_slots_;  // slots with a backlog
  uint32_t active_count_ = 0;
  uint32_t next_turn_ = 0;
  uint32_t backlog_packets_ = 0;
};

}  // namespace dg
