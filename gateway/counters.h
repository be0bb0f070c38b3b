// Per-lcore counters. Each worker owns one cache-aligned block and is its only writer;
// the control thread sums the blocks. Counters are relaxed atomics so the cross-thread
// reads are well-defined; on x86 a relaxed load+store compiles to a plain add.
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

#include "control/metrics.h"
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

// Queue sojourn time (enqueue to dequeue) histogram bounds, in microseconds. The
// worker counts per bucket (not cumulative); renderers accumulate. Dense from 250 us to
// 5 ms, where CoDel holds a class queue at 200 Mbit/s-10 Gbit/s (target 500 us), so a p99
// read from the histogram resolves what AQM settings change (docs/performance.md).
inline constexpr uint32_t kSojournBucketCount = 16;
inline constexpr uint64_t kSojournBucketBoundsMicros[kSojournBucketCount] = {
    10, 50, 100, 250, 500, 750, 1000, 1500, 2000, 3000, 4000, 5000, 10000, 25000, 50000, 100000};

// Fields generated from the metric list (control/metrics.h): a counter or gauge is one
// Counter; a histogram is <field>_buckets (per bucket, the last above every bound) and
// <field>_cycles_sum (TSC cycles).
#define DG_FIELD_kCounter(type, field) type field{};
#define DG_FIELD_kGauge(type, field) type field{};
#define DG_FIELD_kHistogram(type, field)           \
  type field##_buckets[kSojournBucketCount + 1]{}; \
  type field##_cycles_sum{};
#define DG_DECLARE_COUNTER(field, kind, name, key, help) DG_FIELD_##kind(Counter, field)
#define DG_DECLARE_TOTAL(field, kind, name, key, help) DG_FIELD_##kind(uint64_t, field)

struct alignas(64) ClassCounters {
  DG_CLASS_METRICS(DG_DECLARE_COUNTER)
};

struct alignas(64) WorkerCounters {
  DG_WORKER_METRICS(DG_DECLARE_COUNTER)
#define DG_DECLARE_PER_REASON(field, kind, name, key, help) Counter field[kUnclassifiedReasonCount];
  DG_UNCLASSIFIED_METRICS(DG_DECLARE_PER_REASON)
  ClassCounters classes[DG_MAX_CLASSES];
#define DG_DECLARE_PER_NAMESPACE(field, kind, name, key, help) Counter field[DG_MAX_NAMESPACES];
  DG_NAMESPACE_METRICS(DG_DECLARE_PER_NAMESPACE)
};

// Plain sums for reporting; produced by the control thread.
struct CounterTotals {
  DG_WORKER_METRICS(DG_DECLARE_TOTAL)
#define DG_DECLARE_TOTAL_PER_REASON(field, kind, name, key, help) \
  uint64_t field[kUnclassifiedReasonCount] = {};
  DG_UNCLASSIFIED_METRICS(DG_DECLARE_TOTAL_PER_REASON)
  struct Class {
    DG_CLASS_METRICS(DG_DECLARE_TOTAL)
  } classes[DG_MAX_CLASSES]{};
#define DG_DECLARE_TOTAL_PER_NAMESPACE(field, kind, name, key, help) \
  std::vector<uint64_t> field = std::vector<uint64_t>(DG_MAX_NAMESPACES);
  DG_NAMESPACE_METRICS(DG_DECLARE_TOTAL_PER_NAMESPACE)
};

#undef DG_DECLARE_PER_REASON
#undef DG_DECLARE_PER_NAMESPACE
#undef DG_DECLARE_TOTAL_PER_REASON
#undef DG_DECLARE_TOTAL_PER_NAMESPACE
#undef DG_DECLARE_COUNTER
#undef DG_DECLARE_TOTAL

CounterTotals SumCounters(const WorkerCounters* const* workers, size_t worker_count);

}  // namespace dg
