// Shared by the reflector_test sources: API-server JSON builders, a scripted KubeTransport, a
// recording handler and the ReflectorTest fixture.
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "k8s-sync/kube_transport.h"
#include "k8s-sync/reflector.h"

namespace dg::k8s::reflector_test {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

using Params = std::map<std::string, std::string>;

// Only keeps a broken reflector from hanging the suite; no test measures time. The fake
// stops the reflector and the io_context as soon as its script is used up.
inline constexpr std::chrono::seconds kHangGuard{20};

// ---------------------------------------------------------------------------------------
// JSON the API server would send

inline std::string Quote(std::string_view text) {
  return boost::json::serialize(boost::json::value(text));
}

inline std::string PodJson(const std::string& name, const std::string& resource_version) {
  return R"({"kind":"Pod","metadata":{"name":)" + Quote(name) + R"(,"resourceVersion":)" +
         Quote(resource_version) + "}}";
}

inline std::string ListBody(const std::string& resource_version, const std::string& continue_token,
                            const std::vector<std::string>& names) {
  std::string items;
  for (const std::string& name : names) {
    if (!items.empty()) items += ',';
    items += PodJson(name, "1");
  }
  std::string metadata = R"({"resourceVersion":)" + Quote(resource_version);
  if (!continue_token.empty()) metadata += R"(,"continue":)" + Quote(continue_token);
  metadata += '}';
  return R"({"kind":"PodList","apiVersion":"v1","metadata":)" + metadata + R"(,"items":[)" + items +
         "]}";
}

inline std::string EventLine(const std::string& type, const std::string& name,
                             const std::string& resource_version) {
  return R"({"type":)" + Quote(type) + R"(,"object":)" + PodJson(name, resource_version) + "}";
}

inline std::string BookmarkLine(const std::string& resource_version) {
  return R"({"type":"BOOKMARK","object":{"kind":"Pod","metadata":{"resourceVersion":)" +
         Quote(resource_version) + "}}}";
}

inline std::string ErrorLine(int code) {
  return R"({"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","status":"Failure",)"
         R"json("message":"too old resource version: 1 (2)","reason":"Expired","code":)json" +
         std::to_string(code) + "}}";
}

inline KubeResponse Ok(std::string body = "") { return KubeResponse{200, std::move(body), ""}; }
inline KubeResponse Http(unsigned status, std::string body) {
  return KubeResponse{status, std::move(body), ""};
}
inline KubeResponse TransportError(std::string error) {
  return KubeResponse{0, "", std::move(error)};
}

// ---------------------------------------------------------------------------------------
// Target parsing

inline int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decoding; false on a malformed escape.
inline bool PercentDecode(std::string_view text, std::string* out) {
  out->clear();
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out->push_back(text[i]);
      continue;
    }
    if (i + 2 >= text.size()) return false;
    const int high = HexValue(text[i + 1]);
    const int low = HexValue(text[i + 2]);
    if (high < 0 || low < 0) return false;
    out->push_back(static_cast<char>(high * 16 + low));
    i += 2;
  }
  return true;
}

struct ParsedTarget {
  std::string path;
  Params params;
  std::string problem;  // empty when the target parsed
};

inline ParsedTarget ParseTarget(const std::string& target) {
  ParsedTarget parsed;
  const size_t question = target.find('?');
  parsed.path = target.substr(0, question);
  if (question == std::string::npos) return parsed;
  std::string_view query(target);
  query.remove_prefix(question + 1);
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    const size_t equals = pair.find('=');
    if (equals == std::string_view::npos) {
      parsed.problem = "parameter without '=': " + std::string(pair);
      return parsed;
    }
    std::string key;
    std::string value;
    if (!PercentDecode(pair.substr(0, equals), &key) ||
        !PercentDecode(pair.substr(equals + 1), &value)) {
      parsed.problem = "bad percent escape in: " + std::string(pair);
      return parsed;
    }
    if (!parsed.params.emplace(key, value).second) {
      parsed.problem = "repeated parameter: " + key;
      return parsed;
    }
  }
  return parsed;
}

// ---------------------------------------------------------------------------------------
// Scripted transport

enum class CallKind { kGet, kStream };

inline const char* KindName(CallKind kind) { return kind == CallKind::kGet ? "Get" : "Stream"; }

struct Step {
  CallKind kind = CallKind::kGet;
  Params params;  // exact, except timeoutSeconds (range-checked for every watch)
  KubeResponse response;
  std::vector<std::string> lines;  // Stream only
  std::function<void()> on_call;   // runs when the call arrives, before any line is fed
};

