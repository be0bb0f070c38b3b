// The journal of `node attach`: what the node looked like before (so detach can put it back
// exactly) and the step attach was about to run. Written atomically before every step.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "control/gateway_config.h"
#include "control/result.h"
#include "xdp/node_netlink.h"

namespace dg::node {

inline constexpr const char* kDefaultStatePath = kDefaultNodeStateFile;

enum class Phase { kAttaching, kAttached, kDetaching };
const char* PhaseName(Phase phase);  // "attaching", "attached", "detaching": as in the file

struct UplinkSnapshot {
  std::string name;
  int ifindex = 0;
  MacAddress mac{};
  uint32_t mtu = 0;
  bool promisc = false;
  bool ipv6_disabled = false;
  std::map<std::string, bool> offloads;  // by OffloadName
  std::vector<RawMessage> addresses;     // RTM_NEWADDR as dumped from the uplink
  std::vector<RawMessage> routes;        // RTM_NEWROUTE using the uplink, kernel-made ones excluded
};

struct NodeState {
  UplinkSnapshot uplink;
  Phase phase = Phase::kAttaching;
  int step = 0;  // the attach step last started (journal position)
};

std::string NodeStateToJson(const NodeState& state);
// Errors name the file and the key that is wrong.
Result<NodeState> NodeStateFromJson(const std::string& text, const std::string& path);

// nullopt when there is no state file (not attached).
EnvResult<std::optional<NodeState>> LoadNodeState(const std::string& path);
// Write to a temporary file, fsync, rename: a crash leaves the old or the new journal.
EnvResult<void> SaveNodeState(const std::string& path, const NodeState& state);
EnvResult<void> RemoveNodeState(const std::string& path);

std::string FormatMac(const MacAddress& mac);

}  // namespace dg::node
