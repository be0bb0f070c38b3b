#include "gateway/control_plane.h"

#include <boost/json/serialize.hpp>
#include <csignal>
#include <cstdio>
#include <ctime>

#include "control/prometheus_text.h"
#include "gateway/port.h"
#include "gateway/stats_report.h"

namespace dg {
namespace {

constexpr auto kTickInterval = std::chrono::milliseconds(250);
constexpr auto kReloadCheckInterval = std::chrono::seconds(1);
// The worker loops millions of times a second; a second without progress means stuck.
constexpr auto kHeartbeatStaleAfter = std::chrono::seconds(1);

std::string Rfc3339(std::chrono::system_clock::time_point time) {
  if (time.time_since_epoch().count() == 0) return "";
  const std::time_t seconds = std::chrono::system_clock::to_time_t(time);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char buffer[32];
  std::strftime(buffer, sizeof(buffer), "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buffer;
}

double UnixSeconds(std::chrono::system_clock::time_point time) {
  return std::chrono::duration<double>(time.time_since_epoch()).count();
}

HttpResponse Json(const boost::json::object& document, unsigned status = 200) {
  return HttpResponse{status, "application/json", boost::json::serialize(document) + "\n"};
}

}  // namespace

ControlPlane::ControlPlane(boost::asio::io_context& io, const GatewayConfig& config,
                           Datapath& datapath, PortIds ports, uint64_t tsc_hz,
                           std::function<void()> request_stop)
    : io_(io),
      config_(config),
      datapath_(datapath),
      ports_(ports),
      tsc_hz_(tsc_hz),
      request_stop_(std::move(request_stop)),
      tick_timer_(io),
      signals_(io, SIGINT, SIGTERM, SIGHUP) {
  policy_status_.priorities_path = config.priorities_path;
  policy_status_.pods_path = config.pods_path;
  policy_status_.content_hash = datapath.publisher->policy().content_hash;
  policy_status_.loaded_at = std::chrono::system_clock::now();
  started_at_ = policy_status_.loaded_at;
  // What startup loaded is the baseline: only a change to these texts reloads.
  if (!config.priorities_path.empty()) {
    if (auto text = ReadTextFile(config.priorities_path)) priorities_text_ = *text;
  }
  if (!config.pods_path.empty()) {
    if (auto text = ReadTextFile(config.pods_path)) pods_text_ = *text;
  }
  heartbeat_changed_at_ = std::chrono::steady_clock::now();
  next_reload_check_ = heartbeat_changed_at_ + kReloadCheckInterval;
}

ControlPlane::~ControlPlane() { Stop(); }

Result<boost::asio::ip::tcp::endpoint> ControlPlane::Start() {
  RestServerOptions options;
  options.listen = config_.rest_listen;
  rest_ = std::make_unique<RestServer>(io_, options);
  rest_->AddRoute("/healthz", [this] {
    const bool healthy = Healthy();
    return Json({{"status", healthy ? "ok" : "stalled"},
                 {"heartbeat", datapath_.counters->heartbeat.Load()}},
                healthy ? 200 : 503);
  });
  rest_->AddRoute("/readyz", [this] {
    std::string why_not;
    const bool ready = Ready(&why_not);
    return Json({{"ready", ready}, {"reason", why_not}}, ready ? 200 : 503);
  });
  rest_->AddRoute("/v1/stats", [this] { return Json(StatsDocument()); });
  rest_->AddRoute("/v1/pods", [this] { return Json(PodsDocument()); });
  rest_->AddRoute("/v1/policy", [this] { return Json(PolicyDocument()); });
  rest_->AddRoute("/metrics", [this] {
    return HttpResponse{200, PrometheusText::kContentType, MetricsText()};
  });
  auto endpoint = rest_->Start();
  if (!endpoint) return endpoint;
  if (kubernetes_) kubernetes_->Start();
  WaitForSignal();
  ScheduleTick();
  return endpoint;
}

void ControlPlane::Stop() {
  boost::system::error_code ignored;
  tick_timer_.cancel();
  signals_.cancel(ignored);
  if (kubernetes_) kubernetes_->Stop();
  if (rest_) rest_->Stop();
}

void ControlPlane::WaitForSignal() {
  signals_.async_wait([this](const boost::system::error_code& error, int signal_number) {
    if (error) return;
    if (signal_number == SIGHUP) {
      ReloadPolicyFiles("SIGHUP", true);
      WaitForSignal();
      return;
    }
    request_stop_();
  });
}

void ControlPlane::ScheduleTick() {
  tick_timer_.expires_after(kTickInterval);
  tick_timer_.async_wait([this](const boost::system::error_code& error) {
    if (error) return;
    Tick();
    ScheduleTick();
  });
}

void ControlPlane::Tick() {
  const auto now = std::chrono::steady_clock::now();
  const uint64_t heartbeat = datapath_.counters->heartbeat.Load();
  if (heartbeat != last_heartbeat_) {
    last_heartbeat_ = heartbeat;
    heartbeat_changed_at_ = now;
  }
  if (now >= next_reload_check_) {
    next_reload_check_ = now + kReloadCheckInterval;
    ReloadPolicyFiles("file change", false);
  }
}

void ControlPlane::ReloadPolicyFiles(const char* trigger, bool force) {
  // Reads one file; an unreadable file is reported once (or on every SIGHUP), not every
  // second, and a file that comes back unchanged clears its error.
  auto read = [&](const std::string& path,
                  const std::string& loaded) -> std::optional<std::string> {
    auto text = ReadTextFile(path);
    if (!text) {
      if (unreadable_sources_.insert(path).second || force)
        RejectPolicy(text.error(), path, trigger);
      return std::nullopt;
    }
    unreadable_sources_.erase(path);
    if (!force && *text == loaded) {
      ClearPolicyError(path);
      return std::nullopt;
    }
    return *text;
  };
  // With a ConfigMap watched, the cluster owns the policy; the file was only the start.
  if (!config_.priorities_path.empty() && !(kubernetes_ && kubernetes_->config_map() != nullptr)) {
    if (auto text = read(config_.priorities_path, priorities_text_)) {
      priorities_text_ = *text;  // a bad version is reported once, not every second
      ApplyPrioritiesText(*text, config_.priorities_path, trigger);
    }
  }
  if (!config_.pods_path.empty()) {
    if (auto text = read(config_.pods_path, pods_text_)) {
      pods_text_ = *text;
      auto pods = ParsePodList(*text, config_.pods_path);
      if (!pods) {
        RejectPolicy(pods.error(), config_.pods_path, trigger);
      } else {
        const PodSyncResult result =
            datapath_.pod_directory->ReplaceAll(BuildPodTableEntries(*pods));
        ++policy_status_.reloads;
        ClearPolicyError(config_.pods_path);
        std::fprintf(
            stderr,
            "dscp-gateway: pods reloaded (%s): %s: %u added, %u updated, %u removed, %u failed\n",
            trigger, config_.pods_path.c_str(), result.added, result.updated, result.removed,
            result.failed);
      }
    }
  }
  std::fflush(stderr);
}

void ControlPlane::RejectPolicy(const ConfigError& error, const std::string& source,
                                const char* trigger) {
  ++policy_status_.reload_errors;
  policy_status_.last_error = error.Message();
  policy_status_.last_error_source = source;
  policy_status_.last_error_at = std::chrono::system_clock::now();
  std::fprintf(stderr, "dscp-gateway: policy reload (%s) rejected, previous policy stays: %s\n",
               trigger, policy_status_.last_error.c_str());
  std::fflush(stderr);
}

void ControlPlane::ClearPolicyError(const std::string& source) {
  if (policy_status_.last_error_source != source) return;
  policy_status_.last_error.clear();
  policy_status_.last_error_source.clear();
}

namespace {

void AddClassCounters(CounterTotals::Class& into, const CounterTotals::Class& from, int64_t sign) {
  auto add = [sign](uint64_t& a, uint64_t b) { a = sign > 0 ? a + b : a - b; };
  add(into.packets, from.packets);
  add(into.bytes, from.bytes);
  add(into.drops, from.drops);
  add(into.sojourn_cycles_sum, from.sojourn_cycles_sum);
  for (uint32_t b = 0; b <= kSojournBucketCount; ++b)
    add(into.sojourn_buckets[b], from.sojourn_buckets[b]);
}

}  // namespace

void ControlPlane::FoldClassCountersByName() {
  const WorkerCounters* workers[] = {datapath_.counters.get()};
  const CounterTotals raw = SumCounters(workers, 1);
  const PriorityPolicy& policy = datapath_.publisher->policy();
  for (size_t c = 0; c < policy.classes.size(); ++c) {
    CounterTotals::Class& base = class_base_by_name_[policy.classes[c].name];
    AddClassCounters(base, raw.classes[c], +1);
    AddClassCounters(base, class_positional_base_[c], -1);
    class_positional_base_[c] = raw.classes[c];
  }
}

void ControlPlane::ApplyPrioritiesText(const std::string& text, const std::string& source,
                                       const char* trigger) {
  auto policy = ParsePriorities(text, source);
  if (!policy) {
    RejectPolicy(policy.error(), source, trigger);
    return;
  }
  FoldClassCountersByName();
  const std::string previous_hash = policy_status_.content_hash;
  datapath_.publisher->SetPolicy(std::move(*policy));
  ++policy_status_.reloads;
  policy_status_.priorities_path = source;
  policy_status_.content_hash = datapath_.publisher->policy().content_hash;
  policy_status_.loaded_at = std::chrono::system_clock::now();
  ClearPolicyError(source);
  std::fprintf(stderr, "dscp-gateway: policy reloaded (%s): %s, hash %s -> %s\n", trigger,
               source.c_str(), previous_hash.c_str(), policy_status_.content_hash.c_str());
  std::fflush(stderr);
}

void ControlPlane::SyncLagHistogram::ObserveSyncLag(double seconds) {
  size_t bucket = 0;
  while (bucket < std::size(kBoundsSeconds) && seconds > kBoundsSeconds[bucket]) ++bucket;
  ++counts[bucket];
  sum += seconds;
}

void ControlPlane::EnableKubernetes(std::unique_ptr<k8s::KubeTransport> transport,
                                    const KubernetesSettings& settings) {
  kube_transport_ = std::move(transport);
  pod_sink_ = std::make_unique<PodSink>(*datapath_.pod_directory);
  kubernetes_ = std::make_unique<k8s::KubernetesSync>(
      io_, *kube_transport_, settings, *pod_sink_, sync_lag_,
      [this](const std::map<std::string, std::string>& classes) {
        datapath_.publisher->SetNamespaceLabelClasses(classes);
      },
      [this](const std::string& text, const std::string& source) {
        ApplyPrioritiesText(text, source, "ConfigMap change");
      });
}

boost::json::object ControlPlane::KubernetesDocument() const {
  if (!kubernetes_) return boost::json::object{{"enabled", false}};
  auto reflector_document = [](const k8s::Reflector& reflector) {
    const k8s::ReflectorStats& stats = reflector.stats();
    return boost::json::object{{"resource", reflector.target().resource_path},
                               {"synced", stats.synced},
                               {"lists", stats.lists},
                               {"relists", stats.relists},
                               {"watch_restarts", stats.watch_restarts},
                               {"errors", stats.errors},
                               {"events", stats.events},
                               {"bookmarks", stats.bookmarks},
                               {"resource_version", stats.resource_version},
                               {"last_list_seconds", stats.last_list_seconds},
                               {"last_list_handler_seconds", stats.last_list_handler_seconds},
                               {"last_event_at", Rfc3339(stats.last_event_at)},
                               {"last_error", stats.last_error},
                               {"last_error_at", Rfc3339(stats.last_error_at)}};
  };
  boost::json::array watches;
  watches.push_back(reflector_document(kubernetes_->pods()));
  if (kubernetes_->namespaces() != nullptr)
    watches.push_back(reflector_document(*kubernetes_->namespaces()));
  if (kubernetes_->config_map() != nullptr)
    watches.push_back(reflector_document(*kubernetes_->config_map()));
  uint64_t lag_count = 0;
  for (uint64_t count : sync_lag_.counts) lag_count += count;
  return boost::json::object{
      {"enabled", true},
      {"server", kubernetes_->transport().Describe()},
      {"synced", kubernetes_->Synced()},
      {"pods_cached", kubernetes_->pod_cache().pod_count()},
      {"rejected_objects", kubernetes_->pod_cache().rejected_objects()},
      {"sync_lag_mean_seconds", lag_count == 0 ? 0.0 : sync_lag_.sum / lag_count},
      {"watches", std::move(watches)}};
}

bool ControlPlane::Healthy() const {
  // Healthy while the worker's heartbeat keeps moving.
  return std::chrono::steady_clock::now() - heartbeat_changed_at_ <
         kHeartbeatStaleAfter + kTickInterval;
}

bool ControlPlane::Ready(std::string* why_not) const {
  if (!Healthy()) {
    *why_not = "datapath heartbeat stalled";
    return false;
  }
  if (datapath_.publisher->policy().classes.empty()) {
    *why_not = "no policy loaded";
    return false;
  }
  if (!PortLinkUp(ports_.kernel) || !PortLinkUp(ports_.uplink)) {
    *why_not =
        std::string("link down on ") + (PortLinkUp(ports_.kernel) ? "uplink" : "kernel") + " port";
    return false;
  }
  if (kubernetes_ && !kubernetes_->Synced()) {
    *why_not = "pod table not yet synced from the Kubernetes API";
    return false;
  }
  why_not->clear();
  return true;
}

CounterTotals ControlPlane::Totals() const {
  const WorkerCounters* workers[] = {datapath_.counters.get()};
  CounterTotals totals = SumCounters(workers, 1);
  const PriorityPolicy& policy = datapath_.publisher->policy();
  for (size_t c = 0; c < policy.classes.size(); ++c) {
    AddClassCounters(totals.classes[c], class_positional_base_[c], -1);
    if (auto base = class_base_by_name_.find(policy.classes[c].name);
        base != class_base_by_name_.end()) {
      AddClassCounters(totals.classes[c], base->second, +1);
    }
  }
  return totals;
}

boost::json::object ControlPlane::StatsDocument() const {
  const CounterTotals totals = Totals();
  boost::json::object document = CountersToJson(totals, *datapath_.publisher);
  auto port_document = [](const char* device, uint16_t port_id) {
    const PortStatistics stats = ReadPortStatistics(port_id);
    return boost::json::object{{"device", device},
                               {"link_up", PortLinkUp(port_id)},
                               {"rx_packets", stats.rx_packets},
                               {"rx_bytes", stats.rx_bytes},
                               {"tx_packets", stats.tx_packets},
                               {"tx_bytes", stats.tx_bytes},
                               {"rx_missed", stats.rx_missed},
                               {"rx_errors", stats.rx_errors},
                               {"tx_errors", stats.tx_errors},
                               {"rx_nombuf", stats.rx_nombuf}};
  };
  document["ports"] =
      boost::json::object{{"kernel", port_document(config_.kernel_port.c_str(), ports_.kernel)},
                          {"uplink", port_document(config_.uplink_port.c_str(), ports_.uplink)}};
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
  document["pod_table"] = boost::json::object{{"entries", datapath_.pod_table->Size()},
                                              {"capacity", datapath_.pod_table->Capacity()}};
  document["policy_generation"] = datapath_.publisher->generation();
  document["kubernetes"] = KubernetesDocument();
  document["uptime_seconds"] =
      std::chrono::duration<double>(std::chrono::system_clock::now() - started_at_).count();
  return document;
}

boost::json::object ControlPlane::PodsDocument() const {
  const PriorityPolicy& policy = datapath_.publisher->policy();
  boost::json::array pods;
  for (const auto& [key, entry] : datapath_.pod_directory->entries()) {
    const uint32_t class_id = datapath_.publisher->ClassOfNamespace(entry.namespace_id);
    pods.push_back(boost::json::object{{"ip", entry.address},
                                       {"namespace", entry.namespace_name},
                                       {"pod", entry.pod_name},
                                       {"class", policy.classes[class_id].name},
                                       {"dscp", policy.classes[class_id].dscp}});
  }
  return boost::json::object{{"count", pods.size()}, {"pods", std::move(pods)}};
}

boost::json::object ControlPlane::PolicyDocument() const {
  const PriorityPolicy& policy = datapath_.publisher->policy();
  boost::json::array classes;
  for (const TrafficClass& traffic_class : policy.classes) {
    classes.push_back(boost::json::object{{"name", traffic_class.name},
                                          {"dscp", traffic_class.dscp},
                                          {"max_rate_bps", traffic_class.max_rate_bps}});
  }
  boost::json::object namespaces;
  for (const auto& [name, class_id] : policy.exact_namespaces)
    namespaces[name] = policy.classes[class_id].name;
  for (const auto& [prefix, class_id] : policy.prefix_namespaces) {
    namespaces[prefix + "*"] = policy.classes[class_id].name;
  }
  return boost::json::object{
      {"classes", std::move(classes)},
      {"default_class", policy.classes[policy.default_class].name},
      {"namespaces", std::move(namespaces)},
      {"content_hash", policy_status_.content_hash},
      {"source", policy_status_.priorities_path.empty() ? std::string("(built-in default)")
                                                        : policy_status_.priorities_path},
      {"loaded_at", Rfc3339(policy_status_.loaded_at)},
      {"generation", datapath_.publisher->generation()},
      {"reloads", policy_status_.reloads},
      {"reload_errors", policy_status_.reload_errors},
      {"last_reload_error", policy_status_.last_error},
      {"last_reload_error_at", Rfc3339(policy_status_.last_error_at)}};
}

std::string ControlPlane::MetricsText() const {
  const CounterTotals totals = Totals();
  const PriorityPolicy& policy = datapath_.publisher->policy();
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
  const PortStatistics kernel_stats = ReadPortStatistics(ports_.kernel);
  const PortStatistics uplink_stats = ReadPortStatistics(ports_.uplink);
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
      out.Sample(
          namespace_names[m],
          {{"namespace",
            unmarked ? std::string("(unmarked)") : datapath_.publisher->NamespaceName(id)},
           {"class", unmarked ? policy.classes[policy.default_class].name
                              : policy.classes[datapath_.publisher->ClassOfNamespace(id)].name}},
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
             static_cast<uint64_t>(datapath_.pod_table->Size()));
  out.Family("dscp_gateway_pod_table_capacity_entries", "gauge",
             "Pod addresses the table can hold.");
  out.Sample("dscp_gateway_pod_table_capacity_entries", {},
             static_cast<uint64_t>(datapath_.pod_table->Capacity()));

  out.Family("dscp_gateway_policy_reloads_total", "counter",
             "Policy (file or ConfigMap) and pod file reloads applied.");
  out.Sample("dscp_gateway_policy_reloads_total", {}, policy_status_.reloads);
  out.Family("dscp_gateway_policy_reload_errors_total", "counter",
             "Policy or pod file reloads rejected; the previous policy stayed in force.");
  out.Sample("dscp_gateway_policy_reload_errors_total", {}, policy_status_.reload_errors);
  out.Family("dscp_gateway_policy_generation", "gauge",
             "Generation of the policy snapshot the datapath uses.");
  out.Sample("dscp_gateway_policy_generation", {}, datapath_.publisher->generation());
  out.Family("dscp_gateway_policy_loaded_timestamp_seconds", "gauge",
             "When the active policy was loaded.");
  out.Sample("dscp_gateway_policy_loaded_timestamp_seconds", {},
             UnixSeconds(policy_status_.loaded_at));

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
        out.Sample(metric.name, {{"resource", reflector->target().resource_path}},
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
