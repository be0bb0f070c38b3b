#include "control/gateway_config.h"

#include <yaml-cpp/yaml.h>

#include <bit>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <optional>
#include <set>
#include <sstream>
#include <string_view>
#include <tuple>

#include "control/policy.h"
#include "control/rest_server.h"
#include "control/units.h"
#include "control/yaml_helpers.h"

namespace dg {

std::string DefaultRestListen() {
  return std::string(kDefaultRestHost) + ":" + std::to_string(kDefaultRestPort);
}

std::string_view DatapathModeName(DatapathMode mode) {
  return mode == DatapathMode::kObserve ? "observe" : "enforce";
}

Result<DatapathMode> ParseDatapathMode(std::string_view text, const std::string& source,
                                       const std::string& key) {
  for (DatapathMode mode : {DatapathMode::kEnforce, DatapathMode::kObserve}) {
    if (text == DatapathModeName(mode)) return mode;
  }
  return ConfigError{source, key, "'" + std::string(text) + "'; expected enforce or observe"};
}
namespace {

constexpr uint64_t kMinQueueDepth = 1;
constexpr uint64_t kMaxQueueDepth = 65536;
constexpr uint64_t kMinBurstSize = 1;
constexpr uint64_t kMaxBurstSize = 256;
constexpr uint64_t kMinMbufs = 1023;  // enough for two ports' rx rings plus in-flight queues
constexpr uint64_t kMaxFramingOverhead = 255;
constexpr uint64_t kMaxPort = 65535;
// The packet parser's fixed-size port tables (OverlayPorts::kMaxPorts in
// gateway/packet_parser.h) hold this many per overlay; more would be silently dropped.
constexpr size_t kMaxOverlayPortsPerKind = 8;

// A key written without a value ("rate:") means the same as leaving it out: the default.

// Walks one gateway.yaml, turning every problem into a ConfigError that names the key.
class GatewayConfigParser {
 public:
  explicit GatewayConfigParser(const std::string& source) : source_(source) {}

  Result<GatewayConfig> Parse(std::string_view text) {
    auto loaded = LoadYaml(text, source_);
    if (!loaded) return loaded.error();
    const YAML::Node root = *loaded;

    GatewayConfig config;
    config.source = source_;
    if (!IsPresent(root)) return config;  // An empty file selects every default.
    if (!root.IsMap()) return Error("", "expected a mapping of sections (eal, ports, ...)");
    if (auto error = CheckKeys(root, "",
                               {"eal", "ports", "shaper", "queues", "policy", "overlay", "rest",
                                "datapath", "kubernetes", "node", "podEgressStamp"})) {
      return *error;
    }
    for (auto section : {&GatewayConfigParser::ParseEal, &GatewayConfigParser::ParsePorts,
                         &GatewayConfigParser::ParseShaper, &GatewayConfigParser::ParseQueues,
                         &GatewayConfigParser::ParsePolicy, &GatewayConfigParser::ParseOverlay,
                         &GatewayConfigParser::ParseRest, &GatewayConfigParser::ParseDatapath,
                         &GatewayConfigParser::ParseKubernetes, &GatewayConfigParser::ParseNode,
                         &GatewayConfigParser::ParsePodEgressStamp}) {
      if (auto error = (this->*section)(root, config)) return *error;
    }
    return config;
  }

 private:
  using SectionError = std::optional<ConfigError>;

  ConfigError Error(const std::string& key, std::string reason) const {
    return ConfigError{source_, key, std::move(reason)};
  }

