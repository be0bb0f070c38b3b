// dscpctl: command-line client for dscp-gateway's read-only REST API. Shows health and
// policy status, live rates (two /v1/stats samples apart), the pod table and the policy;
// --json passes the documents through for scripts. Plain HTTP/1.1 only: the API listens
// on a local address (default 127.0.0.1:9470).
#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>
#include <cctype>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;

constexpr int kExitOk = 0;
constexpr int kExitNotHealthy = 1;  // status: the gateway answered, but is stalled or not ready
constexpr int kExitUsage = 2;
constexpr int kExitUnreachable = 3;  // no connection, or no answer in time
constexpr int kExitBadResponse = 4;  // an HTTP error status, or a body that is not the API's JSON

constexpr const char* kDefaultEndpoint = "http://127.0.0.1:9470";
constexpr uint16_t kDefaultPort = 9470;
// /v1/pods of a full pod table (262144 entries) is about 40 MB.
constexpr uint64_t kBodyLimitBytes = 256ull << 20;

constexpr const char* kUsage =
    R"(usage: dscpctl [--endpoint URL] [--json] [--interval SECONDS] [--timeout SECONDS] COMMAND

Query a running dscp-gateway through its read-only REST API.

commands:
  status    health, readiness, uptime, policy source/hash/reloads, pod table fill, shaper,
            Kubernetes sync
  stats     rates from two /v1/stats samples --interval apart: per port, per class
            (throughput, drops, queue depth, sojourn), per namespace, unclassified frames
  pods      the pod table: ip, namespace, pod, class, dscp (sorted by namespace, pod)
  policy    priority classes, namespace mappings and reload status

options:
  --endpoint URL      REST address of the gateway, http://HOST[:PORT][/PREFIX]
                      (default $DSCPCTL_ENDPOINT, else http://127.0.0.1:9470; PORT defaults
                      to 9470; https is not supported)
  --json              print the endpoint JSON instead of tables (stats: both samples and
                      the computed rates as one object; status: every document it read)
  --interval SECONDS  stats: time between the two samples (default 1)
  --timeout SECONDS   connect + request + response budget per request (default 2)
  -h, --help          this text

exit status: 0 ok; 1 status found the gateway not healthy or not ready; 2 bad usage;
3 gateway not reachable (or no answer in time); 4 HTTP error status or unexpected body.
)";

// ---------------------------------------------------------------------------------------
// Formatting helpers.

[[gnu::format(printf, 1, 2)]] std::string Format(const char* format, ...) {
  va_list args;
  va_start(args, format);
  va_list copy;
  va_copy(copy, args);
  const int length = std::vsnprintf(nullptr, 0, format, copy);
  va_end(copy);
  std::string text(length > 0 ? static_cast<size_t>(length) : 0, '\0');
  if (length > 0) std::vsnprintf(text.data(), text.size() + 1, format, args);
  va_end(args);
  return text;
}

// Columns count code points, so "µs" is as wide as "us".
size_t DisplayWidth(std::string_view text) {
  size_t width = 0;
  for (unsigned char c : text) {
    if ((c & 0xC0) != 0x80) ++width;
  }
  return width;
}

std::string Seconds(double seconds) { return Format("%g s", seconds); }

std::string Duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  if (seconds < 60) return Format("%.1fs", seconds);
  auto total = static_cast<uint64_t>(seconds);
  const uint64_t days = total / 86400;
  const uint64_t hours = total / 3600 % 24;
  const uint64_t minutes = total / 60 % 60;
  const uint64_t secs = total % 60;
  if (days > 0) {
    return Format("%" PRIu64 "d%02" PRIu64 "h%02" PRIu64 "m%02" PRIu64 "s", days, hours, minutes,
                  secs);
  }
  if (hours > 0) return Format("%" PRIu64 "h%02" PRIu64 "m%02" PRIu64 "s", hours, minutes, secs);
  return Format("%" PRIu64 "m%02" PRIu64 "s", minutes, secs);
}

std::string BitRate(double bits_per_second) {
  if (bits_per_second >= 1e9) return Format("%g Gbit/s", bits_per_second / 1e9);
  if (bits_per_second >= 1e6) return Format("%g Mbit/s", bits_per_second / 1e6);
  if (bits_per_second >= 1e3) return Format("%g kbit/s", bits_per_second / 1e3);
  return Format("%g bit/s", bits_per_second);
}

std::string Count(uint64_t value) { return Format("%" PRIu64, value); }
std::string Pps(double value) { return Format("%.1f", value); }
std::string Mbps(double value) { return Format("%.3f", value); }

// Standard per-hop behaviour names (RFC 2474, 2597, 3246, 5865).
std::string PhbName(int64_t dscp) {
  if (dscp == 0) return "CS0 (best effort)";
  if (dscp == 46) return "EF";
  if (dscp == 44) return "VOICE-ADMIT";
  if (dscp > 0 && dscp < 64 && dscp % 8 == 0) return Format("CS%" PRId64, dscp / 8);
  if (dscp >= 10 && dscp <= 38 && dscp % 2 == 0) {
    const int64_t drop = dscp % 8 / 2;
    if (drop >= 1 && drop <= 3) return Format("AF%" PRId64 "%" PRId64, dscp / 8, drop);
  }
  return "-";
}

// Aligned columns; text left, numbers right.
class Table {
 public:
  struct Column {
    std::string header;
    bool right = false;
  };

  explicit Table(std::vector<Column> columns) : columns_(std::move(columns)) {}

