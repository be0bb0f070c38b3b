// DPDK port bring-up for the two legs of the bump in the wire.
#pragma once

#include <cstdint>
#include <string>

#include "control/result.h"

struct rte_mempool;

namespace dg {

struct PortStatistics {
  uint64_t rx_packets = 0, rx_bytes = 0, tx_packets = 0, tx_bytes = 0;
  uint64_t rx_missed = 0, rx_errors = 0, tx_errors = 0, rx_nombuf = 0;
};

// Finds the device by its DPDK name (a vdev name such as net_af_xdp0, or a PCI address),
// configures one rx and one tx queue, starts it and enables promiscuous mode: a bump in
// the wire must see frames for every MAC behind it.
Result<uint16_t> StartPort(const std::string& device_name, const std::string& role,
                           rte_mempool* pool, uint16_t ring_size);
void StopPort(uint16_t port_id);
PortStatistics ReadPortStatistics(uint16_t port_id);
bool PortLinkUp(uint16_t port_id);

}  // namespace dg
