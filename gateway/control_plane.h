// The control thread of `run`: REST endpoints, Prometheus metrics, health, and hot
// reload of the policy files. Everything here runs on the main lcore's io_context; it
// reads worker counters and publishes tables, and never writes worker-owned state.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/object.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "control/gateway_config.h"
#include "control/rest_server.h"
#include "gateway/datapath.h"
#include "k8s-sync/kubernetes_sync.h"

namespace dg {

struct PolicyStatus {
  std::string priorities_path;
  std::string pods_path;
  std::string content_hash;
  std::chrono::system_clock::time_point loaded_at;
  uint64_t reloads = 0;           // successful reloads after startup
  uint64_t reload_errors = 0;     // rejected files (the previous policy stayed)
  std::string last_error;         // file: key: reason of the last rejection, "" if none since
  std::string last_error_source;  // the file or ConfigMap it came from; its next success clears it
  std::chrono::system_clock::time_point last_error_at;
};

struct PortIds {
  uint16_t kernel = 0;
  uint16_t uplink = 0;
};

class ControlPlane {
 public:
  ControlPlane(boost::asio::io_context& io, const GatewayConfig& config, Datapath& datapath,
               PortIds ports, uint64_t tsc_hz, std::function<void()> request_stop);
  ~ControlPlane();

  // Starts REST, the reload watcher, the heartbeat sampler and signal handling
  // (SIGINT/SIGTERM stop, SIGHUP reloads). Returns the REST endpoint bound.
  Result<boost::asio::ip::tcp::endpoint> Start();
  void Stop();

  // Reloads the priorities and pod files if their contents changed (or always, when
  // `force`). An invalid file is rejected and the running policy stays.
  void ReloadPolicyFiles(const char* trigger, bool force);

  // Validates a priorities document and applies it, or keeps the running policy and
  // records why not. `source` names the file or ConfigMap in messages.
  void ApplyPrioritiesText(const std::string& text, const std::string& source, const char* trigger);

  // Live sync from the API server. Call before Start(); the static files stay the
  // starting point until the first list arrives.
  void EnableKubernetes(std::unique_ptr<k8s::KubeTransport> transport,
                        const KubernetesSettings& settings);

  // Renderers, public for tests.
  boost::json::object StatsDocument() const;
  boost::json::object PodsDocument() const;
  boost::json::object PolicyDocument() const;
  std::string MetricsText() const;
  bool Healthy() const;
  bool Ready(std::string* why_not) const;
  // Summed worker counters, per-class series attributed by class name across reloads.
  CounterTotals Totals() const;

 private:
  void ScheduleTick();
  void Tick();
  void WaitForSignal();
  void RejectPolicy(const ConfigError& error, const std::string& source, const char* trigger);
  void ClearPolicyError(const std::string& source);
  // Class counters live by queue position; before a policy may reorder or rename the
  // classes, what each position counted is credited to its old name, so every
  // per-class series stays monotonic under its own name.
  void FoldClassCountersByName();
  boost::json::object KubernetesDocument() const;

  // Adapters from the Kubernetes caches to the datapath tables.
  class PodSink : public k8s::PodTableSink {
   public:
    explicit PodSink(PodDirectory& directory) : directory_(directory) {}
    void ReplaceAll(const std::vector<PodTableEntry>& entries) override {
      directory_.ReplaceAll(entries);
    }
    void Upsert(const PodTableEntry& entry) override { directory_.Upsert(entry); }
    void Erase(const dg_pod_key& key) override { directory_.Erase(key); }

   private:
    PodDirectory& directory_;
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
  Datapath& datapath_;
  PortIds ports_;
  uint64_t tsc_hz_;
  std::function<void()> request_stop_;
  std::unique_ptr<RestServer> rest_;
  boost::asio::steady_timer tick_timer_;
  boost::asio::signal_set signals_;
  PolicyStatus policy_status_;
  std::string priorities_text_;  // what is loaded, to ignore writes that change nothing
  std::string pods_text_;
  std::set<std::string> unreadable_sources_;  // reported once until readable again
  std::map<std::string, CounterTotals::Class> class_base_by_name_;
  CounterTotals::Class class_positional_base_[DG_MAX_CLASSES];
  uint64_t last_heartbeat_ = 0;
  std::chrono::steady_clock::time_point heartbeat_changed_at_;
  std::chrono::steady_clock::time_point next_reload_check_;
  std::chrono::system_clock::time_point started_at_;
  std::unique_ptr<k8s::KubeTransport> kube_transport_;
  std::unique_ptr<PodSink> pod_sink_;
  SyncLagHistogram sync_lag_;
  std::unique_ptr<k8s::KubernetesSync> kubernetes_;
};

}  // namespace dg
