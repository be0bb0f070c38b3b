#include "k8s-sync/kubernetes_sync.h"

namespace dg::k8s {
namespace {

ReflectorOptions BaseOptions(const KubernetesSyncOptions& options, std::string path) {
  ReflectorOptions reflector;
  reflector.resource_path = std::move(path);
  reflector.page_size = options.page_size;
  reflector.watch_timeout = options.watch_timeout;
  reflector.idle_timeout = options.idle_timeout;
  reflector.backoff_initial = options.backoff_initial;
  reflector.backoff_max = options.backoff_max;
  return reflector;
}

}  // namespace

KubernetesSync::KubernetesSync(boost::asio::io_context& io, KubeTransport& transport,
                               KubernetesSyncOptions options, PodTableSink& pods,
                               SyncLagObserver& lag, NamespaceLabelCache::Publish publish_labels,
                               PrioritiesConfigMapCache::Apply apply_priorities)
    : transport_(transport),
      options_(std::move(options)),
      pod_cache_(pods, lag),
      namespace_cache_(options_.namespace_class_label, std::move(publish_labels)),
      config_map_cache_(
          "ConfigMap " + options_.config_map_namespace + "/" + options_.config_map_name,
          std::move(apply_priorities)) {
  ReflectorOptions pod_options = BaseOptions(options_, "/api/v1/pods");
  if (!options_.all_pods) pod_options.field_selector = "spec.nodeName=" + options_.node_name;
  pod_reflector_ = std::make_unique<Reflector>(io, transport_, pod_options, pod_cache_);
  if (!options_.namespace_class_label.empty()) {
    ReflectorOptions namespace_options = BaseOptions(options_, "/api/v1/namespaces");
    namespace_options.label_selector = options_.namespace_class_label;  // only labelled namespaces
    namespace_reflector_ =
        std::make_unique<Reflector>(io, transport_, namespace_options, namespace_cache_);
  }
  if (!options_.config_map_name.empty()) {
    ReflectorOptions config_map_options = BaseOptions(
        options_, "/api/v1/namespaces/" + options_.config_map_namespace + "/configmaps");
    config_map_options.field_selector = "metadata.name=" + options_.config_map_name;
    config_map_reflector_ =
        std::make_unique<Reflector>(io, transport_, config_map_options, config_map_cache_);
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
