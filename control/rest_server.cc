#include "control/rest_server.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/socket_base.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <exception>
#include <iostream>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

namespace dg {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

constexpr char kServerName[] = "dscp-gateway";
constexpr char kJson[] = "application/json";
// After an error response (or a response that ends the connection) the server half-closes
// and reads what the client still sends, so that unread request bytes do not turn the
// close into a TCP reset that destroys the response before the client reads it.
constexpr size_t kMaxLingerBytes = 64 * 1024;
constexpr std::chrono::milliseconds kMaxLingerTime{1000};
// A failing accept that is not about one connection (EMFILE, ENOBUFS) fails again at once;
// pausing keeps it from spinning the control thread.
constexpr std::chrono::milliseconds kAcceptRetryDelay{100};

Result<tcp::endpoint> ListenError(std::string reason) {
  return Result<tcp::endpoint>(boost::system::in_place_error,
                               ConfigError{"", "rest.listen", std::move(reason)});
}

// A JSON string literal. Bytes >= 0x80 are escaped one by one (as Latin-1), so the output
// is valid JSON whatever a client put in the request target.
std::string JsonString(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (byte < 0x20 || byte >= 0x7f) {
      out += "\\u00";
      out += kHex[byte >> 4];
      out += kHex[byte & 0xf];
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string JsonError(std::string_view message) {
  return "{\"error\":" + JsonString(message) + "}";
}

struct Counters {
  std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> bad_requests{0};
  std::atomic<uint64_t> not_found{0};
  std::atomic<uint64_t> method_not_allowed{0};
  std::atomic<uint64_t> connections_rejected{0};
  std::atomic<uint64_t> timeouts{0};
  std::atomic<uint64_t> connections_open{0};
};

class Session;

// Everything the accept loop and the sessions share. Pending handlers hold it by
// shared_ptr, so it outlives the RestServer when the io_context still holds operations
// that Stop() cancelled but that have not run yet.
struct ServerState {
  ServerState(net::io_context& io_context, RestServerOptions server_options)
      : io(io_context), options(std::move(server_options)), acceptor(io), retry_timer(io) {}

  net::io_context& io;
  const RestServerOptions options;
  std::map<std::string, RouteHandler, std::less<>> routes;
  tcp::acceptor acceptor;
  net::steady_timer retry_timer;
  bool accepting = false;
  std::vector<std::weak_ptr<Session>> sessions;
  Counters counters;
};

// What the router decided; turned into an http::response by the session.
struct Reply {
  unsigned status = 200;
  std::string content_type = kJson;
  std::string body;
  bool allow_header = false;
};

Reply ErrorReply(unsigned status, std::string body) {
  return Reply{status, kJson, std::move(body), false};
}

// Runs a route handler; nothing it throws or returns can take the control thread down.
Reply CallHandler(std::string_view path, const RouteHandler& handler) {
  std::string problem;
  try {
    HttpResponse response = handler();
    if (response.status < 200 || response.status > 599) {
      problem = "returned status " + std::to_string(response.status);
    } else if (response.content_type.find_first_of("\r\n") != std::string::npos) {
      problem = "returned a content type with a line break";
    } else {
      return Reply{response.status, std::move(response.content_type), std::move(response.body),
                   false};
    }
  } catch (const std::exception& exception) {
    problem = std::string("threw: ") + exception.what();
  } catch (...) {
    problem = "threw a non-standard exception";
  }
  std::cerr << "rest: handler for " << path << " " << problem << "\n";
  return ErrorReply(500, JsonError("internal error"));
}

Reply Route(ServerState& state, const http::request<http::string_body>& request) {
  const std::string_view target(request.target().data(), request.target().size());
  const std::string_view path = target.substr(0, target.find('?'));
  const auto route = state.routes.find(path);
  if (route == state.routes.end()) {
    ++state.counters.not_found;
    return ErrorReply(404, "{\"error\":\"not found\",\"path\":" + JsonString(path) + "}");
  }
  if (request.method() != http::verb::get && request.method() != http::verb::head) {
    ++state.counters.method_not_allowed;
    Reply reply = ErrorReply(405, JsonError("method not allowed"));
    reply.allow_header = true;
    return reply;
  }
  return CallHandler(path, route->second);
}

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(std::shared_ptr<ServerState> state, tcp::socket socket)
      : state_(std::move(state)), stream_(std::move(socket)) {
    ++state_->counters.connections_open;
  }
  ~Session() { Close(); }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void Start() { ReadRequest(); }

  // Idempotent; pending operations complete with an error and find closed_ set.
  void Close() {
    if (closed_) return;
    closed_ = true;
    stream_.close();
    --state_->counters.connections_open;
  }

 private:
  const RestServerOptions& options() const { return state_->options; }

  void ReadRequest() {
    parser_.emplace();
    parser_->header_limit(options().header_limit_bytes);
    parser_->body_limit(options().body_limit_bytes);
    stream_.expires_after(options().idle_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](const beast::error_code& error, size_t) {
                       self->OnRead(error);
                     });
  }

  void OnRead(const beast::error_code& error) {
    if (closed_) return;
    if (error == beast::error::timeout) {
      ++state_->counters.timeouts;
      Close();
    } else if (error == http::error::end_of_stream) {
      Close();  // the client closed between requests
    } else if (error == http::error::header_limit) {
      Reject(431, "request header too large");
    } else if (error == http::error::body_limit) {
      Reject(413, options().body_limit_bytes == 0 ? "request body not allowed"
                                                  : "request body too large");
    } else if (error &&
               error.category() == http::make_error_code(http::error::bad_method).category()) {
      Reject(400, "bad request");
    } else if (error) {
      Close();  // reset by the peer, or cancelled by Stop()
    } else {
      Respond(parser_->get());
    }
  }

  void Respond(const http::request<http::string_body>& request) {
    const bool keep_alive = request.keep_alive();
    Reply reply = Route(*state_, request);
    Send(std::move(reply), request.version(), keep_alive, request.method() == http::verb::head);
  }

  // 400, 413 and 431: the stream position is lost, so answer and end the connection.
  void Reject(unsigned status, std::string_view message) {
    ++state_->counters.bad_requests;
    Send(ErrorReply(status, JsonError(message)), 11, false, false);
  }

  void Send(Reply reply, unsigned version, bool keep_alive, bool head) {
    ++state_->counters.requests;
    response_ = {};
    response_.version(version);
    response_.result(reply.status);
    response_.set(http::field::server, kServerName);
    response_.set(http::field::content_type, reply.content_type);
    response_.set(http::field::cache_control, "no-store");
    if (reply.allow_header) response_.set(http::field::allow, "GET, HEAD");
    response_.keep_alive(keep_alive);
    response_.content_length(reply.body.size());
    if (!head) response_.body() = std::move(reply.body);
    stream_.expires_after(options().idle_timeout);
    http::async_write(
        stream_, response_,
        [self = shared_from_this(), keep_alive](const beast::error_code& error, size_t) {
          self->OnWrite(error, keep_alive);
        });
  }

  void OnWrite(const beast::error_code& error, bool keep_alive) {
    if (closed_) return;
    if (error) {
      if (error == beast::error::timeout) ++state_->counters.timeouts;
      Close();
    } else if (keep_alive) {
      ReadRequest();
    } else {
      Linger();
    }
  }

  void Linger() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.expires_after(
        std::min<std::chrono::milliseconds>(options().idle_timeout, kMaxLingerTime));
    Drain();
  }

