#include "tests/unit/rest_server_test_fixture.h"

namespace dg::rest_server_test {
namespace {

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

}  // namespace
}  // namespace dg::rest_server_test
