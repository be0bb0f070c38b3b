#include "tests/unit/rest_server_test_fixture.h"

namespace dg::rest_server_test {
namespace {

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

}  // namespace
}  // namespace dg::rest_server_test