  // Typos must not pass silently: only known keys, each once (yaml-cpp keeps both copies of a
  // duplicated key and lookups would silently take the first).
  SectionError CheckKeys(const YAML::Node& mapping, const std::string& path,
                         std::initializer_list<std::string_view> allowed) const {
    std::set<std::string> seen;
    for (const auto& entry : mapping) {
      if (!entry.first.IsScalar()) return Error(path, "keys must be plain strings");
      const std::string key = entry.first.Scalar();
      bool known = false;
      std::string expected;
      for (std::string_view allowed_key : allowed) {
        known = known || key == allowed_key;
        expected += (expected.empty() ? "" : ", ") + std::string(allowed_key);
      }
      if (!known) return Error(ChildPath(path, key), "unknown key; expected one of: " + expected);
      if (!seen.insert(key).second) return Error(ChildPath(path, key), "duplicate key");
    }
    return std::nullopt;
  }

  // Returns the section's mapping, or an undefined node when the section is absent.
  Result<YAML::Node> Section(const YAML::Node& root, std::string_view name,
                             std::initializer_list<std::string_view> allowed) const {
    const YAML::Node section = root[std::string(name)];
    if (!IsPresent(section)) return YAML::Node(YAML::NodeType::Undefined);  // absent
    if (!section.IsMap()) return NodeError(Error(std::string(name), "expected a mapping"));
    if (auto error = CheckKeys(section, std::string(name), allowed)) return NodeError(*error);
    return section;
  }

  Result<std::string> String(const YAML::Node& node, const std::string& path) const {
    if (!node.IsScalar()) return Error(path, "expected a string");
    if (node.Scalar().empty()) return Error(path, "must not be empty");
    return StringValue(node.Scalar());
  }

  Result<uint64_t> Unsigned(const YAML::Node& node, const std::string& path, uint64_t minimum,
                            uint64_t maximum) const {
    const std::string range = std::to_string(minimum) + "-" + std::to_string(maximum);
    if (!node.IsScalar()) return Error(path, "expected an integer " + range);
    const std::string& text = node.Scalar();
    // Strict decimal digits: yaml-cpp's own conversion accepts hex and wraps negatives.
    if (text.empty() || text.size() > 19 ||
        text.find_first_not_of("0123456789") != std::string::npos) {
      return Error(path, Quoted(text) + " is not an integer; expected " + range);
    }
    const uint64_t value = std::stoull(text);
    if (value < minimum || value > maximum) return Error(path, text + " is outside " + range);
    return value;
  }

  Result<uint32_t> ByteSize(const YAML::Node& node, const std::string& path) const {
    if (!node.IsScalar())
      return Error(path, "expected a size; expected bytes such as 16384, 16KiB or 1MiB");
    auto bytes = ParseByteSize(node.Scalar(), "", path);
    if (!bytes) return Error(path, bytes.error().reason);
    return bytes;
  }

  SectionError ParseEal(const YAML::Node& root, GatewayConfig& config) const {
    const YAML::Node eal = root["eal"];
    if (!IsPresent(eal)) return std::nullopt;
    if (!eal.IsSequence()) return Error("eal", "expected a list of EAL arguments");
    for (size_t index = 0; index < eal.size(); ++index) {
      auto argument = String(eal[index], IndexPath("eal", index));
      if (!argument) return argument.error();
      config.eal_args.push_back(std::move(*argument));
    }
    return std::nullopt;
  }

  SectionError ParsePorts(const YAML::Node& root, GatewayConfig& config) const {
    const auto ports = Section(root, "ports", {"kernel", "uplink"});
    if (!ports) return ports.error();
    if (ports->IsDefined()) {
      for (auto [key, target] :
           {std::pair{"kernel", &config.kernel_port}, std::pair{"uplink", &config.uplink_port}}) {
        const YAML::Node port = (*ports)[key];
        if (!IsPresent(port)) continue;
        auto name = String(port, ChildPath("ports", key));
        if (!name) return name.error();
        *target = std::move(*name);
      }
    }
    // Checked even when only one side is configured: it may collide with the other's default.
    if (config.kernel_port == config.uplink_port) {
      return Error("ports.uplink",
                   "the kernel and uplink ports must be different devices, both are " +
                       Quoted(config.uplink_port));
    }
    return std::nullopt;
  }

