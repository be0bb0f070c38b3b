// List-then-watch for one resource, as client-go's reflector does it: LIST in pages
// (limit/continue), then WATCH from the list's resourceVersion with bookmarks; 410 Gone
// means relist; a dropped or silent stream reconnects with exponential backoff and
// jitter. Runs as a coroutine on the control thread's io_context.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/object.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "control/gateway_config.h"
#include "k8s-sync/kube_transport.h"

namespace dg::k8s {

enum class WatchEventType { kAdded, kModified, kDeleted };

class ReflectorHandler {
 public:
  virtual ~ReflectorHandler() = default;
  // A (re)list arrives page by page: BeginList, OnListed per item, then EndList once the
  // set is complete (anything not in it is gone) or AbortList if the list failed. The
  // defaults collect the items and call OnReplace; a cache that can digest items one at
  // a time overrides them so a 150k-pod list is never held as JSON all at once.
  virtual void BeginList() { pending_.clear(); }
  virtual void OnListed(boost::json::object&& item) { pending_.push_back(std::move(item)); }
  virtual void EndList() { OnReplace(std::move(pending_)); }
  virtual void AbortList() { pending_.clear(); }
  // The complete set after a (re)list: anything not in it is gone.
  virtual void OnReplace(std::vector<boost::json::object> items) = 0;
  // One change from the watch stream; `received` is when its line arrived.
  virtual void OnEvent(WatchEventType type, const boost::json::object& object,
                       std::chrono::steady_clock::time_point received) = 0;

 private:
  std::vector<boost::json::object> pending_;
};

// What one reflector lists and watches; how (page size, timeouts, backoff) is the shared
// KubernetesSettings.
struct WatchTarget {
  std::string resource_path;   // "/api/v1/pods" or "/api/v1/namespaces/ns/configmaps"
  std::string field_selector;  // "spec.nodeName=node-a"; empty: none
  std::string label_selector;
};

struct ReflectorStats {
  bool synced = false;          // a complete list has been delivered
  uint64_t lists = 0;           // complete lists delivered
  uint64_t relists = 0;         // lists after the first (410 Gone, errors)
  uint64_t watch_restarts = 0;  // watches re-opened (timeouts, drops, errors)
  uint64_t errors = 0;          // failed requests, error events, malformed lines
  uint64_t events = 0;          // ADDED/MODIFIED/DELETED applied
  uint64_t bookmarks = 0;
  std::string resource_version;          // last seen
  double last_list_seconds = 0;          // wall time of the last complete list, all pages
  double last_list_handler_seconds = 0;  // of which spent parsing and applying (ours)
  std::string last_error;
  std::chrono::system_clock::time_point last_event_at{};
  std::chrono::system_clock::time_point last_error_at{};
};

class Reflector {
 public:
  Reflector(boost::asio::io_context& io, KubeTransport& transport, WatchTarget target,
            const KubernetesSettings& settings, ReflectorHandler& handler);

  // Starts the list/watch loop; it runs until Stop().
  void Start();
  void Stop();

  const ReflectorStats& stats() const { return stats_; }
  const WatchTarget& target() const { return target_; }

 private:
  boost::asio::awaitable<void> Run();
  // Returns false (after recording why) if the list could not be completed.
  boost::asio::awaitable<bool> ListAll();
  // Watches until the stream must be re-listed (returns true) or re-opened (false).
  boost::asio::awaitable<bool> WatchOnce();
  boost::asio::awaitable<void> Backoff();
  std::string Query(bool watch, const std::string& continue_token);
  void RecordError(std::string message);
  // Runs a handler call; an exception from the cache becomes a recorded error (false), so
  // no input can end the list/watch loop or wedge it replaying one event.
  template <class Call>
  bool HandlerSucceeded(const char* stage, Call call);

  boost::asio::io_context& io_;
  KubeTransport& transport_;
  WatchTarget target_;
  KubernetesSettings settings_;
  ReflectorHandler& handler_;
  ReflectorStats stats_;
  std::mt19937_64 random_;
  uint32_t consecutive_failures_ = 0;
  std::shared_ptr<bool> stopped_ = std::make_shared<bool>(false);
  boost::asio::steady_timer backoff_timer_;
};

}  // namespace dg::k8s
