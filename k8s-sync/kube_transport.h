// How the watchers reach the API server: an injected adapter, so the list/watch
// protocol logic (reflector.h) is tested against a scripted fake and runs against the
// real HTTPS client (kube_client.h) unchanged.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <system_error>

namespace dg::k8s {

// Outcome of one request. `status` is the HTTP status (0 when the transport failed
// before a response: connect/TLS/timeout, described in `error`).
struct KubeResponse {
  unsigned status = 0;
  std::string body;   // whole body for Get; for Stream, the body when status != 200
  std::string error;  // transport failure, e.g. "connect 127.0.0.1:6443: Connection refused"
  bool ok() const { return status == 200 && error.empty(); }
};

class KubeTransport {
 public:
  virtual ~KubeTransport() = default;

  // GET `target` (path and query, e.g. "/api/v1/pods?limit=500"); the whole body.
  virtual boost::asio::awaitable<KubeResponse> Get(std::string target) = 0;

  // GET `target` as a watch stream: `on_line` gets each newline-terminated line of the
  // (chunk-decoded) body as it arrives and returns false to stop early. Returns when
  // the server ends the stream, on error, when `idle_timeout` passes with no bytes
  // (status 200 with error "idle timeout"), or after `on_line` returned false.
  virtual boost::asio::awaitable<KubeResponse> Stream(
      std::string target, std::function<bool(std::string_view line)> on_line,
      std::chrono::milliseconds idle_timeout) = 0;

  // Where requests go, for logs and /v1/stats ("https://10.96.0.1:443").
  virtual std::string Describe() const = 0;
};

}  // namespace dg::k8s
