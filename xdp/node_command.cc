#include "xdp/node_command.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "control/log.h"

namespace dg::node {
namespace {

constexpr const char* kComponent = "node";

constexpr const char* kNodeUsage = R"(usage:
  dscp-gateway node attach --uplink IFACE|auto [--state-file PATH]
      Put the gateway between the node and its uplink IFACE (auto: the interface of the
      IPv4 default route): create the veth pair dgw-kernel/dgw-gateway, move IFACE's
      addresses, routes (every table), MAC and MTU to dgw-kernel, turn off the offloads
      AF_XDP needs off, attach the XDP programs (fail-open: the node stays connected
      with no gateway running). Journaled in the state file before every step; running
      it again finishes an interrupted attach, or says there is nothing to do.
  dscp-gateway node detach [--uplink IFACE|auto] [--state-file PATH]
      Undo attach: detach the programs, delete the veth pair, give IFACE back exactly
      what the state file saved. Also finishes an interrupted attach or detach.
  dscp-gateway node status [--state-file PATH] [--json]
      Attached or not, the interfaces, the programs, whether a gateway socket is bound
      and the fail-open counters.
Needs root (CAP_NET_ADMIN, and CAP_BPF/CAP_SYS_ADMIN for the programs).
Default state file: /run/dscp-gateway/node.json. Details: docs/node.md.
)";

// Test hook for the interrupted-attach tests: SIGKILL after this attach step.
constexpr const char* kKillAfterStepVariable = "DSCP_GATEWAY_NODE_KILL_AFTER_STEP";
// Test hook for the interrupted-detach test: SIGKILL once the veth pair is deleted.
constexpr const char* kKillDuringDetachVariable = "DSCP_GATEWAY_NODE_KILL_DURING_DETACH";

int UsageError(const std::string& message) {
  DG_LOG_ERROR(kComponent, "%s (see dscp-gateway node --help)", message.c_str());
  return 2;
}

int Failed(const EnvironmentError& error) {
  DG_LOG_ERROR(kComponent, "%s", error.Message().c_str());
  return 1;
}

}  // namespace

int RunNodeCommand(const std::vector<std::string>& args, NodePrograms& programs) {
  if (args.empty()) return UsageError("node needs attach, detach or status");
  const std::string& action = args.front();
  std::string uplink;
  std::string state_path = kDefaultStatePath;
  bool json = false;
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(kNodeUsage, stdout);
      return 0;
    }
    if (arg == "--json") {
      json = true;
    } else if ((arg == "--uplink" || arg == "--state-file") && i + 1 < args.size()) {
      (arg == "--uplink" ? uplink : state_path) = args[++i];
    } else if (arg == "--uplink" || arg == "--state-file") {
      return UsageError(arg + " needs a value");
    } else {
      return UsageError("unknown argument '" + arg + "'");
    }
  }
  if (action == "--help" || action == "-h" || action == "help") {
    std::fputs(kNodeUsage, stdout);
    return 0;
  }
  if (action != "attach" && action != "detach" && action != "status") {
    return UsageError("unknown node command '" + action + "'");
  }
  if (action == "attach" && uplink.empty())
    return UsageError("node attach needs --uplink IFACE (or auto)");
  if (json && action != "status") return UsageError("--json is for node status");
  if (geteuid() != 0) {
    return Failed({"node " + action, "needs root (CAP_NET_ADMIN to move addresses and routes)"});
  }
  auto netlink = Rtnetlink::Open();
  if (!netlink) return Failed(netlink.error());

  if (action == "status") {
    auto status = QueryNodeStatus(*netlink, programs, state_path);
    if (!status) return Failed(status.error());
    std::fputs((json ? NodeStatusJson(*status) : NodeStatusText(*status)).c_str(), stdout);
    return 0;
  }
  EnvResult<Outcome> outcome = EnvironmentError{};
  if (action == "attach") {
    AttachOptions options{uplink, state_path, 0};
    if (const char* kill_after = std::getenv(kKillAfterStepVariable))
      options.kill_after_step = std::atoi(kill_after);
    outcome = AttachNode(*netlink, programs, options);
  } else {
    DetachOptions options{uplink, state_path, std::getenv(kKillDuringDetachVariable) != nullptr};
    outcome = DetachNode(*netlink, programs, options);
  }
  if (!outcome) return Failed(outcome.error());
  std::printf("%s\n", outcome->message.c_str());
  return 0;
}

}  // namespace dg::node
