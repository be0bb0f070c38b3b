// Where the API server is and how to authenticate to it: a kubeconfig file or the
// in-cluster service account, and the bearer token that rotates under a running gateway.
// The HTTPS transport that uses it is kube_client.h.
#pragma once

#include <sys/stat.h>

#include <chrono>
#include <mutex>
#include <optional>
#include <string>

#include "control/gateway_config.h"
#include "control/result.h"

namespace dg::k8s {

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

// What `dscp-gateway run` checks before EAL touches a port: the settings with the node name
// resolved (ResolveNodeName) and the cluster access they select (kubeconfig, else in-cluster).
struct KubernetesStartup {
  KubernetesSettings settings;
  ClusterAccess access;
};
Result<KubernetesStartup> ResolveKubernetesStartup(const GatewayConfig& config);

// The bearer token of each request. A token file is re-read when it changes (a stat per
// request) or has not been read for a minute; while it cannot be read (a rotation in
// progress) the last good token stays in use. Thread-safe.
class BearerToken {
 public:
  // Reads the token file now, when there is one: unreadable or empty is an error.
  static Result<BearerToken> Create(const ClusterAccess& access);
  BearerToken(BearerToken&& other) noexcept;

  std::string Current();

 private:
  struct FileStamp {
    dev_t device = 0;
    ino_t inode = 0;
    off_t size = -1;
    timespec mtime{};
    timespec ctime{};
    bool operator==(const FileStamp& other) const;
  };
  using Clock = std::chrono::steady_clock;

  BearerToken() = default;
  // Reads the token file; the error when it cannot be read or is empty.
  std::optional<ConfigError> Load();

  std::mutex mutex_;  // guards the members below
  std::string token_file_;
  std::string token_;
  FileStamp stamp_;
  Clock::time_point read_at_;
};

}  // namespace dg::k8s
