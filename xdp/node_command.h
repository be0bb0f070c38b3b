// The `dscp-gateway node` subcommand: argument parsing and output around xdp/node_attach.h.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "xdp/node_attach.h"

namespace dg::node {

// The real programs: xdp's loader (xdp/node_programs.h).
std::unique_ptr<NodePrograms> MakeNodePrograms();

// args: what follows "node" on the command line. Exit code: 0 ok, 1 failed, 2 usage.
int RunNodeCommand(const std::vector<std::string>& args, NodePrograms& programs);

// Entry point for gateway/main.cc: `dscp-gateway node ...` with argv[0] = "node".
int NodeMain(int argc, char** argv);

}  // namespace dg::node