  void Drain() {
    stream_.async_read_some(
        net::buffer(drain_buffer_),
        [self = shared_from_this()](const beast::error_code& error, size_t bytes) {
          if (self->closed_) return;
          self->drained_ += bytes;
          if (error || self->drained_ > kMaxLingerBytes) {
            self->Close();
          } else {
            self->Drain();
          }
        });
  }

  std::shared_ptr<ServerState> state_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> response_;
  std::array<char, 4096> drain_buffer_{};
  size_t drained_ = 0;
  bool closed_ = false;
};

void Accept(const std::shared_ptr<ServerState>& state);

void OnAccept(const std::shared_ptr<ServerState>& state, const beast::error_code& error,
              tcp::socket socket) {
  if (!state->accepting) return;  // Stop() ran; a socket accepted meanwhile closes here
  if (error) {
    if (error == net::error::connection_aborted) {
      Accept(state);
      return;
    }
    state->retry_timer.expires_after(kAcceptRetryDelay);
    state->retry_timer.async_wait([state](const beast::error_code& wait_error) {
      if (!wait_error && state->accepting) Accept(state);
    });
    return;
  }
  if (state->counters.connections_open >= state->options.max_connections) {
    ++state->counters.connections_rejected;
    beast::error_code ignored;
    socket.close(ignored);
  } else {
    std::erase_if(state->sessions, [](const std::weak_ptr<Session>& s) { return s.expired(); });
    auto session = std::make_shared<Session>(state, std::move(socket));
    state->sessions.push_back(session);
    session->Start();
  }
  Accept(state);
}