  void AddRow(std::vector<std::string> cells) {
    cells.resize(columns_.size());
    rows_.push_back(std::move(cells));
  }

  bool empty() const { return rows_.empty(); }

  void Print(std::FILE* out) const {
    std::vector<size_t> widths(columns_.size());
    for (size_t c = 0; c < columns_.size(); ++c) {
      widths[c] = DisplayWidth(columns_[c].header);
      for (const auto& row : rows_) widths[c] = std::max(widths[c], DisplayWidth(row[c]));
    }
    auto print_row = [&](auto cell_of) {
      std::string line;
      for (size_t c = 0; c < columns_.size(); ++c) {
        const std::string& cell = cell_of(c);
        const std::string padding(widths[c] - DisplayWidth(cell), ' ');
        if (c > 0) line += "  ";
        line += columns_[c].right ? padding + cell : cell + padding;
      }
      while (!line.empty() && line.back() == ' ') line.pop_back();
      std::fprintf(out, "%s\n", line.c_str());
    };
    print_row([&](size_t c) -> const std::string& { return columns_[c].header; });
    for (const auto& row : rows_) {
      print_row([&](size_t c) -> const std::string& { return row[c]; });
    }
  }

 private:
  std::vector<Column> columns_;
  std::vector<std::vector<std::string>> rows_;
};

// Label: value lines with the values aligned.
class Fields {
 public:
  void Add(std::string label, std::string value) {
    lines_.emplace_back(std::move(label), std::move(value));
  }
  void Print(std::FILE* out) const {
    size_t width = 0;
    for (const auto& [label, value] : lines_) width = std::max(width, DisplayWidth(label));
    for (const auto& [label, value] : lines_) {
      std::fprintf(out, "%s:%s %s\n", label.c_str(),
                   std::string(width - DisplayWidth(label), ' ').c_str(), value.c_str());
    }
  }

 private:
  std::vector<std::pair<std::string, std::string>> lines_;
};

// ---------------------------------------------------------------------------------------
// Lenient JSON access: a field the gateway does not send reads as 0 / "".

const json::value* Field(const json::value* value, std::initializer_list<std::string_view> path) {
  for (std::string_view key : path) {
    const json::object* object = value ? value->if_object() : nullptr;
    value = object ? object->if_contains(key) : nullptr;
  }
  return value;
}

double Number(const json::value* value) {
  if (value == nullptr) return 0;
  if (const int64_t* i = value->if_int64()) return static_cast<double>(*i);
  if (const uint64_t* u = value->if_uint64()) return static_cast<double>(*u);
  if (const double* d = value->if_double()) return *d;
  return 0;
}

uint64_t Unsigned(const json::value* value) {
  if (value == nullptr) return 0;
  if (const int64_t* i = value->if_int64()) return *i < 0 ? 0 : static_cast<uint64_t>(*i);
  if (const uint64_t* u = value->if_uint64()) return *u;
  if (const double* d = value->if_double()) return *d <= 0 ? 0 : static_cast<uint64_t>(*d);
  return 0;
}

std::string Text(const json::value* value) {
  if (value == nullptr || value->is_null()) return "";
  if (const json::string* s = value->if_string()) return std::string(*s);
  return json::serialize(*value);
}

bool Bool(const json::value* value) {
  if (value == nullptr) return false;
  if (const bool* b = value->if_bool()) return *b;
  return Number(value) != 0;
}

const json::array& Array(const json::value* value) {
  static const json::array kEmpty;
  const json::array* array = value ? value->if_array() : nullptr;
  return array ? *array : kEmpty;
}

const json::object& Object(const json::value* value) {
  static const json::object kEmpty;
  const json::object* object = value ? value->if_object() : nullptr;
  return object ? *object : kEmpty;
}

std::string NumberOrDash(const json::value* value) {
  return value == nullptr || value->is_null() ? std::string("-") : Format("%.1f", Number(value));
}

std::string OrDash(std::string text) { return text.empty() ? "-" : text; }

// ---------------------------------------------------------------------------------------
// Endpoint and HTTP client.

struct Endpoint {
  std::string host;  // name or address; IPv6 without brackets
  uint16_t port = kDefaultPort;
  std::string base_path;  // "" or "/prefix", for a gateway behind a path-routing proxy
  std::string display;    // http://host:port[/prefix]
};

struct Failure {
  int exit_code = 0;
  std::string message;
};

