// The real transport: HTTPS to the API server with Boost.Beast over Asio SSL, with
// kept-alive connections for GETs. Where the server is and the credentials: cluster_access.h.
#pragma once

#include <boost/asio/io_context.hpp>
#include <memory>
#include <optional>
#include <string>

#include "control/result.h"
#include "k8s-sync/cluster_access.h"
#include "k8s-sync/kube_transport.h"

namespace dg::k8s {

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
