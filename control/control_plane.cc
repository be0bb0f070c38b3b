#include "control/control_plane.h"

#include <boost/json/serialize.hpp>

#include "control/counter_metrics.h"
#include "control/prometheus_text.h"
#include "control/time_text.h"

namespace dg {
namespace {

HttpResponse Json(const boost::json::object& document, unsigned status = 200) {
  return HttpResponse{status, "application/json", boost::json::serialize(document) + "\n"};
}

}  // namespace

ControlPlane::ControlPlane(boost::asio::io_context& io, const GatewayConfig& config,
                           DatapathTables& datapath, const PortView& ports, uint64_t tsc_hz,
                           std::function<void()> request_stop, ControlClock clock)
    : io_(io),
      config_(config),
      datapath_(datapath),
      ports_(ports),
      tsc_hz_(tsc_hz),
      clock_(std::move(clock)),
      policy_sources_(config.priorities_path, config.pods_path, config.shaper_rate_bps, datapath,
                      class_history_, clock_.wall),
      datapath_mode_(config.source, datapath),
      heartbeat_(clock_.steady(), kTickInterval),
      loop_(io, kTickInterval,
            ControlLoopCallbacks{.stop = std::move(request_stop),
                                 .reload =
                                     [this] {
                                       policy_sources_.ReloadFiles("SIGHUP", true);
                                       datapath_mode_.Reload("SIGHUP", true);
                                     },
                                 .tick = [this] { Tick(); }}),
      next_reload_check_(clock_.steady() + kReloadCheckInterval),
      started_at_(clock_.wall()) {}

ControlPlane::~ControlPlane() { Stop(); }

std::vector<std::pair<std::string, RouteHandler>> ControlPlane::Routes() {
  return {
      {"/healthz",
       [this] {
         const bool healthy = Healthy();
         return Json({{"status", healthy ? "ok" : "stalled"}, {"heartbeat", datapath_.Heartbeat()}},
                     healthy ? 200 : 503);
       }},
      {"/readyz",
       [this] {
         std::string why_not;
         const bool ready = Ready(&why_not);
         return Json({{"ready", ready}, {"reason", why_not}}, ready ? 200 : 503);
       }},
      {"/v1/stats", RenderedAtMostEvery(kRenderedBodyMaxAge, clock_.steady,
                                        [this] { return Json(StatsDocument()); })},
      {"/v1/pods", [this] { return Json(PodsDocument()); }},
      {"/v1/policy", [this] { return Json(PolicyDocument()); }},
      {"/metrics",
       RenderedAtMostEvery(kRenderedBodyMaxAge, clock_.steady,
                           [this] {
                             return HttpResponse{200, PrometheusText::kContentType, MetricsText()};
                           })},
  };
}

EnvResult<boost::asio::ip::tcp::endpoint> ControlPlane::Start() {
  RestServerOptions options;
  options.listen = config_.rest_listen;
  rest_ = std::make_unique<RestServer>(io_, options);
  for (auto& [path, handler] : Routes()) rest_->AddRoute(path, std::move(handler));
  auto endpoint = rest_->Start();
  if (!endpoint) return endpoint;
  if (kubernetes_) kubernetes_->Start();
  loop_.Start();
  return endpoint;
}

void ControlPlane::Stop() {
  loop_.Stop();
  if (kubernetes_) kubernetes_->Stop();
  if (rest_) rest_->Stop();
}

void ControlPlane::Tick() {
  const auto now = clock_.steady();
  heartbeat_.Sample(datapath_.Heartbeat(), now);
  if (now >= next_reload_check_) {
    next_reload_check_ = now + kReloadCheckInterval;
    policy_sources_.ReloadFiles("file change", false);
    datapath_mode_.Reload("file change", false);
  }
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
  pod_sink_ = std::make_unique<PodSink>(datapath_);
  kubernetes_ = std::make_unique<k8s::KubernetesSync>(
      io_, *kube_transport_, settings, *pod_sink_, sync_lag_,
      [this](const std::map<std::string, std::string>& classes) {
        policy_sources_.ApplyNamespaceLabelClasses(classes);
      },
      [this](const std::string& text, const std::string& source) {
        policy_sources_.ApplyPrioritiesText(text, source, "ConfigMap change");
      });
  if (kubernetes_->config_map() != nullptr) policy_sources_.WatchPrioritiesConfigMap();
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
      {"duplicate_listed_uids", kubernetes_->pod_cache().duplicate_listed_uids()},
      {"sync_lag_mean_seconds", lag_count == 0 ? 0.0 : sync_lag_.sum / lag_count},
      {"watches", std::move(watches)}};
}

bool ControlPlane::Healthy() const { return heartbeat_.Healthy(clock_.steady()); }

bool ControlPlane::Ready(std::string* why_not) const {
  *why_not = ReadinessProblem({.healthy = Healthy(),
                               .policy_loaded = !datapath_.policy().classes.empty(),
                               .kernel_link_up = ports_.LinkUp(PortRole::kKernel),
                               .uplink_link_up = ports_.LinkUp(PortRole::kUplink),
                               .kubernetes_enabled = kubernetes_ != nullptr,
                               .kubernetes_synced = kubernetes_ && kubernetes_->Synced()});
  return why_not->empty();
}

CounterTotals ControlPlane::Totals() const {
  return class_history_.AttributeByName(datapath_.ReadCounters(), datapath_.policy());
}

boost::json::object ControlPlane::PodsDocument() const {
  boost::json::array pods = PodsJson(datapath_);
  const size_t count = pods.size();
  return boost::json::object{{"count", count}, {"pods", std::move(pods)}};
}

boost::json::object ControlPlane::PolicyDocument() const {
  const PriorityPolicy& policy = datapath_.policy();
  const PolicyStatus& status = policy_sources_.status();
  boost::json::array classes;
  for (const TrafficClass& traffic_class : policy.classes) {
    classes.push_back(boost::json::object{
        {"name", traffic_class.name},
        {"dscp", traffic_class.dscp},
        {"max_rate_bps", traffic_class.max_rate_bps},
        {"min_rate_bps", traffic_class.min_rate_bps},
        {"pcp", traffic_class.pcp == kNoPcp ? boost::json::value(nullptr)
                                            : boost::json::value(traffic_class.pcp)}});
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
      {"content_hash", status.content_hash},
      {"source",
       status.priorities_path.empty() ? std::string("(built-in default)") : status.priorities_path},
      {"loaded_at", Rfc3339(status.loaded_at)},
      {"generation", datapath_.policy_generation()},
      {"reloads", status.reloads},
      {"reload_errors", status.reload_errors},
      {"last_reload_error", status.last_error},
      {"last_reload_error_at", Rfc3339(status.last_error_at)}};
}

}  // namespace dg
