// The node's XDP programs (xdp/dg_*.bpf.c) and their loader: libbpf, no `ip` shelling out.
//
// Three legs: the uplink (IFACE) gets dg_uplink (ingress straight to the kernel leg),
// dgw-gateway gets dg_kernel_leg (egress to the gateway's AF_XDP socket, or fail-open
// to the uplink), dgw-kernel gets dg_napi_pass (an XDP program gives a veth the NAPI
// context that XDP_REDIRECT into its peer needs). Shared maps are pinned by name in
// /sys/fs/bpf so DPDK's net_af_xdp, loading the same objects through `xdp_prog=`,
// shares them (docs/architecture.md, "Kernel side").
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "control/result.h"
#include "dscp_gateway_abi.h"

struct bpf_object;

namespace dg::xdp {

struct NodeLegs {      // interface names
  std::string uplink;  // IFACE
  std::string gateway_leg = "dgw-gateway";
  std::string kernel_leg = "dgw-kernel";
};

enum class AttachMode { kNone, kNative, kGeneric, kOffload };
std::string_view AttachModeName(AttachMode mode);  // "none", "native", "skb", "offload"

enum class NodeProgram { kKernelLeg, kUplink, kNapi };

// Where the compiled objects are: $DSCP_GATEWAY_BPF_DIR, else next to the executable
// (or ../xdp from it, the build tree), else the install directory. The one place that
// decides; the gateway passes ObjectPath(kKernelLeg) / ObjectPath(kUplink) as the
// net_af_xdp `xdp_prog=` devarg.
EnvResult<std::string> ObjectPath(NodeProgram program);

// Loads the objects, pins shared maps, attaches the three programs (native mode where
// the driver has it, else SKB mode), writes the redirect targets, sets the heartbeat staleness.
// Idempotent: a leg that already has a program gets the new one atomically
// (XDP_FLAGS_REPLACE, no detach/attach gap), whoever loaded the old one.
EnvResult<void> AttachNodePrograms(const NodeLegs& legs);

// Detaches the three programs and removes the pins; succeeds when nothing is attached
// or an interface no longer exists.
EnvResult<void> DetachNodePrograms(const NodeLegs& legs);

struct LegStatus {
  std::string interface;
  bool exists = false;
  uint32_t program_id = 0;  // 0: no program attached
  std::string program_name;
  AttachMode mode = AttachMode::kNone;
};

using XdpCounterTotals = std::array<uint64_t, DG_XDP_COUNTER_COUNT>;

struct XdpCounterInfo {
  std::string_view name;  // metric: dscp_gateway_xdp_<name>_total
  std::string_view help;
};
// Indexed by dg_xdp_counter; declared once in dscp_gateway_abi.h.
const std::array<XdpCounterInfo, DG_XDP_COUNTER_COUNT>& XdpCounterInfos();

struct NodeProgramsStatus {
  LegStatus uplink;
  LegStatus gateway_leg;
  LegStatus kernel_leg;
  bool maps_pinned = false;
  // AF_XDP sockets bound to the gateway leg (sock_diag); 0 means egress fails open.
  // nullopt: unknown, the kernel has no CONFIG_XDP_SOCKETS_DIAG.
  std::optional<uint32_t> gateway_sockets_bound;
  std::optional<std::chrono::nanoseconds> heartbeat_age;  // nullopt: never beat
  std::chrono::nanoseconds heartbeat_stale_after{0};      // 0: check disabled
  XdpCounterTotals counters{};                            // summed over CPUs
};

EnvResult<NodeProgramsStatus> QueryNodePrograms(const NodeLegs& legs);

// Hand-over with DPDK 22.11's net_af_xdp (it attaches only where no program is, and
// detaches whatever is there on port close). Before the gateway opens its ports:
// detaches the programs from the uplink and the gateway leg (pins stay, dg_napi_pass
// stays) and writes a fresh heartbeat. Frames in the gap until the PMD has attached
// its instance are lost (measured in docs/architecture.md).
EnvResult<void> ReleaseLegsForGateway(const NodeLegs& legs);
// After the gateway closed its ports (or any time): the node's instances back in place;
// same as AttachNodePrograms.
EnvResult<void> RestoreLegsAfterGateway(const NodeLegs& legs);

// The gateway control thread's handle on the pinned maps: heartbeat and counters.
class XdpMaps {
 public:
  static EnvResult<XdpMaps> OpenPinned();
  // The same maps of a loaded object, through duplicates of its descriptors: an object
  // loaded with PinMaps::kNo, as the BPF_PROG_TEST_RUN tests load theirs. An object
  // without a heartbeat map (dg_uplink) gives maps whose heartbeat calls return errors.
  static EnvResult<XdpMaps> OfObject(bpf_object* object);
  XdpMaps(XdpMaps&& other) noexcept;
  XdpMaps& operator=(XdpMaps&& other) noexcept;
  XdpMaps(const XdpMaps&) = delete;
  XdpMaps& operator=(const XdpMaps&) = delete;
  ~XdpMaps();

  // CLOCK_MONOTONIC now, the clock bpf_ktime_get_ns() reads.
  EnvResult<void> Beat();
  EnvResult<void> WriteHeartbeat(uint64_t monotonic_ns);
  // 0 disables the check (frames go to a bound socket whatever the heartbeat).
  EnvResult<void> SetStaleAfter(uint64_t stale_after_ns);
  EnvResult<dg_xdp_heartbeat> ReadHeartbeat() const;
  EnvResult<XdpCounterTotals> ReadCounters() const;

 private:
  XdpMaps(int heartbeat_fd, int counters_fd);
  EnvResult<void> UpdateHeartbeat(const dg_xdp_heartbeat& heartbeat);
  int heartbeat_fd_ = -1;
  int counters_fd_ = -1;
};

}  // namespace dg::xdp
