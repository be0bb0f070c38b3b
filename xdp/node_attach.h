// `dscp-gateway node attach | detach | status`: moves a node's addresses, routes, MAC and MTU
// from its uplink to the kernel-facing veth end and back, journaled so any interruption
// converges (see docs/node.md for each step and why).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "control/result.h"
#include "xdp/node_netlink.h"
#include "xdp/node_state.h"

namespace dg::node {

// The veth pair attach creates: the kernel keeps the node's identity on kKernelLeg; the
// gateway's AF_XDP socket and the fail-open program sit on kGatewayLeg.
inline constexpr const char* kKernelLeg = "dgw-kernel";
inline constexpr const char* kGatewayLeg = "dgw-gateway";

struct ProgramsStatus {
  bool attached = false;
  std::optional<bool> gateway_socket_bound;     // nullopt: the kernel cannot tell (no xsk_diag)
  std::optional<double> heartbeat_age_seconds;  // nullopt: the gateway never beat
  uint64_t failed_open_frames = 0;
  uint64_t bypassed_frames = 0;
  std::string detail;  // one line for humans
};

// The XDP programs on the uplink and the legs, behind an interface so the netlink plumbing
// can be exercised with a fake (tests) as well as with the real loader (xdp/node_programs.h).
class NodePrograms {
 public:
  virtual ~NodePrograms() = default;
  virtual EnvResult<void> Attach(const std::string& uplink) = 0;  // idempotent
  virtual EnvResult<void> Detach(const std::string& uplink) = 0;  // ok when none attached
  virtual EnvResult<ProgramsStatus> Query(const std::string& uplink) = 0;
};

// Attach steps, in order; the journal records the one last started.
enum class AttachStep : int {
  kCreateLegs = 1,
  kSetOffloads,
  kRemoveUplinkRoutes,
  kMoveAddresses,
  kQuietUplink,
  kAddKernelLegRoutes,
  kAttachPrograms,
};
inline constexpr int kAttachStepCount = 7;
const char* AttachStepName(AttachStep step);

struct AttachOptions {
  std::string uplink;  // a name, or "auto": the interface of the IPv4 default route
  std::string state_path = kDefaultStatePath;
  // Test hook: SIGKILL ourselves right after this step completes (0: never).
  int kill_after_step = 0;
};

// What the command tells the operator on success.
struct Outcome {
  bool changed = false;
  std::string message;
};

EnvResult<Outcome> AttachNode(Rtnetlink& netlink, NodePrograms& programs,
                              const AttachOptions& options);
struct DetachOptions {
  std::string uplink;  // empty or "auto": the one in the state file
  std::string state_path = kDefaultStatePath;
  // Test hook: SIGKILL ourselves right after deleting the veth pair, when the node's
  // addresses are on no interface at all (the worst moment to die).
  bool kill_after_deleting_legs = false;
};

EnvResult<Outcome> DetachNode(Rtnetlink& netlink, NodePrograms& programs,
                              const DetachOptions& options);

struct NodeStatus {
  std::optional<NodeState> state;
  std::optional<LinkInfo> uplink;
  std::optional<LinkInfo> kernel_leg;
  std::optional<LinkInfo> gateway_leg;
  size_t kernel_leg_addresses = 0;
  std::optional<ProgramsStatus> programs;
  std::string programs_error;
};

EnvResult<NodeStatus> QueryNodeStatus(Rtnetlink& netlink, NodePrograms& programs,
                                      const std::string& state_path);
std::string NodeStatusText(const NodeStatus& status);
std::string NodeStatusJson(const NodeStatus& status);

}  // namespace dg::node
