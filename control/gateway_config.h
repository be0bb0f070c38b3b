// The daemon's configuration file (configs/gateway.yaml documents every key).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "control/result.h"
#include "dscp_gateway_abi.h"

namespace dg {

// Live sync from the Kubernetes API (k8s-sync/): the `kubernetes:` section of gateway.yaml.
// The reflectors and caches take this struct as it is, so a new setting is a field here
// and its parse line in gateway_config.cc.
struct KubernetesSettings {
  bool enabled = false;    // off: the static files are the policy
  std::string kubeconfig;  // empty: in-cluster service account
  std::string context;     // kubeconfig context; empty: current-context
  std::string node_name;   // empty: $NODE_NAME (see ResolveKubernetesSettings)
  bool all_pods = false;   // every pod of the cluster, not only this node's
  std::string config_map_namespace = "dscp-gateway";
  std::string config_map_name = "dscp-gateway-priorities";      // empty: do not watch
  std::string namespace_class_label = "dscp-gateway.io/class";  // empty: do not watch
  // Server-side watch duration; like client-go each watch asks for a random value in
  // [watch_timeout, 2*watch_timeout) so that many gateways do not reconnect in step.
  std::chrono::seconds watch_timeout{300};
  // A stream silent for this long is presumed dead (bookmarks keep a live one talking).
  std::chrono::seconds idle_timeout{90};
  uint32_t page_size = 500;  // items per LIST page
  // Not in gateway.yaml: reconnect pacing and its randomness, which tests shorten and seed.
  std::chrono::milliseconds backoff_initial{500};
  std::chrono::milliseconds backoff_max{30000};
  uint64_t random_seed = 0;  // 0: from std::random_device
};

// Defaults with more than one user, declared once. The REST address is also dscpctl's
// default endpoint.
inline constexpr const char* kDefaultRestHost = "127.0.0.1";
inline constexpr uint16_t kDefaultRestPort = 9470;
std::string DefaultRestListen();  // kDefaultRestHost:kDefaultRestPort
inline constexpr uint32_t kDefaultPodTableSize = 262144;
// tmpfs: a reboot (which also removes the veth pair) forgets the attach journal too.
inline constexpr const char* kDefaultNodeStateFile = "/run/dscp-gateway/node.json";

// `datapath.mode`: enforce marks and shapes; observe classifies and counts exactly as
// enforce would, but forwards every frame unchanged and unshaped (a dry run on live
// traffic). Switchable by reload: the control plane publishes it with the policy snapshot.
enum class DatapathMode : uint8_t { kEnforce, kObserve };
inline constexpr DatapathMode kDefaultDatapathMode = DatapathMode::kEnforce;
// "enforce"/"observe": the spelling gateway.yaml, replay's --mode and the documents use.
std::string_view DatapathModeName(DatapathMode mode);
Result<DatapathMode> ParseDatapathMode(std::string_view text, const std::string& source,
                                       const std::string& key);

// `podEgressStamp`: classify masqueraded pod egress by its pod (docs/architecture.md,
// "Masqueraded egress"). Off by default: it rewrites the DSCP pods see on traffic that
// stays in the node (to a pool-3 codepoint) and needs the guard on the kernel leg, which
// only a gateway on an attached node (or with guardInterface) can place.
struct PodEgressStampSettings {
  bool enabled = false;
  // Host-side pod veths get the stamp program as they appear (fnmatch patterns); the CNIs'
  // usual prefixes: bridge/ptp plugins, Calico, Cilium, GKE, Azure.
  std::vector<std::string> interfaces = {"veth*", "cali*", "lxc*", "gke*", "azv*"};
  // Where the guard goes: the interface the node's kernel sends egress through. Empty: the
  // kernel leg of `node attach` (dgw-kernel); required without node.uplink.
  std::string guard_interface;
};

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

  std::string rest_listen = DefaultRestListen();

  uint32_t burst_size = 32;                        // packets per rx/tx burst, 1..256
  uint32_t mbufs = 16383;                          // mempool size (per gateway)
  uint32_t pod_table_size = kDefaultPodTableSize;  // pod addresses the datapath table holds
  DatapathMode datapath_mode = kDefaultDatapathMode;

  KubernetesSettings kubernetes;

  // `node: {uplink: IFACE|auto}`: run on the plumbing `dscp-gateway node attach` made. The
  // af_xdp vdevs and port names are then derived (gateway/attached_node.h), `ports` must
  // be absent and `eal` holds only the other EAL arguments. Empty: `eal`/`ports` as written.
  std::string node_uplink;
  // Where `node attach` keeps its journal (`node.stateFile`; `node attach --state-file`).
  std::string node_state_file = kDefaultNodeStateFile;

  PodEgressStampSettings pod_egress_stamp;

  std::string source;  // the file this came from, for messages
};

// Unknown keys are errors. Relative policy paths resolve against the config file's
// directory first, then against the working directory.
Result<GatewayConfig> ParseGatewayConfig(std::string_view text, const std::string& source);
Result<GatewayConfig> LoadGatewayConfigFile(const std::string& path);

// config.kubernetes with the node whose pods are watched resolved: kubernetes.nodeName, else
// `node_name_env` (pass getenv("NODE_NAME"): the DaemonSet sets it from spec.nodeName). An
// error when neither names one and allPods is off.
Result<KubernetesSettings> ResolveKubernetesSettings(const GatewayConfig& config,
                                                     const char* node_name_env);

}  // namespace dg