  SectionError ParseShaper(const YAML::Node& root, GatewayConfig& config) const {
    const auto shaper = Section(root, "shaper", {"rate", "burst", "framingOverhead"});
    if (!shaper) return shaper.error();
    if (!shaper->IsDefined()) return std::nullopt;

    const YAML::Node rate = (*shaper)["rate"];
    if (IsPresent(rate)) {
      if (!rate.IsScalar()) return Error("shaper.rate", "expected a rate such as 200Mbit");
      auto bits_per_second = ParseRateBps(rate.Scalar(), source_, "shaper.rate");
      if (!bits_per_second) return bits_per_second.error();
      config.shaper_rate_bps = *bits_per_second;
    }
    const YAML::Node burst = (*shaper)["burst"];
    if (IsPresent(burst)) {
      auto bytes = ByteSize(burst, "shaper.burst");
      if (!bytes) return bytes.error();
      config.shaper_burst_bytes = *bytes;
    }
    const YAML::Node overhead = (*shaper)["framingOverhead"];
    if (IsPresent(overhead)) {
      auto bytes = Unsigned(overhead, "shaper.framingOverhead", 0, kMaxFramingOverhead);
      if (!bytes) return bytes.error();
      config.framing_overhead_bytes = static_cast<uint32_t>(*bytes);
    }
    return std::nullopt;
  }

  SectionError ParseQueues(const YAML::Node& root, GatewayConfig& config) const {
    const auto queues = Section(root, "queues", {"depth"});
    if (!queues) return queues.error();
    if (!queues->IsDefined() || !IsPresent((*queues)["depth"])) return std::nullopt;
    auto depth = Unsigned((*queues)["depth"], "queues.depth", kMinQueueDepth, kMaxQueueDepth);
    if (!depth) return depth.error();
    // The scheduler's ring queues hold a power of two; rounding here makes the configured
    // depth the one that is actually used and reported.
    config.queue_depth = std::bit_ceil(static_cast<uint32_t>(*depth));
    return std::nullopt;
  }

  // Relative paths are tried beside the config file first so a deployment directory can be
  // self-contained, then left relative to the working directory so running from the source
  // tree with "configs/..." paths keeps working.
  std::string ResolvePolicyPath(const std::string& configured) const {
    const std::filesystem::path path(configured);
    if (path.is_absolute()) return configured;
    const std::filesystem::path config_directory = std::filesystem::path(source_).parent_path();
    if (config_directory.empty()) return configured;
    const std::filesystem::path beside_config = config_directory / path;
    std::error_code error;
    if (std::filesystem::exists(beside_config, error)) {
      return beside_config.lexically_normal().string();
    }
    return configured;
  }

  SectionError ParsePolicy(const YAML::Node& root, GatewayConfig& config) const {
    const auto policy = Section(root, "policy", {"priorities", "pods"});
    if (!policy) return policy.error();
    if (!policy->IsDefined()) return std::nullopt;
    for (auto [key, target] :
         {std::pair{"priorities", &config.priorities_path}, std::pair{"pods", &config.pods_path}}) {
      const YAML::Node file = (*policy)[key];
      if (!IsPresent(file)) continue;
      auto path = String(file, ChildPath("policy", key));
      if (!path) return path.error();
      *target = ResolvePolicyPath(*path);
    }
    return std::nullopt;
  }

  Result<std::vector<uint16_t>> PortList(const YAML::Node& list, const std::string& path) const {
    if (!list.IsSequence()) return Error(path, "expected a list of UDP ports");
    if (list.size() > kMaxOverlayPortsPerKind) {
      return Error(path, std::to_string(list.size()) + " ports; at most " +
                             std::to_string(kMaxOverlayPortsPerKind) + " are supported");
    }
    std::vector<uint16_t> ports;
    for (size_t index = 0; index < list.size(); ++index) {
      const std::string entry_path = IndexPath(path, index);
      auto port = Unsigned(list[index], entry_path, 1, kMaxPort);
      if (!port) return port.error();
      for (uint16_t existing : ports) {
        if (existing == *port) {
          return Error(entry_path, "port " + std::to_string(*port) + " is listed twice");
        }
      }
      ports.push_back(static_cast<uint16_t>(*port));
    }
    return ports;
  }