bool ParseEndpoint(const std::string& text, Endpoint* endpoint, std::string* error) {
  if (text.empty()) {
    *error = "--endpoint is empty";
    return false;
  }
  const std::string candidate =
      text.find("://") == std::string::npos ? std::string("http://") + text : text;
  auto parsed = boost::urls::parse_uri(candidate);
  if (!parsed) {
    *error = "'" + text + "' is not a URL (expected http://HOST:PORT)";
    return false;
  }
  const boost::urls::url_view url = *parsed;
  std::string scheme(url.scheme());
  std::transform(scheme.begin(), scheme.end(), scheme.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (scheme == "https") {
    *error = "'" + text +
             "': https is not supported; the gateway's REST API is plain HTTP on a local address "
             "(use http://, or an SSH tunnel to reach a remote node)";
    return false;
  }
  if (scheme != "http") {
    *error = "'" + text + "': unsupported scheme '" + scheme + "' (expected http://HOST:PORT)";
    return false;
  }
  if (url.has_userinfo() || url.has_query() || url.has_fragment()) {
    *error = "'" + text + "': only http://HOST[:PORT][/PREFIX] is accepted";
    return false;
  }
  // host_address() is the address without IPv6 brackets; IPvFuture is not accepted.
  const auto host_type = url.host_type();
  endpoint->host = host_type == boost::urls::host_type::ipv4 ||
                           host_type == boost::urls::host_type::ipv6 ||
                           host_type == boost::urls::host_type::name
                       ? url.host_address()
                       : std::string();
  if (endpoint->host.empty()) {
    *error = "'" + text + "': no host (expected http://HOST:PORT)";
    return false;
  }
  endpoint->port = kDefaultPort;
  if (url.has_port() && !url.port().empty()) {
    // port_number() wraps modulo 2^16; check the digits ourselves.
    const std::string digits(url.port());
    char* end = nullptr;
    const unsigned long port = std::strtoul(digits.c_str(), &end, 10);
    if (*end != '\0' || port == 0 || port > 65535) {
      *error = "'" + text + "': port must be 1-65535";
      return false;
    }
    endpoint->port = static_cast<uint16_t>(port);
  }
  endpoint->base_path = std::string(url.encoded_path());
  while (!endpoint->base_path.empty() && endpoint->base_path.back() == '/') {
    endpoint->base_path.pop_back();
  }
  const bool ipv6 = url.host_type() == boost::urls::host_type::ipv6;
  endpoint->display = "http://" + (ipv6 ? "[" + endpoint->host + "]" : endpoint->host) + ":" +
                      std::to_string(endpoint->port) + endpoint->base_path;
  return true;
}

struct Response {
  unsigned status = 0;
  std::string reason;
  std::string body;
};

// One request's state, owned by the caller while the io_context runs the coroutine.
struct Exchange {
  tcp::resolver::results_type addresses;
  http::request<http::empty_body> request;
  std::chrono::steady_clock::time_point deadline;
  http::response_parser<http::string_body> parser;
  bool connected = false;
  boost::system::error_code error;
};

asio::awaitable<void> RunExchange(Exchange* exchange) {
  beast::tcp_stream stream(co_await asio::this_coro::executor);
  auto token = asio::redirect_error(asio::use_awaitable, exchange->error);
  // One budget for the whole exchange: the stream closes itself when it runs out.
  stream.expires_at(exchange->deadline);
  co_await stream.async_connect(exchange->addresses, token);
  if (exchange->error) co_return;
  exchange->connected = true;
  stream.expires_at(exchange->deadline);
  co_await http::async_write(stream, exchange->request, token);
  if (exchange->error) co_return;
  beast::flat_buffer buffer;
  stream.expires_at(exchange->deadline);
  co_await http::async_read(stream, buffer, exchange->parser, token);
  if (exchange->error) co_return;
  boost::system::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
}

class Client {
 public:
  Client(Endpoint endpoint, double timeout_seconds)
      : endpoint_(std::move(endpoint)),
        timeout_seconds_(timeout_seconds),
        timeout_(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
            std::chrono::duration<double>(timeout_seconds))) {}

  const Endpoint& endpoint() const { return endpoint_; }

  // GET base_path + path. Any HTTP status is a response; only transport problems fail.
  bool Get(const std::string& path, Response* response, Failure* failure) {
    const std::string unreachable_hint = " (is it running? --endpoint?)";
    asio::io_context io;
    Exchange exchange;
    exchange.deadline = std::chrono::steady_clock::now() + timeout_;
    boost::system::error_code error;
    tcp::resolver resolver(io);
    exchange.addresses = resolver.resolve(endpoint_.host, std::to_string(endpoint_.port),
                                          tcp::resolver::numeric_service, error);
    if (error) {
      *failure = {kExitUnreachable, "cannot reach dscp-gateway at " + endpoint_.display +
                                        ": cannot resolve '" + endpoint_.host +
                                        "': " + error.message() + unreachable_hint};
      return false;
    }
    const std::string target = endpoint_.base_path + path;
    exchange.request = http::request<http::empty_body>(http::verb::get, target, 11);
    exchange.request.set(http::field::host, HostHeader());
    exchange.request.set(http::field::user_agent, "dscpctl/0.1");
    exchange.request.set(http::field::accept, "application/json, text/plain");
    exchange.request.set(http::field::connection, "close");
    exchange.parser.body_limit(kBodyLimitBytes);
    asio::co_spawn(io, RunExchange(&exchange), asio::detached);
    io.run();

    if (exchange.error) {
      const bool timed_out = exchange.error == beast::error::timeout;
      if (!exchange.connected) {
        const std::string why = timed_out
                                    ? "connection timed out after " + Seconds(timeout_seconds_)
                                    : exchange.error.message();
        *failure = {kExitUnreachable, "cannot reach dscp-gateway at " + endpoint_.display + ": " +
                                          why + unreachable_hint};
      } else if (timed_out) {
        *failure = {kExitUnreachable, "dscp-gateway at " + endpoint_.display +
                                          " did not answer GET " + target + " within " +
                                          Seconds(timeout_seconds_) + " (--timeout?)"};
      } else if (exchange.error.category() ==
                     http::make_error_code(http::error::end_of_stream).category() &&
                 exchange.error != http::error::end_of_stream) {
        *failure = {kExitBadResponse, "GET " + endpoint_.display + path +
                                          ": malformed HTTP response: " + exchange.error.message()};
      } else {
        *failure = {kExitUnreachable,
                    "GET " + endpoint_.display + path +
                        ": connection lost before the response: " + exchange.error.message()};
      }
      return false;
    }
    auto& message = exchange.parser.get();
    response->status = message.result_int();
    response->reason = std::string(message.reason());
    response->body = std::move(message.body());
    return true;
  }

  // GET and parse a JSON document. 2xx is required, and 503 is accepted when
  // `accept_unavailable` (/healthz and /readyz say "no" with 503 and a JSON body).
  bool GetJson(const std::string& path, bool accept_unavailable, json::value* document,
               Failure* failure) {
    Response response;
    if (!Get(path, &response, failure)) return false;
    const bool ok = (response.status >= 200 && response.status < 300) ||
                    (accept_unavailable && response.status == 503);
    if (!ok) {
      std::string detail = response.body.substr(0, response.body.find('\n'));
      if (detail.size() > 200) detail = detail.substr(0, 200) + "...";
      *failure = {kExitBadResponse, "GET " + endpoint_.display + path + ": HTTP " +
                                        std::to_string(response.status) +
                                        (response.reason.empty() ? "" : " " + response.reason) +
                                        (detail.empty() ? "" : ": " + detail)};
      return false;
    }
    boost::system::error_code error;
    *document = json::parse(response.body, error);
    if (error || !document->is_object()) {
      *failure = {kExitBadResponse, "GET " + endpoint_.display + path +
                                        ": response is not a JSON object" +
                                        (error ? " (" + error.message() + ")" : std::string())};
      return false;
    }
    return true;
  }

 private:
  std::string HostHeader() const {
    const bool ipv6 = endpoint_.host.find(':') != std::string::npos;
    return (ipv6 ? "[" + endpoint_.host + "]" : endpoint_.host) + ":" +
           std::to_string(endpoint_.port);
  }

  Endpoint endpoint_;
  double timeout_seconds_;
  std::chrono::steady_clock::duration timeout_;
};

