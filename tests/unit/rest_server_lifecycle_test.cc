#include "tests/unit/rest_server_test_fixture.h"

namespace dg::rest_server_test {
namespace {

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
}  // namespace dg::rest_server_test
