#include "control/rest_server.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <array>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <functional>
#include <future>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>

namespace dg {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using std::chrono::milliseconds;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// Upper bound for any single client operation; a server bug fails the test, never hangs it.
constexpr milliseconds kClientTimeout{2000};
constexpr milliseconds kShortIdle{200};

constexpr char kStatsBody[] = R"({"ok":true})";
constexpr char kMetricsBody[] = "dg_up 1\n";

std::string Header(const http::response<http::string_body>& response, http::field field) {
  return std::string(response[field]);
}

// A blocking-looking client whose every operation is bounded by kClientTimeout.
class Client {
 public:
  explicit Client(const tcp::endpoint& endpoint) : socket_(io_) {
    socket_.connect(endpoint, connect_error_);
  }

  const beast::error_code& connect_error() const { return connect_error_; }

  void Send(std::string_view bytes) {
    beast::error_code error;
    net::write(socket_, net::buffer(bytes.data(), bytes.size()), error);
    EXPECT_FALSE(error) << error.message();
  }

  struct Response {
    beast::error_code error;
    http::response<http::string_body> message;
  };

  // One response. HEAD responses carry Content-Length but no body, so the parser is told.
  Response Read(bool head_request = false) {
    http::response_parser<http::string_body> parser;
    parser.skip(head_request);
    Response response;
    response.error =
        RunBounded([&](auto done) { http::async_read(socket_, buffer_, parser, done); });
    if (!response.error) response.message = parser.release();
    return response;
  }

  Response Get(const std::string& target) {
    Send("GET " + target + " HTTP/1.1\r\nHost: test\r\n\r\n");
    return Read();
  }

  struct Closed {
    beast::error_code error;  // eof or connection_reset when the server closed; timed_out if not
    std::string bytes;        // everything received before that
    milliseconds elapsed{0};
  };

  // Reads until the server ends the connection (or kClientTimeout passes).
  Closed ReadUntilClosed() {
    Closed closed;
    closed.bytes = beast::buffers_to_string(buffer_.data());
    buffer_.consume(buffer_.size());
    const auto start = std::chrono::steady_clock::now();
    std::array<char, 4096> chunk{};
    std::function<void(std::function<void(beast::error_code, size_t)>)> read_all =
        [&](std::function<void(beast::error_code, size_t)> done) {
          socket_.async_read_some(net::buffer(chunk),
                                  [&, done](const beast::error_code& error, size_t bytes) {
                                    closed.bytes.append(chunk.data(), bytes);
                                    if (error) {
                                      done(error, 0);
                                    } else {
                                      read_all(done);
                                    }
                                  });
        };
    closed.error = RunBounded(read_all);
    closed.elapsed =
        std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - start);
    return closed;
  }

 private:
  template <class Start>
  beast::error_code RunBounded(Start start) {
    std::optional<beast::error_code> result;
    start([&result](const beast::error_code& error, size_t) { result = error; });
    io_.restart();
    io_.run_for(kClientTimeout);
    if (result) return *result;
    beast::error_code ignored;
    socket_.cancel(ignored);
    io_.restart();
    io_.run();
    return net::error::timed_out;
  }

  net::io_context io_;
  tcp::socket socket_;
  beast::error_code connect_error_;
  beast::flat_buffer buffer_;
};

bool ServerClosed(const beast::error_code& error) {
  return error == net::error::eof || error == net::error::connection_reset;
}

class RestServerTest : public ::testing::Test {
 protected:
  static RestServerOptions Options() {
    RestServerOptions options;
    options.listen = "127.0.0.1:0";
    // Longer than kClientTimeout: a connection that closes in a test closed for the reason
    // under test, never because the idle timer fired.
    options.idle_timeout = milliseconds(10000);
    return options;
  }

  // Starts a server with the test routes and runs its io_context on a thread of its own.
  void StartServer(RestServerOptions options = Options()) {
    server_ = std::make_unique<RestServer>(io_, std::move(options));
    server_->AddRoute("/stats", [] { return HttpResponse{200, "application/json", kStatsBody}; });
    server_->AddRoute("/metrics", [] {
      return HttpResponse{200, "text/plain; version=0.0.4", kMetricsBody};
    });
    server_->AddRoute("/boom", []() -> HttpResponse { throw std::runtime_error("test failure"); });
    server_->AddRoute("/bad-status", [] { return HttpResponse{1000, "application/json", "{}"}; });
    auto endpoint = server_->Start();
    ASSERT_TRUE(endpoint) << endpoint.error().Message();
    endpoint_ = *endpoint;
    ASSERT_NE(endpoint_.port(), 0);
    io_thread_ = std::thread([this] { io_.run(); });
  }

