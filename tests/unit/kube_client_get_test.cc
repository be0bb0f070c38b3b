#include "tests/unit/kube_client_test_support.h"

namespace dg::k8s::kube_test {
namespace {

TEST(KubeClientGetTest, ReturnsBodyAndSendsBearerToken) {
  TestServer server(Always(200, R"({"kind":"PodList"})"));
  net::io_context io;
  auto client = MakeClient(io, AccessTo(server));
  ASSERT_NE(client, nullptr);

  const KubeResponse response = RunCall(io, client->Get("/api/v1/pods?limit=500"));

  EXPECT_TRUE(response.ok()) << response.error;
  EXPECT_EQ(response.status, 200u);
  EXPECT_EQ(response.body, R"({"kind":"PodList"})");
  ASSERT_EQ(server.requests().size(), 1u);
  EXPECT_EQ(server.requests()[0].target, "/api/v1/pods?limit=500");
  EXPECT_EQ(server.requests()[0].authorization, "Bearer T");
}

TEST(KubeClientGetTest, SendsHostAcceptAndUserAgent) {
  TestServer server(Always(200, "{}"));
  net::io_context io;
  auto client = MakeClient(io, AccessTo(server));
  ASSERT_NE(client, nullptr);

  ASSERT_TRUE(RunCall(io, client->Get("/version")).ok());

  const std::vector<SeenRequest> requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  const SeenRequest& seen = requests[0];
  EXPECT_EQ(seen.host, "127.0.0.1:" + std::to_string(server.port()));
  EXPECT_EQ(seen.accept, "application/json");
  EXPECT_EQ(seen.user_agent, "dscp-gateway/0.1");
}

TEST(KubeClientGetTest, RereadsRotatedTokenFile) {
  TempDir dir;
  const std::string token_file = dir.Write("token", "first-token\n");
  TestServer server(Always(200, "{}"));
  net::io_context io;
  ClusterAccess access = AccessTo(server);
  access.token.clear();
  access.token_file = token_file;
  auto client = MakeClient(io, access);
  ASSERT_NE(client, nullptr);

  ASSERT_TRUE(RunCall(io, client->Get("/a")).ok());
  dir.Write("token", "second-token-after-rotation\n");
  ASSERT_TRUE(RunCall(io, client->Get("/b")).ok());

  const auto seen = server.requests();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].authorization, "Bearer first-token");
  EXPECT_EQ(seen[1].authorization, "Bearer second-token-after-rotation");
}

TEST(KubeClientGetTest, ReusesKeptAliveConnection) {
  TestServer server(Always(200, "{}"));
  net::io_context io;
  auto client = MakeClient(io, AccessTo(server));
  ASSERT_NE(client, nullptr);

  ASSERT_TRUE(RunCall(io, client->Get("/a")).ok());
  ASSERT_TRUE(RunCall(io, client->Get("/b")).ok());

  EXPECT_EQ(server.requests().size(), 2u);
  EXPECT_EQ(server.connections(), 1);
}

TEST(KubeClientGetTest, RetriesOnFreshConnectionWhenIdleOneWasClosed) {
  // The server drops each connection after answering, without announcing it.
  TestServer server([](const SeenRequest& seen) {
    Reply reply = Respond(200, R"({"target":")" + seen.target + R"("})");
    reply.close = true;
    return reply;
  });
  net::io_context io;
  auto client = MakeClient(io, AccessTo(server));
  ASSERT_NE(client, nullptr);

  ASSERT_TRUE(RunCall(io, client->Get("/a")).ok());
  std::this_thread::sleep_for(milliseconds(50));  // let the close arrive
  const KubeResponse second = RunCall(io, client->Get("/b"));

  EXPECT_TRUE(second.ok()) << second.error;
  EXPECT_EQ(second.body, R"({"target":"/b"})");
  EXPECT_EQ(server.connections(), 2);
}

TEST(KubeClientGetTest, ReturnsHttpErrorStatusAndBody) {
  const std::string status = R"({"kind":"Status","code":403,"reason":"Forbidden"})";
  TestServer server(Always(403, status));
  net::io_context io;
  auto client = MakeClient(io, AccessTo(server));
  ASSERT_NE(client, nullptr);

  const KubeResponse response = RunCall(io, client->Get("/api/v1/pods"));

  EXPECT_FALSE(response.ok());
  EXPECT_EQ(response.status, 403u);
  EXPECT_EQ(response.body, status);
  EXPECT_THAT(response.error, IsEmpty());
}

