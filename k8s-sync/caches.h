// Watcher -> cache -> reconciler (Cilium's shape): each cache turns watch events for one
// resource into the minimal change of the table it feeds. The tables are reached through
// sinks the gateway implements, so this directory depends on control/ only.
#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "control/pods.h"
#include "k8s-sync/reflector.h"

namespace dg::k8s {

// The datapath pod table as the pod cache sees it.
class PodTableSink {
 public:
  virtual ~PodTableSink() = default;
  // A complete desired set: the sink applies differences only and prunes the rest.
  virtual void ReplaceAll(const std::vector<PodTableEntry>& entries) = 0;
  virtual void Upsert(const PodTableEntry& entry) = 0;
  virtual void Erase(const dg_pod_key& key) = 0;
};

// Event receipt -> datapath visibility, in seconds.
class SyncLagObserver {
 public:
  virtual ~SyncLagObserver() = default;
  virtual void ObserveSyncLag(double seconds) = 0;
};

// Pods keyed by UID. An address belongs to the live pod that claims it (the same rule as
// BuildPodTableEntries); deleting or finishing a pod frees its addresses, and an address
// reused by a new pod moves to it, so a stale class is never left behind.
class PodCache : public ReflectorHandler {
 public:
  PodCache(PodTableSink& sink, SyncLagObserver& lag) : sink_(sink), lag_(lag) {}

  // Lists are digested item by item into compact PodRecords.
  void BeginList() override;
  void OnListed(boost::json::object&& item) override;
  void EndList() override;
  void AbortList() override { listed_.clear(); }
  void OnReplace(std::vector<boost::json::object> items) override;
  void OnEvent(WatchEventType type, const boost::json::object& object,
               std::chrono::steady_clock::time_point received) override;

  size_t pod_count() const { return pods_by_uid_.size(); }
  uint64_t rejected_objects() const { return rejected_objects_; }
  // Pods a list named a second (third...) time by UID; the last copy is kept.
  uint64_t duplicate_listed_uids() const { return duplicate_listed_uids_; }

 private:
  void Claim(const PodRecord& pod);
  void Release(const PodRecord& pod);
  void Reconcile(const dg_pod_key& key);

  PodTableSink& sink_;
  SyncLagObserver& lag_;
  std::unordered_map<std::string, PodRecord> pods_by_uid_;
  std::unordered_map<dg_pod_key, std::vector<std::string>, PodKeyHash, PodKeyEqual> claimants_;
  std::vector<PodRecord> listed_;   // the list in progress
  uint64_t listed_rejections_ = 0;  // in the list in progress
  std::string first_listed_rejection_;
  uint64_t rejected_objects_ = 0;
  uint64_t duplicate_listed_uids_ = 0;
};

// Namespace name -> class name from a namespace label (e.g. dscp-gateway.io/class).
class NamespaceLabelCache : public ReflectorHandler {
 public:
  using Publish =
      std::function<void(const std::map<std::string, std::string>& classes_by_namespace)>;
  NamespaceLabelCache(std::string label_key, Publish publish)
      : label_key_(std::move(label_key)), publish_(std::move(publish)) {}

  void OnReplace(std::vector<boost::json::object> items) override;
  void OnEvent(WatchEventType type, const boost::json::object& object,
               std::chrono::steady_clock::time_point received) override;
  const std::map<std::string, std::string>& classes() const { return classes_; }

 private:
  bool Update(const boost::json::object& namespace_object, bool deleted);
  std::string label_key_;
  Publish publish_;
  std::map<std::string, std::string> classes_;
};

// The priorities ConfigMap (one object, selected by name): hands data["priorities.yaml"]
// to `apply`, which validates it and keeps the last good policy on error.
class PrioritiesConfigMapCache : public ReflectorHandler {
 public:
  using Apply = std::function<void(const std::string& priorities_text, const std::string& source)>;
  PrioritiesConfigMapCache(std::string source_label, Apply apply)
      : source_label_(std::move(source_label)), apply_(std::move(apply)) {}

  void OnReplace(std::vector<boost::json::object> items) override;
  void OnEvent(WatchEventType type, const boost::json::object& object,
               std::chrono::steady_clock::time_point received) override;
  bool seen() const { return !last_text_.empty(); }

 private:
  void Consider(const boost::json::object& config_map);
  std::string source_label_;
  Apply apply_;
  std::string last_text_;
};

}  // namespace dg::k8s
