// The real transport: HTTPS to the API server with Boost.Beast over Asio SSL.
#pragma once

#include <boost/asio/io_context.hpp>
#include <memory>
#include <optional>
#include <string>

#include "control/result.h"
#include "k8s-sync/kube_transport.h"

namespace dg::k8s {

// Where the API server is and how to authenticate.
struct ClusterAccess {
  std::string server;      // "https://host:port"
  std::string ca_file;     // PEM; empty with ca_data empty: system roots
  std::string ca_data;     // PEM text (kubeconfig certificate-authority-data, decoded)
  std::string token;       // static bearer token
  std::string token_file;  // re-read when it changes (bound service-account tokens rotate)
  std::string client_cert_file, client_key_file;  // client-certificate auth
  std::string client_cert_data, client_key_data;  // PEM text (kubeconfig *-data, decoded)
  bool insecure_skip_tls_verify = false;
  std::string source;  // "in-cluster" or the kubeconfig path, for messages
};

// In-cluster: KUBERNETES_SERVICE_HOST/PORT, the service-account token file and CA
// under /var/run/secrets/kubernetes.io/serviceaccount (root overridable for tests).
Result<ClusterAccess> InClusterAccess(
    const std::string& service_account_dir = "/var/run/secrets/kubernetes.io/serviceaccount");

// A kubeconfig file: current-context (or `context` if given) -> cluster + user. Supports
// token, tokenFile, client-certificate(-data)/client-key(-data), certificate-authority(-data),
// insecure-skip-tls-verify. Exec/auth-provider plugins are rejected with a clear error.
Result<ClusterAccess> KubeconfigAccess(const std::string& path, const std::string& context = "");

class KubeClient : public KubeTransport {
 public:
  static Result<std::unique_ptr<KubeClient>> Create(boost::asio::io_context& io,
                                                    ClusterAccess access);
  ~KubeClient() override;

  boost::asio::awaitable<KubeResponse> Get(std::string target) override;
  boost::asio::awaitable<KubeResponse> Stream(std::string target,
                                              std::function<bool(std::string_view line)> on_line,
                                              std::chrono::milliseconds idle_timeout) override;
  std::string Describe() const override;

 private:
  struct Impl;
  explicit KubeClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace dg::k8s
