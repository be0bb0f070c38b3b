#include "control/class_counter_history.h"

namespace dg {
namespace {

// Gauges (depth, peak depth, ceiling tokens) describe a queue now and are not carried.
void AddClassCounters(CounterTotals::Class& into, const CounterTotals::Class& from, int64_t sign) {
  auto add = [sign](uint64_t& a, uint64_t b) { a = sign > 0 ? a + b : a - b; };
  add(into.packets, from.packets);
  add(into.bytes, from.bytes);
  add(into.drops, from.drops);
  add(into.observed_packets, from.observed_packets);
  add(into.observed_bytes, from.observed_bytes);
  add(into.would_mark_packets, from.would_mark_packets);
  add(into.sojourn_cycles_sum, from.sojourn_cycles_sum);
  for (uint32_t b = 0; b <= kSojournBucketCount; ++b)
    add(into.sojourn_buckets[b], from.sojourn_buckets[b]);
}

}  // namespace

void ClassCounterHistory::CreditByName(const CounterTotals& raw, const PriorityPolicy& outgoing) {
  for (size_t c = 0; c < outgoing.classes.size(); ++c) {
    CounterTotals::Class& base = base_by_name_[outgoing.classes[c].name];
    AddClassCounters(base, raw.classes[c], +1);
    AddClassCounters(base, positional_base_[c], -1);
    positional_base_[c] = raw.classes[c];
  }
}

CounterTotals ClassCounterHistory::AttributeByName(CounterTotals raw,
                                                   const PriorityPolicy& current) const {
  for (size_t c = 0; c < current.classes.size(); ++c) {
    AddClassCounters(raw.classes[c], positional_base_[c], -1);
    if (auto base = base_by_name_.find(current.classes[c].name); base != base_by_name_.end()) {
      AddClassCounters(raw.classes[c], base->second, +1);
    }
  }
  return raw;
}

}  // namespace dg
