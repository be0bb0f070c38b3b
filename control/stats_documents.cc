// The /v1/stats document and the /metrics text, both rendered from one reading of the
// metric list (control/metrics.h).
#include <boost/json/array.hpp>
#include <iterator>

#include "control/control_plane.h"
#include "control/counter_metrics.h"
#include "control/time_text.h"

namespace dg {

MetricSnapshot ControlPlane::Metrics() const {
  MetricSnapshot snapshot;
  AddCounterMetrics(snapshot, Totals(), datapath_, tsc_hz_);
  AddPortMetrics(snapshot, "kernel", ports_.Statistics(PortRole::kKernel));
  AddPortMetrics(snapshot, "uplink", ports_.Statistics(PortRole::kUplink));
  auto add = [&snapshot](size_t metric, MetricValue value) {
    snapshot.Add(metric, {}, std::move(value));
  };
  const PolicyStatus& policy_status = policy_sources_.status();
  add(MetricIndex("dscp_gateway_shaper_rate_bytes_per_second"), config_.shaper_rate_bps / 8);
  add(MetricIndex("dscp_gateway_pod_table_entries"),
      static_cast<uint64_t>(datapath_.pod_table_size()));
  add(MetricIndex("dscp_gateway_pod_table_capacity_entries"),
      static_cast<uint64_t>(datapath_.pod_table_capacity()));
  add(MetricIndex("dscp_gateway_policy_reloads_total"), policy_status.reloads);
  add(MetricIndex("dscp_gateway_policy_reload_errors_total"), policy_status.reload_errors);
  add(MetricIndex("dscp_gateway_policy_generation"), datapath_.policy_generation());
  add(MetricIndex("dscp_gateway_policy_loaded_timestamp_seconds"),
      UnixSeconds(policy_status.loaded_at));
  if (rest_) {
    const RestServerStats rest = rest_->stats();
    add(MetricIndex("dscp_gateway_rest_requests_total"), rest.requests);
    AddRestMetrics(snapshot, rest);
  }
  if (kubernetes_) {
    for (const k8s::Reflector* reflector :
         {&kubernetes_->pods(), kubernetes_->namespaces(), kubernetes_->config_map()}) {
      if (reflector == nullptr) continue;
      const k8s::ReflectorStats& stats = reflector->stats();
#define DG_ADD_SYNC(field, kind, name, key, help) \
  snapshot.Add(MetricIndex(name), {reflector->target().resource_path}, stats.field);
      DG_SYNC_METRICS(DG_ADD_SYNC)
#undef DG_ADD_SYNC
    }
    add(MetricIndex("dscp_gateway_sync_synced"), uint64_t{kubernetes_->Synced() ? 1u : 0u});
    add(MetricIndex("dscp_gateway_sync_lag_seconds"),
        HistogramValue{std::vector<double>(std::begin(SyncLagHistogram::kBoundsSeconds),
                                           std::end(SyncLagHistogram::kBoundsSeconds)),
                       sync_lag_.counts, sync_lag_.sum});
  }
  add(MetricIndex("dscp_gateway_healthy"), uint64_t{Healthy() ? 1u : 0u});
  AddPodOverrideMetrics(snapshot, datapath_);
  add(MetricIndex("dscp_gateway_config_reload_errors_total"), datapath_mode_.rejected());
  for (const MetricSource& source : metric_sources_) source(snapshot);
  return snapshot;
}

boost::json::object ControlPlane::StatsDocument() const {
  auto port_document = [this](const std::string& device, PortRole role) {
    return boost::json::object{{"device", device}, {"link_up", ports_.LinkUp(role)}};
  };
  boost::json::object base{
      {"ports",
       boost::json::object{{"kernel", port_document(config_.kernel_port, PortRole::kKernel)},
                           {"uplink", port_document(config_.uplink_port, PortRole::kUplink)}}},
      {"shaper", boost::json::object{{"rate_bps", config_.shaper_rate_bps},
                                     {"framing_overhead_bytes", config_.framing_overhead_bytes}}},
      {"kubernetes", KubernetesDocument()},
      {"datapath", boost::json::object{{"mode", DatapathModeName(datapath_.datapath_mode())}}},
      {"uptime_seconds", std::chrono::duration<double>(clock_.wall() - started_at_).count()}};
  return StatsJson(Metrics(), datapath_.policy(), std::move(base));
}

std::string ControlPlane::MetricsText() const { return RenderPrometheusText(Metrics()); }

}  // namespace dg
