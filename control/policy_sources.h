// Where the running policy comes from: the priorities and pod files (watched by content,
// reloaded on change or SIGHUP) and, with Kubernetes, the priorities ConfigMap and the
// namespace class labels. Which source wins is decided here and nowhere else.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "control/class_counter_history.h"
#include "control/datapath_tables.h"
#include "control/result.h"

namespace dg {

struct PolicyStatus {
  std::string priorities_path;  // the file or ConfigMap the running priorities came from
  std::string pods_path;
  std::string content_hash;
  std::chrono::system_clock::time_point loaded_at;
  uint64_t reloads = 0;           // successful reloads after startup
  uint64_t reload_errors = 0;     // rejected files (the previous policy stayed)
  std::string last_error;         // file: key: reason of the last rejection, "" if none since
  std::string last_error_source;  // the file or ConfigMap it came from; its next success clears it
  std::chrono::system_clock::time_point last_error_at;
};

using WallClock = std::function<std::chrono::system_clock::time_point()>;

class PolicySources {
 public:
  // What `datapath` runs now (loaded at startup from the same paths) is the baseline:
  // only a change to the files' contents reloads them.
  // Class rates in percent are shares of `shaper_rate_bps` (gateway config shaper.rate).
  PolicySources(std::string priorities_path, std::string pods_path, uint64_t shaper_rate_bps,
                DatapathTables& datapath, ClassCounterHistory& history, WallClock wall_clock);

  // Precedence, decided once: a watched ConfigMap owns the priorities from the moment it
  // is watched (the file was only the starting point); the pod file, when configured,
  // always applies. Per namespace, PriorityPolicy::ClassForNamespace ranks an exact
  // policy entry over a namespace label over a prefix entry over the default class.
  void WatchPrioritiesConfigMap() { config_map_owns_priorities_ = true; }
  bool FileOwnsPriorities() const {
    return !priorities_path_.empty() && !config_map_owns_priorities_;
  }

  // Reloads the files whose contents changed (every file, when `force`). An invalid or
  // unreadable file is rejected, reported once, and the running policy stays.
  void ReloadFiles(const char* trigger, bool force);

  // Validates a priorities document and publishes it, or keeps the running policy and
  // records why not. `source` names the file or ConfigMap in messages.
  void ApplyPrioritiesText(const std::string& text, const std::string& source, const char* trigger);
  void ApplyNamespaceLabelClasses(const std::map<std::string, std::string>& classes);

  const PolicyStatus& status() const { return status_; }

 private:
  std::optional<std::string> ReadChanged(const std::string& path, const std::string& loaded,
                                         const char* trigger, bool force);
  void ApplyPodsText(const std::string& text, const char* trigger);
  void Reject(const ConfigError& error, const std::string& source, const char* trigger);
  void ClearError(const std::string& source);

  std::string priorities_path_;
  std::string pods_path_;
  uint64_t shaper_rate_bps_;
  DatapathTables& datapath_;
  ClassCounterHistory& history_;
  WallClock wall_clock_;
  bool config_map_owns_priorities_ = false;
  PolicyStatus status_;
  std::string priorities_text_;  // what is loaded, to ignore writes that change nothing
  std::string pods_text_;
  std::set<std::string> unreadable_sources_;  // reported once until readable again
};

}  // namespace dg
