// The control plane of `run`: REST endpoints and their documents, Prometheus metrics,
// health and readiness, policy sources and Kubernetes sync, on the control thread's
// io_context. It reaches the datapath only through DatapathTables and PortView, so it
// reads worker counters and publishes tables but never writes worker-owned state.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/json/object.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "control/cached_route.h"
#include "control/class_counter_history.h"
#include "control/control_loop.h"
#include "control/datapath_mode_source.h"
#include "control/datapath_tables.h"
#include "control/gateway_config.h"
#include "control/health.h"
#include "control/metric_snapshot.h"
#include "control/policy_sources.h"
#include "control/rest_server.h"
#include "k8s-sync/kubernetes_sync.h"

namespace dg {

// Injected so tests control time; the defaults read the real clocks.
struct ControlClock {
  SteadyClock steady = [] { return std::chrono::steady_clock::now(); };
  WallClock wall = [] { return std::chrono::system_clock::now(); };
};

class ControlPlane {
 public:
  static constexpr auto kTickInterval = std::chrono::milliseconds(250);
  static constexpr auto kReloadCheckInterval = std::chrono::seconds(1);
  // /metrics and /v1/stats answers are rendered at most this often (control/cached_route.h):
  // far below any scrape interval or dscpctl refresh, long enough that a storm of
  // requests costs the control thread HTTP, not rendering.
  static constexpr auto kRenderedBodyMaxAge = std::chrono::milliseconds(10);

  ControlPlane(boost::asio::io_context& io, const GatewayConfig& config, DatapathTables& datapath,
               const PortView& ports, uint64_t tsc_hz, std::function<void()> request_stop,
               ControlClock clock = {});
  ~ControlPlane();

  // Starts REST, Kubernetes sync, signal handling (SIGINT/SIGTERM stop, SIGHUP reloads)
  // and the tick. Returns the REST endpoint bound.
  EnvResult<boost::asio::ip::tcp::endpoint> Start();
  void Stop();

  // Live sync from the API server. Call before Start(); the static files stay the
  // starting point until the first list arrives.
  void EnableKubernetes(std::unique_ptr<k8s::KubeTransport> transport,
                        const KubernetesSettings& settings);

  // Metrics kept outside the control plane and the datapath (the node's XDP counters):
  // each source adds its rows to every reading. Call before Start().
  using MetricSource = std::function<void(MetricSnapshot&)>;
  void AddMetricSource(MetricSource source) { metric_sources_.push_back(std::move(source)); }

  // One tick of the control thread: samples the heartbeat and, once a second, looks
  // for changed policy files. Start() schedules it; public for tests.
  void Tick();
  PolicySources& policy_sources() { return policy_sources_; }
  DatapathModeSource& datapath_mode() { return datapath_mode_; }

  // What Start() serves, path -> handler; public for tests.
  std::vector<std::pair<std::string, RouteHandler>> Routes();

  boost::json::object StatsDocument() const;
  boost::json::object PodsDocument() const;
  boost::json::object PolicyDocument() const;
  std::string MetricsText() const;
  // Every metric of control/metrics.h, read now: what /v1/stats, /metrics and the final
  // report of `run` render.
  MetricSnapshot Metrics() const;
  bool Healthy() const;
  bool Ready(std::string* why_not) const;
  // Summed worker counters, per-class series attributed by class name across reloads.
  CounterTotals Totals() const;

 private:
  boost::json::object KubernetesDocument() const;

  // Adapter from the Kubernetes caches to the datapath's pod table.
  class PodSink : public k8s::PodTableSink {
   public:
    explicit PodSink(DatapathTables& datapath) : datapath_(datapath) {}
    void ReplaceAll(const std::vector<PodTableEntry>& entries) override {
      datapath_.ApplyPods(entries);
    }
    void Upsert(const PodTableEntry& entry) override { datapath_.UpsertPod(entry); }
    void Erase(const dg_pod_key& key) override { datapath_.ErasePod(key); }

   private:
    DatapathTables& datapath_;
  };
  class SyncLagHistogram : public k8s::SyncLagObserver {
   public:
    static constexpr double kBoundsSeconds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                                0.01,   0.025,   0.05,   0.1,   0.25,   1.0};
    void ObserveSyncLag(double seconds) override;
    std::vector<uint64_t> counts = std::vector<uint64_t>(std::size(kBoundsSeconds) + 1);
    double sum = 0;
  };

  boost::asio::io_context& io_;
  const GatewayConfig& config_;
  DatapathTables& datapath_;
  const PortView& ports_;
  uint64_t tsc_hz_;
  ControlClock clock_;
  ClassCounterHistory class_history_;
  PolicySources policy_sources_;
  DatapathModeSource datapath_mode_;
  HeartbeatMonitor heartbeat_;
  ControlLoop loop_;
  std::unique_ptr<RestServer> rest_;
  std::chrono::steady_clock::time_point next_reload_check_;
  std::chrono::system_clock::time_point started_at_;
  std::unique_ptr<k8s::KubeTransport> kube_transport_;
  std::unique_ptr<PodSink> pod_sink_;
  SyncLagHistogram sync_lag_;
  std::unique_ptr<k8s::KubernetesSync> kubernetes_;
  std::vector<MetricSource> metric_sources_;
};

}  // namespace dg
