// Shared by the rest_server_test sources: a bounded blocking HTTP client and the RestServerTest
// fixture serving two routes on port 0.
#pragma once

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

#include "control/rest_server.h"

namespace dg::rest_server_test {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using std::chrono::milliseconds;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// Upper bound for any single client operation; a server bug fails the test, never hangs it.
inline constexpr milliseconds kClientTimeout{2000};
inline constexpr milliseconds kShortIdle{200};

inline constexpr char kStatsBody[] = R"({"ok":true})";
inline constexpr char kMetricsBody[] = "dg_up 1\n";

inline std::string Header(const http::response<http::string_body>& response, http::field field) {
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

inline bool ServerClosed(const beast::error_code& error) {
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

inline void ExpectCommonHeaders(const http::response<http::string_body>& response,
                                const std::string& content_type) {
  EXPECT_EQ(Header(response, http::field::content_type), content_type);
  EXPECT_EQ(Header(response, http::field::content_length), std::to_string(response.body().size()));
  EXPECT_EQ(Header(response, http::field::cache_control), "no-store");
  EXPECT_EQ(Header(response, http::field::server), "dscp-gateway");
}

}  // namespace dg::rest_server_test