int Fail(const Failure& failure) {
  std::fprintf(stderr, "dscpctl: %s\n", failure.message.c_str());
  return failure.exit_code;
}

void PrintJson(const json::value& document) {
  std::fprintf(stdout, "%s\n", json::serialize(document).c_str());
}

// ---------------------------------------------------------------------------------------
// Commands.

struct Options {
  std::string endpoint;
  bool json = false;
  double interval_seconds = 1.0;
  double timeout_seconds = 2.0;
  std::string command;
};

std::string ShaperText(const json::value& stats) {
  const double rate = Number(Field(&stats, {"shaper", "rate_bps"}));
  if (rate <= 0) return "off (strict priority only)";
  return BitRate(rate) + Format(" (framing overhead %" PRIu64 " B/frame)",
                                Unsigned(Field(&stats, {"shaper", "framing_overhead_bytes"})));
}

// Kubernetes sync (stats.kubernetes), when the gateway is new enough to report it.
void AddKubernetesFields(const json::value& stats, Fields* fields) {
  const json::value* kubernetes = Field(&stats, {"kubernetes"});
  if (kubernetes == nullptr) return;
  if (!Bool(Field(kubernetes, {"enabled"}))) {
    fields->Add("kubernetes", "off (pods from the static file)");
    return;
  }
  fields->Add("kubernetes",
              std::string(Bool(Field(kubernetes, {"synced"})) ? "synced" : "NOT synced") +
                  " with " + OrDash(Text(Field(kubernetes, {"server"}))) + ", " +
                  Count(Unsigned(Field(kubernetes, {"pods_cached"}))) + " pods cached, " +
                  Count(Unsigned(Field(kubernetes, {"rejected_objects"}))) + " objects rejected, " +
                  Format("mean lag %.3f s", Number(Field(kubernetes, {"sync_lag_mean_seconds"}))));
  for (const json::value& watch : Array(Field(kubernetes, {"watches"}))) {
    std::string line = std::string(Bool(Field(&watch, {"synced"})) ? "synced" : "NOT synced") +
                       ", " + Count(Unsigned(Field(&watch, {"events"}))) + " events, " +
                       Count(Unsigned(Field(&watch, {"relists"}))) + " relists, " +
                       Count(Unsigned(Field(&watch, {"errors"}))) + " errors";
    const std::string last_error = Text(Field(&watch, {"last_error"}));
    if (!last_error.empty()) {
      const std::string at = Text(Field(&watch, {"last_error_at"}));
      line += "; last: " + last_error + (at.empty() ? "" : " (at " + at + ")");
    }
    fields->Add("  watch", Text(Field(&watch, {"resource"})) + ": " + line);
  }
}

