// The daemon's subcommands, kept out of main.cc so each reads on its own.
#pragma once

#include <string>

#include "control/gateway_config.h"
#include "control/pods.h"
#include "control/policy.h"

namespace dg {

struct PolicyInputs {
  PriorityPolicy policy;
  std::vector<PodTableEntry> pods;
};

// Loads the priorities ConfigMap and the PodList (either may be empty: default policy,
// empty table). Nothing is touched on error.
Result<PolicyInputs> LoadPolicyInputs(const std::string& priorities_path,
                                      const std::string& pods_path);

// `run`: returns the process exit code.
int RunGateway(const GatewayConfig& config, const PolicyInputs& inputs);

struct ReplayOptions {
  std::string priorities_path;
  std::string pods_path;
  std::string input_pcap;
  std::string output_pcap;
  bool json = false;
  uint16_t burst_size = 32;
  uint32_t queue_depth = 1024;
  std::vector<uint16_t> vxlan_ports = {4789, 8472};
  std::vector<uint16_t> geneve_ports = {6081};
};

// `replay`: returns the process exit code.
int RunReplay(const ReplayOptions& options, const PolicyInputs& inputs);

}  // namespace dg