  void TearDown() override {
    if (io_thread_.joinable()) {
      OnIo([this] { server_->Stop(); });
      work_.reset();
      io_.stop();
      io_thread_.join();
    }
    server_.reset();
  }

  // Runs `task` on the server's thread and waits for it, so the test never races the server.
  template <class Task>
  std::invoke_result_t<Task&> OnIo(Task task) {
    std::packaged_task<std::invoke_result_t<Task&>()> packaged(std::move(task));
    auto result = packaged.get_future();
    net::post(io_, [&packaged] { packaged(); });
    return result.get();
  }

  RestServerStats Stats() {
    return OnIo([this] { return server_->stats(); });
  }

  // Counters that change as a connection closes may land just after the client notices.
  RestServerStats StatsWhen(const std::function<bool(const RestServerStats&)>& ready) {
    const auto deadline = std::chrono::steady_clock::now() + kClientTimeout;
    RestServerStats stats = Stats();
    while (!ready(stats) && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(milliseconds(5));
      stats = Stats();
    }
    return stats;
  }

  net::io_context io_;
  net::executor_work_guard<net::io_context::executor_type> work_ = net::make_work_guard(io_);
  std::unique_ptr<RestServer> server_;
  tcp::endpoint endpoint_;
  std::thread io_thread_;
};

void ExpectCommonHeaders(const http::response<http::string_body>& response,
                         const std::string& content_type) {
  EXPECT_EQ(Header(response, http::field::content_type), content_type);
  EXPECT_EQ(Header(response, http::field::content_length), std::to_string(response.body().size()));
  EXPECT_EQ(Header(response, http::field::cache_control), "no-store");
  EXPECT_EQ(Header(response, http::field::server), "dscp-gateway");
}

TEST_F(RestServerTest, GetRouteReturnsBodyAndHeaders) {
  StartServer();
  Client client(endpoint_);
  const auto response = client.Get("/stats");
  ASSERT_FALSE(response.error) << response.error.message();
  EXPECT_EQ(response.message.result_int(), 200u);
  EXPECT_EQ(response.message.version(), 11u);
  EXPECT_EQ(response.message.body(), kStatsBody);
  ExpectCommonHeaders(response.message, "application/json");
  EXPECT_TRUE(response.message.keep_alive());
  EXPECT_EQ(Stats().requests, 1u);
}

TEST_F(RestServerTest, RouteChoosesContentType) {
  StartServer();
  Client client(endpoint_);
  const auto response = client.Get("/metrics");
  ASSERT_FALSE(response.error) << response.error.message();
  EXPECT_EQ(response.message.result_int(), 200u);
  EXPECT_EQ(response.message.body(), kMetricsBody);
  ExpectCommonHeaders(response.message, "text/plain; version=0.0.4");
}