  SectionError ParseOverlay(const YAML::Node& root, GatewayConfig& config) const {
    const auto overlay = Section(root, "overlay", {"vxlanPorts", "genevePorts"});
    if (!overlay) return overlay.error();
    if (overlay->IsDefined()) {
      for (auto [key, target] : {std::pair{"vxlanPorts", &config.vxlan_ports},
                                 std::pair{"genevePorts", &config.geneve_ports}}) {
        const YAML::Node list = (*overlay)[key];
        if (!IsPresent(list)) continue;
        auto ports = PortList(list, ChildPath("overlay", key));
        if (!ports) return ports.error();
        *target = std::move(*ports);
      }
    }
    // A port cannot be decapsulated as both; the parser would have to guess.
    for (size_t index = 0; index < config.geneve_ports.size(); ++index) {
      for (uint16_t vxlan_port : config.vxlan_ports) {
        if (config.geneve_ports[index] == vxlan_port) {
          return Error(IndexPath("overlay.genevePorts", index),
                       "port " + std::to_string(vxlan_port) + " is also a VXLAN port");
        }
      }
    }
    return std::nullopt;
  }

  SectionError ParseNode(const YAML::Node& root, GatewayConfig& config) const {
    const auto node = Section(root, "node", {"uplink", "stateFile"});
    if (!node) return node.error();
    if (!node->IsDefined()) return std::nullopt;
    if (IsPresent((*node)["stateFile"])) {
      auto state_file = String((*node)["stateFile"], "node.stateFile");
      if (!state_file) return state_file.error();
      config.node_state_file = std::move(*state_file);
    }
    if (!IsPresent((*node)["uplink"])) return std::nullopt;
    auto uplink = String((*node)["uplink"], "node.uplink");
    if (!uplink) return uplink.error();
    if (uplink->empty() || uplink->size() >= 16 || uplink->find('/') != std::string::npos) {
      return Error("node.uplink", "expected an interface name (1-15 characters) or auto");
    }
    if (IsPresent(root["ports"])) {
      return Error("ports", "remove it: with node.uplink the ports are derived from the plumbing");
    }
    for (const std::string& argument : config.eal_args) {
      if (argument.rfind("--vdev", 0) == 0) {
        return Error("eal", "remove the --vdev arguments: with node.uplink they are derived");
      }
    }
    config.node_uplink = std::move(*uplink);
    return std::nullopt;
  }

  // After ParseNode: the guard's default place is the attached node's kernel leg.
  SectionError ParsePodEgressStamp(const YAML::Node& root, GatewayConfig& config) const {
    const auto section =
        Section(root, "podEgressStamp", {"enabled", "interfaces", "guardInterface"});
    if (!section) return section.error();
    if (!section->IsDefined()) return std::nullopt;
    PodEgressStampSettings& stamp = config.pod_egress_stamp;
    if (IsPresent((*section)["enabled"])) {
      auto enabled = Boolean((*section)["enabled"], "podEgressStamp.enabled");
      if (!enabled) return enabled.error();
      stamp.enabled = *enabled;
    }
    const YAML::Node interfaces = (*section)["interfaces"];
    if (IsPresent(interfaces)) {
      if (!interfaces.IsSequence() || interfaces.size() == 0) {
        return Error("podEgressStamp.interfaces",
                     "expected a non-empty list of interface name patterns (\"veth*\")");
      }
      stamp.interfaces.clear();
      for (size_t index = 0; index < interfaces.size(); ++index) {
        auto pattern = String(interfaces[index], IndexPath("podEgressStamp.interfaces", index));
        if (!pattern) return pattern.error();
        stamp.interfaces.push_back(std::move(*pattern));
      }
    }
    if (IsPresent((*section)["guardInterface"])) {
      auto guard = String((*section)["guardInterface"], "podEgressStamp.guardInterface");
      if (!guard) return guard.error();
      stamp.guard_interface = std::move(*guard);
    }
    if (stamp.enabled && stamp.guard_interface.empty() && config.node_uplink.empty()) {
      return Error("podEgressStamp.guardInterface",
                   "required without node.uplink: the interface the node's kernel sends "
                   "egress through (without the guard any process could forge a class)");
    }
    return std::nullopt;
  }

