#include "k8s-sync/caches.h"

#include <algorithm>
#include <cstring>
#include <string_view>

#include "control/log.h"
#include "k8s-sync/json_fields.h"

namespace dg::k8s {
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
    // Each claimant with only the contested address: copying a pod's every address per
    // address would make one event for a pod with n addresses cost n^2.
    std::vector<PodRecord> candidates;
    candidates.reserve(found->second.size());
    for (const std::string& uid : found->second) {
      // Everything but the addresses, so a field added to PodRecord is never left behind
      // (the addresses are set aside for the copy, not copied).
      PodRecord& claimant = pods_by_uid_.at(uid);
      std::vector<PodAddress> addresses = std::move(claimant.addresses);
      PodRecord candidate = claimant;
      claimant.addresses = std::move(addresses);
      for (const PodAddress& address : claimant.addresses) {
        if (PodKeyEqual{}(address.key, key)) candidate.addresses.push_back(address);
      }
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

void PodCache::BeginList() {
  listed_.clear();
  listed_rejections_ = 0;
}

void PodCache::OnListed(boost::json::object&& item) {
  auto record = DecodePod(item);
  if (!record) {
    ++rejected_objects_;
    if (listed_rejections_++ == 0) first_listed_rejection_ = record.error().Message();
    return;
  }
  listed_.push_back(std::move(*record));
}

void PodCache::EndList() {
  // One line per list, not per pod: a 150k-pod list must not flood the log.
  if (listed_rejections_ != 0) {
    DG_LOG_WARNING("k8s", "pods: ignored %lu listed pods; the first: %s",
                   static_cast<unsigned long>(listed_rejections_), first_listed_rejection_.c_str());
  }
  pods_by_uid_.clear();
  claimants_.clear();
  pods_by_uid_.reserve(listed_.size());
  // A UID is one pod; a server (or proxy) listing one twice is wrong, and keeping both
  // would leave an address claimed by a record the cache no longer holds. The later copy
  // wins, as a watch event for that UID would.
  uint64_t duplicates = 0;
  std::string first_duplicate;
  for (PodRecord& record : listed_) {
    auto [slot, inserted] = pods_by_uid_.try_emplace(record.uid);
    if (!inserted && duplicates++ == 0) first_duplicate = record.uid;
    slot->second = std::move(record);
  }
  listed_.clear();
  listed_.shrink_to_fit();
  if (duplicates != 0) {
    duplicate_listed_uids_ += duplicates;
    DG_LOG_WARNING("k8s",
                   "pods: the list named %lu UIDs more than once (the first: %s); kept the "
                   "last copy of each",
                   static_cast<unsigned long>(duplicates), first_duplicate.c_str());
  }
  std::vector<PodRecord> pods;
  pods.reserve(pods_by_uid_.size());
  for (const auto& [uid, record] : pods_by_uid_) {
    Claim(record);
    pods.push_back(record);
  }
  // Only a complete list may prune: it is the one moment we know what no longer exists.
  sink_.ReplaceAll(BuildPodTableEntries(pods));
}

void PodCache::OnReplace(std::vector<boost::json::object> items) {
  BeginList();
  for (boost::json::object& item : items) OnListed(std::move(item));
  EndList();
}

void PodCache::OnEvent(WatchEventType type, const boost::json::object& object,
                       std::chrono::steady_clock::time_point received) {
  auto decoded = DecodePod(object);
  if (!decoded) {
    ++rejected_objects_;
    DG_LOG_WARNING("k8s", "pods: ignoring an event: %s", decoded.error().Message().c_str());
    return;
  }
  PodRecord& record = *decoded;
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
  affected.erase(std::unique(affected.begin(), affected.end(), PodKeyEqual{}), affected.end());
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
    DG_LOG_WARNING("k8s", "%s not found; keeping the current policy", source_label_.c_str());
    return;
  }
  Consider(items.front());
}

void PrioritiesConfigMapCache::OnEvent(WatchEventType type, const boost::json::object& object,
                                       std::chrono::steady_clock::time_point) {
  if (type == WatchEventType::kDeleted) {
    DG_LOG_WARNING("k8s", "%s deleted; keeping the last policy it carried", source_label_.c_str());
    return;
  }
  Consider(object);
}

}  // namespace dg::k8s