void Accept(const std::shared_ptr<ServerState>& state) {
  state->acceptor.async_accept(state->io,
                               [state](const beast::error_code& error, tcp::socket socket) {
                                 OnAccept(state, error, std::move(socket));
                               });
}

}  // namespace

struct RestServer::Impl {
  std::shared_ptr<ServerState> state;
};

RestServer::RestServer(boost::asio::io_context& io, RestServerOptions options)
    : impl_(std::make_unique<Impl>(Impl{std::make_shared<ServerState>(io, std::move(options))})) {}

RestServer::~RestServer() { Stop(); }

void RestServer::AddRoute(const std::string& path, RouteHandler handler) {
  impl_->state->routes[path] = std::move(handler);
}

Result<tcp::endpoint> RestServer::Start() {
  const std::shared_ptr<ServerState>& state = impl_->state;
  const std::string& listen = state->options.listen;
  if (state->acceptor.is_open()) return ListenError(listen + ": already listening");
  auto endpoint = ParseListenAddress(listen);
  if (!endpoint) return endpoint;

  beast::error_code error;
  auto fail = [&] {
    beast::error_code ignored;
    state->acceptor.close(ignored);
    return ListenError(listen + ": " + error.message());
  };
  state->acceptor.open(endpoint->protocol(), error);
  if (error) return fail();
  state->acceptor.set_option(net::socket_base::reuse_address(true), error);
  if (error) return fail();
  state->acceptor.bind(*endpoint, error);
  if (error) return fail();
  state->acceptor.listen(net::socket_base::max_listen_connections, error);
  if (error) return fail();
  const tcp::endpoint bound = state->acceptor.local_endpoint(error);
  if (error) return fail();

  state->accepting = true;
  Accept(state);
  return Result<tcp::endpoint>(boost::system::in_place_value, bound);
}

void RestServer::Stop() {
  ServerState& state = *impl_->state;
  state.accepting = false;
  beast::error_code ignored;
  state.acceptor.close(ignored);
  try {
    state.retry_timer.cancel();
  } catch (...) {
    // Cancelling a timer has no failure mode worth surfacing from a destructor.
  }
  const std::vector<std::weak_ptr<Session>> sessions = std::move(state.sessions);
  state.sessions.clear();
  for (const auto& weak : sessions) {
    if (const auto session = weak.lock()) session->Close();
  }
}

// The counters are atomics, so a snapshot may be taken from any thread; everything else
// (AddRoute, Start, Stop) belongs on the thread that runs the io_context, or to a time when
// it is not running.
RestServerStats RestServer::stats() const {
  const Counters& counters = impl_->state->counters;
  RestServerStats stats;
  stats.requests = counters.requests;
  stats.bad_requests = counters.bad_requests;
  stats.not_found = counters.not_found;
  stats.method_not_allowed = counters.method_not_allowed;
  stats.connections_rejected = counters.connections_rejected;
  stats.timeouts = counters.timeouts;
  stats.connections_open = counters.connections_open;
  return stats;
}

std::string DefaultRestListen() {
  return std::string(kDefaultRestHost) + ":" + std::to_string(kDefaultRestPort);
}

Result<tcp::endpoint> ParseListenAddress(const std::string& listen) {
  const auto fail = [&](std::string_view problem) {
    return ListenError("\"" + listen + "\": " + std::string(problem));
  };
  const std::string_view text = listen;
  std::string_view host;
  std::string_view port;
  const bool bracketed = text.starts_with('[');
  if (bracketed) {
    const size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return fail("expected [ipv6]:port");
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return fail("missing :port");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return fail("an IPv6 host must be written in brackets, e.g. [::1]:9470");
    }
  }
  if (host.empty()) return fail("missing host; use 0.0.0.0 to listen on every address");

  constexpr std::string_view kPortProblem = "port must be a number 0-65535 (0: any free port)";
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != port.npos) {
    return fail(kPortProblem);
  }
  unsigned number = 0;
  for (const char digit : port) number = number * 10 + static_cast<unsigned>(digit - '0');
  if (number > 65535) return fail(kPortProblem);

  net::ip::address address;
  if (!bracketed && host == "localhost") {
    address = net::ip::address_v4::loopback();
  } else {
    beast::error_code error;
    address = net::ip::make_address(std::string(host), error);
    if (error) return fail("host must be a numeric IP address or localhost");
    if (bracketed && !address.is_v6()) return fail("brackets are only for IPv6 addresses");
  }
  return Result<tcp::endpoint>(boost::system::in_place_value, address,
                               static_cast<unsigned short>(number));
}

}  // namespace dg
