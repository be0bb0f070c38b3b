#include "control/dscpctl/client.h"

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
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>
#include <cctype>
#include <cstdio>
#include <cstdlib>

#include "control/dscpctl/tables.h"
#include "control/rest_server.h"

namespace dg::dscpctl {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;

// /v1/pods of a full pod table (262144 entries) is about 40 MB.
constexpr uint64_t kBodyLimitBytes = 256ull << 20;

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

}  // namespace

std::string DefaultEndpoint() { return std::string("http://") + DefaultRestListen(); }

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
  endpoint->port = kDefaultRestPort;
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

Client::Client(Endpoint endpoint, double timeout_seconds)
    : endpoint_(std::move(endpoint)),
      timeout_seconds_(timeout_seconds),
      timeout_(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
          std::chrono::duration<double>(timeout_seconds))) {}

bool Client::Get(const std::string& path, Response* response, Failure* failure) {
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
      const std::string why = timed_out ? "connection timed out after " + Seconds(timeout_seconds_)
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

bool Client::GetJson(const std::string& path, bool accept_unavailable, json::value* document,
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

std::string Client::HostHeader() const {
  const bool ipv6 = endpoint_.host.find(':') != std::string::npos;
  return (ipv6 ? "[" + endpoint_.host + "]" : endpoint_.host) + ":" +
         std::to_string(endpoint_.port);
}

int Fail(const Failure& failure) {
  std::fprintf(stderr, "dscpctl: %s\n", failure.message.c_str());
  return failure.exit_code;
}

}  // namespace dg::dscpctl