int Status(Client& client, const Options& options) {
  json::value health, ready, stats, policy;
  Failure failure;
  if (!client.GetJson("/healthz", true, &health, &failure) ||
      !client.GetJson("/readyz", true, &ready, &failure) ||
      !client.GetJson("/v1/stats", false, &stats, &failure) ||
      !client.GetJson("/v1/policy", false, &policy, &failure)) {
    return Fail(failure);
  }
  const bool healthy = Text(Field(&health, {"status"})) == "ok";
  const bool is_ready = Bool(Field(&ready, {"ready"}));
  if (options.json) {
    PrintJson(json::object{{"endpoint", client.endpoint().display},
                           {"healthz", health},
                           {"readyz", ready},
                           {"stats", stats},
                           {"policy", policy}});
    return healthy && is_ready ? kExitOk : kExitNotHealthy;
  }

  Fields fields;
  fields.Add("endpoint", client.endpoint().display);
  fields.Add("health", Text(Field(&health, {"status"})) + " (worker heartbeat " +
                           Count(Unsigned(Field(&health, {"heartbeat"}))) + ")");
  const std::string reason = Text(Field(&ready, {"reason"}));
  fields.Add("readiness",
             is_ready ? std::string("ready") : "not ready: " + (reason.empty() ? "?" : reason));
  fields.Add("uptime", Duration(Number(Field(&stats, {"uptime_seconds"}))));
  fields.Add("policy", Text(Field(&policy, {"source"})));
  fields.Add("policy hash", OrDash(Text(Field(&policy, {"content_hash"}))) + ", generation " +
                                Count(Unsigned(Field(&policy, {"generation"}))) + ", loaded " +
                                OrDash(Text(Field(&policy, {"loaded_at"}))));
  fields.Add("policy reloads", Count(Unsigned(Field(&policy, {"reloads"}))) + " applied, " +
                                   Count(Unsigned(Field(&policy, {"reload_errors"}))) +
                                   " rejected");
  const std::string last_error = Text(Field(&policy, {"last_reload_error"}));
  const std::string last_error_at = Text(Field(&policy, {"last_reload_error_at"}));
  if (!last_error.empty()) {
    fields.Add("last reload error",
               last_error + (last_error_at.empty() ? "" : " (at " + last_error_at + ")"));
  } else if (!last_error_at.empty()) {
    fields.Add("last reload error",
               "none since the last good reload (previous one at " + last_error_at + ")");
  } else {
    fields.Add("last reload error", "none");
  }
  const uint64_t entries = Unsigned(Field(&stats, {"pod_table", "entries"}));
  const uint64_t capacity = Unsigned(Field(&stats, {"pod_table", "capacity"}));
  fields.Add("pod table",
             Count(entries) + " / " + Count(capacity) + " entries" +
                 (capacity > 0 ? Format(" (%.1f%%)", 100.0 * static_cast<double>(entries) /
                                                         static_cast<double>(capacity))
                               : std::string()));
  fields.Add("shaper", ShaperText(stats));
  AddKubernetesFields(stats, &fields);
  fields.Print(stdout);
  return healthy && is_ready ? kExitOk : kExitNotHealthy;
}

// Counter growth between two samples; a counter that went back means the gateway
// restarted, and everything since the restart counts.
double Delta(const json::value* before, const json::value* after) {
  const uint64_t a = Unsigned(before);
  const uint64_t b = Unsigned(after);
  return static_cast<double>(b >= a ? b - a : b);
}

// Mean queue sojourn of the packets sent between the samples. The gateway reports the
// mean since start over every dequeued packet (each dequeue adds one sojourn sample), so
// mean * packets is the running sum. null when the class sent nothing in between.
json::value IntervalSojournMean(const json::value* before, const json::value& after) {
  const uint64_t packets_after = Unsigned(Field(&after, {"packets"}));
  const double mean_after = Number(Field(&after, {"sojourn_mean_us"}));
  const uint64_t packets_before = Unsigned(Field(before, {"packets"}));
  if (before == nullptr || packets_after < packets_before) {  // new class, or a restart
    return packets_after == 0 ? json::value(nullptr) : json::value(mean_after);
  }
  if (packets_after == packets_before) return nullptr;
  const double sum_delta =
      mean_after * static_cast<double>(packets_after) -
      Number(Field(before, {"sojourn_mean_us"})) * static_cast<double>(packets_before);
  return std::max(0.0, sum_delta / static_cast<double>(packets_after - packets_before));
}

const json::value* FindByName(const json::value* list, std::string_view key,
                              std::string_view name) {
  for (const json::value& item : Array(list)) {
    if (Text(Field(&item, {key})) == name) return &item;
  }
  return nullptr;
}

