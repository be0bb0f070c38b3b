// DPDK port bring-up for the two legs of the bump in the wire.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "control/datapath_tables.h"
#include "control/result.h"

struct rte_mempool;

namespace dg {

// Finds the device by its DPDK name (a vdev name such as net_af_xdp0, or a PCI address),
// configures one rx and one tx queue, starts it and enables promiscuous mode: a bump in
// the wire must see frames for every MAC behind it.
class StartedPort;
EnvResult<StartedPort> StartPort(const std::string& device_name, const std::string& role,
                                 rte_mempool* pool, uint16_t ring_size);
PortStatistics ReadPortStatistics(uint16_t port_id);
bool PortLinkUp(uint16_t port_id);

// A started port: stopped and closed when it goes (or at Stop()), on every exit path.
class StartedPort {
 public:
  explicit StartedPort(uint16_t id) : id_(id) {}
  StartedPort(StartedPort&& other) noexcept : id_(std::exchange(other.id_, std::nullopt)) {}
  StartedPort& operator=(StartedPort&&) = delete;
  ~StartedPort() { Stop(); }

  uint16_t id() const { return *id_; }
  // Stops and closes now.
  void Stop();

 private:
  std::optional<uint16_t> id_;
};

// The control plane's view of the two started ports.
class DpdkPortView final : public PortView {
 public:
  DpdkPortView(uint16_t kernel_port, uint16_t uplink_port)
      : kernel_port_(kernel_port), uplink_port_(uplink_port) {}
  PortStatistics Statistics(PortRole role) const override { return ReadPortStatistics(Id(role)); }
  bool LinkUp(PortRole role) const override { return PortLinkUp(Id(role)); }

 private:
  uint16_t Id(PortRole role) const {
    return role == PortRole::kKernel ? kernel_port_ : uplink_port_;
  }
  uint16_t kernel_port_;
  uint16_t uplink_port_;
};

}  // namespace dg
