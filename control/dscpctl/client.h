// dscpctl's HTTP/1.1 client of the gateway's REST API: endpoint parsing, one GET per
// call with a single time budget, and the exit code each failure maps to.
#pragma once

#include <boost/json/value.hpp>
#include <chrono>
#include <cstdint>
#include <string>

namespace dg::dscpctl {

inline constexpr int kExitOk = 0;
inline constexpr int kExitNotHealthy = 1;  // status: the gateway answered, but is not ready
inline constexpr int kExitUsage = 2;
inline constexpr int kExitUnreachable = 3;  // no connection, or no answer in time
inline constexpr int kExitBadResponse = 4;  // HTTP error status, or a body that is not JSON

struct Endpoint {
  std::string host;  // name or address; IPv6 without brackets
  uint16_t port = 0;
  std::string base_path;  // "" or "/prefix", for a gateway behind a path-routing proxy
  std::string display;    // http://host:port[/prefix]
};

struct Failure {
  int exit_code = 0;
  std::string message;
};

// http://HOST[:PORT][/PREFIX] (the scheme may be left out); PORT defaults to the
// gateway's default REST port.
bool ParseEndpoint(const std::string& text, Endpoint* endpoint, std::string* error);

// The endpoint dscpctl talks to when neither --endpoint nor $DSCPCTL_ENDPOINT is given.
std::string DefaultEndpoint();

struct Response {
  unsigned status = 0;
  std::string reason;
  std::string body;
};

class Client {
 public:
  Client(Endpoint endpoint, double timeout_seconds);

  const Endpoint& endpoint() const { return endpoint_; }

  // GET base_path + path. Any HTTP status is a response; only transport problems fail.
  bool Get(const std::string& path, Response* response, Failure* failure);

  // GET and parse a JSON document. 2xx is required, and 503 is accepted when
  // `accept_unavailable` (/healthz and /readyz say "no" with 503 and a JSON body).
  bool GetJson(const std::string& path, bool accept_unavailable, boost::json::value* document,
               Failure* failure);

 private:
  std::string HostHeader() const;

  Endpoint endpoint_;
  double timeout_seconds_;
  std::chrono::steady_clock::duration timeout_;
};

// Prints the failure's message to stderr and returns its exit code.
int Fail(const Failure& failure);

}  // namespace dg::dscpctl
