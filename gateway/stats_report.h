// One rendering of the counters for every consumer: the final report of `run`, the
// replay summary and (later) the REST /v1/stats document share it.
#pragma once

#include <boost/json/object.hpp>
#include <cstdio>

#include "gateway/counters.h"
#include "gateway/policy_publisher.h"

namespace dg {

// {"classes":[...], "namespaces":[...], "unclassified":{reason:n}, "unknown_source":n, ...}
boost::json::object CountersToJson(const CounterTotals& totals, const PolicyPublisher& publisher);

// Line-oriented, grep-friendly: `class <name> dscp=<d> packets=<n> bytes=<n> drops=<n> ...`
void PrintCountersText(std::FILE* out, const CounterTotals& totals,
                       const PolicyPublisher& publisher);

}  // namespace dg
