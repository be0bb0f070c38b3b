#include "gateway/stats_report.h"

#include <cinttypes>

namespace dg {

boost::json::object CountersToJson(const CounterTotals& totals, const PolicyPublisher& publisher) {
  const PriorityPolicy& policy = publisher.policy();
  boost::json::object document;
  boost::json::array classes;
  for (uint32_t c = 0; c < policy.classes.size(); ++c) {
    const auto& counters = totals.classes[c];
    classes.push_back(boost::json::object{{"name", policy.classes[c].name},
                                          {"dscp", policy.classes[c].dscp},
                                          {"max_rate_bps", policy.classes[c].max_rate_bps},
                                          {"packets", counters.packets},
                                          {"bytes", counters.bytes},
                                          {"drops", counters.drops},
                                          {"queue_depth", counters.depth},
                                          {"queue_peak_depth", counters.peak_depth}});
  }
  document["classes"] = std::move(classes);

  boost::json::array namespaces;
  for (uint32_t id = 0; id < DG_MAX_NAMESPACES; ++id) {
    if (totals.namespace_packets[id] == 0 && totals.namespace_drops[id] == 0) continue;
    const bool unmarked = id == DG_NAMESPACE_NONE;
    const uint32_t class_id = unmarked ? policy.default_class : publisher.ClassOfNamespace(id);
    namespaces.push_back(boost::json::object{
        {"namespace", unmarked ? std::string("(unmarked)") : publisher.NamespaceName(id)},
        {"class", unmarked ? std::string("") : policy.classes[class_id].name},
        {"packets", totals.namespace_packets[id]},
        {"bytes", totals.namespace_bytes[id]},
        {"drops", totals.namespace_drops[id]}});
  }
  document["namespaces"] = std::move(namespaces);

  boost::json::object unclassified;
  for (uint32_t reason = 1; reason < kUnclassifiedReasonCount; ++reason) {
    unclassified[kUnclassifiedReasonNames[reason]] = totals.unclassified[reason];
  }
  document["unclassified"] = std::move(unclassified);
#define DG_JSON_COUNTER(name, help) document[#name] = totals.name;
  DG_WORKER_SCALAR_COUNTERS(DG_JSON_COUNTER)
#undef DG_JSON_COUNTER
  return document;
}

void PrintCountersText(std::FILE* out, const CounterTotals& totals,
                       const PolicyPublisher& publisher) {
  const PriorityPolicy& policy = publisher.policy();
#define DG_PRINT_COUNTER(name, help) \
  std::fprintf(out, "counter %s=%" PRIu64 "\n", #name, totals.name);
  DG_WORKER_SCALAR_COUNTERS(DG_PRINT_COUNTER)
#undef DG_PRINT_COUNTER
  for (uint32_t c = 0; c < policy.classes.size(); ++c) {
    const auto& counters = totals.classes[c];
    std::fprintf(out,
                 "class %s dscp=%u packets=%" PRIu64 " bytes=%" PRIu64 " drops=%" PRIu64
                 " peak_depth=%" PRIu64 "\n",
                 policy.classes[c].name.c_str(), policy.classes[c].dscp, counters.packets,
                 counters.bytes, counters.drops, counters.peak_depth);
  }
  for (uint32_t id = 0; id < DG_MAX_NAMESPACES; ++id) {
    if (totals.namespace_packets[id] == 0 && totals.namespace_drops[id] == 0) continue;
    const bool unmarked = id == DG_NAMESPACE_NONE;
    std::fprintf(
        out, "namespace %s class=%s packets=%" PRIu64 " bytes=%" PRIu64 " drops=%" PRIu64 "\n",
        unmarked ? "(unmarked)" : publisher.NamespaceName(id).c_str(),
        unmarked ? "-" : policy.classes[publisher.ClassOfNamespace(id)].name.c_str(),
        totals.namespace_packets[id], totals.namespace_bytes[id], totals.namespace_drops[id]);
  }
  for (uint32_t reason = 1; reason < kUnclassifiedReasonCount; ++reason) {
    std::fprintf(out, "unclassified %s=%" PRIu64 "\n", kUnclassifiedReasonNames[reason],
                 totals.unclassified[reason]);
  }
}

}  // namespace dg
