// `dscp-gateway node` with the XDP programs replaced by a fake: the node tests exercise the
// netlink plumbing, the journal and its recovery on their own, with no BPF involved.
#include <string>
#include <vector>

#include "xdp/node_command.h"

namespace {

class FakePrograms final : public dg::node::NodePrograms {
 public:
  dg::EnvResult<void> Attach(const std::string&) override { return {}; }
  dg::EnvResult<void> Detach(const std::string&) override { return {}; }
  dg::EnvResult<dg::node::ProgramsStatus> Query(const std::string&) override {
    dg::node::ProgramsStatus status;
    status.detail = "fake programs (test build)";
    return status;
  }
};

}  // namespace

// Invoked like the real one: dscp-gateway-node-fake node attach ...
int main(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) != "node") return 2;
  FakePrograms programs;
  return dg::node::RunNodeCommand(std::vector<std::string>(argv + 2, argv + argc), programs);
}