struct Call {
  CallKind kind = CallKind::kGet;
  std::string target;
  ParsedTarget parsed;
  int64_t timeout_seconds = -1;  // watches only
  // Whether the io_context ran a handler between the previous call and this one: false
  // means the reflector went straight from one request to the next (no backoff wait).
  bool io_ran_since_previous = false;
  size_t lines_delivered = 0;
  bool scripted = false;  // false: the call that found the script exhausted (or mismatched)
};

class FakeTransport : public KubeTransport {
 public:
  // `target` and `settings` are read when steps are added, so a test may change them first.
  FakeTransport(boost::asio::io_context& io, const WatchTarget& target,
                const KubernetesSettings& settings)
      : io_(io), target_(target), settings_(settings) {}

  void Attach(Reflector* reflector) { reflector_ = reflector; }

  // A LIST page: limit=page_size, continue=token (when non-empty), plus the selectors.
  Step& ExpectList(const std::string& continue_token, KubeResponse response) {
    Step step;
    step.kind = CallKind::kGet;
    step.params = SelectorParams();
    step.params["limit"] = std::to_string(settings_.page_size);
    if (!continue_token.empty()) step.params["continue"] = continue_token;
    step.response = std::move(response);
    return script_.emplace_back(std::move(step));
  }

  // A WATCH from `resource_version` that feeds `lines`, then ends with `end`.
  Step& ExpectWatch(const std::string& resource_version, std::vector<std::string> lines,
                    KubeResponse end = Ok()) {
    Step step;
    step.kind = CallKind::kStream;
    step.params = SelectorParams();
    step.params["watch"] = "1";
    step.params["resourceVersion"] = resource_version;
    step.params["allowWatchBookmarks"] = "true";
    step.lines = std::move(lines);
    step.response = std::move(end);
    return script_.emplace_back(std::move(step));
  }

  boost::asio::awaitable<KubeResponse> Get(std::string target) override {
    Step* step = Begin(CallKind::kGet, std::move(target));
    if (step == nullptr) co_return TransportError("script exhausted");
    if (step->on_call) step->on_call();
    co_return step->response;
  }

  boost::asio::awaitable<KubeResponse> Stream(std::string target,
                                              std::function<bool(std::string_view line)> on_line,
                                              std::chrono::milliseconds idle_timeout) override {
    Step* step = Begin(CallKind::kStream, std::move(target));
    if (step == nullptr) co_return TransportError("script exhausted");
    EXPECT_EQ(idle_timeout, settings_.idle_timeout);
    if (step->on_call) step->on_call();
    Call& call = calls_.back();
    for (const std::string& line : step->lines) {
      ++call.lines_delivered;
      // As the real client does: a reader that says stop ends the stream as a 200.
      if (!on_line(line)) co_return Ok();
    }
    co_return step->response;
  }

  std::string Describe() const override { return "fake://scripted"; }

  bool exhausted() const { return exhausted_; }
  size_t remaining() const { return script_.size(); }
  const std::vector<Call>& calls() const { return calls_; }
  // The scripted calls of one kind, in order.
  std::vector<const Call*> CallsOf(CallKind kind) const {
    std::vector<const Call*> result;
    for (const Call& call : calls_) {
      if (call.scripted && call.kind == kind) result.push_back(&call);
    }
    return result;
  }

 private:
  Params SelectorParams() const {
    Params params;
    if (!target_.field_selector.empty()) params["fieldSelector"] = target_.field_selector;
    if (!target_.label_selector.empty()) params["labelSelector"] = target_.label_selector;
    return params;
  }

  void Finish() {
    exhausted_ = true;
    if (reflector_ != nullptr) reflector_->Stop();
    io_.stop();
  }

  // Records the call, checks it against the next step and returns that step; nullptr
  // (after stopping everything) when the script is used up or the call is not the one
  // expected.
  Step* Begin(CallKind kind, std::string target) {
    Call& call = calls_.emplace_back();
    call.kind = kind;
    call.target = std::move(target);
    call.parsed = ParseTarget(call.target);
    call.io_ran_since_previous = markers_run_ == markers_posted_;
    ++markers_posted_;
    boost::asio::post(io_, [this] { ++markers_run_; });
    if (script_.empty()) {
      Finish();
      return nullptr;
    }
    current_ = std::move(script_.front());
    script_.pop_front();
    const size_t index = calls_.size() - 1;
    bool matches = true;
    auto fail = [&](const std::string& why) {
      ADD_FAILURE() << "call #" << index << " " << KindName(kind) << " " << call.target << ": "
                    << why;
      matches = false;
    };
    if (kind != current_.kind) fail(std::string("expected a ") + KindName(current_.kind));
    if (!call.parsed.problem.empty()) fail(call.parsed.problem);
    if (call.parsed.path != target_.resource_path) fail("path is not " + target_.resource_path);
    Params params = call.parsed.params;
    if (kind == CallKind::kStream) {
      auto timeout = params.find("timeoutSeconds");
      if (timeout == params.end()) {
        fail("watch without timeoutSeconds");
      } else {
        call.timeout_seconds = std::stoll(timeout->second);
        const int64_t base = settings_.watch_timeout.count();
        if (call.timeout_seconds < base || call.timeout_seconds >= 2 * base) {
          fail("timeoutSeconds " + timeout->second + " outside [" + std::to_string(base) + ", " +
               std::to_string(2 * base) + ")");
        }
        params.erase(timeout);
      }
    }
    if (params != current_.params) {
      std::string want;
      for (const auto& [key, value] : current_.params) want += " " + key + "=" + value;
      fail("parameters differ; expected:" + want);
    }
    if (!matches) {
      Finish();
      return nullptr;
    }
    call.scripted = true;
    return &current_;
  }

