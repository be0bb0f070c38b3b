#include "k8s-sync/kubernetes_sync.h"

namespace dg::k8s {

KubernetesSync::KubernetesSync(boost::asio::io_context& io, KubeTransport& transport,
                               const KubernetesSettings& settings, PodTableSink& pods,
                               SyncLagObserver& lag, NamespaceLabelCache::Publish publish_labels,
                               PrioritiesConfigMapCache::Apply apply_priorities)
    : transport_(transport),
      settings_(settings),
      pod_cache_(pods, lag),
      namespace_cache_(settings_.namespace_class_label, std::move(publish_labels)),
      config_map_cache_(
          "ConfigMap " + settings_.config_map_namespace + "/" + settings_.config_map_name,
          std::move(apply_priorities)) {
  WatchTarget pods_target{"/api/v1/pods", "", ""};
  // A node's pods, unless all were asked for (ResolveKubernetesSettings ensures one of them).
  if (!settings_.all_pods) pods_target.field_selector = "spec.nodeName=" + settings_.node_name;
  pod_reflector_ =
      std::make_unique<Reflector>(io, transport_, std::move(pods_target), settings_, pod_cache_);
  if (!settings_.namespace_class_label.empty()) {
    // Only labelled namespaces.
    WatchTarget namespaces_target{"/api/v1/namespaces", "", settings_.namespace_class_label};
    namespace_reflector_ = std::make_unique<Reflector>(io, transport_, std::move(namespaces_target),
                                                       settings_, namespace_cache_);
  }
  if (!settings_.config_map_name.empty()) {
    WatchTarget config_map_target{
        "/api/v1/namespaces/" + settings_.config_map_namespace + "/configmaps",
        "metadata.name=" + settings_.config_map_name, ""};
    config_map_reflector_ = std::make_unique<Reflector>(
        io, transport_, std::move(config_map_target), settings_, config_map_cache_);
  }
}

void KubernetesSync::Start() {
  // The policy first: pods synced before their classes are known would be marked by
  // the embedded default for a moment.
  if (config_map_reflector_) config_map_reflector_->Start();
  if (namespace_reflector_) namespace_reflector_->Start();
  pod_reflector_->Start();
}

void KubernetesSync::Stop() {
  pod_reflector_->Stop();
  if (namespace_reflector_) namespace_reflector_->Stop();
  if (config_map_reflector_) config_map_reflector_->Stop();
}

bool KubernetesSync::Synced() const {
  return pod_reflector_->stats().synced &&
         (!namespace_reflector_ || namespace_reflector_->stats().synced) &&
         (!config_map_reflector_ || config_map_reflector_->stats().synced);
}

}  // namespace dg::k8s