TEST_F(RestServerTest, HeadSendsHeadersOnlyWithGetContentLength) {
  StartServer();
  Client client(endpoint_);
  client.Send("HEAD /stats HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
  const auto closed = client.ReadUntilClosed();
  ASSERT_TRUE(ServerClosed(closed.error)) << closed.error.message();
  const size_t header_end = closed.bytes.find("\r\n\r\n");
  ASSERT_NE(header_end, std::string::npos) << closed.bytes;
  EXPECT_EQ(closed.bytes.substr(header_end + 4), "") << "HEAD response carried a body";

  http::response_parser<http::string_body> parser;
  parser.skip(true);
  beast::error_code error;
  parser.put(net::buffer(closed.bytes), error);
  ASSERT_FALSE(error) << error.message();
  ASSERT_TRUE(parser.is_done());
  const auto& response = parser.get();
  EXPECT_EQ(response.result_int(), 200u);
  EXPECT_EQ(Header(response, http::field::content_length),
            std::to_string(std::string_view(kStatsBody).size()));
  EXPECT_EQ(Header(response, http::field::content_type), "application/json");
  EXPECT_EQ(Header(response, http::field::cache_control), "no-store");
  EXPECT_EQ(Header(response, http::field::server), "dscp-gateway");
}

TEST_F(RestServerTest, QueryStringIsIgnoredForMatching) {
  StartServer();
  Client client(endpoint_);
  const auto response = client.Get("/stats?verbose=1&format=json");
  ASSERT_FALSE(response.error) << response.error.message();
  EXPECT_EQ(response.message.result_int(), 200u);
  EXPECT_EQ(response.message.body(), kStatsBody);
}

TEST_F(RestServerTest, UnknownPathReturns404Json) {
  StartServer();
  Client client(endpoint_);
  const auto response = client.Get("/nope?x=1");
  ASSERT_FALSE(response.error) << response.error.message();
  EXPECT_EQ(response.message.result_int(), 404u);
  EXPECT_EQ(response.message.body(), R"({"error":"not found","path":"/nope"})");
  ExpectCommonHeaders(response.message, "application/json");
  EXPECT_EQ(Stats().not_found, 1u);
}

TEST_F(RestServerTest, NotFoundPathIsEscapedAsJson) {
  StartServer();
  Client client(endpoint_);
  const auto response = client.Get("/a\"b\\c\xff");
  ASSERT_FALSE(response.error) << response.error.message();
  EXPECT_EQ(response.message.result_int(), 404u);
  EXPECT_EQ(response.message.body(), R"({"error":"not found","path":"/a\"b\\c\u00ff"})");
}

TEST_F(RestServerTest, OtherMethodsOnKnownPathReturn405WithAllow) {
  StartServer();
  Client client(endpoint_);
  for (const std::string method : {"POST", "PUT", "DELETE"}) {
    SCOPED_TRACE(method);
    client.Send(method + " /stats HTTP/1.1\r\nHost: test\r\nContent-Length: 0\r\n\r\n");
    const auto response = client.Read();
    ASSERT_FALSE(response.error) << response.error.message();
    EXPECT_EQ(response.message.result_int(), 405u);
    EXPECT_EQ(Header(response.message, http::field::allow), "GET, HEAD");
    EXPECT_EQ(response.message.body(), R"({"error":"method not allowed"})");
    ExpectCommonHeaders(response.message, "application/json");
  }
  EXPECT_EQ(Stats().method_not_allowed, 3u);
}

TEST_F(RestServerTest, MalformedRequestLineReturns400AndCloses) {
  StartServer();
  Client client(endpoint_);
  client.Send("GET /stats\r\nHost: test\r\n\r\n");
  const auto response = client.Read();
  ASSERT_FALSE(response.error) << response.error.message();
  EXPECT_EQ(response.message.result_int(), 400u);
  EXPECT_EQ(response.message.body(), R"({"error":"bad request"})");
  ExpectCommonHeaders(response.message, "application/json");
  EXPECT_FALSE(response.message.keep_alive());
  const auto closed = client.ReadUntilClosed();
  EXPECT_TRUE(ServerClosed(closed.error)) << closed.error.message();
  EXPECT_THAT(closed.bytes, IsEmpty());
  EXPECT_EQ(Stats().bad_requests, 1u);
}