  SectionError ParseRest(const YAML::Node& root, GatewayConfig& config) const {
    const auto rest = Section(root, "rest", {"listen"});
    if (!rest) return rest.error();
    if (!rest->IsDefined() || !IsPresent((*rest)["listen"])) return std::nullopt;
    auto listen = String((*rest)["listen"], "rest.listen");
    if (!listen) return listen.error();
    if (auto endpoint = ParseListenAddress(*listen); !endpoint) {
      return Error("rest.listen", endpoint.error().reason);
    }
    config.rest_listen = std::move(*listen);
    return std::nullopt;
  }

  SectionError ParseDatapath(const YAML::Node& root, GatewayConfig& config) const {
    const auto datapath = Section(root, "datapath", {"burst", "mbufs", "podTableSize", "mode"});
    if (!datapath) return datapath.error();
    if (!datapath->IsDefined()) return std::nullopt;
    const YAML::Node burst = (*datapath)["burst"];
    if (IsPresent(burst)) {
      auto packets = Unsigned(burst, "datapath.burst", kMinBurstSize, kMaxBurstSize);
      if (!packets) return packets.error();
      config.burst_size = static_cast<uint32_t>(*packets);
    }
    const YAML::Node mbufs = (*datapath)["mbufs"];
    if (IsPresent(mbufs)) {
      auto count = Unsigned(mbufs, "datapath.mbufs", kMinMbufs, UINT32_MAX);
      if (!count) return count.error();
      config.mbufs = static_cast<uint32_t>(*count);
    }
    const YAML::Node pod_table_size = (*datapath)["podTableSize"];
    if (IsPresent(pod_table_size)) {
      auto entries = Unsigned(pod_table_size, "datapath.podTableSize", 1024, 16777216);
      if (!entries) return entries.error();
      config.pod_table_size = static_cast<uint32_t>(*entries);
    }
    const YAML::Node mode = (*datapath)["mode"];
    if (IsPresent(mode)) {
      auto text = String(mode, "datapath.mode");
      if (!text) return text.error();
      auto parsed = ParseDatapathMode(*text, source_, "datapath.mode");
      if (!parsed) return parsed.error();
      config.datapath_mode = *parsed;
    }
    return std::nullopt;
  }

  Result<bool> Boolean(const YAML::Node& node, const std::string& path) const {
    if (!node.IsScalar() || (node.Scalar() != "true" && node.Scalar() != "false")) {
      return Error(path, "expected true or false");
    }
    return node.Scalar() == "true";
  }

