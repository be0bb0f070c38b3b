#include "gateway/attached_node.h"

#include <chrono>
#include <utility>

#include "control/log.h"
#include "control/metrics.h"
#include "xdp/node_state.h"

namespace dg {
namespace {

// Four beats per staleness window (DG_XDP_HEARTBEAT_STALE_AFTER_NS_DEFAULT, 250 ms): a
// control thread late by one tick does not fail the node open.
constexpr std::chrono::milliseconds kBeatPeriod{50};

// The kernel leg is a veth pair we create with one queue; the uplink's other rx queues
// bypass the gateway in the kernel anyway (dg_uplink), and the gateway sends on queue 0.
std::string AfXdpDevice(const char* device, const std::string& interface,
                        const std::string& program) {
  return std::string(device) + ",iface=" + interface +
         ",start_queue=0,queue_count=1,xdp_prog=" + program;
}

}  // namespace

EnvResult<xdp::NodeLegs> ResolveAttachedLegs(const std::string& uplink_setting,
                                             const std::string& state_path) {
  auto state = node::LoadNodeState(state_path);
  if (!state) return state.error();
  const std::string attach_hint =
      "run `dscp-gateway node attach --uplink " +
      (uplink_setting == "auto" ? std::string("IFACE|auto") : uplink_setting) + "` first";
  if (!state->has_value()) {
    return EnvironmentError{"node.uplink " + uplink_setting,
                            "this node is not attached (no " + state_path + "): " + attach_hint};
  }
  const node::NodeState& attached = **state;
  if (attached.phase != node::Phase::kAttached) {
    return EnvironmentError{"node.uplink " + uplink_setting, std::string("node attach is ") +
                                                                 node::PhaseName(attached.phase) +
                                                                 " (interrupted?): " + attach_hint};
  }
  if (uplink_setting != "auto" && uplink_setting != attached.uplink.name) {
    return EnvironmentError{
        "node.uplink " + uplink_setting,
        "the node is attached to " + attached.uplink.name + ", not " + uplink_setting};
  }
  xdp::NodeLegs legs;
  legs.uplink = attached.uplink.name;
  return legs;
}

EnvResult<void> DeriveAttachedPorts(const xdp::NodeLegs& legs, GatewayConfig& config) {
  auto kernel_leg_program = xdp::ObjectPath(xdp::NodeProgram::kKernelLeg);
  if (!kernel_leg_program) return kernel_leg_program.error();
  auto uplink_program = xdp::ObjectPath(xdp::NodeProgram::kUplink);
  if (!uplink_program) return uplink_program.error();
  if (config.eal_args.empty()) config.eal_args = {"-l", "0-1", "--no-pci"};
  config.kernel_port = "net_af_xdp0";
  config.uplink_port = "net_af_xdp1";
  config.eal_args.insert(
      config.eal_args.end(),
      {"--vdev", AfXdpDevice("net_af_xdp0", legs.gateway_leg, *kernel_leg_program), "--vdev",
       AfXdpDevice("net_af_xdp1", legs.uplink, *uplink_program)});
  return {};
}

EnvResult<std::unique_ptr<XdpHandover>> XdpHandover::Begin(const xdp::NodeLegs& legs) {
  auto maps = xdp::XdpMaps::OpenPinned();
  if (!maps) return maps.error();
  if (auto released = xdp::ReleaseLegsForGateway(legs); !released) {
    // Whatever part was released goes back: the node must not stay cut off.
    if (auto restored = xdp::RestoreLegsAfterGateway(legs); !restored) {
      DG_LOG_ERROR("node", "%s", restored.error().Message().c_str());
    }
    return released.error();
  }
  return std::unique_ptr<XdpHandover>(new XdpHandover(legs, std::move(*maps)));
}

XdpHandover::XdpHandover(xdp::NodeLegs legs, xdp::XdpMaps maps)
    : legs_(std::move(legs)), maps_(std::move(maps)) {}

XdpHandover::~XdpHandover() {
  if (timer_) timer_->cancel();
  if (auto restored = xdp::RestoreLegsAfterGateway(legs_); !restored) {
    DG_LOG_ERROR("node",
                 "the node's XDP programs are not back in place, run `dscp-gateway node "
                 "attach --uplink %s`: %s",
                 legs_.uplink.c_str(), restored.error().Message().c_str());
    return;
  }
  DG_LOG_INFO("node", "XDP programs back on %s and %s: the node fails open until a gateway runs",
              legs_.uplink.c_str(), legs_.gateway_leg.c_str());
}

void XdpHandover::Serve(boost::asio::io_context& io, ControlPlane& control_plane,
                        std::function<uint64_t()> worker_heartbeat) {
  worker_heartbeat_ = std::move(worker_heartbeat);
  timer_ = std::make_unique<boost::asio::steady_timer>(io);
  control_plane.AddMetricSource([this](MetricSnapshot& snapshot) {
    auto counters = maps_.ReadCounters();
    if (!counters) return;  // the map went away (node detached): no rows, /healthz says why
    size_t counter = 0;
    for (size_t metric = 0; metric < kMetricCount && counter < counters->size(); ++metric) {
      if (kMetricSpecs[metric].group != MetricGroup::kXdp) continue;
      snapshot.Add(metric, {}, (*counters)[counter++]);
    }
  });
  ScheduleBeat();
}

void XdpHandover::ScheduleBeat() {
  timer_->expires_after(kBeatPeriod);
  timer_->async_wait([this](const boost::system::error_code& error) {
    if (error) return;
    // A stalled worker must stop the beat, so that the kernel leg fails open.
    const uint64_t heartbeat = worker_heartbeat_();
    if (heartbeat != last_worker_heartbeat_) {
      last_worker_heartbeat_ = heartbeat;
      if (auto beat = maps_.Beat(); !beat && !beat_error_logged_) {
        beat_error_logged_ = true;
        DG_LOG_WARNING("node", "heartbeat not written, the kernel leg fails open: %s",
                       beat.error().Message().c_str());
      }
    }
    ScheduleBeat();
  });
}

}  // namespace dg