// The rates object of `stats --json`, also what the tables are printed from.
json::object ComputeRates(const json::value& first, const json::value& second, double seconds) {
  auto rate = [seconds](const json::value* before, const json::value* after) {
    return Delta(before, after) / seconds;
  };
  json::object rates;
  rates["interval_seconds"] = seconds;

  json::object ports;
  for (const char* port : {"kernel", "uplink"}) {
    const json::value* a = Field(&first, {"ports", port});
    const json::value* b = Field(&second, {"ports", port});
    if (b == nullptr) continue;
    json::object entry{{"device", Text(Field(b, {"device"}))},
                       {"link_up", Bool(Field(b, {"link_up"}))},
                       {"rx_pps", rate(Field(a, {"rx_packets"}), Field(b, {"rx_packets"}))},
                       {"rx_mbps", 8e-6 * rate(Field(a, {"rx_bytes"}), Field(b, {"rx_bytes"}))},
                       {"tx_pps", rate(Field(a, {"tx_packets"}), Field(b, {"tx_packets"}))},
                       {"tx_mbps", 8e-6 * rate(Field(a, {"tx_bytes"}), Field(b, {"tx_bytes"}))}};
    for (const char* counter : {"rx_missed", "rx_nombuf", "rx_errors", "tx_errors"}) {
      entry[counter] = Unsigned(Field(b, {counter}));
      entry[std::string(counter) + "_per_s"] = rate(Field(a, {counter}), Field(b, {counter}));
    }
    ports[port] = std::move(entry);
  }
  rates["ports"] = std::move(ports);

  json::array classes;
  for (const json::value& b : Array(Field(&second, {"classes"}))) {
    const std::string name = Text(Field(&b, {"name"}));
    const json::value* a = FindByName(Field(&first, {"classes"}), "name", name);
    classes.push_back(
        json::object{{"name", name},
                     {"dscp", Unsigned(Field(&b, {"dscp"}))},
                     {"max_rate_bps", Unsigned(Field(&b, {"max_rate_bps"}))},
                     {"pps", rate(Field(a, {"packets"}), Field(&b, {"packets"}))},
                     {"mbps", 8e-6 * rate(Field(a, {"bytes"}), Field(&b, {"bytes"}))},
                     {"drops_per_s", rate(Field(a, {"drops"}), Field(&b, {"drops"}))},
                     {"drops", Unsigned(Field(&b, {"drops"}))},
                     {"queue_depth", Unsigned(Field(&b, {"queue_depth"}))},
                     {"queue_peak_depth", Unsigned(Field(&b, {"queue_peak_depth"}))},
                     {"sojourn_mean_us", IntervalSojournMean(a, b)},
                     {"sojourn_mean_us_since_start", Number(Field(&b, {"sojourn_mean_us"}))}});
  }
  rates["classes"] = std::move(classes);

  json::array namespaces;
  for (const json::value& b : Array(Field(&second, {"namespaces"}))) {
    const std::string name = Text(Field(&b, {"namespace"}));
    const json::value* a = FindByName(Field(&first, {"namespaces"}), "namespace", name);
    namespaces.push_back(
        json::object{{"namespace", name},
                     {"class", Text(Field(&b, {"class"}))},
                     {"pps", rate(Field(a, {"packets"}), Field(&b, {"packets"}))},
                     {"mbps", 8e-6 * rate(Field(a, {"bytes"}), Field(&b, {"bytes"}))},
                     {"drops_per_s", rate(Field(a, {"drops"}), Field(&b, {"drops"}))},
                     {"drops", Unsigned(Field(&b, {"drops"}))}});
  }
  rates["namespaces"] = std::move(namespaces);

  json::object unclassified;
  for (const auto& [reason, total] : Object(Field(&second, {"unclassified"}))) {
    unclassified[reason] =
        json::object{{"total", Unsigned(&total)},
                     {"per_s", rate(Field(&first, {"unclassified", reason}), &total)}};
  }
  rates["unclassified"] = std::move(unclassified);
  for (const char* counter : {"unknown_source", "marked"}) {
    rates[counter] =
        json::object{{"total", Unsigned(Field(&second, {counter}))},
                     {"per_s", rate(Field(&first, {counter}), Field(&second, {counter}))}};
  }
  return rates;
}

void PrintRates(const json::object& rates_object, const json::value& second,
                const Endpoint& endpoint) {
  const json::value rates = rates_object;
  std::printf("dscp-gateway at %s: rates over %.2f s, uptime %s\n\n", endpoint.display.c_str(),
              Number(Field(&rates, {"interval_seconds"})),
              Duration(Number(Field(&second, {"uptime_seconds"}))).c_str());

  Table ports({{"PORT"},
               {"DEVICE"},
               {"LINK"},
               {"RX PPS", true},
               {"RX MBIT/S", true},
               {"TX PPS", true},
               {"TX MBIT/S", true},
               {"RX MISSED", true},
               {"RX NOMBUF", true},
               {"ERRORS", true}});
  for (const auto& [name, port] : Object(Field(&rates, {"ports"}))) {
    ports.AddRow(
        {std::string(name), Text(Field(&port, {"device"})),
         Bool(Field(&port, {"link_up"})) ? "up" : "DOWN", Pps(Number(Field(&port, {"rx_pps"}))),
         Mbps(Number(Field(&port, {"rx_mbps"}))), Pps(Number(Field(&port, {"tx_pps"}))),
         Mbps(Number(Field(&port, {"tx_mbps"}))), Count(Unsigned(Field(&port, {"rx_missed"}))),
         Count(Unsigned(Field(&port, {"rx_nombuf"}))),
         Count(Unsigned(Field(&port, {"rx_errors"})) + Unsigned(Field(&port, {"tx_errors"})))});
  }
  ports.Print(stdout);
  std::printf("\n");

  Table classes({{"CLASS"},
                 {"DSCP", true},
                 {"PPS", true},
                 {"MBIT/S", true},
                 {"DROPS/S", true},
                 {"DROPS", true},
                 {"QUEUE", true},
                 {"PEAK", true},
                 {"SOJOURN µs", true}});
  for (const json::value& c : Array(Field(&rates, {"classes"}))) {
    classes.AddRow({Text(Field(&c, {"name"})), Count(Unsigned(Field(&c, {"dscp"}))),
                    Pps(Number(Field(&c, {"pps"}))), Mbps(Number(Field(&c, {"mbps"}))),
                    Pps(Number(Field(&c, {"drops_per_s"}))), Count(Unsigned(Field(&c, {"drops"}))),
                    Count(Unsigned(Field(&c, {"queue_depth"}))),
                    Count(Unsigned(Field(&c, {"queue_peak_depth"}))),
                    NumberOrDash(Field(&c, {"sojourn_mean_us"}))});
  }
  classes.Print(stdout);
  std::printf("\n");

  // Busiest namespaces first.
  std::vector<const json::value*> namespaces;
  for (const json::value& n : Array(Field(&rates, {"namespaces"}))) namespaces.push_back(&n);
  std::stable_sort(namespaces.begin(), namespaces.end(), [](const auto* x, const auto* y) {
    const double x_rate = Number(Field(x, {"mbps"}));
    const double y_rate = Number(Field(y, {"mbps"}));
    if (x_rate != y_rate) return x_rate > y_rate;
    return Text(Field(x, {"namespace"})) < Text(Field(y, {"namespace"}));
  });
  if (namespaces.empty()) {
    std::printf("namespaces: no traffic yet\n\n");
  } else {
    Table table({{"NAMESPACE"},
                 {"CLASS"},
                 {"PPS", true},
                 {"MBIT/S", true},
                 {"DROPS/S", true},
                 {"DROPS", true}});
    for (const json::value* n : namespaces) {
      table.AddRow({Text(Field(n, {"namespace"})), OrDash(Text(Field(n, {"class"}))),
                    Pps(Number(Field(n, {"pps"}))), Mbps(Number(Field(n, {"mbps"}))),
                    Pps(Number(Field(n, {"drops_per_s"}))), Count(Unsigned(Field(n, {"drops"})))});
    }
    table.Print(stdout);
    std::printf("\n");
  }

  Table unclassified({{"UNCLASSIFIED REASON"}, {"PPS", true}, {"TOTAL", true}});
  for (const auto& [reason, entry] : Object(Field(&rates, {"unclassified"}))) {
    if (Unsigned(Field(&entry, {"total"})) == 0) continue;
    unclassified.AddRow({std::string(reason), Pps(Number(Field(&entry, {"per_s"}))),
                         Count(Unsigned(Field(&entry, {"total"})))});
  }
  if (unclassified.empty()) {
    std::printf("unclassified: none\n");
  } else {
    unclassified.Print(stdout);
    std::printf("\n");
  }
  std::printf(
      "unknown source: %s total, %s/s (IP frames from addresses not in the pod table, "
      "sent unmarked)\n",
      Count(Unsigned(Field(&rates, {"unknown_source", "total"}))).c_str(),
      Pps(Number(Field(&rates, {"unknown_source", "per_s"}))).c_str());
  std::printf("marked: %s total, %s/s\n",
              Count(Unsigned(Field(&rates, {"marked", "total"}))).c_str(),
              Pps(Number(Field(&rates, {"marked", "per_s"}))).c_str());
  std::printf("shaper: %s\n", ShaperText(second).c_str());
}

