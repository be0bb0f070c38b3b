// Everything the gateway learns from the API server: this node's pods (or all pods),
// namespace class labels, and the priorities ConfigMap, each through its own reflector.
#pragma once

#include <boost/asio/io_context.hpp>
#include <memory>
#include <string>

#include "k8s-sync/caches.h"
#include "k8s-sync/reflector.h"

namespace dg::k8s {

struct KubernetesSyncOptions {
  std::string node_name;  // required unless all_pods
  bool all_pods = false;
  std::string config_map_namespace = "dscp-gateway";
  std::string config_map_name = "dscp-gateway-priorities";      // empty: do not watch
  std::string namespace_class_label = "dscp-gateway.io/class";  // empty: do not watch namespaces
  std::chrono::seconds watch_timeout{300};
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(90)};
  uint32_t page_size = 500;
  std::chrono::milliseconds backoff_initial{500};
  std::chrono::milliseconds backoff_max{30000};
};

class KubernetesSync {
 public:
  KubernetesSync(boost::asio::io_context& io, KubeTransport& transport,
                 KubernetesSyncOptions options, PodTableSink& pods, SyncLagObserver& lag,
                 NamespaceLabelCache::Publish publish_labels,
                 PrioritiesConfigMapCache::Apply apply_priorities);

  void Start();
  void Stop();

  // Ready to serve: pods listed (and the ConfigMap and namespaces, when watched).
  bool Synced() const;
  const Reflector& pods() const { return *pod_reflector_; }
  const Reflector* namespaces() const { return namespace_reflector_.get(); }
  const Reflector* config_map() const { return config_map_reflector_.get(); }
  const PodCache& pod_cache() const { return pod_cache_; }
  const KubeTransport& transport() const { return transport_; }
  const KubernetesSyncOptions& options() const { return options_; }

 private:
  KubeTransport& transport_;
  KubernetesSyncOptions options_;
  PodCache pod_cache_;
  NamespaceLabelCache namespace_cache_;
  PrioritiesConfigMapCache config_map_cache_;
  std::unique_ptr<Reflector> pod_reflector_;
  std::unique_ptr<Reflector> namespace_reflector_;
  std::unique_ptr<Reflector> config_map_reflector_;
};

}  // namespace dg::k8s
