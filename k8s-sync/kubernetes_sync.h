// Everything the gateway learns from the API server: this node's pods (or all pods),
// namespace class labels, and the priorities ConfigMap, each through its own reflector.
#pragma once

#include <boost/asio/io_context.hpp>
#include <memory>
#include <string>

#include "k8s-sync/caches.h"
#include "k8s-sync/reflector.h"

namespace dg::k8s {

class KubernetesSync {
 public:
  KubernetesSync(boost::asio::io_context& io, KubeTransport& transport,
                 const KubernetesSettings& settings, PodTableSink& pods, SyncLagObserver& lag,
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
  const KubernetesSettings& settings() const { return settings_; }

 private:
  KubeTransport& transport_;
  KubernetesSettings settings_;
  PodCache pod_cache_;
  NamespaceLabelCache namespace_cache_;
  PrioritiesConfigMapCache config_map_cache_;
  std::unique_ptr<Reflector> pod_reflector_;
  std::unique_ptr<Reflector> namespace_reflector_;
  std::unique_ptr<Reflector> config_map_reflector_;
};

}  // namespace dg::k8s
