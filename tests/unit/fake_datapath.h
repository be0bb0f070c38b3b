// In-memory DatapathTables and PortView for control-plane tests: no DPDK, no root.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "control/datapath_tables.h"
#include "control/policy.h"

namespace dg::testing {

// Two classes, one namespace mapped: the policy the control-plane tests start from.
constexpr char kTwoClasses[] = R"(classes:
  - name: critical
    dscp: 46
  - name: standard
    dscp: 0
defaultClass: standard
namespaces:
  ray: critical
)";

class FakeDatapath : public DatapathTables {
 public:
  FakeDatapath() : policy_(DefaultPriorityPolicy()), names_{""} {}

  const PriorityPolicy& policy() const override { return policy_; }
  uint64_t policy_generation() const override { return generation_; }
  void PublishPolicy(PriorityPolicy policy) override {
    policy_ = std::move(policy);
    pod_slots_.Redecide(policy_);
    ++generation_;
  }
  DatapathMode datapath_mode() const override { return mode_; }
  void PublishDatapathMode(DatapathMode mode) override {
    mode_ = mode;
    ++generation_;
  }
  void PublishNamespaceLabelClasses(std::map<std::string, std::string> classes) override {
    label_classes_ = std::move(classes);
    ++generation_;
  }
  const std::string& NamespaceName(uint32_t namespace_id) const override {
    return names_.at(namespace_id);
  }
  uint32_t ClassOfNamespace(uint32_t namespace_id) const override {
    const std::string& name = names_.at(namespace_id);
    const auto label = label_classes_.find(name);
    return policy_.ClassForNamespace(name, label == label_classes_.end() ? "" : label->second);
  }
  PodSyncResult ApplyPods(const std::vector<PodTableEntry>& entries) override {
    PodSyncResult result;
    result.removed = static_cast<uint32_t>(pods_.size());
    for (const auto& [address, entry] : pods_) pod_slots_.Release(entry.pod_uid, entry.pod_slot);
    pods_.clear();
    for (const PodTableEntry& entry : entries) {
      UpsertPod(entry);
      ++result.added;
    }
    ++pod_applications;
    return result;
  }
  bool UpsertPod(const PodTableEntry& entry) override {
    bool changed = false;
    const uint32_t slot = pod_slots_.Acquire(entry.pod_uid, entry.annotations, policy_, &changed);
    ErasePod(entry.address.key);
    pods_[entry.address.text] = PodDirectoryEntry{entry.address.text,
                                                  entry.namespace_name,
                                                  entry.pod_name,
                                                  Intern(entry.namespace_name),
                                                  entry.pod_uid,
                                                  entry.annotations,
                                                  slot};
    return true;
  }
  void ErasePod(const dg_pod_key& key) override {
    auto found = pods_.find(FormatPodAddress(key));
    if (found == pods_.end()) return;
    pod_slots_.Release(found->second.pod_uid, found->second.pod_slot);
    pods_.erase(found);
  }
  const PodOverrideDecision* PodOverride(uint32_t pod_slot) const override {
    return pod_slots_.Decision(pod_slot);
  }
  std::array<uint64_t, kPodOverrideRefusalCount> PodOverrideRefusals() const override {
    return pod_slots_.refused_totals();
  }
  std::vector<PodDirectoryEntry> Pods() const override {
    std::vector<PodDirectoryEntry> pods;
    for (const auto& [address, entry] : pods_) pods.push_back(entry);
    return pods;
  }
  uint32_t pod_table_size() const override { return static_cast<uint32_t>(pods_.size()); }
  uint32_t pod_table_capacity() const override { return 1024; }
  CounterTotals ReadCounters() const override { return counters; }
  uint64_t Heartbeat() const override { return counters.heartbeat; }

  uint32_t Intern(const std::string& name) {
    for (uint32_t id = 1; id < names_.size(); ++id) {
      if (names_[id] == name) return id;
    }
    names_.push_back(name);
    return static_cast<uint32_t>(names_.size() - 1);
  }

  CounterTotals counters;  // what the "workers" counted, by queue position
  int pod_applications = 0;

 private:
  PriorityPolicy policy_;
  DatapathMode mode_ = kDefaultDatapathMode;
  uint64_t generation_ = 1;
  std::map<std::string, std::string> label_classes_;
  std::vector<std::string> names_;  // index = namespace id; 0 is DG_NAMESPACE_NONE
  std::map<std::string, PodDirectoryEntry> pods_;
  PodOverrideSlots pod_slots_;
};

class FakePorts : public PortView {
 public:
  PortStatistics Statistics(PortRole role) const override {
    return role == PortRole::kKernel ? kernel : uplink;
  }
  bool LinkUp(PortRole role) const override {
    return role == PortRole::kKernel ? kernel_up : uplink_up;
  }

  PortStatistics kernel, uplink;
  bool kernel_up = true, uplink_up = true;
};

// A directory of its own under $TMPDIR, removed with the object.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "dg-ctl-XXXXXX").string();
    path_ = mkdtemp(pattern.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string Write(const std::string& name, const std::string& text) const {
    const std::string path = (path_ / name).string();
    std::ofstream(path, std::ios::trunc) << text;
    return path;
  }

 private:
  std::filesystem::path path_;
};

}  // namespace dg::testing
