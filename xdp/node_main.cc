// `dscp-gateway node ...` with the real programs (MakeNodePrograms: xdp's loader).
#include "xdp/node_command.h"

namespace dg::node {

int NodeMain(int argc, char** argv) {
  std::unique_ptr<NodePrograms> programs = MakeNodePrograms();
  return RunNodeCommand(std::vector<std::string>(argv + 1, argv + argc), *programs);
}

}  // namespace dg::node
