#include "control/policy_sources.h"

#include "control/log.h"

namespace dg {

PolicySources::PolicySources(std::string priorities_path, std::string pods_path,
                             uint64_t shaper_rate_bps, DatapathTables& datapath,
                             ClassCounterHistory& history, WallClock wall_clock)
    : priorities_path_(std::move(priorities_path)),
      pods_path_(std::move(pods_path)),
      shaper_rate_bps_(shaper_rate_bps),
      datapath_(datapath),
      history_(history),
      wall_clock_(std::move(wall_clock)) {
  status_.priorities_path = priorities_path_;
  status_.pods_path = pods_path_;
  status_.content_hash = datapath_.policy().content_hash;
  status_.loaded_at = wall_clock_();
  if (!priorities_path_.empty()) {
    if (auto text = ReadTextFile(priorities_path_)) priorities_text_ = *text;
  }
  if (!pods_path_.empty()) {
    if (auto text = ReadTextFile(pods_path_)) pods_text_ = *text;
  }
}

std::optional<std::string> PolicySources::ReadChanged(const std::string& path,
                                                      const std::string& loaded,
                                                      const char* trigger, bool force) {
  // Unreadable is reported once (or on every SIGHUP), not every second; a file that
  // comes back unchanged clears its error.
  auto text = ReadTextFile(path);
  if (!text) {
    if (unreadable_sources_.insert(path).second || force) Reject(text.error(), path, trigger);
    return std::nullopt;
  }
  unreadable_sources_.erase(path);
  if (!force && *text == loaded) {
    ClearError(path);
    return std::nullopt;
  }
  return *text;
}

void PolicySources::ReloadFiles(const char* trigger, bool force) {
  if (FileOwnsPriorities()) {
    if (auto text = ReadChanged(priorities_path_, priorities_text_, trigger, force)) {
      priorities_text_ = *text;  // a bad version is reported once, not every second
      ApplyPrioritiesText(*text, priorities_path_, trigger);
    }
  }
  if (!pods_path_.empty()) {
    if (auto text = ReadChanged(pods_path_, pods_text_, trigger, force)) {
      pods_text_ = *text;
      ApplyPodsText(*text, trigger);
    }
  }
}

void PolicySources::ApplyPodsText(const std::string& text, const char* trigger) {
  auto pods = ParsePodList(text, pods_path_);
  if (!pods) {
    Reject(pods.error(), pods_path_, trigger);
    return;
  }
  const PodSyncResult result = datapath_.ApplyPods(BuildPodTableEntries(*pods));
  ++status_.reloads;
  ClearError(pods_path_);
  DG_LOG_INFO("policy", "pods reloaded (%s): %s: %u added, %u updated, %u removed, %u failed",
              trigger, pods_path_.c_str(), result.added, result.updated, result.removed,
              result.failed);
}

void PolicySources::ApplyPrioritiesText(const std::string& text, const std::string& source,
                                        const char* trigger) {
  auto policy = ParsePriorities(text, source, shaper_rate_bps_);
  if (!policy) {
    Reject(policy.error(), source, trigger);
    return;
  }
  history_.CreditByName(datapath_.ReadCounters(), datapath_.policy());
  const std::string previous_hash = status_.content_hash;
  datapath_.PublishPolicy(std::move(*policy));
  ++status_.reloads;
  status_.priorities_path = source;
  status_.content_hash = datapath_.policy().content_hash;
  status_.loaded_at = wall_clock_();
  ClearError(source);
  DG_LOG_INFO("policy", "policy reloaded (%s): %s, hash %s -> %s", trigger, source.c_str(),
              previous_hash.c_str(), status_.content_hash.c_str());
}

void PolicySources::ApplyNamespaceLabelClasses(const std::map<std::string, std::string>& classes) {
  datapath_.PublishNamespaceLabelClasses(classes);
}

void PolicySources::Reject(const ConfigError& error, const std::string& source,
                           const char* trigger) {
  ++status_.reload_errors;
  status_.last_error = error.Message();
  status_.last_error_source = source;
  status_.last_error_at = wall_clock_();
  DG_LOG_WARNING("policy", "policy reload (%s) rejected, previous policy stays: %s", trigger,
                 status_.last_error.c_str());
}

void PolicySources::ClearError(const std::string& source) {
  if (status_.last_error_source != source) return;
  status_.last_error.clear();
  status_.last_error_source.clear();
}

}  // namespace dg
