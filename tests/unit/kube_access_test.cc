#include "tests/unit/kube_client_test_support.h"

namespace dg::k8s::kube_test {
namespace {

// ---------------------------------------------------------------------------------------
// Kubeconfig

std::string Kubeconfig(const std::string& cluster_fields, const std::string& user_fields,
                       const std::string& current_context = "dev") {
  return "apiVersion: v1\n"
         "kind: Config\n"
         "current-context: " +
         current_context +
         "\n"
         "clusters:\n"
         "- name: other-cluster\n"
         "  cluster:\n"
         "    server: https://other.example:6443\n"
         "- name: dev-cluster\n"
         "  cluster:\n"
         "    server: https://10.0.0.1:6443\n" +
         cluster_fields +
         "contexts:\n"
         "- name: other\n"
         "  context: {cluster: other-cluster, user: other-user}\n"
         "- name: dev\n"
         "  context: {cluster: dev-cluster, user: dev-user}\n"
         "users:\n"
         "- name: other-user\n"
         "  user: {token: other-token}\n"
         "- name: dev-user\n"
         "  user:\n" +
         user_fields;
}

TEST(KubeconfigAccessTest, ReadsCurrentContextWithTokenAndCaData) {
  TempDir dir;
  const std::string path =
      dir.Write("config", Kubeconfig("    certificate-authority-data: " + Base64("CA PEM") + "\n",
                                     "    token: abc123\n"));

  const auto access = KubeconfigAccess(path);

  ASSERT_TRUE(access) << access.error().Message();
  EXPECT_EQ(access->server, "https://10.0.0.1:6443");
  EXPECT_EQ(access->ca_data, "CA PEM");
  EXPECT_EQ(access->token, "abc123");
  EXPECT_THAT(access->token_file, IsEmpty());
  EXPECT_FALSE(access->insecure_skip_tls_verify);
  EXPECT_EQ(access->source, path);
}

TEST(KubeconfigAccessTest, UsesRequestedContext) {
  TempDir dir;
  const std::string path = dir.Write("config", Kubeconfig("", "    token: abc123\n"));

  const auto access = KubeconfigAccess(path, "other");

  ASSERT_TRUE(access) << access.error().Message();
  EXPECT_EQ(access->server, "https://other.example:6443");
  EXPECT_EQ(access->token, "other-token");
}

TEST(KubeconfigAccessTest, ResolvesRelativePathsAgainstItsDirectory) {
  TempDir dir;
  const std::string path =
      dir.Write("kube/config", Kubeconfig("    certificate-authority: certs/ca.crt\n",
                                          "    tokenFile: secrets/token\n"
                                          "    client-certificate: /etc/absolute/client.crt\n"
                                          "    client-key: client.key\n"));

  const auto access = KubeconfigAccess(path);

  ASSERT_TRUE(access) << access.error().Message();
  const std::filesystem::path base = dir.path() / "kube";
  EXPECT_EQ(access->ca_file, (base / "certs/ca.crt").string());
  EXPECT_EQ(access->token_file, (base / "secrets/token").string());
  EXPECT_EQ(access->client_cert_file, "/etc/absolute/client.crt");
  EXPECT_EQ(access->client_key_file, (base / "client.key").string());
}

TEST(KubeconfigAccessTest, DecodesClientCertificateAndKeyData) {
  TempDir dir;
  const std::string path = dir.Write(
      "config", Kubeconfig("", "    client-certificate-data: " + Base64("CERT PEM\n") + "\n" +
                                   "    client-key-data: " + Base64("KEY PEM\n") + "\n"));

  const auto access = KubeconfigAccess(path);

  ASSERT_TRUE(access) << access.error().Message();
  EXPECT_EQ(access->client_cert_data, "CERT PEM\n");
  EXPECT_EQ(access->client_key_data, "KEY PEM\n");
  EXPECT_THAT(access->client_cert_file, IsEmpty());
}

TEST(KubeconfigAccessTest, ReadsInsecureSkipTlsVerify) {
  TempDir dir;
  const std::string path =
      dir.Write("config", Kubeconfig("    insecure-skip-tls-verify: true\n", "    token: t\n"));

  const auto access = KubeconfigAccess(path);

  ASSERT_TRUE(access) << access.error().Message();
  EXPECT_TRUE(access->insecure_skip_tls_verify);
}

TEST(KubeconfigAccessTest, MissingContextIsAnError) {
  TempDir dir;
  const std::string path = dir.Write("config", Kubeconfig("", "    token: t\n"));

  const auto access = KubeconfigAccess(path, "prod");

  ASSERT_FALSE(access);
  EXPECT_EQ(access.error().file, path);
  EXPECT_EQ(access.error().key, "contexts");
  EXPECT_THAT(access.error().reason, HasSubstr("\"prod\""));
}

TEST(KubeconfigAccessTest, RejectsExecPlugin) {
  TempDir dir;
  const std::string path =
      dir.Write("config", Kubeconfig("",
                                     "    exec:\n"
                                     "      apiVersion: client.authentication.k8s.io/v1beta1\n"
                                     "      command: aws\n"));

  const auto access = KubeconfigAccess(path);

  ASSERT_FALSE(access);
  EXPECT_EQ(access.error().key, "users[1].user.exec");
  EXPECT_EQ(access.error().reason, "not supported; use a token or client certificate");
}

TEST(KubeconfigAccessTest, RejectsAuthProvider) {
  TempDir dir;
  const std::string path =
      dir.Write("config", Kubeconfig("", "    auth-provider:\n      name: gcp\n"));

  const auto access = KubeconfigAccess(path);

  ASSERT_FALSE(access);
  EXPECT_EQ(access.error().key, "users[1].user.auth-provider");
}

TEST(KubeconfigAccessTest, RejectsInvalidBase64) {
  TempDir dir;
  const std::string path = dir.Write(
      "config", Kubeconfig("    certificate-authority-data: not*base64\n", "    token: t\n"));

  const auto access = KubeconfigAccess(path);

  ASSERT_FALSE(access);
  EXPECT_EQ(access.error().key, "clusters[1].cluster.certificate-authority-data");
}

TEST(KubeconfigAccessTest, MissingFileIsAnError) {
  TempDir dir;
  const std::string path = dir.Path("no-such-config");

  const auto access = KubeconfigAccess(path);

  ASSERT_FALSE(access);
  EXPECT_EQ(access.error().file, path);
}

// ---------------------------------------------------------------------------------------
// In-cluster

TEST(InClusterAccessTest, ReadsServiceEnvironmentAndAccountFiles) {
  TempDir dir;
  dir.Write("token", "sa-token\n");
  dir.Write("ca.crt", "CA");
  ScopedEnv host("KUBERNETES_SERVICE_HOST", "10.96.0.1");
  ScopedEnv port("KUBERNETES_SERVICE_PORT", "443");

  const auto access = InClusterAccess(dir.path().string());

  ASSERT_TRUE(access) << access.error().Message();
  EXPECT_EQ(access->server, "https://10.96.0.1:443");
  EXPECT_EQ(access->token_file, dir.Path("token"));
  EXPECT_EQ(access->ca_file, dir.Path("ca.crt"));
  EXPECT_EQ(access->source, "in-cluster");
}

TEST(InClusterAccessTest, BracketsIpv6Host) {
  TempDir dir;
  dir.Write("token", "sa-token\n");
  ScopedEnv host("KUBERNETES_SERVICE_HOST", "fd00:10:96::1");
  ScopedEnv port("KUBERNETES_SERVICE_PORT", "443");

  const auto access = InClusterAccess(dir.path().string());

  ASSERT_TRUE(access) << access.error().Message();
  EXPECT_EQ(access->server, "https://[fd00:10:96::1]:443");
}

TEST(InClusterAccessTest, MissingHostVariableIsNamed) {
  TempDir dir;
  dir.Write("token", "sa-token\n");
  ScopedEnv host("KUBERNETES_SERVICE_HOST", nullptr);
  ScopedEnv port("KUBERNETES_SERVICE_PORT", "443");

  const auto access = InClusterAccess(dir.path().string());

  ASSERT_FALSE(access);
  EXPECT_THAT(access.error().Message(), HasSubstr("KUBERNETES_SERVICE_HOST"));
}

TEST(InClusterAccessTest, MissingPortVariableIsNamed) {
  TempDir dir;
  dir.Write("token", "sa-token\n");
  ScopedEnv host("KUBERNETES_SERVICE_HOST", "10.96.0.1");
  ScopedEnv port("KUBERNETES_SERVICE_PORT", nullptr);

  const auto access = InClusterAccess(dir.path().string());

  ASSERT_FALSE(access);
  EXPECT_THAT(access.error().Message(), HasSubstr("KUBERNETES_SERVICE_PORT"));
}

TEST(InClusterAccessTest, MissingTokenFileIsNamed) {
  TempDir dir;
  ScopedEnv host("KUBERNETES_SERVICE_HOST", "10.96.0.1");
  ScopedEnv port("KUBERNETES_SERVICE_PORT", "443");

  const auto access = InClusterAccess(dir.path().string());

  ASSERT_FALSE(access);
  EXPECT_EQ(access.error().file, dir.Path("token"));
}

}  // namespace
}  // namespace dg::k8s::kube_test