int Stats(Client& client, const Options& options) {
  json::value first, second;
  Failure failure;
  if (!client.GetJson("/v1/stats", false, &first, &failure)) return Fail(failure);
  const auto first_at = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(options.interval_seconds));
  if (!client.GetJson("/v1/stats", false, &second, &failure)) return Fail(failure);
  const double client_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - first_at).count();

  // The gateway stamps each sample with its uptime: the truest interval, free of our
  // own request latency. Our clock is the fallback (old gateway, or a restart).
  const double uptime_first = Number(Field(&first, {"uptime_seconds"}));
  const double uptime_second = Number(Field(&second, {"uptime_seconds"}));
  double seconds = uptime_second - uptime_first;
  if (uptime_second < uptime_first) {
    std::fprintf(stderr,
                 "dscpctl: warning: the gateway restarted between the samples; rates count "
                 "from the restart\n");
  }
  if (!(seconds > 0) || seconds > 10 * client_seconds + 1) seconds = client_seconds;
  if (!(seconds > 0)) seconds = 1e-3;

  const json::object rates = ComputeRates(first, second, seconds);
  if (options.json) {
    PrintJson(json::object{{"endpoint", client.endpoint().display},
                           {"samples", json::array{first, second}},
                           {"rates", rates}});
    return kExitOk;
  }
  PrintRates(rates, second, client.endpoint());
  return kExitOk;
}

int Pods(Client& client, const Options& options) {
  json::value pods;
  Failure failure;
  if (!client.GetJson("/v1/pods", false, &pods, &failure)) return Fail(failure);
  if (options.json) {
    PrintJson(pods);
    return kExitOk;
  }
  std::vector<const json::value*> rows;
  for (const json::value& pod : Array(Field(&pods, {"pods"}))) rows.push_back(&pod);
  std::sort(rows.begin(), rows.end(), [](const json::value* x, const json::value* y) {
    auto key = [](const json::value* pod) {
      return std::make_tuple(Text(Field(pod, {"namespace"})), Text(Field(pod, {"pod"})),
                             Text(Field(pod, {"ip"})));
    };
    return key(x) < key(y);
  });
  if (rows.empty()) {
    std::printf("no pods in the table\n");
    return kExitOk;
  }
  Table table({{"IP"}, {"NAMESPACE"}, {"POD"}, {"CLASS"}, {"DSCP", true}});
  for (const json::value* pod : rows) {
    table.AddRow({Text(Field(pod, {"ip"})), Text(Field(pod, {"namespace"})),
                  Text(Field(pod, {"pod"})), Text(Field(pod, {"class"})),
                  Count(Unsigned(Field(pod, {"dscp"})))});
  }
  table.Print(stdout);
  std::printf("\n%zu pod addresses\n", rows.size());
  return kExitOk;
}

