#include "k8s-sync/caches.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string_view>

#include "k8s-sync/json_fields.h"

namespace dg::k8s {
namespace {

bool AddAddress(const std::string& text, PodRecord* record) {
  PodAddress address;
  if (!ParsePodAddress(text, &address.key)) return false;
  for (const PodAddress& existing : record->addresses) {
    if (std::memcmp(existing.key.addr, address.key.addr, sizeof(address.key.addr)) == 0)
      return true;
  }
  address.text = text;
  record->addresses.push_back(std::move(address));
  return true;
}

}  // namespace

bool PodRecordFromJson(const boost::json::object& pod, PodRecord* record, std::string* problem) {
  *record = PodRecord{};
  const boost::json::object* metadata = ObjectAt(&pod, "metadata");
  const boost::json::object* spec = ObjectAt(&pod, "spec");
  const boost::json::object* status = ObjectAt(&pod, "status");
  record->uid = StringAt(metadata, "uid");
  record->name = StringAt(metadata, "name");
  record->namespace_name = StringAt(metadata, "namespace");
  record->creation_timestamp = StringAt(metadata, "creationTimestamp");
  record->deletion_timestamp = StringAt(metadata, "deletionTimestamp");
  if (record->uid.empty() || record->name.empty() || record->namespace_name.empty()) {
    *problem = "pod without metadata.uid/name/namespace";
    return false;
  }
  if (spec != nullptr) {
    const boost::json::value* host_network = spec->if_contains("hostNetwork");
    record->host_network =
        host_network != nullptr && host_network->is_bool() && host_network->get_bool();
  }
  record->phase = StringAt(status, "phase");
  if (status != nullptr) {
    const boost::json::value* pod_ips = status->if_contains("podIPs");
    if (pod_ips != nullptr && pod_ips->is_array()) {
      for (const boost::json::value& entry : pod_ips->get_array()) {
        const std::string ip = StringAt(entry.if_object(), "ip");
        if (!ip.empty() && !AddAddress(ip, record)) {
          *problem = record->namespace_name + "/" + record->name + ": status.podIPs: '" + ip +
                     "' is not an IP";
          return false;
        }
      }
    }
    const std::string pod_ip = StringAt(status, "podIP");
    if (record->addresses.empty() && !pod_ip.empty() && !AddAddress(pod_ip, record)) {
      *problem = record->namespace_name + "/" + record->name + ": status.podIP: '" + pod_ip +
                 "' is not an IP";
      return false;
    }
  }
  return true;
}

size_t PodCache::KeyHash::operator()(const dg_pod_key& key) const {
  return std::hash<std::string_view>{}(
      std::string_view(reinterpret_cast<const char*>(key.addr), sizeof(key.addr)));
}

bool PodCache::KeyEqual::operator()(const dg_pod_key& a, const dg_pod_key& b) const {
  return std::memcmp(a.addr, b.addr, sizeof(a.addr)) == 0;
}

void PodCache::Claim(const PodRecord& pod) {
  for (const PodAddress& address : pod.addresses) claimants_[address.key].push_back(pod.uid);
}

void PodCache::Release(const PodRecord& pod) {
  for (const PodAddress& address : pod.addresses) {
    auto found = claimants_.find(address.key);
    if (found == claimants_.end()) continue;
    auto& uids = found->second;
    uids.erase(std::remove(uids.begin(), uids.end(), pod.uid), uids.end());
    if (uids.empty()) claimants_.erase(found);
  }
}

// Decides one address among every pod claiming it, with the very rule the static files
// use (BuildPodTableEntries), so a cluster and a PodList can never disagree.
void PodCache::Reconcile(const dg_pod_key& key) {
  auto found = claimants_.find(key);
  if (found != claimants_.end()) {
    std::vector<PodRecord> candidates;
    for (const std::string& uid : found->second) {
      PodRecord candidate = pods_by_uid_.at(uid);
      candidate.addresses.erase(
          std::remove_if(candidate.addresses.begin(), candidate.addresses.end(),
                         [&](const PodAddress& a) { return !KeyEqual{}(a.key, key); }),
          candidate.addresses.end());
      candidates.push_back(std::move(candidate));
    }
    const std::vector<PodTableEntry> entries = BuildPodTableEntries(candidates);
    if (!entries.empty()) {
      sink_.Upsert(entries.front());
      return;
    }
  }
  sink_.Erase(key);
}

void PodCache::BeginList() { listed_.clear(); }

void PodCache::OnListed(boost::json::object&& item) {
  PodRecord record;
  std::string problem;
  if (!PodRecordFromJson(item, &record, &problem)) {
    ++rejected_objects_;
    return;
  }
  listed_.push_back(std::move(record));
}

void PodCache::EndList() {
  pods_by_uid_.clear();
  claimants_.clear();
  pods_by_uid_.reserve(listed_.size());
  for (const PodRecord& record : listed_) {
    Claim(record);
    pods_by_uid_.emplace(record.uid, record);
  }
  // Only a complete list may prune: it is the one moment we know what no longer exists.
  sink_.ReplaceAll(BuildPodTableEntries(listed_));
  listed_.clear();
  listed_.shrink_to_fit();
}

void PodCache::OnReplace(std::vector<boost::json::object> items) {
  BeginList();
  for (boost::json::object& item : items) OnListed(std::move(item));
  EndList();
}

void PodCache::OnEvent(WatchEventType type, const boost::json::object& object,
                       std::chrono::steady_clock::time_point received) {
  PodRecord record;
  std::string problem;
  if (!PodRecordFromJson(object, &record, &problem)) {
    ++rejected_objects_;
    std::fprintf(stderr, "dscp-gateway: k8s pods: ignoring event: %s\n", problem.c_str());
    return;
  }
  std::vector<dg_pod_key> affected;
  auto previous = pods_by_uid_.find(record.uid);
  if (previous != pods_by_uid_.end()) {
    for (const PodAddress& address : previous->second.addresses) affected.push_back(address.key);
    Release(previous->second);
    pods_by_uid_.erase(previous);
  }
  if (type != WatchEventType::kDeleted) {
    for (const PodAddress& address : record.addresses) affected.push_back(address.key);
    Claim(record);
    pods_by_uid_.emplace(record.uid, std::move(record));
  }
  // An address the pod keeps appears twice; reconcile each once.
  std::sort(affected.begin(), affected.end(), [](const dg_pod_key& a, const dg_pod_key& b) {
    return std::memcmp(a.addr, b.addr, sizeof(a.addr)) < 0;
  });
  affected.erase(std::unique(affected.begin(), affected.end(), KeyEqual{}), affected.end());
  for (const dg_pod_key& key : affected) Reconcile(key);
  lag_.ObserveSyncLag(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - received).count());
}

