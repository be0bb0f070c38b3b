// `run` on a node prepared by `dscp-gateway node attach` (gateway.yaml `node: {uplink: ...}`):
// which interfaces the gateway serves, the af_xdp devices derived for them, the hand-over
// of the legs' XDP programs to DPDK's net_af_xdp and back, and the heartbeat that keeps the
// kernel leg from failing open while the worker runs (docs/architecture.md, "Kernel side").
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "control/control_plane.h"
#include "control/gateway_config.h"
#include "control/result.h"
#include "xdp/node_programs.h"

namespace dg {

// `auto` is the uplink the attach state file names; anything else must be the uplink the
// node is attached to. Fails, saying what to run, when the node is not attached.
EnvResult<xdp::NodeLegs> ResolveAttachedLegs(const std::string& uplink_setting,
                                             const std::string& state_path);

// Adds the two net_af_xdp devices (kernel leg on the gateway end of the veth pair, uplink
// on the uplink, each loading our own program through xdp_prog=) to the EAL arguments and
// names the ports after them. With no `eal` in the config, `-l 0-1 --no-pci` as well.
EnvResult<void> DeriveAttachedPorts(const xdp::NodeLegs& legs, GatewayConfig& config);

// Held while the gateway owns the legs: created after EAL init and before the ports are
// set up (the PMD attaches only where no program is), destroyed after the ports are
// closed (the PMD detaches whatever is there), on every exit path, failed starts included.
class XdpHandover {
 public:
  static EnvResult<std::unique_ptr<XdpHandover>> Begin(const xdp::NodeLegs& legs);
  ~XdpHandover();
  XdpHandover(const XdpHandover&) = delete;
  XdpHandover& operator=(const XdpHandover&) = delete;

  // Beats the kernel leg's heartbeat whenever `worker_heartbeat` has advanced since the last
  // look (every `period` on the control thread), and adds the programs' counters to every
  // metrics reading of `control_plane`.
  void Serve(boost::asio::io_context& io, ControlPlane& control_plane,
             std::function<uint64_t()> worker_heartbeat);

 private:
  XdpHandover(xdp::NodeLegs legs, xdp::XdpMaps maps);
  void ScheduleBeat();

  xdp::NodeLegs legs_;
  xdp::XdpMaps maps_;
  std::unique_ptr<boost::asio::steady_timer> timer_;
  std::function<uint64_t()> worker_heartbeat_;
  uint64_t last_worker_heartbeat_ = 0;
  bool beat_error_logged_ = false;
};

}  // namespace dg
