// Target (f): request bytes into the REST server's real request path (Beast's parser with
// the server's header and body limits, the router, the error replies) over loopback TCP,
// as a client would send them. Whatever arrives, the server answers with a well-formed
// status line of a status it documents, or closes; it never crashes or stops answering.
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <cctype>
#include <cerrno>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>

#include "control/rest_server.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

// Live for the whole process, reachable from here so the leak checker does not report them.
boost::asio::io_context* io = nullptr;
dg::RestServer* server = nullptr;
std::thread* server_thread = nullptr;
uint16_t port = 0;

// A fresh connection per input, so one input cannot leave the next a half-read stream.
int Connect() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  FUZZ_CHECK(fd >= 0, "socket");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  FUZZ_CHECK(connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0,
             "connect to the REST server");
  // A hang is a bug too: the server must answer or close well within this.
  timeval timeout{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  // Close with a reset: thousands of connections per second would otherwise fill the
  // ephemeral port range with TIME_WAIT.
  linger reset{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
  return fd;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  io = new boost::asio::io_context();
  server = new dg::RestServer(*io, dg::RestServerOptions{.listen = "127.0.0.1:0"});
  for (const char* path : {"/healthz", "/readyz", "/metrics", "/v1/stats"}) {
    server->AddRoute(path, [] { return dg::HttpResponse{200, "application/json", "{}"}; });
  }
  server->AddRoute("/v1/pods", []() -> dg::HttpResponse { throw std::runtime_error("broken"); });
  auto endpoint = server->Start();
  if (!endpoint) std::abort();
  port = endpoint->port();
  server_thread = new std::thread([] {
    auto work = boost::asio::make_work_guard(*io);
    io->run();
  });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const int fd = Connect();
  size_t sent = 0;
  while (sent < size) {
    const ssize_t written = send(fd, data + sent, size - sent, MSG_NOSIGNAL);
    if (written <= 0) break;  // the server rejected early and closed: allowed
    sent += static_cast<size_t>(written);
  }
  shutdown(fd, SHUT_WR);
  std::string received;
  char buffer[4096];
  while (true) {
    const ssize_t got = recv(fd, buffer, sizeof(buffer), 0);
    if (got < 0) {
      FUZZ_CHECK(errno == ECONNRESET, "no answer and no close within 5 s (errno %d)", errno);
      break;
    }
    if (got == 0) break;
    received.append(buffer, static_cast<size_t>(got));
  }
  close(fd);
  if (received.empty()) return 0;
  static const std::set<std::string> kStatuses = {"200", "400", "404", "405", "413", "431", "500"};
  // The server answers in the request's version (HTTP/1.0, 1.1, or any d.d Beast accepts).
  FUZZ_CHECK(received.size() >= 12 && received.compare(0, 5, "HTTP/") == 0 &&
                 std::isdigit(static_cast<unsigned char>(received[5])) && received[6] == '.' &&
                 std::isdigit(static_cast<unsigned char>(received[7])) && received[8] == ' ',
             "not a status line: %.40s", received.c_str());
  FUZZ_CHECK(kStatuses.count(received.substr(9, 3)) == 1, "status %s",
             received.substr(9, 3).c_str());
  return 0;
}
