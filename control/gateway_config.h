// The daemon's configuration file (configs/gateway.yaml documents every key).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "control/result.h"
#include "dscp_gateway_abi.h"

namespace dg {

// Defaults with more than one user, declared once.
inline constexpr char kDefaultRestListen[] = "127.0.0.1:9470";
inline constexpr uint32_t kDefaultPodTableSize = 262144;

struct GatewayConfig {
  std::vector<std::string> eal_args;        // passed to rte_eal_init after argv[0]
  std::string kernel_port = "net_af_xdp0";  // DPDK device name of the kernel-facing leg
  std::string uplink_port = "net_af_xdp1";  // DPDK device name of the uplink leg

  uint64_t shaper_rate_bps = 0;          // 0: unshaped
  uint32_t shaper_burst_bytes = 0;       // 0: derived from the rate (see docs/configuration.md)
  uint32_t framing_overhead_bytes = 24;  // preamble+SFD 8, FCS 4, inter-frame gap 12

  uint32_t queue_depth = 1024;  // packets per class queue; rounded up to a power of two

  std::string priorities_path;  // empty: DefaultPriorityPolicy()
  std::string pods_path;        // empty: empty pod table

  std::vector<uint16_t> vxlan_ports = {DG_VXLAN_PORT_IANA, DG_VXLAN_PORT_LINUX};
  std::vector<uint16_t> geneve_ports = {DG_GENEVE_PORT};

  std::string rest_listen = kDefaultRestListen;

  uint32_t burst_size = 32;                        // packets per rx/tx burst, 1..256
  uint32_t mbufs = 16383;                          // mempool size (per gateway)
  uint32_t pod_table_size = kDefaultPodTableSize;  // pod addresses the datapath table holds

  // Live sync from the Kubernetes API (k8s-sync/). Off: the static files are the policy.
  struct Kubernetes {
    bool enabled = false;
    std::string kubeconfig;  // empty: in-cluster service account
    std::string context;     // kubeconfig context; empty: current-context
    std::string node_name;   // empty: $NODE_NAME (the DaemonSet sets it from spec.nodeName)
    bool all_pods = false;   // every pod of the cluster, not only this node's
    std::string config_map_namespace = "dscp-gateway";
    std::string config_map_name = "dscp-gateway-priorities";      // empty: do not watch
    std::string namespace_class_label = "dscp-gateway.io/class";  // empty: do not watch
    uint32_t watch_timeout_seconds = 300;
    uint32_t idle_timeout_seconds = 90;  // a watch silent this long is presumed dead
    uint32_t page_size = 500;
  } kubernetes;

  std::string source;  // the file this came from, for messages
};

// Unknown keys are errors. Relative policy paths resolve against the config file's
// directory first, then against the working directory.
Result<GatewayConfig> ParseGatewayConfig(std::string_view text, const std::string& source);
Result<GatewayConfig> LoadGatewayConfigFile(const std::string& path);

}  // namespace dg
