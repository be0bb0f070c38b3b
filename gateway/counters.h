// Per-lcore counters. Each worker owns one cache-aligned block and is its only writer;
// the control thread sums the blocks. Counters are relaxed atomics so the cross-thread
// reads are well-defined; on x86 a relaxed load+store compiles to a plain add.
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

#include "dscp_gateway_abi.h"
#include "gateway/unclassified_reasons.h"

namespace dg {

class Counter {
 public:
  void Add(uint64_t amount) {
    value_.store(value_.load(std::memory_order_relaxed) + amount, std::memory_order_relaxed);
  }
  void Increment() { Add(1); }
  void Set(uint64_t value) { value_.store(value, std::memory_order_relaxed); }
  uint64_t Load() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

// Port counters the worker sees (the PMD's own are read with rte_eth_stats_get).
#define DG_WORKER_SCALAR_COUNTERS(X)                                                  \
  X(kernel_rx_packets, "frames received on the kernel-facing port")                   \
  X(kernel_rx_bytes, "bytes received on the kernel-facing port")                      \
  X(uplink_tx_packets, "frames sent on the uplink")                                   \
  X(uplink_tx_bytes, "bytes sent on the uplink")                                      \
  X(uplink_rx_packets, "frames received on the uplink")                               \
  X(uplink_rx_bytes, "bytes received on the uplink")                                  \
  X(kernel_tx_packets, "frames sent to the kernel")                                   \
  X(kernel_tx_bytes, "bytes sent to the kernel")                                      \
  X(kernel_tx_drops, "uplink->kernel frames the kernel port would not take")          \
  X(uplink_tx_retries, "bursts the uplink did not fully take; the rest is retried")   \
  X(drain_drops, "frames still queued when the drain deadline passed at shutdown")    \
  X(unknown_source, "IP frames whose source is not in the pod table (sent unmarked)") \
  X(marked, "frames whose DSCP field was rewritten")                                  \
  X(fragment_cache_hits, "non-first fragments marked like their first fragment")      \
  X(heartbeat, "worker loop iterations; /healthz watches it advance")

// Queue sojourn time (enqueue to dequeue) histogram bounds, in microseconds. The
// worker counts per bucket (not cumulative); renderers accumulate.
inline constexpr uint32_t kSojournBucketCount = 12;
inline constexpr uint64_t kSojournBucketBoundsMicros[kSojournBucketCount] = {
    10, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000};

struct alignas(64) ClassCounters {
  Counter packets;  // dequeued (sent) packets
  Counter bytes;
  Counter drops;                 // tail drops
  Counter depth;                 // packets queued now (worker-written gauge)
  Counter peak_depth;            // highest depth since start
  Counter ceiling_tokens_bytes;  // gauge: tokens left under this class's maxRate
  Counter sojourn_buckets[kSojournBucketCount + 1];  // last one: above every bound
  Counter sojourn_cycles_sum;
};

struct alignas(64) WorkerCounters {
#define DG_DECLARE_COUNTER(name, help) Counter name;
  DG_WORKER_SCALAR_COUNTERS(DG_DECLARE_COUNTER)
#undef DG_DECLARE_COUNTER
  Counter unclassified[kUnclassifiedReasonCount];
  Counter port_shaper_tokens_bytes;  // gauge
  ClassCounters classes[DG_MAX_CLASSES];
  // Per namespace id: packets and bytes enqueued, tail drops.
  Counter namespace_packets[DG_MAX_NAMESPACES];
  Counter namespace_bytes[DG_MAX_NAMESPACES];
  Counter namespace_drops[DG_MAX_NAMESPACES];
};

// Plain sums for reporting; produced by the control thread.
struct CounterTotals {
#define DG_DECLARE_TOTAL(name, help) uint64_t name = 0;
  DG_WORKER_SCALAR_COUNTERS(DG_DECLARE_TOTAL)
#undef DG_DECLARE_TOTAL
  uint64_t unclassified[kUnclassifiedReasonCount] = {};
  uint64_t port_shaper_tokens_bytes = 0;
  struct Class {
    uint64_t packets = 0, bytes = 0, drops = 0, depth = 0, peak_depth = 0;
    uint64_t ceiling_tokens_bytes = 0;
    uint64_t sojourn_buckets[kSojournBucketCount + 1] = {};
    uint64_t sojourn_cycles_sum = 0;
  } classes[DG_MAX_CLASSES];
  std::vector<uint64_t> namespace_packets = std::vector<uint64_t>(DG_MAX_NAMESPACES);
  std::vector<uint64_t> namespace_bytes = std::vector<uint64_t>(DG_MAX_NAMESPACES);
  std::vector<uint64_t> namespace_drops = std::vector<uint64_t>(DG_MAX_NAMESPACES);

  uint64_t UnclassifiedTotal() const;
};

CounterTotals SumCounters(const WorkerCounters* const* workers, size_t worker_count);

}  // namespace dg
