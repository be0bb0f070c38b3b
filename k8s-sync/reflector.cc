#include "k8s-sync/reflector.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>

#include "control/log.h"
#include "k8s-sync/json_fields.h"

namespace dg::k8s {
namespace {

std::string Encode(const std::string& value) {
  return boost::urls::encode(value, boost::urls::unreserved_chars);
}

// Transport failures carry their own words even when a 200 head had already arrived
// (idle timeout, oversized line); HTTP failures are described by status and body.
std::string Describe(const KubeResponse& response) {
  if (!response.error.empty()) return response.error;
  return "HTTP " + std::to_string(response.status) + ": " + response.body.substr(0, 300);
}

int64_t StatusCode(const boost::json::object& status) {
  const boost::json::value* code = status.if_contains("code");
  return code != nullptr && code->is_int64() ? code->get_int64() : 0;
}

// "ADDED" -> kAdded, ...; false for anything else.
bool ParseWatchEventType(std::string_view text, WatchEventType* type) {
  if (text == "ADDED") {
    *type = WatchEventType::kAdded;
  } else if (text == "MODIFIED") {
    *type = WatchEventType::kModified;
  } else if (text == "DELETED") {
    *type = WatchEventType::kDeleted;
  } else {
    return false;
  }
  return true;
}

}  // namespace

Reflector::Reflector(boost::asio::io_context& io, KubeTransport& transport, WatchTarget target,
                     const KubernetesSettings& settings, ReflectorHandler& handler)
    : io_(io),
      transport_(transport),
      target_(std::move(target)),
      settings_(settings),
      handler_(handler),
      random_(settings_.random_seed != 0 ? settings_.random_seed : std::random_device{}()),
      backoff_timer_(io) {}

void Reflector::Start() { boost::asio::co_spawn(io_, Run(), boost::asio::detached); }

void Reflector::Stop() {
  *stopped_ = true;
  backoff_timer_.cancel();
}

template <class Call>
bool Reflector::HandlerSucceeded(const char* stage, Call call) {
  try {
    call();
    return true;
  } catch (const std::exception& exception) {
    RecordError(std::string(stage) + ": the cache failed (" + exception.what() +
                "); relisting to rebuild it");
    return false;
  }
}

void Reflector::RecordError(std::string message) {
  ++stats_.errors;
  ++consecutive_failures_;
  stats_.last_error_at = std::chrono::system_clock::now();
  // One line per distinct failure: a server down for an hour is not an hour of logs.
  if (message != stats_.last_error) {
    DG_LOG_WARNING("k8s", "%s: %s", target_.resource_path.c_str(), message.c_str());
  }
  stats_.last_error = std::move(message);
}

std::string Reflector::Query(bool watch, const std::string& continue_token) {
  std::string query;
  auto add = [&query](const char* key, const std::string& value) {
    query += query.empty() ? '?' : '&';
    query += key;
    query += '=';
    query += Encode(value);
  };
  if (!target_.field_selector.empty()) add("fieldSelector", target_.field_selector);
  if (!target_.label_selector.empty()) add("labelSelector", target_.label_selector);
  if (watch) {
    add("watch", "1");
    add("resourceVersion", stats_.resource_version);
    add("allowWatchBookmarks", "true");
    const uint64_t base = static_cast<uint64_t>(settings_.watch_timeout.count());
    add("timeoutSeconds", std::to_string(base + (base == 0 ? 0 : random_() % base)));
  } else {
    add("limit", std::to_string(settings_.page_size));
    if (!continue_token.empty()) add("continue", continue_token);
  }
  return target_.resource_path + query;
}

boost::asio::awaitable<void> Reflector::Backoff() {
  const uint32_t exponent =
      std::min<uint32_t>(consecutive_failures_ == 0 ? 0 : consecutive_failures_ - 1, 16);
  const std::chrono::milliseconds ceiling = std::min<std::chrono::milliseconds>(
      settings_.backoff_max, settings_.backoff_initial * (1LL << exponent));
  // Full jitter in [ceiling/2, ceiling]: spreads reconnects of a fleet after an outage.
  const auto half = std::max<std::chrono::milliseconds>(ceiling / 2, std::chrono::milliseconds(1));
  const auto delay =
      half + std::chrono::milliseconds(
                 half.count() == 0
                     ? 0
                     : static_cast<int64_t>(random_() % static_cast<uint64_t>(half.count() + 1)));
  backoff_timer_.expires_after(delay);
  boost::system::error_code ignored;
  co_await backoff_timer_.async_wait(
      boost::asio::redirect_error(boost::asio::use_awaitable, ignored));
}

boost::asio::awaitable<bool> Reflector::ListAll() {
  using Clock = std::chrono::steady_clock;
  const Clock::time_point list_started = Clock::now();
  Clock::duration handler_time{};
  std::string continue_token;
  std::string list_version;
  handler_.BeginList();
  while (true) {
    const KubeResponse response = co_await transport_.Get(Query(false, continue_token));
    if (*stopped_) {
      handler_.AbortList();
      co_return false;
    }
    if (response.status == 410 && !continue_token.empty()) {
      // The continue token expired mid-list: start over for a consistent snapshot.
      RecordError("list continue token expired (410); listing again from the start");
      handler_.AbortList();
      handler_.BeginList();
      continue_token.clear();
      continue;
    }
    if (!response.ok()) {
      RecordError("list: " + Describe(response));
      handler_.AbortList();
      co_return false;
    }
    const Clock::time_point page_started = Clock::now();
    boost::system::error_code parse_error;
    boost::json::value document = boost::json::parse(response.body, parse_error);
    if (parse_error || !document.is_object()) {
      RecordError("list: malformed JSON: " + parse_error.message());
      handler_.AbortList();
      co_return false;
    }
    boost::json::object& list = document.as_object();
    const boost::json::object* metadata = ObjectAt(&list, "metadata");
    list_version = StringAt(metadata, "resourceVersion");
    continue_token = StringAt(metadata, "continue");
    if (boost::json::value* list_items = list.if_contains("items");
        list_items != nullptr && list_items->is_array()) {
      const bool listed = HandlerSucceeded("list", [&] {
        for (boost::json::value& item : list_items->as_array()) {
          if (item.is_object()) handler_.OnListed(std::move(item.as_object()));
        }
      });
      if (!listed) {
        handler_.AbortList();
        co_return false;
      }
    }
    handler_time += Clock::now() - page_started;
    if (continue_token.empty()) break;
  }
  const Clock::time_point apply_started = Clock::now();
  if (!HandlerSucceeded("list", [&] { handler_.EndList(); })) co_return false;
  stats_.resource_version = list_version;
  if (stats_.lists++ != 0) ++stats_.relists;
  handler_time += Clock::now() - apply_started;
  stats_.last_list_seconds = std::chrono::duration<double>(Clock::now() - list_started).count();
  stats_.last_list_handler_seconds = std::chrono::duration<double>(handler_time).count();
  stats_.synced = true;
  consecutive_failures_ = 0;
  co_return true;
}

boost::asio::awaitable<bool> Reflector::WatchOnce() {
  bool relist = false;
  bool stream_error = false;
  auto on_line = [&](std::string_view line) -> bool {
    const auto received = std::chrono::steady_clock::now();
    boost::system::error_code parse_error;
    boost::json::value event = boost::json::parse(line, parse_error);
    const boost::json::object* event_object = event.if_object();
    const boost::json::object* object = ObjectAt(event_object, "object");
    if (parse_error || object == nullptr) {
      // Events before it were applied; re-watch from the last good resourceVersion.
      RecordError("watch: malformed event line, re-watching from " + stats_.resource_version);
      stream_error = true;
      return false;
    }
    const std::string type = StringAt(event_object, "type");
    if (type == "ERROR") {
      if (StatusCode(*object) == 410) {
        RecordError("watch: resourceVersion " + stats_.resource_version +
                    " too old (410 Gone); relisting");
        relist = true;
      } else {
        RecordError("watch: error event: " + StringAt(object, "message"));
        stream_error = true;
      }
      return false;
    }
    const std::string version = StringAt(ObjectAt(object, "metadata"), "resourceVersion");
    if (type == "BOOKMARK") {
      ++stats_.bookmarks;
      consecutive_failures_ = 0;  // the server is answering: the next hiccup starts small
      if (!version.empty()) stats_.resource_version = version;
      return true;
    }
    WatchEventType event_type;
    if (!ParseWatchEventType(type, &event_type)) {
      RecordError("watch: unknown event type '" + type + "'");
      return true;
    }
    // A cache that throws may be half-updated, and replaying the event from the same
    // resourceVersion would throw again: only a fresh list puts it right.
    if (!HandlerSucceeded("watch", [&] { handler_.OnEvent(event_type, *object, received); })) {
      relist = true;
      return false;
    }
    ++stats_.events;
    stats_.last_event_at = std::chrono::system_clock::now();
    if (!version.empty()) stats_.resource_version = version;
    consecutive_failures_ = 0;
    return true;
  };
  const KubeResponse response =
      co_await transport_.Stream(Query(true, ""), on_line, settings_.idle_timeout);
  if (*stopped_ || relist) co_return relist;
  ++stats_.watch_restarts;
  if (response.status == 410) {
    RecordError("watch: 410 Gone; relisting");
    co_return true;
  }
  if (!response.ok() && !stream_error) {
    RecordError("watch: " + Describe(response));
  } else if (!stream_error && response.ok()) {
    consecutive_failures_ = 0;
    co_return false;  // the server ended the watch at timeoutSeconds: reopen at once
  }
  co_await Backoff();
  co_return false;
}

boost::asio::awaitable<void> Reflector::Run() {
  auto stopped = stopped_;  // outlives `this` being stopped mid-await
  while (!*stopped) {
    if (!co_await ListAll()) {
      if (*stopped) break;
      co_await Backoff();
      continue;
    }
    while (!*stopped) {
      if (co_await WatchOnce()) break;  // relist
    }
  }
}

}  // namespace dg::k8s