  boost::asio::io_context& io_;
  const WatchTarget& target_;
  const KubernetesSettings& settings_;
  Reflector* reflector_ = nullptr;
  std::deque<Step> script_;
  Step current_;
  std::vector<Call> calls_;
  uint64_t markers_posted_ = 0;
  uint64_t markers_run_ = 0;
  bool exhausted_ = false;
};

// ---------------------------------------------------------------------------------------
// Recording handler

struct RecordedEvent {
  WatchEventType type;
  std::string name;
  std::string resource_version;
  bool operator==(const RecordedEvent&) const = default;
};

inline std::ostream& operator<<(std::ostream& out, const RecordedEvent& event) {
  const char* type = event.type == WatchEventType::kAdded      ? "ADDED"
                     : event.type == WatchEventType::kModified ? "MODIFIED"
                                                               : "DELETED";
  return out << type << " " << event.name << "@" << event.resource_version;
}

inline std::string MetadataString(const boost::json::object& object, std::string_view key) {
  const boost::json::value* metadata = object.if_contains("metadata");
  if (metadata == nullptr || !metadata->is_object()) return "";
  const boost::json::value* value = metadata->as_object().if_contains(key);
  return value != nullptr && value->is_string() ? std::string(value->get_string()) : "";
}

class RecordingHandler : public ReflectorHandler {
 public:
  void OnReplace(std::vector<boost::json::object> items) override {
    if (std::exchange(throw_on_next_replace, false)) throw std::runtime_error("cache failed");
    std::vector<std::string> names;
    for (const boost::json::object& item : items) names.push_back(MetadataString(item, "name"));
    replaces.push_back(std::move(names));
  }
  void OnEvent(WatchEventType type, const boost::json::object& object,
               std::chrono::steady_clock::time_point) override {
    if (MetadataString(object, "name") == throw_on_event_for) {
      throw std::out_of_range("unordered_map::at");  // what a broken cache threw
    }
    events.push_back(
        {type, MetadataString(object, "name"), MetadataString(object, "resourceVersion")});
  }

  std::vector<std::vector<std::string>> replaces;  // item names of each OnReplace
  std::vector<RecordedEvent> events;
  std::string throw_on_event_for;  // an event for the pod of this name throws
  bool throw_on_next_replace = false;
};

// ---------------------------------------------------------------------------------------

class ReflectorTest : public ::testing::Test {
 protected:
  ReflectorTest() {
    target_.resource_path = "/api/v1/pods";
    settings_.page_size = 500;
    settings_.watch_timeout = std::chrono::seconds(300);
    settings_.idle_timeout = std::chrono::seconds(90);
    settings_.backoff_initial = std::chrono::milliseconds(2);
    settings_.backoff_max = std::chrono::milliseconds(4);
    settings_.random_seed = 20240513;
  }

  // Starts the reflector and runs until the fake has played its whole script.
  void Run() {
    reflector_ = std::make_unique<Reflector>(io_, fake_, target_, settings_, handler_);
    fake_.Attach(reflector_.get());
    reflector_->Start();
    io_.run_for(kHangGuard);
    ASSERT_TRUE(fake_.exhausted()) << "the reflector stopped calling the transport";
    EXPECT_EQ(fake_.remaining(), 0u);
  }

  const ReflectorStats& stats() const { return reflector_->stats(); }

  // The list most tests start from: one page, one pod, resourceVersion 100.
  void ExpectInitialList() { fake_.ExpectList("", Ok(ListBody("100", "", {"pod-a"}))); }

  boost::asio::io_context io_;
  WatchTarget target_;
  KubernetesSettings settings_;
  FakeTransport fake_{io_, target_, settings_};
  RecordingHandler handler_;
  std::unique_ptr<Reflector> reflector_;
};

}  // namespace dg::k8s::reflector_test
