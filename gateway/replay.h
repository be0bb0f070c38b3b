// `dscp-gateway replay`: the live datapath over a capture (gateway/capture_file.h), through
// DPDK's ring PMD.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "control/gateway_config.h"
#include "gateway/datapath.h"

namespace dg {

struct ReplayOptions {
  std::string priorities_path;
  std::string pods_path;
  std::string input_pcap;
  std::string output_pcap;
  bool json = false;
  DatapathMode mode = kDefaultDatapathMode;
  uint16_t burst_size = 32;
  uint32_t queue_depth = 1024;
  uint64_t shaper_rate_bps = 0;  // what class rates in percent are shares of; replay never shapes
  std::vector<uint16_t> vxlan_ports = GatewayConfig().vxlan_ports;
  std::vector<uint16_t> geneve_ports = GatewayConfig().geneve_ports;
};

// Returns the process exit code.
int RunReplay(const ReplayOptions& options, const PolicyInputs& inputs);

}  // namespace dg
