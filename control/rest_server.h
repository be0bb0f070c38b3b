// Read-only HTTP/1.1 endpoint for stats, metrics and health (Boost.Beast on Asio). Runs
// on the control thread's io_context; handlers are called there, never on a worker.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "control/result.h"

namespace dg {

struct HttpResponse {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
};

using RouteHandler = std::function<HttpResponse()>;

// Where the REST API listens unless configured otherwise; dscpctl's default endpoint.
inline constexpr const char* kDefaultRestHost = "127.0.0.1";
inline constexpr uint16_t kDefaultRestPort = 9470;

std::string DefaultRestListen();  // kDefaultRestHost:kDefaultRestPort

struct RestServerOptions {
  std::string listen = DefaultRestListen();  // host:port, [v6]:port; port 0 picks a free one
  size_t max_connections = 64;               // further connections are accepted and closed at once
  std::chrono::milliseconds idle_timeout{10000};  // per request: headers must arrive in time
  uint32_t header_limit_bytes = 8192;             // larger request head -> 431
  uint32_t body_limit_bytes = 0;                  // GET has no body; any body -> 413
};

struct RestServerStats {
  uint64_t requests = 0;              // requests answered (any status)
  uint64_t bad_requests = 0;          // 400, 413, 431
  uint64_t not_found = 0;             // 404
  uint64_t method_not_allowed = 0;    // 405
  uint64_t connections_rejected = 0;  // over max_connections
  uint64_t timeouts = 0;              // idle or slow clients disconnected
  uint64_t connections_open = 0;
};

class RestServer {
 public:
  RestServer(boost::asio::io_context& io, RestServerOptions options);
  ~RestServer();
  RestServer(const RestServer&) = delete;
  RestServer& operator=(const RestServer&) = delete;

  // GET and HEAD on exactly `path` (query strings are ignored for matching). Other
  // methods on a known path get 405 with an Allow header; unknown paths get 404.
  void AddRoute(const std::string& path, RouteHandler handler);

  // Binds and starts accepting. Returns the bound endpoint (with the real port when 0
  // was asked for), or an error naming rest.listen and the reason (address in use, ...).
  Result<boost::asio::ip::tcp::endpoint> Start();

  // Stops accepting and closes every connection.
  void Stop();

  RestServerStats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Parses host:port / [v6]:port into an endpoint (numeric addresses or "localhost").
Result<boost::asio::ip::tcp::endpoint> ParseListenAddress(const std::string& listen);

}  // namespace dg
