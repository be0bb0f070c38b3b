#include "tests/unit/kube_client_test_support.h"

namespace dg::k8s::kube_test {
namespace {

TEST(KubeClientCreateTest, DescribeReturnsServer) {
  net::io_context io;
  ClusterAccess access;
  access.server = "https://10.96.0.1:443";
  access.ca_data = ServerPem().cert;
  auto client = MakeClient(io, access);
  ASSERT_NE(client, nullptr);

  EXPECT_EQ(client->Describe(), "https://10.96.0.1:443");
}

TEST(KubeClientCreateTest, RejectsUnsupportedScheme) {
  net::io_context io;
  ClusterAccess access;
  access.server = "ftp://10.96.0.1";
  access.source = "kubeconfig.yaml";

  const auto client = KubeClient::Create(io, access);

  ASSERT_FALSE(client);
  EXPECT_EQ(client.error().file, "kubeconfig.yaml");
  EXPECT_EQ(client.error().key, "server");
  EXPECT_THAT(client.error().reason, HasSubstr("https"));
}

TEST(KubeClientCreateTest, RejectsMissingCaFile) {
  TempDir dir;
  net::io_context io;
  ClusterAccess access;
  access.server = "https://10.96.0.1";
  access.ca_file = dir.Path("missing-ca.crt");

  const auto client = KubeClient::Create(io, access);

  ASSERT_FALSE(client);
  EXPECT_EQ(client.error().file, access.ca_file);
}

TEST(KubeClientCreateTest, RejectsCertificateWithoutKey) {
  net::io_context io;
  ClusterAccess access;
  access.server = "https://10.96.0.1";
  access.client_cert_data = ClientPem().cert;

  const auto client = KubeClient::Create(io, access);

  ASSERT_FALSE(client);
  EXPECT_EQ(client.error().key, "client-key");
}

TEST(KubeClientCreateTest, RejectsMissingTokenFile) {
  TempDir dir;
  net::io_context io;
  ClusterAccess access;
  access.server = "https://10.96.0.1";
  access.token_file = dir.Path("token");

  const auto client = KubeClient::Create(io, access);

  ASSERT_FALSE(client);
  EXPECT_EQ(client.error().file, access.token_file);
}

}  // namespace
}  // namespace dg::k8s::kube_test