bool NamespaceLabelCache::Update(const boost::json::object& namespace_object, bool deleted) {
  const boost::json::object* metadata = ObjectAt(&namespace_object, "metadata");
  const std::string name = StringAt(metadata, "name");
  if (name.empty()) return false;
  const std::string class_name = deleted ? "" : StringAt(ObjectAt(metadata, "labels"), label_key_);
  auto found = classes_.find(name);
  if (class_name.empty()) {
    if (found == classes_.end()) return false;
    classes_.erase(found);
    return true;
  }
  if (found != classes_.end() && found->second == class_name) return false;
  classes_[name] = class_name;
  return true;
}

void NamespaceLabelCache::OnReplace(std::vector<boost::json::object> items) {
  classes_.clear();
  for (const boost::json::object& item : items) Update(item, false);
  publish_(classes_);
}

void NamespaceLabelCache::OnEvent(WatchEventType type, const boost::json::object& object,
                                  std::chrono::steady_clock::time_point) {
  if (Update(object, type == WatchEventType::kDeleted)) publish_(classes_);
}

void PrioritiesConfigMapCache::Consider(const boost::json::object& config_map) {
  const std::string text = StringAt(ObjectAt(&config_map, "data"), "priorities.yaml");
  if (text.empty()) {
    last_text_.clear();         // so the key coming back, even unchanged, is applied again
    apply_("", source_label_);  // the validator reports the missing key
    return;
  }
  if (text == last_text_) return;
  last_text_ = text;
  apply_(text, source_label_);
}

void PrioritiesConfigMapCache::OnReplace(std::vector<boost::json::object> items) {
  if (items.empty()) {
    std::fprintf(stderr, "dscp-gateway: k8s: %s not found; keeping the current policy\n",
                 source_label_.c_str());
    return;
  }
  Consider(items.front());
}

void PrioritiesConfigMapCache::OnEvent(WatchEventType type, const boost::json::object& object,
                                       std::chrono::steady_clock::time_point) {
  if (type == WatchEventType::kDeleted) {
    std::fprintf(stderr, "dscp-gateway: k8s: %s deleted; keeping the last policy it carried\n",
                 source_label_.c_str());
    return;
  }
  Consider(object);
}

}  // namespace dg::k8s
