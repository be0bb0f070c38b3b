// NodePrograms backed by xdp's loader (xdp/node_programs.h).
#include "xdp/node_command.h"
#include "xdp/node_programs.h"

namespace dg::node {
namespace {

xdp::NodeLegs Legs(const std::string& uplink) {
  return xdp::NodeLegs{uplink, kGatewayLeg, kKernelLeg};
}

std::string LegText(const char* role, const xdp::LegStatus& leg) {
  if (leg.program_id == 0) return std::string(role) + " none";
  return std::string(role) + " " + leg.program_name + " (" +
         std::string(xdp::AttachModeName(leg.mode)) + ")";
}

class XdpPrograms final : public NodePrograms {
 public:
  EnvResult<void> Attach(const std::string& uplink) override {
    return xdp::AttachNodePrograms(Legs(uplink));
  }
  EnvResult<void> Detach(const std::string& uplink) override {
    return xdp::DetachNodePrograms(Legs(uplink));
  }
  EnvResult<ProgramsStatus> Query(const std::string& uplink) override {
    auto queried = xdp::QueryNodePrograms(Legs(uplink));
    if (!queried) return queried.error();
    ProgramsStatus status;
    status.attached = queried->uplink.program_id != 0 && queried->gateway_leg.program_id != 0 &&
                      queried->kernel_leg.program_id != 0;
    if (queried->gateway_sockets_bound)
      status.gateway_socket_bound = *queried->gateway_sockets_bound > 0;
    if (queried->heartbeat_age) {
      status.heartbeat_age_seconds = std::chrono::duration<double>(*queried->heartbeat_age).count();
    }
    const xdp::XdpCounterTotals& counters = queried->counters;
    status.failed_open_frames = counters[DG_XDP_FAIL_OPEN_NO_SOCKET] +
                                counters[DG_XDP_FAIL_OPEN_STALE_HEARTBEAT] +
                                counters[DG_XDP_FAIL_OPEN_UNAVAILABLE];
    status.bypassed_frames = counters[DG_XDP_BYPASS_TO_KERNEL];
    status.detail = LegText("uplink", queried->uplink) + ", " +
                    LegText("gateway leg", queried->gateway_leg) + ", " +
                    LegText("kernel leg", queried->kernel_leg);
    return status;
  }
};

}  // namespace

std::unique_ptr<NodePrograms> MakeNodePrograms() { return std::make_unique<XdpPrograms>(); }

}  // namespace dg::node
