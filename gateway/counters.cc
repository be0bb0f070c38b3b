#include "gateway/counters.h"

namespace dg {

uint64_t CounterTotals::UnclassifiedTotal() const {
  uint64_t total = 0;
  for (uint32_t reason = 1; reason < kUnclassifiedReasonCount; ++reason)
    total += unclassified[reason];
  return total;
}

CounterTotals SumCounters(const WorkerCounters* const* workers, size_t worker_count) {
  CounterTotals totals;
  for (size_t w = 0; w < worker_count; ++w) {
    const WorkerCounters& worker = *workers[w];
#define DG_SUM_COUNTER(name, help) totals.name += worker.name.Load();
    DG_WORKER_SCALAR_COUNTERS(DG_SUM_COUNTER)
#undef DG_SUM_COUNTER
    for (uint32_t reason = 0; reason < kUnclassifiedReasonCount; ++reason) {
      totals.unclassified[reason] += worker.unclassified[reason].Load();
    }
    totals.port_shaper_tokens_bytes += worker.port_shaper_tokens_bytes.Load();
    for (uint32_t c = 0; c < DG_MAX_CLASSES; ++c) {
      for (uint32_t b = 0; b <= kSojournBucketCount; ++b) {
        totals.classes[c].sojourn_buckets[b] += worker.classes[c].sojourn_buckets[b].Load();
      }
      totals.classes[c].sojourn_cycles_sum += worker.classes[c].sojourn_cycles_sum.Load();
      totals.classes[c].ceiling_tokens_bytes += worker.classes[c].ceiling_tokens_bytes.Load();
      totals.classes[c].packets += worker.classes[c].packets.Load();
      totals.classes[c].bytes += worker.classes[c].bytes.Load();
      totals.classes[c].drops += worker.classes[c].drops.Load();
      totals.classes[c].depth += worker.classes[c].depth.Load();
      totals.classes[c].peak_depth += worker.classes[c].peak_depth.Load();
    }
    for (uint32_t ns = 0; ns < DG_MAX_NAMESPACES; ++ns) {
      totals.namespace_packets[ns] += worker.namespace_packets[ns].Load();
      totals.namespace_bytes[ns] += worker.namespace_bytes[ns].Load();
      totals.namespace_drops[ns] += worker.namespace_drops[ns].Load();
    }
  }
  return totals;
}

}  // namespace dg
