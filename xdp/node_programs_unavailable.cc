// Stand-in while xdp's loader is not part of the build: attach reports it and rolls back.
#include "xdp/node_command.h"

namespace dg::node {
namespace {

class UnavailablePrograms final : public NodePrograms {
 public:
  EnvResult<void> Attach(const std::string& uplink) override {
    return EnvironmentError{"attach XDP programs to " + uplink, "this build has no XDP loader"};
  }
  EnvResult<void> Detach(const std::string&) override { return {}; }
  EnvResult<ProgramsStatus> Query(const std::string&) override {
    return EnvironmentError{"query XDP programs", "this build has no XDP loader"};
  }
};

}  // namespace

std::unique_ptr<NodePrograms> MakeNodePrograms() { return std::make_unique<UnavailablePrograms>(); }

}  // namespace dg::node