TEST_F(RestServerTest, GarbageBytesReturn400) {
  StartServer();
  Client client(endpoint_);
  // The start of a TLS ClientHello: someone speaking https to the plain-http port.
  client.Send(std::string_view("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11));
  const auto response = client.Read();
  ASSERT_FALSE(response.error) << response.error.message();
  EXPECT_EQ(response.message.result_int(), 400u);
  EXPECT_EQ(response.message.body(), R"({"error":"bad request"})");
  EXPECT_TRUE(ServerClosed(client.ReadUntilClosed().error));
}

TEST_F(RestServerTest, OversizedHeaderReturns431) {
  StartServer();
  Client client(endpoint_);
  client.Send("GET /stats HTTP/1.1\r\nHost: test\r\nX-Padding: " + std::string(16 * 1024, 'a') +
              "\r\n\r\n");
  const auto response = client.Read();
  ASSERT_FALSE(response.error) << response.error.message();
  EXPECT_EQ(response.message.result_int(), 431u);
  EXPECT_EQ(response.message.body(), R"({"error":"request header too large"})");
  ExpectCommonHeaders(response.message, "application/json");
  EXPECT_TRUE(ServerClosed(client.ReadUntilClosed().error));
  EXPECT_EQ(Stats().bad_requests, 1u);
}

TEST_F(RestServerTest, RequestWithBodyReturns413) {
  StartServer();
  Client client(endpoint_);
  client.Send("GET /stats HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\n\r\nhello");
  const auto response = client.Read();
  ASSERT_FALSE(response.error) << response.error.message();
  EXPECT_EQ(response.message.result_int(), 413u);
  EXPECT_EQ(response.message.body(), R"({"error":"request body not allowed"})");
  ExpectCommonHeaders(response.message, "application/json");
  EXPECT_TRUE(ServerClosed(client.ReadUntilClosed().error));
  EXPECT_EQ(Stats().bad_requests, 1u);
}

// The server stops parsing at the header. Closing with the body unread would send a reset,
// which on a real network can destroy the 413 before the client reads it; the server
// half-closes and drains instead, so the client sees an orderly end of stream.
TEST_F(RestServerTest, UnreadBodyGets413AndAnOrderlyClose) {
  StartServer();
  Client client(endpoint_);
  client.Send("GET /stats HTTP/1.1\r\nHost: test\r\nContent-Length: 16384\r\n\r\n" +
              std::string(16384, 'b'));
  const auto response = client.Read();
  ASSERT_FALSE(response.error) << response.error.message();
  EXPECT_EQ(response.message.result_int(), 413u);
  const auto closed = client.ReadUntilClosed();
  EXPECT_EQ(closed.error, net::error::eof) << closed.error.message();
}

TEST_F(RestServerTest, ChunkedBodyReturns413) {
  StartServer();
  Client client(endpoint_);
  client.Send(
      "GET /stats HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: "
      "chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
  const auto response = client.Read();
  ASSERT_FALSE(response.error) << response.error.message();
  EXPECT_EQ(response.message.result_int(), 413u);
}

TEST_F(RestServerTest, SlowClientIsDisconnectedAfterIdleTimeout) {
  RestServerOptions options = Options();
  options.idle_timeout = kShortIdle;
  StartServer(options);
  Client client(endpoint_);
  client.Send("GET /sta");
  const auto closed = client.ReadUntilClosed();
  EXPECT_TRUE(ServerClosed(closed.error)) << closed.error.message();
  EXPECT_THAT(closed.bytes, IsEmpty());
  EXPECT_GE(closed.elapsed, kShortIdle / 2);
  const auto stats = StatsWhen([](const RestServerStats& s) { return s.connections_open == 0; });
  EXPECT_EQ(stats.timeouts, 1u);
  EXPECT_EQ(stats.connections_open, 0u);
  EXPECT_EQ(stats.requests, 0u);
}

TEST_F(RestServerTest, IdleKeepAliveConnectionIsClosedAfterTimeout) {
  RestServerOptions options = Options();
  options.idle_timeout = kShortIdle;
  StartServer(options);
  Client client(endpoint_);
  const auto response = client.Get("/stats");
  ASSERT_FALSE(response.error) << response.error.message();
  ASSERT_EQ(response.message.result_int(), 200u);
  const auto closed = client.ReadUntilClosed();
  EXPECT_TRUE(ServerClosed(closed.error)) << closed.error.message();
  EXPECT_THAT(closed.bytes, IsEmpty());
  EXPECT_GE(closed.elapsed, kShortIdle / 2);
  const auto stats = StatsWhen([](const RestServerStats& s) { return s.connections_open == 0; });
  EXPECT_EQ(stats.timeouts, 1u);
  EXPECT_EQ(stats.connections_open, 0u);
}

TEST_F(RestServerTest, TwoRequestsOnOneKeepAliveConnection) {
  StartServer();
  Client client(endpoint_);
  const auto first = client.Get("/stats");
  ASSERT_FALSE(first.error) << first.error.message();
  EXPECT_EQ(first.message.body(), kStatsBody);
  const auto second = client.Get("/metrics");
  ASSERT_FALSE(second.error) << second.error.message();
  EXPECT_EQ(second.message.body(), kMetricsBody);
  const auto stats = Stats();
  EXPECT_EQ(stats.requests, 2u);
  EXPECT_EQ(stats.connections_open, 1u);
}

TEST_F(RestServerTest, PipelinedRequestsAreAnsweredInOrder) {
  StartServer();
  Client client(endpoint_);
  client.Send(
      "GET /metrics HTTP/1.1\r\nHost: test\r\n\r\n"
      "GET /stats HTTP/1.1\r\nHost: test\r\n\r\n");
  const auto first = client.Read();
  const auto second = client.Read();
  ASSERT_FALSE(first.error) << first.error.message();
  ASSERT_FALSE(second.error) << second.error.message();
  EXPECT_EQ(first.message.body(), kMetricsBody);
  EXPECT_EQ(second.message.body(), kStatsBody);
}

TEST_F(RestServerTest, ConnectionCloseIsHonoured) {
  StartServer();
  Client client(endpoint_);
  client.Send("GET /stats HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
  const auto response = client.Read();
  ASSERT_FALSE(response.error) << response.error.message();
  EXPECT_EQ(response.message.result_int(), 200u);
  EXPECT_EQ(Header(response.message, http::field::connection), "close");
  const auto closed = client.ReadUntilClosed();
  EXPECT_TRUE(ServerClosed(closed.error)) << closed.error.message();
  EXPECT_THAT(closed.bytes, IsEmpty());
}

TEST_F(RestServerTest, Http10GetsHttp10ResponseAndClose) {
  StartServer();
  Client client(endpoint_);
  client.Send("GET /stats HTTP/1.0\r\n\r\n");
  const auto response = client.Read();
  ASSERT_FALSE(response.error) << response.error.message();
  EXPECT_EQ(response.message.result_int(), 200u);
  EXPECT_EQ(response.message.version(), 10u);
  EXPECT_EQ(response.message.body(), kStatsBody);
  EXPECT_FALSE(response.message.keep_alive());
  EXPECT_TRUE(ServerClosed(client.ReadUntilClosed().error));
}

TEST_F(RestServerTest, ConnectionsOverCapAreClosedWithoutResponse) {
  RestServerOptions options = Options();
  options.max_connections = 2;
  StartServer(options);
  Client first(endpoint_);
  Client second(endpoint_);
  ASSERT_EQ(first.Get("/stats").message.result_int(), 200u);
  ASSERT_EQ(second.Get("/stats").message.result_int(), 200u);

  Client third(endpoint_);
  ASSERT_FALSE(third.connect_error()) << "the kernel accepts; the server closes";
  const auto closed = third.ReadUntilClosed();
  EXPECT_TRUE(ServerClosed(closed.error)) << closed.error.message();
  EXPECT_THAT(closed.bytes, IsEmpty());

  const auto first_again = first.Get("/metrics");
  const auto second_again = second.Get("/metrics");
  ASSERT_FALSE(first_again.error) << first_again.error.message();
  ASSERT_FALSE(second_again.error) << second_again.error.message();
  EXPECT_EQ(first_again.message.body(), kMetricsBody);
  EXPECT_EQ(second_again.message.body(), kMetricsBody);

  const auto stats = Stats();
  EXPECT_EQ(stats.connections_rejected, 1u);
  EXPECT_EQ(stats.connections_open, 2u);
  EXPECT_EQ(stats.requests, 4u);
}

TEST_F(RestServerTest, ClosingAConnectionFreesItsSlot) {
  RestServerOptions options = Options();
  options.max_connections = 1;
  StartServer(options);
  {
    Client first(endpoint_);
    ASSERT_EQ(first.Get("/stats").message.result_int(), 200u);
  }
  StatsWhen([](const RestServerStats& s) { return s.connections_open == 0; });
  Client second(endpoint_);
  const auto response = second.Get("/stats");
  ASSERT_FALSE(response.error) << response.error.message();
  EXPECT_EQ(response.message.result_int(), 200u);
  EXPECT_EQ(Stats().connections_rejected, 0u);
}

TEST_F(RestServerTest, ThrowingHandlerReturns500AndServerKeepsServing) {
  StartServer();
  Client client(endpoint_);
  const auto failed = client.Get("/boom");
  ASSERT_FALSE(failed.error) << failed.error.message();
  EXPECT_EQ(failed.message.result_int(), 500u);
  EXPECT_EQ(failed.message.body(), R"({"error":"internal error"})");
  ExpectCommonHeaders(failed.message, "application/json");
  const auto next = client.Get("/stats");
  ASSERT_FALSE(next.error) << next.error.message();
  EXPECT_EQ(next.message.result_int(), 200u);
  EXPECT_EQ(next.message.body(), kStatsBody);
}

TEST_F(RestServerTest, InvalidHandlerStatusReturns500) {
  StartServer();
  Client client(endpoint_);
  const auto response = client.Get("/bad-status");
  ASSERT_FALSE(response.error) << response.error.message();
  EXPECT_EQ(response.message.result_int(), 500u);
  EXPECT_EQ(response.message.body(), R"({"error":"internal error"})");
}

TEST_F(RestServerTest, StartOnAddressInUseFails) {
  StartServer();
  RestServerOptions options = Options();
  options.listen = "127.0.0.1:" + std::to_string(endpoint_.port());
  // Start() runs on the server thread: both servers share the io_context.
  const auto error = OnIo([&] {
    RestServer second(io_, options);
    auto result = second.Start();
    return result ? std::optional<EnvironmentError>()
                  : std::optional<EnvironmentError>(result.error());
  });
  ASSERT_TRUE(error.has_value()) << "second bind to the same port succeeded";
  EXPECT_THAT(error->Message(), HasSubstr(options.listen));
  EXPECT_THAT(error->Message(), HasSubstr("in use"));
}

TEST_F(RestServerTest, StartWithInvalidListenFails) {
  RestServerOptions options = Options();
  options.listen = "example.com:80";
  RestServer server(io_, options);
  const auto result = server.Start();
  ASSERT_FALSE(result);
  EXPECT_THAT(result.error().Message(), HasSubstr("example.com:80"));
  EXPECT_THAT(result.error().reason, HasSubstr("numeric IP address"));
}

TEST_F(RestServerTest, StopClosesOpenConnections) {
  StartServer();
  Client client(endpoint_);
  ASSERT_EQ(client.Get("/stats").message.result_int(), 200u);
  ASSERT_EQ(Stats().connections_open, 1u);
  OnIo([this] {
    server_->Stop();
    server_->Stop();  // a second Stop is harmless
  });
  const auto closed = client.ReadUntilClosed();
  EXPECT_TRUE(ServerClosed(closed.error)) << closed.error.message();
  EXPECT_THAT(closed.bytes, IsEmpty());
  EXPECT_EQ(Stats().connections_open, 0u);
  // The port itself may already belong to another test's bind(0); what matters is that
  // this server accepts nothing more.
  Client late(endpoint_);
  EXPECT_EQ(Stats().connections_open, 0u);
}

TEST(ParseListenAddressTest, AcceptsValidForms) {
  struct Case {
    std::string listen;
    std::string address;
    unsigned short port;
  };
  for (const Case& c : {Case{"127.0.0.1:9470", "127.0.0.1", 9470}, Case{"[::1]:9470", "::1", 9470},
                        Case{"0.0.0.0:0", "0.0.0.0", 0}, Case{"localhost:9470", "127.0.0.1", 9470},
                        Case{"[::]:65535", "::", 65535}}) {
    SCOPED_TRACE(c.listen);
    const auto endpoint = ParseListenAddress(c.listen);
    ASSERT_TRUE(endpoint) << endpoint.error().Message();
    EXPECT_EQ(endpoint->address().to_string(), c.address);
    EXPECT_EQ(endpoint->port(), c.port);
  }
  EXPECT_TRUE(ParseListenAddress("[::1]:1")->address().is_v6());
}

TEST(ParseListenAddressTest, RejectsInvalidFormsNamingRestListen) {
  for (const std::string listen :
       {"", "9470", "127.0.0.1", "127.0.0.1:", ":9470", "127.0.0.1:65536", "127.0.0.1:123456",
        "127.0.0.1:http", "127.0.0.1:-1", "127.0.0.1:+80", "::1:9470", "[::1]9470", "[::1]", "[::1",
        "[]:9470", "[127.0.0.1]:9470", "256.0.0.1:80", "example.com:80", " 127.0.0.1:80"}) {
    SCOPED_TRACE(listen);
    const auto endpoint = ParseListenAddress(listen);
    ASSERT_FALSE(endpoint) << endpoint->address().to_string();
    EXPECT_EQ(endpoint.error().key, "rest.listen");
    EXPECT_THAT(endpoint.error().reason, HasSubstr("\"" + listen + "\""));
  }
}

}  // namespace
}  // namespace dg
