#include "tests/unit/rest_server_test_fixture.h"

namespace dg::rest_server_test {
namespace {

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

}  // namespace
}  // namespace dg::rest_server_test
