#include "control/counter_metrics.h"

#include <iterator>

namespace dg {
namespace {

HistogramValue SojournHistogram(const uint64_t (&buckets)[kSojournBucketCount + 1],
                                uint64_t cycles_sum, uint64_t tsc_hz) {
  HistogramValue histogram;
  for (uint64_t micros : kSojournBucketBoundsMicros)
    histogram.upper_bounds.push_back(static_cast<double>(micros) / 1e6);
  histogram.bucket_counts.assign(std::begin(buckets), std::end(buckets));
  histogram.sum = tsc_hz == 0 ? 0.0 : static_cast<double>(cycles_sum) / static_cast<double>(tsc_hz);
  return histogram;
}

}  // namespace

void AddCounterMetrics(MetricSnapshot& snapshot, const CounterTotals& totals,
                       const DatapathTables& datapath, uint64_t tsc_hz) {
  const PriorityPolicy& policy = datapath.policy();
  snapshot.Add(MetricIndex("dscp_gateway_observe_mode"), {},
               uint64_t{datapath.datapath_mode() == DatapathMode::kObserve ? 1u : 0u});
#define DG_ADD_SCALAR(field, kind, name, key, help) \
  snapshot.Add(MetricIndex(name), {}, totals.field);
  DG_WORKER_METRICS(DG_ADD_SCALAR)
#undef DG_ADD_SCALAR

#define DG_CLASS_VALUE_kCounter(counters, field) MetricValue(counters.field)
#define DG_CLASS_VALUE_kGauge(counters, field) MetricValue(counters.field)
#define DG_CLASS_VALUE_kHistogram(counters, field) \
  MetricValue(SojournHistogram(counters.field##_buckets, counters.field##_cycles_sum, tsc_hz))
#define DG_ADD_CLASS(field, kind, name, key, help) \
  snapshot.Add(MetricIndex(name), {class_name}, DG_CLASS_VALUE_##kind(counters, field));
  for (uint32_t c = 0; c < policy.classes.size(); ++c) {
    const std::string& class_name = policy.classes[c].name;
    snapshot.Add(MetricIndex("dscp_gateway_class_dscp"), {class_name},
                 static_cast<uint64_t>(policy.classes[c].dscp));
    const CounterTotals::Class& counters = totals.classes[c];
    DG_CLASS_METRICS(DG_ADD_CLASS)
  }
#undef DG_ADD_CLASS
#undef DG_CLASS_VALUE_kCounter
#undef DG_CLASS_VALUE_kGauge
#undef DG_CLASS_VALUE_kHistogram

  for (uint32_t id = 0; id < DG_MAX_NAMESPACES; ++id) {
    if (totals.namespace_packets[id] == 0 && totals.namespace_drops[id] == 0) continue;
    const bool unmarked = id == DG_NAMESPACE_NONE;
    const std::string namespace_name = unmarked ? kUnmarkedNamespace : datapath.NamespaceName(id);
    const std::string& class_name =
        policy.classes[unmarked ? policy.default_class : datapath.ClassOfNamespace(id)].name;
#define DG_ADD_NAMESPACE(field, kind, name, key, help) \
  snapshot.Add(MetricIndex(name), {namespace_name, class_name}, totals.field[id]);
    DG_NAMESPACE_METRICS(DG_ADD_NAMESPACE)
#undef DG_ADD_NAMESPACE
  }

  for (uint32_t reason = 1; reason < kUnclassifiedReasonCount; ++reason) {
#define DG_ADD_REASON(field, kind, name, key, help) \
  snapshot.Add(MetricIndex(name), {kUnclassifiedReasonNames[reason]}, totals.field[reason]);
    DG_UNCLASSIFIED_METRICS(DG_ADD_REASON)
#undef DG_ADD_REASON
  }
}

void AddPortMetrics(MetricSnapshot& snapshot, const std::string& port,
                    const PortStatistics& statistics) {
#define DG_ADD_PORT(field, kind, name, key, help) \
  snapshot.Add(MetricIndex(name), {port}, statistics.field);
  DG_PORT_METRICS(DG_ADD_PORT)
#undef DG_ADD_PORT
}

void AddRestMetrics(MetricSnapshot& snapshot, const RestServerStats& stats) {
  constexpr size_t kRejected = MetricIndex("dscp_gateway_rest_rejected_total");
  snapshot.Add(kRejected, {"bad_request"}, stats.bad_requests);
  snapshot.Add(kRejected, {"not_found"}, stats.not_found);
  snapshot.Add(kRejected, {"method_not_allowed"}, stats.method_not_allowed);
  snapshot.Add(kRejected, {"connection_limit"}, stats.connections_rejected);
  snapshot.Add(kRejected, {"timeout"}, stats.timeouts);
}

boost::json::object StatsJson(const MetricSnapshot& snapshot, const PriorityPolicy& policy,
                              boost::json::object base) {
  boost::json::array classes;
  for (const TrafficClass& traffic_class : policy.classes) {
    classes.push_back(boost::json::object{{"name", traffic_class.name},
                                          {"max_rate_bps", traffic_class.max_rate_bps},
                                          {"min_rate_bps", traffic_class.min_rate_bps}});
  }
  base["classes"] = std::move(classes);
  base["namespaces"] = boost::json::array();
  WriteMetricsJson(snapshot, base);
  for (boost::json::value& entry : base["classes"].as_array()) {
    boost::json::object& object = entry.as_object();
    const boost::json::value* histogram = object.if_contains("queue_sojourn_seconds");
    const boost::json::object* sojourn = histogram ? histogram->if_object() : nullptr;
    const uint64_t count = sojourn ? sojourn->at("count").to_number<uint64_t>() : 0;
    object["sojourn_mean_us"] =
        count == 0 ? 0.0
                   : 1e6 * sojourn->at("sum").to_number<double>() / static_cast<double>(count);
  }
  return base;
}

void AddPodOverrideMetrics(MetricSnapshot& snapshot, const DatapathTables& datapath) {
  const auto refusals = datapath.PodOverrideRefusals();
  for (size_t reason = 0; reason < refusals.size(); ++reason) {
    snapshot.Add(MetricIndex("dscp_gateway_pod_override_refused_total"),
                 {std::string(RefusalName(static_cast<PodOverrideRefusal>(reason)))},
                 refusals[reason]);
  }
}

namespace {

boost::json::array RefusalNames(const PodOverrideDecision* decision) {
  boost::json::array names;
  if (decision == nullptr) return names;
  for (PodOverrideRefusal refusal : decision->refusals) names.emplace_back(RefusalName(refusal));
  return names;
}

}  // namespace

boost::json::array PodsJson(const DatapathTables& datapath) {
  const PriorityPolicy& policy = datapath.policy();
  boost::json::array pods;
  for (const PodDirectoryEntry& entry : datapath.Pods()) {
    const PodOverrideDecision* decision = datapath.PodOverride(entry.pod_slot);
    const bool overridden = decision != nullptr && decision->class_index.has_value();
    const uint32_t class_id =
        overridden ? *decision->class_index : datapath.ClassOfNamespace(entry.namespace_id);
    pods.push_back(boost::json::object{
        {"ip", entry.address},
        {"namespace", entry.namespace_name},
        {"pod", entry.pod_name},
        {"class", policy.classes[class_id].name},
        {"dscp", policy.classes[class_id].dscp},
        {"class_source", overridden ? decision->class_source : std::string("namespace")},
        {"requested_class", entry.annotations.requested_class},
        {"qos_level", entry.annotations.qos_level},
        {"egress_bps", decision != nullptr ? decision->egress_bps : 0},
        {"override_refused", decision != nullptr ? decision->why : std::string()},
        {"refusals", RefusalNames(decision)}});
  }
  return pods;
}

}  // namespace dg