int Policy(Client& client, const Options& options) {
  json::value policy;
  Failure failure;
  if (!client.GetJson("/v1/policy", false, &policy, &failure)) return Fail(failure);
  if (options.json) {
    PrintJson(policy);
    return kExitOk;
  }
  const std::string default_class = Text(Field(&policy, {"default_class"}));
  const json::object& mappings = Object(Field(&policy, {"namespaces"}));
  std::vector<std::pair<std::string, std::string>> sorted_mappings;
  for (const auto& [pattern, class_name] : mappings) {
    sorted_mappings.emplace_back(std::string(pattern), Text(&class_name));
  }
  std::sort(sorted_mappings.begin(), sorted_mappings.end());

  Table classes({{"PRIO", true}, {"CLASS"}, {"DSCP", true}, {"PHB"}, {"MAX RATE"}, {"NAMESPACES"}});
  int priority = 0;
  for (const json::value& c : Array(Field(&policy, {"classes"}))) {
    const std::string name = Text(Field(&c, {"name"}));
    const uint64_t dscp = Unsigned(Field(&c, {"dscp"}));
    const double max_rate = Number(Field(&c, {"max_rate_bps"}));
    std::string members;
    for (const auto& [pattern, class_name] : sorted_mappings) {
      if (class_name == name) members += (members.empty() ? "" : ", ") + pattern;
    }
    if (name == default_class) members += (members.empty() ? "" : ", ") + std::string("(default)");
    classes.AddRow({std::to_string(priority++), name, Count(dscp),
                    PhbName(static_cast<int64_t>(dscp)), max_rate > 0 ? BitRate(max_rate) : "-",
                    OrDash(members)});
  }
  classes.Print(stdout);
  std::printf("\n");

  if (sorted_mappings.empty()) {
    std::printf("namespaces: none mapped; every pod is in the default class\n\n");
  } else {
    Table table({{"NAMESPACE"}, {"CLASS"}});
    for (const auto& [pattern, class_name] : sorted_mappings) table.AddRow({pattern, class_name});
    table.Print(stdout);
    std::printf("\n");
  }

  Fields fields;
  fields.Add("default class", OrDash(default_class) + " (namespaces not listed)");
  fields.Add("source", Text(Field(&policy, {"source"})));
  fields.Add("content hash", OrDash(Text(Field(&policy, {"content_hash"}))));
  fields.Add("loaded at", OrDash(Text(Field(&policy, {"loaded_at"}))));
  fields.Add("generation", Count(Unsigned(Field(&policy, {"generation"}))));
  fields.Add("reloads", Count(Unsigned(Field(&policy, {"reloads"}))) + " applied, " +
                            Count(Unsigned(Field(&policy, {"reload_errors"}))) + " rejected");
  const std::string last_error = Text(Field(&policy, {"last_reload_error"}));
  const std::string last_error_at = Text(Field(&policy, {"last_reload_error_at"}));
  fields.Add("last reload error",
             last_error.empty()
                 ? std::string("none")
                 : last_error + (last_error_at.empty() ? "" : " (at " + last_error_at + ")"));
  fields.Print(stdout);
  return kExitOk;
}

// ---------------------------------------------------------------------------------------
// Command line.

int UsageError(const std::string& message) {
  std::fprintf(stderr, "dscpctl: %s\n\n%s", message.c_str(), kUsage);
  return kExitUsage;
}

bool ParseSeconds(const std::string& text, double* seconds) {
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || !std::isfinite(value) || value <= 0 || value > 86400) {
    return false;
  }
  *seconds = value;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (const char* from_environment = std::getenv("DSCPCTL_ENDPOINT")) {
    options.endpoint = from_environment;
  }
  if (options.endpoint.empty()) options.endpoint = kDefaultEndpoint;

  for (int i = 1; i < argc; ++i) {
    std::string argument = argv[i];
    if (argument == "-h" || argument == "--help" || argument == "help") {
      std::fputs(kUsage, stdout);
      return kExitOk;
    }
    if (argument == "--json") {
      options.json = true;
      continue;
    }
    if (argument.rfind("--", 0) == 0) {
      std::string name = argument;
      std::string value;
      bool has_value = false;
      if (const size_t equals = argument.find('='); equals != std::string::npos) {
        name = argument.substr(0, equals);
        value = argument.substr(equals + 1);
        has_value = true;
      }
      if (name != "--endpoint" && name != "--interval" && name != "--timeout") {
        return UsageError("unknown option '" + name + "'");
      }
      if (!has_value) {
        if (i + 1 >= argc) return UsageError(name + " needs a value");
        value = argv[++i];
      }
      if (name == "--endpoint") {
        options.endpoint = value;
      } else if (!ParseSeconds(value, name == "--interval" ? &options.interval_seconds
                                                           : &options.timeout_seconds)) {
        return UsageError(name + " takes seconds, more than 0 and at most 86400 (got '" + value +
                          "')");
      }
      continue;
    }
    if (!options.command.empty()) {
      return UsageError("one command at a time (got '" + options.command + "' and '" + argument +
                        "')");
    }
    options.command = argument;
  }
  if (options.command.empty()) return UsageError("a command is required");
  if (options.command != "status" && options.command != "stats" && options.command != "pods" &&
      options.command != "policy") {
    return UsageError("unknown command '" + options.command + "'");
  }

  Endpoint endpoint;
  std::string error;
  if (!ParseEndpoint(options.endpoint, &endpoint, &error)) return UsageError(error);
  Client client(std::move(endpoint), options.timeout_seconds);
  if (options.command == "status") return Status(client, options);
  if (options.command == "stats") return Stats(client, options);
  if (options.command == "pods") return Pods(client, options);
  return Policy(client, options);
}
