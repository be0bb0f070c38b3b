// Target (e): list pages and watch lines from a scripted transport through the real
// Reflector into the real PodCache, cross-checked against the static PodList rules: after
// any sequence of lists and events, the pod table the cache produced equals
// BuildPodTableEntries over the pods the cache was told about (last copy per UID).
//
// Input: lines, each "<kind><body>": 'P' a LIST page (its JSON body), 'E' a watch line,
// 'X' ends the current watch stream, 'G' answers the next request with 410 Gone. Every
// request consumes at least one line, so every input ends.
#include <boost/asio/io_context.hpp>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "control/pods.h"
#include "k8s-sync/caches.h"
#include "k8s-sync/reflector.h"
#include "tests/fuzz/fuzz_check.h"

namespace dg::k8s {
namespace {

struct Line {
  char kind;
  std::string body;
};

class ScriptedTransport : public KubeTransport {
 public:
  ScriptedTransport(boost::asio::io_context& io, std::deque<Line> script)
      : io_(io), script_(std::move(script)) {}
  void Attach(Reflector* reflector) { reflector_ = reflector; }

  boost::asio::awaitable<KubeResponse> Get(std::string) override {
    if (!script_.empty() && script_.front().kind == 'G') {
      script_.pop_front();
      co_return KubeResponse{410, R"({"kind":"Status","code":410})", ""};
    }
    if (script_.empty() || script_.front().kind != 'P') co_return Finish();
    KubeResponse response{200, std::move(script_.front().body), ""};
    script_.pop_front();
    co_return response;
  }

  boost::asio::awaitable<KubeResponse> Stream(std::string,
                                              std::function<bool(std::string_view)> on_line,
                                              std::chrono::milliseconds) override {
    // Anything but watch lines, a stream end or a 410 ends the script: a request that
    // consumed nothing would be repeated forever.
    if (script_.empty() ||
        std::string_view("EXG").find(script_.front().kind) == std::string_view::npos) {
      co_return Finish();
    }
    while (!script_.empty() && script_.front().kind == 'E') {
      const std::string line = std::move(script_.front().body);
      script_.pop_front();
      if (!on_line(line)) co_return KubeResponse{200, "", ""};
    }
    if (!script_.empty() && script_.front().kind == 'X') script_.pop_front();
    if (!script_.empty() && script_.front().kind == 'G') {
      script_.pop_front();
      co_return KubeResponse{410, "", ""};
    }
    co_return KubeResponse{200, "", ""};
  }

  std::string Describe() const override { return "fuzz://scripted"; }

 private:
  KubeResponse Finish() {
    script_.clear();
    reflector_->Stop();
    io_.stop();
    return KubeResponse{0, "", "script exhausted"};
  }

  boost::asio::io_context& io_;
  std::deque<Line> script_;
  Reflector* reflector_ = nullptr;
};

class TableSink : public PodTableSink {
 public:
  void ReplaceAll(const std::vector<PodTableEntry>& entries) override {
    table.clear();
    for (const PodTableEntry& entry : entries) Upsert(entry);
  }
  void Upsert(const PodTableEntry& entry) override {
    table[FormatPodAddress(entry.address.key)] = entry.namespace_name + "/" + entry.pod_name;
  }
  void Erase(const dg_pod_key& key) override { table.erase(FormatPodAddress(key)); }
  std::map<std::string, std::string> table;
};

class IgnoreLag : public SyncLagObserver {
 public:
  void ObserveSyncLag(double) override {}
};

// Forwards to the cache, and keeps the model: the pods it was told about, by UID.
class MirroringHandler : public ReflectorHandler {
 public:
  explicit MirroringHandler(PodCache& cache) : cache_(cache) {}

  void BeginList() override {
    listed_.clear();
    Forward([&] { cache_.BeginList(); });
  }
  void OnListed(boost::json::object&& item) override {
    if (auto record = DecodePod(item)) listed_.push_back(std::move(*record));
    Forward([&] { cache_.OnListed(std::move(item)); });
  }
  void EndList() override {
    model.clear();
    for (PodRecord& record : listed_) model[record.uid] = std::move(record);
    listed_.clear();
    Forward([&] { cache_.EndList(); });
  }
  void AbortList() override {
    listed_.clear();
    Forward([&] { cache_.AbortList(); });
  }
  void OnReplace(std::vector<boost::json::object>) override {
    FUZZ_CHECK(false, "the reflector bypassed the paged list");
  }
  void OnEvent(WatchEventType type, const boost::json::object& object,
               std::chrono::steady_clock::time_point received) override {
    if (auto record = DecodePod(object)) {
      if (type == WatchEventType::kDeleted) {
        model.erase(record->uid);
      } else {
        model[record->uid] = std::move(*record);
      }
    }
    Forward([&] { cache_.OnEvent(type, object, received); });
  }

  std::map<std::string, PodRecord> model;

 private:
  template <class Call>
  void Forward(Call call) {
    try {
      call();
    } catch (const std::exception& exception) {
      FUZZ_CHECK(false, "the pod cache threw: %s", exception.what());
    }
  }

  PodCache& cache_;
  std::vector<PodRecord> listed_;
};

std::deque<Line> ParseScript(std::string_view text) {
  std::deque<Line> script;
  while (!text.empty()) {
    const size_t end = text.find('\n');
    const std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    if (!line.empty()) script.push_back(Line{line[0], std::string(line.substr(1))});
  }
  return script;
}

}  // namespace
}  // namespace dg::k8s

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace dg;
  using namespace dg::k8s;
  boost::asio::io_context io;
  ScriptedTransport transport(io, ParseScript(fuzz::AsText(data, size)));
  TableSink sink;
  IgnoreLag lag;
  PodCache cache(sink, lag);
  MirroringHandler handler(cache);
  KubernetesSettings settings;
  settings.backoff_initial = std::chrono::milliseconds(1);
  settings.backoff_max = std::chrono::milliseconds(1);
  settings.random_seed = 1;
  Reflector reflector(io, transport, WatchTarget{"/api/v1/pods", "spec.nodeName=node-a", ""},
                      settings, handler);
  transport.Attach(&reflector);
  reflector.Start();
  io.run();

  std::vector<PodRecord> pods;
  for (const auto& [uid, record] : handler.model) pods.push_back(record);
  std::map<std::string, std::string> expected;
  for (const PodTableEntry& entry : BuildPodTableEntries(pods)) {
    expected[FormatPodAddress(entry.address.key)] = entry.namespace_name + "/" + entry.pod_name;
  }
  FUZZ_CHECK(sink.table == expected,
             "the cache's table (%zu addresses) differs from the "
             "PodList rules' (%zu addresses)",
             sink.table.size(), expected.size());
  FUZZ_CHECK(cache.pod_count() == handler.model.size(), "cache holds %zu pods, model %zu",
             cache.pod_count(), handler.model.size());
  return 0;
}
