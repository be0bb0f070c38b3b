// Per-class counters live by queue position, but a policy reload may reorder or rename
// the classes. This keeps every per-class series monotonic under its own name.
#pragma once

#include <map>
#include <string>

#include "control/policy.h"
#include "gateway/counters.h"

namespace dg {

class ClassCounterHistory {
 public:
  // Before `outgoing` is replaced: credits what each position counted since the last
  // call to the name the position had, so the next policy starts from a clean slate.
  void CreditByName(const CounterTotals& raw, const PriorityPolicy& outgoing);

  // `raw` (by position under `current`) with each class's series continued by name.
  CounterTotals AttributeByName(CounterTotals raw, const PriorityPolicy& current) const;

 private:
  std::map<std::string, CounterTotals::Class> base_by_name_;
  CounterTotals::Class positional_base_[DG_MAX_CLASSES];
};

}  // namespace dg