  SectionError ParseKubernetes(const YAML::Node& root, GatewayConfig& config) const {
    const auto section =
        Section(root, "kubernetes",
                {"enabled", "kubeconfig", "context", "nodeName", "allPods", "configMap",
                 "namespaceClassLabel", "watchTimeoutSeconds", "idleTimeoutSeconds", "pageSize"});
    if (!section) return section.error();
    if (!section->IsDefined()) return std::nullopt;
    KubernetesSettings& kubernetes = config.kubernetes;
    for (auto [key, target] :
         {std::pair{"enabled", &kubernetes.enabled}, std::pair{"allPods", &kubernetes.all_pods}}) {
      if (!IsPresent((*section)[key])) continue;
      auto value = Boolean((*section)[key], ChildPath("kubernetes", key));
      if (!value) return value.error();
      *target = *value;
    }
    // An explicit "" disables a watch (namespace labels, the ConfigMap): a value, not an absence.
    auto explicitly_empty = [](const YAML::Node& node) {
      return node.IsDefined() && node.IsScalar() && node.Scalar().empty() && node.Tag() == "!";
    };
    for (auto [key, target] :
         {std::pair{"kubeconfig", &kubernetes.kubeconfig},
          std::pair{"context", &kubernetes.context}, std::pair{"nodeName", &kubernetes.node_name},
          std::pair{"namespaceClassLabel", &kubernetes.namespace_class_label}}) {
      if (std::string_view(key) == "namespaceClassLabel" && explicitly_empty((*section)[key])) {
        target->clear();
        continue;
      }
      if (!IsPresent((*section)[key])) continue;
      auto value = String((*section)[key], ChildPath("kubernetes", key));
      if (!value) return value.error();
      *target = *value;
    }
    const YAML::Node config_map = (*section)["configMap"];
    if (IsPresent(config_map)) {
      if (!config_map.IsMap()) return Error("kubernetes.configMap", "expected {namespace, name}");
      if (auto error = CheckKeys(config_map, "kubernetes.configMap", {"namespace", "name"}))
        return error;
      for (auto [key, target] : {std::pair{"namespace", &kubernetes.config_map_namespace},
                                 std::pair{"name", &kubernetes.config_map_name}}) {
        if (std::string_view(key) == "name" && explicitly_empty(config_map[key])) {
          target->clear();
          continue;
        }
        if (!IsPresent(config_map[key])) continue;
        auto value = String(config_map[key], ChildPath("kubernetes.configMap", key));
        if (!value) return value.error();
        *target = *value;
      }
    }
    if (IsPresent((*section)["pageSize"])) {
      auto value = Unsigned((*section)["pageSize"], "kubernetes.pageSize", 1, 10000);
      if (!value) return value.error();
      kubernetes.page_size = static_cast<uint32_t>(*value);
    }
    for (auto [key, target, low, high] :
         {std::tuple{"watchTimeoutSeconds", &kubernetes.watch_timeout, 10u, 3600u},
          std::tuple{"idleTimeoutSeconds", &kubernetes.idle_timeout, 1u, 3600u}}) {
      if (!IsPresent((*section)[key])) continue;
      auto value = Unsigned((*section)[key], ChildPath("kubernetes", key), low, high);
      if (!value) return value.error();
      *target = std::chrono::seconds(*value);
    }
    if (!kubernetes.kubeconfig.empty() &&
        !std::filesystem::path(kubernetes.kubeconfig).is_absolute()) {
      kubernetes.kubeconfig = ResolvePolicyPath(kubernetes.kubeconfig);
    }
    return std::nullopt;
  }

  const std::string& source_;
};

}  // namespace

Result<GatewayConfig> ParseGatewayConfig(std::string_view text, const std::string& source) {
  return ParseGuarded(source, [&] { return GatewayConfigParser(source).Parse(text); });
}

Result<GatewayConfig> LoadGatewayConfigFile(const std::string& path) {
  return LoadFileWith(path, ParseGatewayConfig);
}

Result<KubernetesSettings> ResolveKubernetesSettings(const GatewayConfig& config,
                                                     const char* node_name_env) {
  KubernetesSettings settings = config.kubernetes;
  if (settings.node_name.empty() && node_name_env != nullptr) settings.node_name = node_name_env;
  if (settings.node_name.empty() && !settings.all_pods) {
    return ConfigError{
        config.source, "kubernetes.nodeName",
        "no node name: set it, or NODE_NAME (the DaemonSet sets it from spec.nodeName), or "
        "allPods: true"};
  }
  return settings;
}

}  // namespace dg