TEST(KubeClientGetTest, FailsTlsHandshakeWhenCaDoesNotMatch) {
  TestServer server(Always(200, "{}"));
  net::io_context io;
  ClusterAccess access = AccessTo(server);
  access.ca_data = OtherPem().cert;
  auto client = MakeClient(io, access);
  ASSERT_NE(client, nullptr);

  const KubeResponse response = RunCall(io, client->Get("/version"));

  EXPECT_EQ(response.status, 0u);
  EXPECT_THAT(response.error, HasSubstr("TLS handshake with 127.0.0.1:"));
  EXPECT_THAT(response.error, HasSubstr("certificate verify failed"));
  EXPECT_THAT(server.requests(), IsEmpty());
}

TEST(KubeClientGetTest, FailsTlsHandshakeWhenHostNameDoesNotMatch) {
  TestServer server({.identity = &WrongNamePem()}, Always(200, "{}"));
  net::io_context io;
  ClusterAccess access = AccessTo(server);
  access.ca_data = WrongNamePem().cert;  // trusted, but issued for elsewhere.test
  auto client = MakeClient(io, access);
  ASSERT_NE(client, nullptr);

  const KubeResponse response = RunCall(io, client->Get("/version"));

  EXPECT_EQ(response.status, 0u);
  EXPECT_THAT(response.error, HasSubstr("TLS handshake"));
  EXPECT_THAT(response.error, HasSubstr("IP address mismatch"));
  EXPECT_THAT(server.requests(), IsEmpty());
}

TEST(KubeClientGetTest, InsecureSkipTlsVerifyAcceptsUntrustedServer) {
  TestServer server({.identity = &WrongNamePem()}, Always(200, "{}"));
  net::io_context io;
  ClusterAccess access = AccessTo(server);
  access.ca_data.clear();
  access.insecure_skip_tls_verify = true;
  auto client = MakeClient(io, access);
  ASSERT_NE(client, nullptr);

  const KubeResponse response = RunCall(io, client->Get("/version"));

  EXPECT_TRUE(response.ok()) << response.error;
}

TEST(KubeClientGetTest, PresentsClientCertificateFromData) {
  TestServer server({.required_client_ca = &ClientPem()}, Always(200, "{}"));
  net::io_context io;
  ClusterAccess access = AccessTo(server);
  access.token.clear();
  access.client_cert_data = ClientPem().cert;
  access.client_key_data = ClientPem().key;
  auto client = MakeClient(io, access);
  ASSERT_NE(client, nullptr);

  const KubeResponse response = RunCall(io, client->Get("/version"));

  EXPECT_TRUE(response.ok()) << response.error;
  ASSERT_EQ(server.requests().size(), 1u);
  EXPECT_THAT(server.requests()[0].authorization, IsEmpty());
}

TEST(KubeClientGetTest, WorksOverPlainHttp) {
  TestServer server({.tls = false}, Always(200, "plain"));
  net::io_context io;
  auto client = MakeClient(io, AccessTo(server));
  ASSERT_NE(client, nullptr);

  const KubeResponse response = RunCall(io, client->Get("/version"));

  EXPECT_TRUE(response.ok()) << response.error;
  EXPECT_EQ(response.body, "plain");
}

TEST(KubeClientGetTest, PrefixesTargetWithServerPath) {
  TestServer server(Always(200, "{}"));
  net::io_context io;
  ClusterAccess access = AccessTo(server);
  access.server += "/k8s/clusters/c-1/";
  auto client = MakeClient(io, access);
  ASSERT_NE(client, nullptr);

  ASSERT_TRUE(RunCall(io, client->Get("/api/v1/pods")).ok());

  ASSERT_EQ(server.requests().size(), 1u);
  EXPECT_EQ(server.requests()[0].target, "/k8s/clusters/c-1/api/v1/pods");
}

TEST(KubeClientGetTest, ReportsConnectionRefused) {
  net::io_context io;
  unsigned short port;
  {
    tcp::acceptor unused(io, {net::ip::make_address("127.0.0.1"), 0});
    port = unused.local_endpoint().port();
  }
  ClusterAccess access;
  access.server = "https://127.0.0.1:" + std::to_string(port);
  access.ca_data = ServerPem().cert;
  auto client = MakeClient(io, access);
  ASSERT_NE(client, nullptr);

  const KubeResponse response = RunCall(io, client->Get("/version"));

  EXPECT_EQ(response.status, 0u);
  EXPECT_THAT(response.error, HasSubstr("connect 127.0.0.1:" + std::to_string(port)));
  EXPECT_THAT(response.error, HasSubstr("refused"));
}

}  // namespace
}  // namespace dg::k8s::kube_test
