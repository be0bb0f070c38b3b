// The /v1/stats document and the /metrics text. Kept apart from the routes: these two
// renderers are to be generated from one metric list.
#include <boost/json/array.hpp>

#include "control/control_plane.h"
#include "control/prometheus_text.h"
#include "control/time_text.h"

namespace dg {

boost::json::object ControlPlane::StatsDocument() const {
  const CounterTotals totals = Totals();
  boost::json::object document = datapath_.CountersDocument(totals);
  auto port_document = [this](const char* device, PortRole role) {
    const PortStatistics stats = ports_.Statistics(role);
    return boost::json::object{{"device", device},
                               {"link_up", ports_.LinkUp(role)},
                               {"rx_packets", stats.rx_packets},
                               {"rx_bytes", stats.rx_bytes},
                               {"tx_packets", stats.tx_packets},
                               {"tx_bytes", stats.tx_bytes},
                               {"rx_missed", stats.rx_missed},
                               {"rx_errors", stats.rx_errors},
                               {"tx_errors", stats.tx_errors},
                               {"rx_nombuf", stats.rx_nombuf}};
  };
  document["ports"] = boost::json::object{
      {"kernel", port_document(config_.kernel_port.c_str(), PortRole::kKernel)},
      {"uplink", port_document(config_.uplink_port.c_str(), PortRole::kUplink)}};
  document["shaper"] =
      boost::json::object{{"rate_bps", config_.shaper_rate_bps},
                          {"tokens_bytes", totals.port_shaper_tokens_bytes},
                          {"framing_overhead_bytes", config_.framing_overhead_bytes}};
  boost::json::array& classes = document["classes"].as_array();
  for (size_t c = 0; c < classes.size(); ++c) {
    const auto& counters = totals.classes[c];
    uint64_t sojourn_count = 0;
    for (uint64_t bucket : counters.sojourn_buckets) sojourn_count += bucket;
    classes[c].as_object()["sojourn_mean_us"] =
        sojourn_count == 0 ? 0.0
                           : 1e6 * static_cast<double>(counters.sojourn_cycles_sum) /
                                 static_cast<double>(tsc_hz_) / static_cast<double>(sojourn_count);
    classes[c].as_object()["ceiling_tokens_bytes"] = counters.ceiling_tokens_bytes;
  }
  document["pod_table"] = boost::json::object{{"entries", datapath_.pod_table_size()},
                                              {"capacity", datapath_.pod_table_capacity()}};
  document["policy_generation"] = datapath_.policy_generation();
  document["kubernetes"] = KubernetesDocument();
  document["uptime_seconds"] = std::chrono::duration<double>(clock_.wall() - started_at_).count();
  return document;
}

std::string ControlPlane::MetricsText() const {
  const CounterTotals totals = Totals();
  const PriorityPolicy& policy = datapath_.policy();
  const PolicyStatus& policy_status = policy_sources_.status();
  PrometheusText out;

  // Worker scalars come straight from the one declaration of the counters.
#define DG_METRIC_FAMILY(name, help)                                  \
  out.Family("dscp_gateway_worker_" #name "_total", "counter", help); \
  out.Sample("dscp_gateway_worker_" #name "_total", {}, totals.name);
  DG_WORKER_SCALAR_COUNTERS(DG_METRIC_FAMILY)
#undef DG_METRIC_FAMILY

  struct PortMetric {
    const char* name;
    const char* help;
    uint64_t PortStatistics::*field;
  };
  const PortMetric port_metrics[] = {
      {"dscp_gateway_port_rx_packets_total", "Packets received by the port (PMD count).",
       &PortStatistics::rx_packets},
      {"dscp_gateway_port_rx_bytes_total", "Bytes received by the port (PMD count).",
       &PortStatistics::rx_bytes},
      {"dscp_gateway_port_tx_packets_total", "Packets sent by the port (PMD count).",
       &PortStatistics::tx_packets},
      {"dscp_gateway_port_tx_bytes_total", "Bytes sent by the port (PMD count).",
       &PortStatistics::tx_bytes},
      {"dscp_gateway_port_rx_missed_total",
       "Packets the port dropped because the receive ring was full.", &PortStatistics::rx_missed},
      {"dscp_gateway_port_rx_errors_total", "Receive errors reported by the PMD.",
       &PortStatistics::rx_errors},
      {"dscp_gateway_port_tx_errors_total", "Transmit errors reported by the PMD.",
       &PortStatistics::tx_errors},
      {"dscp_gateway_port_rx_nombuf_total", "Receive failures for want of an mbuf.",
       &PortStatistics::rx_nombuf},
  };
  const PortStatistics kernel_stats = ports_.Statistics(PortRole::kKernel);
  const PortStatistics uplink_stats = ports_.Statistics(PortRole::kUplink);
  for (const PortMetric& metric : port_metrics) {
    out.Family(metric.name, "counter", metric.help);
    out.Sample(metric.name, {{"port", "kernel"}}, kernel_stats.*metric.field);
    out.Sample(metric.name, {{"port", "uplink"}}, uplink_stats.*metric.field);
  }

  struct ClassMetric {
    const char* name;
    const char* type;
    const char* help;
    uint64_t CounterTotals::Class::*field;
  };
  const ClassMetric class_metrics[] = {
      {"dscp_gateway_class_packets_total", "counter",
       "Packets sent on the uplink from this class's queue.", &CounterTotals::Class::packets},
      {"dscp_gateway_class_bytes_total", "counter",
       "Bytes sent on the uplink from this class's queue.", &CounterTotals::Class::bytes},
      {"dscp_gateway_class_drops_total", "counter",
       "Packets tail-dropped because the class queue was full.", &CounterTotals::Class::drops},
      {"dscp_gateway_class_queue_depth_packets", "gauge", "Packets waiting in the class queue now.",
       &CounterTotals::Class::depth},
      {"dscp_gateway_class_queue_peak_depth_packets", "gauge",
       "Most packets ever waiting in the class queue.", &CounterTotals::Class::peak_depth},
      {"dscp_gateway_class_ceiling_tokens_bytes", "gauge",
       "Tokens left under the class's maxRate ceiling.",
       &CounterTotals::Class::ceiling_tokens_bytes},
  };
  for (const ClassMetric& metric : class_metrics) {
    out.Family(metric.name, metric.type, metric.help);
    for (size_t c = 0; c < policy.classes.size(); ++c) {
      out.Sample(metric.name, {{"class", policy.classes[c].name}}, totals.classes[c].*metric.field);
    }
  }
  out.Family("dscp_gateway_class_queue_sojourn_seconds", "histogram",
             "Time packets spent in the class queue, from enqueue to dequeue.");
  std::vector<double> bounds_seconds;
  for (uint64_t micros : kSojournBucketBoundsMicros)
    bounds_seconds.push_back(static_cast<double>(micros) / 1e6);
  for (size_t c = 0; c < policy.classes.size(); ++c) {
    const auto& counters = totals.classes[c];
    out.Histogram("dscp_gateway_class_queue_sojourn_seconds", {{"class", policy.classes[c].name}},
                  bounds_seconds,
                  std::vector<uint64_t>(std::begin(counters.sojourn_buckets),
                                        std::end(counters.sojourn_buckets)),
                  static_cast<double>(counters.sojourn_cycles_sum) / static_cast<double>(tsc_hz_));
  }
  out.Family("dscp_gateway_class_dscp", "gauge", "DSCP value the class marks with.");
  for (size_t c = 0; c < policy.classes.size(); ++c) {
    out.Sample("dscp_gateway_class_dscp", {{"class", policy.classes[c].name}},
               static_cast<uint64_t>(policy.classes[c].dscp));
  }

  // Per namespace, never per pod IP: bounded cardinality.
  const char* namespace_names[] = {"dscp_gateway_namespace_packets_total",
                                   "dscp_gateway_namespace_bytes_total",
                                   "dscp_gateway_namespace_drops_total"};
  const char* namespace_help[] = {
      "Packets from pods of the namespace (unmarked: sources not in the pod table).",
      "Bytes from pods of the namespace.",
      "Packets from pods of the namespace tail-dropped in the class queue."};
  const std::vector<uint64_t>* namespace_values[] = {
      &totals.namespace_packets, &totals.namespace_bytes, &totals.namespace_drops};
  for (int m = 0; m < 3; ++m) {
    out.Family(namespace_names[m], "counter", namespace_help[m]);
    for (uint32_t id = 0; id < DG_MAX_NAMESPACES; ++id) {
      if (totals.namespace_packets[id] == 0 && totals.namespace_drops[id] == 0) continue;
      const bool unmarked = id == DG_NAMESPACE_NONE;
      out.Sample(namespace_names[m],
                 {{"namespace", unmarked ? std::string("(unmarked)") : datapath_.NamespaceName(id)},
                  {"class", unmarked ? policy.classes[policy.default_class].name
                                     : policy.classes[datapath_.ClassOfNamespace(id)].name}},
                 (*namespace_values[m])[id]);
    }
  }

  out.Family("dscp_gateway_unclassified_packets_total", "counter",
             "Frames forwarded unchanged because they could not be classified, by reason.");
  for (uint32_t reason = 1; reason < kUnclassifiedReasonCount; ++reason) {
    out.Sample("dscp_gateway_unclassified_packets_total",
               {{"reason", kUnclassifiedReasonNames[reason]}}, totals.unclassified[reason]);
  }

  out.Family("dscp_gateway_shaper_rate_bytes_per_second", "gauge",
             "Port shaper rate (0: unshaped).");
  out.Sample("dscp_gateway_shaper_rate_bytes_per_second", {}, config_.shaper_rate_bps / 8);
  out.Family("dscp_gateway_shaper_tokens_bytes", "gauge", "Tokens left in the port shaper.");
  out.Sample("dscp_gateway_shaper_tokens_bytes", {}, totals.port_shaper_tokens_bytes);

  out.Family("dscp_gateway_pod_table_entries", "gauge", "Pod addresses in the datapath table.");
  out.Sample("dscp_gateway_pod_table_entries", {},
             static_cast<uint64_t>(datapath_.pod_table_size()));
  out.Family("dscp_gateway_pod_table_capacity_entries", "gauge",
             "Pod addresses the table can hold.");
  out.Sample("dscp_gateway_pod_table_capacity_entries", {},
             static_cast<uint64_t>(datapath_.pod_table_capacity()));

  out.Family("dscp_gateway_policy_reloads_total", "counter",
             "Policy (file or ConfigMap) and pod file reloads applied.");
  out.Sample("dscp_gateway_policy_reloads_total", {}, policy_status.reloads);
  out.Family("dscp_gateway_policy_reload_errors_total", "counter",
             "Policy or pod file reloads rejected; the previous policy stayed in force.");
  out.Sample("dscp_gateway_policy_reload_errors_total", {}, policy_status.reload_errors);
  out.Family("dscp_gateway_policy_generation", "gauge",
             "Generation of the policy snapshot the datapath uses.");
  out.Sample("dscp_gateway_policy_generation", {}, datapath_.policy_generation());
  out.Family("dscp_gateway_policy_loaded_timestamp_seconds", "gauge",
             "When the active policy was loaded.");
  out.Sample("dscp_gateway_policy_loaded_timestamp_seconds", {},
             UnixSeconds(policy_status.loaded_at));

  if (rest_) {
    const RestServerStats rest = rest_->stats();
    out.Family("dscp_gateway_rest_requests_total", "counter",
               "REST requests answered, any status.");
    out.Sample("dscp_gateway_rest_requests_total", {}, rest.requests);
    out.Family("dscp_gateway_rest_rejected_total", "counter",
               "REST requests or connections refused, by reason.");
    out.Sample("dscp_gateway_rest_rejected_total", {{"reason", "bad_request"}}, rest.bad_requests);
    out.Sample("dscp_gateway_rest_rejected_total", {{"reason", "not_found"}}, rest.not_found);
    out.Sample("dscp_gateway_rest_rejected_total", {{"reason", "method_not_allowed"}},
               rest.method_not_allowed);
    out.Sample("dscp_gateway_rest_rejected_total", {{"reason", "connection_limit"}},
               rest.connections_rejected);
    out.Sample("dscp_gateway_rest_rejected_total", {{"reason", "timeout"}}, rest.timeouts);
  }
  if (kubernetes_) {
    std::vector<const k8s::Reflector*> reflectors = {
        &kubernetes_->pods(), kubernetes_->namespaces(), kubernetes_->config_map()};
    struct SyncMetric {
      const char* name;
      const char* type;
      const char* help;
      uint64_t k8s::ReflectorStats::*field;
    };
    const SyncMetric sync_metrics[] = {
        {"dscp_gateway_sync_lists_total", "counter", "Complete lists received from the API server.",
         &k8s::ReflectorStats::lists},
        {"dscp_gateway_sync_relists_total", "counter",
         "Lists after the first (410 Gone, failures).", &k8s::ReflectorStats::relists},
        {"dscp_gateway_sync_watch_restarts_total", "counter",
         "Watches re-opened (timeouts, drops, errors).", &k8s::ReflectorStats::watch_restarts},
        {"dscp_gateway_sync_errors_total", "counter",
         "Failed requests, error events and malformed lines.", &k8s::ReflectorStats::errors},
        {"dscp_gateway_sync_events_total", "counter", "Watch events applied.",
         &k8s::ReflectorStats::events},
    };
    for (const SyncMetric& metric : sync_metrics) {
      out.Family(metric.name, metric.type, metric.help);
      for (const k8s::Reflector* reflector : reflectors) {
        if (reflector == nullptr) continue;
        out.Sample(metric.name, {{"resource", reflector->options().resource_path}},
                   reflector->stats().*metric.field);
      }
    }
    out.Family("dscp_gateway_sync_synced", "gauge",
               "1 once every watched resource has been listed.");
    out.Sample("dscp_gateway_sync_synced", {},
               static_cast<uint64_t>(kubernetes_->Synced() ? 1 : 0));
    out.Family(
        "dscp_gateway_sync_lag_seconds", "histogram",
        "Time from receiving a pod watch event to the change being visible to the datapath.");
    out.Histogram("dscp_gateway_sync_lag_seconds", {},
                  std::vector<double>(std::begin(SyncLagHistogram::kBoundsSeconds),
                                      std::end(SyncLagHistogram::kBoundsSeconds)),
                  sync_lag_.counts, sync_lag_.sum);
  }
  out.Family("dscp_gateway_healthy", "gauge", "1 while the datapath heartbeat advances.");
  out.Sample("dscp_gateway_healthy", {}, static_cast<uint64_t>(Healthy() ? 1 : 0));
  return out.text();
}

}  // namespace dg
