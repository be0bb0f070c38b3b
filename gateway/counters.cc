#include "gateway/counters.h"

namespace dg {
namespace {

#define DG_SUM_kCounter(field) into.field += from.field.Load();
#define DG_SUM_kGauge(field) into.field += from.field.Load();
#define DG_SUM_kHistogram(field)                               \
  for (uint32_t b = 0; b <= kSojournBucketCount; ++b)          \
    into.field##_buckets[b] += from.field##_buckets[b].Load(); \
  into.field##_cycles_sum += from.field##_cycles_sum.Load();
#define DG_SUM_FIELD(field, kind, name, key, help) DG_SUM_##kind(field)

void AddClass(CounterTotals::Class& into, const ClassCounters& from) {
  DG_CLASS_METRICS(DG_SUM_FIELD)
}

void AddWorker(CounterTotals& into, const WorkerCounters& from) {
  DG_WORKER_METRICS(DG_SUM_FIELD)
#define DG_SUM_PER_REASON(field, kind, name, key, help)                  \
  for (uint32_t reason = 0; reason < kUnclassifiedReasonCount; ++reason) \
    into.field[reason] += from.field[reason].Load();
  DG_UNCLASSIFIED_METRICS(DG_SUM_PER_REASON)
#undef DG_SUM_PER_REASON
  for (uint32_t c = 0; c < DG_MAX_CLASSES; ++c) AddClass(into.classes[c], from.classes[c]);
#define DG_SUM_PER_NAMESPACE(field, kind, name, key, help) \
  for (uint32_t ns = 0; ns < DG_MAX_NAMESPACES; ++ns) into.field[ns] += from.field[ns].Load();
  DG_NAMESPACE_METRICS(DG_SUM_PER_NAMESPACE)
#undef DG_SUM_PER_NAMESPACE
}

}  // namespace

CounterTotals SumCounters(const WorkerCounters* const* workers, size_t worker_count) {
  CounterTotals totals;
  for (size_t w = 0; w < worker_count; ++w) AddWorker(totals, *workers[w]);
  return totals;
}

}  // namespace dg
