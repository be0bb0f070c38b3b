#include "control/gateway_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace dg {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kFullConfig[] = R"(
eal: ["-l", "2-3", "--no-pci", "--vdev", "net_af_xdp0,iface=gw-kernel", "--vdev", "net_af_xdp1,iface=gw-uplink"]
ports: {kernel: net_af_xdp2, uplink: net_af_xdp3}
shaper: {rate: 200Mbit, burst: 16KiB, framingOverhead: 20}
queues: {depth: 512}
policy: {priorities: /etc/dscp-gateway/priorities.yaml, pods: /etc/dscp-gateway/pods.json}
overlay: {vxlanPorts: [4789], genevePorts: [6081, 6082]}
rest: {listen: "0.0.0.0:9000"}
datapath: {burst: 64, mbufs: 8191}
)";

GatewayConfig ParseOrFail(std::string_view text, const std::string& source = "gateway.yaml") {
  auto config = ParseGatewayConfig(text, source);
  EXPECT_TRUE(config.has_value()) << (config ? "" : config.error().Message());
  return config ? *config : GatewayConfig{};
}

std::filesystem::path SourceTreeFile(const std::string& relative) {
  const std::filesystem::path this_file(__FILE__);
  const std::filesystem::path repo_root = this_file.parent_path().parent_path().parent_path();
  if (this_file.is_absolute()) return repo_root / relative;
  const std::filesystem::path build_root =
      std::filesystem::read_symlink("/proc/self/exe").parent_path().parent_path().parent_path();
  return build_root / repo_root / relative;
}

// A scratch directory that removes itself, for the path resolution tests.
class ScratchDirectory {
 public:
  ScratchDirectory()
      : path_(std::filesystem::temp_directory_path() /
              ("gateway_config_test_" + std::to_string(getpid()))) {
    std::filesystem::create_directories(path_);
  }
  ~ScratchDirectory() { std::filesystem::remove_all(path_); }

  std::filesystem::path Write(const std::string& relative, const std::string& contents) const {
    const std::filesystem::path file = path_ / relative;
    std::filesystem::create_directories(file.parent_path());
    std::ofstream(file) << contents;
    return file;
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

TEST(ParseGatewayConfigTest, EmptyDocumentSelectsEveryDefault) {
  const GatewayConfig config = ParseOrFail("", "gw.yaml");
  EXPECT_TRUE(config.eal_args.empty());
  EXPECT_EQ(config.kernel_port, "net_af_xdp0");
  EXPECT_EQ(config.uplink_port, "net_af_xdp1");
  EXPECT_EQ(config.shaper_rate_bps, 0u);
  EXPECT_EQ(config.shaper_burst_bytes, 0u);
  EXPECT_EQ(config.framing_overhead_bytes, 24u);
  EXPECT_EQ(config.queue_depth, 1024u);
  EXPECT_EQ(config.priorities_path, "");
  EXPECT_EQ(config.pods_path, "");
  EXPECT_THAT(config.vxlan_ports, ElementsAre(4789, 8472));
  EXPECT_THAT(config.geneve_ports, ElementsAre(6081));
  EXPECT_EQ(config.rest_listen, "127.0.0.1:9470");
  EXPECT_EQ(config.burst_size, 32u);
  EXPECT_EQ(config.mbufs, 16383u);
  EXPECT_EQ(config.source, "gw.yaml");
}

TEST(ParseGatewayConfigTest, DatapathModeDefaultsToEnforce) {
  EXPECT_EQ(ParseOrFail("").datapath_mode, DatapathMode::kEnforce);
}

TEST(ParseGatewayConfigTest, DatapathModeObserveIsRead) {
  EXPECT_EQ(ParseOrFail("datapath: {mode: observe}\n").datapath_mode, DatapathMode::kObserve);
}

TEST(ParseGatewayConfigTest, EmptySectionsKeepTheirDefaults) {
  const GatewayConfig config =
      ParseOrFail("ports: {}\nshaper:\nqueues: {depth: }\noverlay: {vxlanPorts: }\n");
  EXPECT_EQ(config.kernel_port, "net_af_xdp0");
  EXPECT_EQ(config.shaper_rate_bps, 0u);
  EXPECT_EQ(config.queue_depth, 1024u);
  EXPECT_THAT(config.vxlan_ports, ElementsAre(4789, 8472));
}

TEST(ParseGatewayConfigTest, ReadsEveryKey) {
  const GatewayConfig config = ParseOrFail(kFullConfig);
  EXPECT_THAT(config.eal_args,
              ElementsAre("-l", "2-3", "--no-pci", "--vdev", "net_af_xdp0,iface=gw-kernel",
                          "--vdev", "net_af_xdp1,iface=gw-uplink"));
  EXPECT_EQ(config.kernel_port, "net_af_xdp2");
  EXPECT_EQ(config.uplink_port, "net_af_xdp3");
  EXPECT_EQ(config.shaper_rate_bps, 200'000'000u);
  EXPECT_EQ(config.shaper_burst_bytes, 16384u);
  EXPECT_EQ(config.framing_overhead_bytes, 20u);
  EXPECT_EQ(config.queue_depth, 512u);
  EXPECT_EQ(config.priorities_path, "/etc/dscp-gateway/priorities.yaml");
  EXPECT_EQ(config.pods_path, "/etc/dscp-gateway/pods.json");
  EXPECT_THAT(config.vxlan_ports, ElementsAre(4789));
  EXPECT_THAT(config.geneve_ports, ElementsAre(6081, 6082));
  EXPECT_EQ(config.rest_listen, "0.0.0.0:9000");
  EXPECT_EQ(config.burst_size, 64u);
  EXPECT_EQ(config.mbufs, 8191u);
}

TEST(ParseGatewayConfigTest, RoundsQueueDepthUpToAPowerOfTwo) {
  EXPECT_EQ(ParseOrFail("queues: {depth: 1000}").queue_depth, 1024u);
  EXPECT_EQ(ParseOrFail("queues: {depth: 1}").queue_depth, 1u);
  EXPECT_EQ(ParseOrFail("queues: {depth: 65536}").queue_depth, 65536u);
  EXPECT_EQ(ParseOrFail("queues: {depth: 40000}").queue_depth, 65536u);
}

TEST(ParseGatewayConfigTest, AcceptsTheBurstAndMbufBoundaries) {
  EXPECT_EQ(ParseOrFail("datapath: {burst: 1}").burst_size, 1u);
  EXPECT_EQ(ParseOrFail("datapath: {burst: 256}").burst_size, 256u);
  EXPECT_EQ(ParseOrFail("datapath: {mbufs: 1023}").mbufs, 1023u);
}

TEST(ParseGatewayConfigTest, ZeroRateMeansUnshaped) {
  EXPECT_EQ(ParseOrFail("shaper: {rate: 0}").shaper_rate_bps, 0u);
}

TEST(ParseGatewayConfigTest, AcceptsEightOverlayPorts) {
  EXPECT_EQ(ParseOrFail("overlay: {genevePorts: [1, 2, 3, 4, 5, 6, 7, 8]}").geneve_ports.size(),
            8u);
}

TEST(ParseGatewayConfigTest, EmptyPortListDisablesThatOverlay) {
  const GatewayConfig config = ParseOrFail("overlay: {genevePorts: []}");
  EXPECT_TRUE(config.geneve_ports.empty());
  EXPECT_THAT(config.vxlan_ports, ElementsAre(4789, 8472));
}

struct ByteSizeCase {
  std::string text;
  uint32_t bytes;
};

void PrintTo(const ByteSizeCase& size, std::ostream* out) { *out << '"' << size.text << '"'; }

class ByteSizeTest : public ::testing::TestWithParam<ByteSizeCase> {};

TEST_P(ByteSizeTest, ShaperBurstAcceptsBinarySuffixes) {
  EXPECT_EQ(ParseOrFail("shaper: {burst: " + GetParam().text + "}").shaper_burst_bytes,
            GetParam().bytes);
}

INSTANTIATE_TEST_SUITE_P(Sizes, ByteSizeTest,
                         ::testing::Values(ByteSizeCase{"0", 0}, ByteSizeCase{"1500", 1500},
                                           ByteSizeCase{"16KiB", 16384},
                                           ByteSizeCase{"1MiB", 1048576},
                                           ByteSizeCase{"4095MiB", 4293918720u},
                                           ByteSizeCase{"4294967295", 4294967295u}));

class ValidListenTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ValidListenTest, IsAccepted) {
  EXPECT_EQ(ParseOrFail("rest: {listen: '" + GetParam() + "'}").rest_listen, GetParam());
}

INSTANTIATE_TEST_SUITE_P(Listen, ValidListenTest,
                         ::testing::Values("127.0.0.1:9470", "0.0.0.0:1", "localhost:65535",
                                           "[::1]:9470", "[::]:80"));

TEST(GatewayConfigTest, ListenPortZeroPicksAFreePort) {
  // Tests and side-by-side runs bind port 0 and read the chosen port from the log.
  EXPECT_EQ(ParseOrFail("rest: {listen: '127.0.0.1:0'}").rest_listen, "127.0.0.1:0");
}

struct InvalidConfig {
  std::string label;
  std::string text;
  std::string expected_key;
  std::string reason_substring;
};

void PrintTo(const InvalidConfig& invalid, std::ostream* out) { *out << invalid.label; }

class InvalidGatewayConfigTest : public ::testing::TestWithParam<InvalidConfig> {};

TEST_P(InvalidGatewayConfigTest, IsRejectedAtTheKey) {
  auto config = ParseGatewayConfig(GetParam().text, "gateway.yaml");
  ASSERT_FALSE(config.has_value());
  EXPECT_EQ(config.error().file, "gateway.yaml");
  EXPECT_EQ(config.error().key, GetParam().expected_key) << config.error().Message();
  EXPECT_THAT(config.error().reason, HasSubstr(GetParam().reason_substring));
}

INSTANTIATE_TEST_SUITE_P(
    Rejections, InvalidGatewayConfigTest,
    ::testing::Values(
        InvalidConfig{"BadYaml", "queues: {depth: 1\nrest: {}\n", "", "invalid YAML at line"},
        InvalidConfig{"NotAMapping", "- eal\n", "", "expected a mapping"},
        InvalidConfig{"UnknownTopLevelKey", "queue: {depth: 5}\n", "queue", "unknown key"},
        InvalidConfig{"UnknownNestedKey", "shaper: {rate: 1Gbit, brust: 1KiB}\n", "shaper.brust",
                      "unknown key"},
        InvalidConfig{"UnknownPolicyKey", "policy: {priority: p.yaml}\n", "policy.priority",
                      "unknown key"},
        InvalidConfig{"DuplicateKey", "queues: {depth: 5}\nqueues: {depth: 6}\n", "queues",
                      "duplicate key"},
        InvalidConfig{"SectionNotAMapping", "shaper: 200Mbit\n", "shaper", "expected a mapping"},
        InvalidConfig{"EalNotAList", "eal: -l 0-1\n", "eal", "expected a list"},
        InvalidConfig{"EalEmptyArgument", "eal: [-l, '']\n", "eal[1]", "must not be empty"},
        InvalidConfig{"EalNestedList", "eal: [[-l]]\n", "eal[0]", "expected a string"},
        InvalidConfig{"NodeUplinkWithPorts", "node: {uplink: eth0}\nports: {kernel: a}\n", "ports",
                      "derived from the plumbing"},
        InvalidConfig{"NodeUplinkWithVdev", "eal: [--vdev, net_tap0]\nnode: {uplink: eth0}\n",
                      "eal", "remove the --vdev"},
        InvalidConfig{"NodeUplinkTooLong", "node: {uplink: an-interface-name}\n", "node.uplink",
                      "1-15 characters"},
        InvalidConfig{"UnknownNodeKey", "node: {uplnk: eth0}\n", "node.uplnk", "unknown key"},
        InvalidConfig{"SamePorts", "ports: {kernel: net_tap0, uplink: net_tap0}\n", "ports.uplink",
                      "must be different"},
        InvalidConfig{"KernelPortCollidesWithUplinkDefault", "ports: {kernel: net_af_xdp1}\n",
                      "ports.uplink", "must be different"},
        InvalidConfig{"EmptyPort", "ports: {kernel: ''}\n", "ports.kernel", "must not be empty"},
        InvalidConfig{"BadRate", "shaper: {rate: 200MB}\n", "shaper.rate", "not a rate"},
        InvalidConfig{"NegativeRate", "shaper: {rate: -1}\n", "shaper.rate", "negative"},
        InvalidConfig{"DecimalKilobytes", "shaper: {burst: 16KB}\n", "shaper.burst", "not a size"},
        InvalidConfig{"NegativeBurst", "shaper: {burst: -1}\n", "shaper.burst", "not a size"},
        InvalidConfig{"OversizedBurst", "shaper: {burst: 4096MiB}\n", "shaper.burst",
                      "larger than 4GiB"},
        InvalidConfig{"FramingOverheadTooLarge", "shaper: {framingOverhead: 256}\n",
                      "shaper.framingOverhead", "outside 0-255"},
        InvalidConfig{"ZeroDepth", "queues: {depth: 0}\n", "queues.depth", "outside 1-65536"},
        InvalidConfig{"DepthTooLarge", "queues: {depth: 65537}\n", "queues.depth",
                      "outside 1-65536"},
        InvalidConfig{"DepthNotANumber", "queues: {depth: lots}\n", "queues.depth",
                      "not an integer"},
        InvalidConfig{"ZeroBurst", "datapath: {burst: 0}\n", "datapath.burst", "outside 1-256"},
        InvalidConfig{"UnknownMode", "datapath: {mode: dryrun}\n", "datapath.mode",
                      "'dryrun'; expected enforce or observe"},
        InvalidConfig{"BurstTooLarge", "datapath: {burst: 257}\n", "datapath.burst",
                      "outside 1-256"},
        InvalidConfig{"TooFewMbufs", "datapath: {mbufs: 1022}\n", "datapath.mbufs",
                      "outside 1023-"},
        InvalidConfig{"MbufsOverflow", "datapath: {mbufs: 4294967296}\n", "datapath.mbufs",
                      "outside 1023-4294967295"},
        InvalidConfig{"EmptyPolicyPath", "policy: {pods: ''}\n", "policy.pods",
                      "must not be empty"},
        InvalidConfig{"ZeroOverlayPort", "overlay: {vxlanPorts: [4789, 0]}\n",
                      "overlay.vxlanPorts[1]", "outside 1-65535"},
        InvalidConfig{"OverlayPortTooLarge", "overlay: {genevePorts: [65536]}\n",
                      "overlay.genevePorts[0]", "outside 1-65535"},
        InvalidConfig{"DuplicateOverlayPort", "overlay: {vxlanPorts: [4789, 4789]}\n",
                      "overlay.vxlanPorts[1]", "listed twice"},
        InvalidConfig{"PortIsBothVxlanAndGeneve", "overlay: {genevePorts: [6081, 8472]}\n",
                      "overlay.genevePorts[1]", "also a VXLAN port"},
        InvalidConfig{"TooManyOverlayPorts", "overlay: {vxlanPorts: [1, 2, 3, 4, 5, 6, 7, 8, 9]}\n",
                      "overlay.vxlanPorts", "at most 8"},
        InvalidConfig{"OverlayPortsNotAList", "overlay: {vxlanPorts: 4789}\n", "overlay.vxlanPorts",
                      "expected a list"},
        InvalidConfig{"ListenWithoutPort", "rest: {listen: 127.0.0.1}\n", "rest.listen",
                      "missing :port"},
        InvalidConfig{"ListenWithoutHost", "rest: {listen: ':9470'}\n", "rest.listen",
                      "missing host"},
        InvalidConfig{"ListenPortTooLarge", "rest: {listen: 'localhost:65536'}\n", "rest.listen",
                      "0-65535"},
        InvalidConfig{"ListenPortNotANumber", "rest: {listen: 'localhost:http'}\n", "rest.listen",
                      "0-65535"},
        InvalidConfig{"ListenUnbracketedIpv6", "rest: {listen: '::1:9470'}\n", "rest.listen",
                      "brackets"},
        InvalidConfig{"ListenUnclosedBracket", "rest: {listen: '[::1:9470'}\n", "rest.listen",
                      "[ipv6]:port"}),
    [](const auto& info) { return info.param.label; });

TEST(ParseGatewayConfigTest, ReadsTheKubernetesSection) {
  const GatewayConfig config = ParseOrFail(
      "kubernetes: {enabled: true, context: lab, nodeName: node-a, allPods: false,\n"
      "  configMap: {namespace: ops, name: ''}, namespaceClassLabel: example.com/class,\n"
      "  watchTimeoutSeconds: 60, idleTimeoutSeconds: 5, pageSize: 100}\n");
  const KubernetesSettings& kubernetes = config.kubernetes;
  EXPECT_TRUE(kubernetes.enabled);
  EXPECT_EQ(kubernetes.context, "lab");
  EXPECT_EQ(kubernetes.node_name, "node-a");
  EXPECT_EQ(kubernetes.config_map_namespace, "ops");
  EXPECT_EQ(kubernetes.config_map_name, "") << "an explicit '' disables the ConfigMap watch";
  EXPECT_EQ(kubernetes.namespace_class_label, "example.com/class");
  EXPECT_EQ(kubernetes.watch_timeout, std::chrono::seconds(60));
  EXPECT_EQ(kubernetes.idle_timeout, std::chrono::seconds(5));
  EXPECT_EQ(kubernetes.page_size, 100u);
}

TEST(ParseGatewayConfigTest, ReadsTheNodeSection) {
  const GatewayConfig config =
      ParseOrFail("eal: [-l, 0-1]\nnode: {uplink: auto, stateFile: /tmp/node.json}\n");
  EXPECT_EQ(config.node_uplink, "auto");
  EXPECT_EQ(config.node_state_file, "/tmp/node.json");
  EXPECT_EQ(config.eal_args, (std::vector<std::string>{"-l", "0-1"}));
}

TEST(ParseGatewayConfigTest, WithoutANodeSectionPortsAreAsWritten) {
  const GatewayConfig config = ParseOrFail("ports: {kernel: net_tap0, uplink: net_tap1}\n");
  EXPECT_EQ(config.node_uplink, "");
  EXPECT_EQ(config.node_state_file, kDefaultNodeStateFile);
}

TEST(ResolveKubernetesSettingsTest, ConfiguredNodeNameWinsOverTheEnvironment) {
  const GatewayConfig config = ParseOrFail("kubernetes: {enabled: true, nodeName: node-a}\n");
  auto settings = ResolveKubernetesSettings(config, "node-from-env");
  ASSERT_TRUE(settings.has_value()) << settings.error().Message();
  EXPECT_EQ(settings->node_name, "node-a");
}

TEST(ResolveKubernetesSettingsTest, NodeNameComesFromTheEnvironmentWhenNotConfigured) {
  const GatewayConfig config = ParseOrFail("kubernetes: {enabled: true}\n");
  auto settings = ResolveKubernetesSettings(config, "node-from-env");
  ASSERT_TRUE(settings.has_value()) << settings.error().Message();
  EXPECT_EQ(settings->node_name, "node-from-env");
}

TEST(ResolveKubernetesSettingsTest, NoNodeNameIsAnErrorUnlessAllPods) {
  auto missing = ResolveKubernetesSettings(ParseOrFail("kubernetes: {enabled: true}\n"), nullptr);
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().key, "kubernetes.nodeName");
  EXPECT_THAT(missing.error().reason, HasSubstr("NODE_NAME"));

  auto all_pods = ResolveKubernetesSettings(
      ParseOrFail("kubernetes: {enabled: true, allPods: true}\n"), nullptr);
  ASSERT_TRUE(all_pods.has_value()) << all_pods.error().Message();
  EXPECT_EQ(all_pods->node_name, "");
}

TEST(ParseGatewayConfigTest, RelativePolicyPathPrefersTheConfigDirectory) {
  const ScratchDirectory scratch;
  scratch.Write("deploy/priorities.yaml", "classes: []\n");
  const std::string config_path = (scratch.path() / "deploy" / "gateway.yaml").string();
  const GatewayConfig config =
      ParseOrFail("policy: {priorities: priorities.yaml, pods: pods.json}\n", config_path);
  EXPECT_EQ(config.priorities_path, (scratch.path() / "deploy" / "priorities.yaml").string());
  // pods.json is not beside the config, so it stays relative to the working directory.
  EXPECT_EQ(config.pods_path, "pods.json");
}

TEST(ParseGatewayConfigTest, RelativePolicyPathIsNormalised) {
  const ScratchDirectory scratch;
  scratch.Write("shared/pods.json", "{}");
  scratch.Write("deploy/gateway.yaml",
                "");  // the kernel resolves ".." only through a real directory
  const GatewayConfig config = ParseOrFail("policy: {pods: ../shared/pods.json}\n",
                                           (scratch.path() / "deploy/gateway.yaml").string());
  EXPECT_EQ(config.pods_path, (scratch.path() / "shared" / "pods.json").string());
}

TEST(ParseGatewayConfigTest, AbsolutePolicyPathIsKept) {
  EXPECT_EQ(ParseOrFail("policy: {pods: /srv/pods.json}\n", "/etc/gw/gateway.yaml").pods_path,
            "/srv/pods.json");
}

TEST(LoadGatewayConfigFileTest, MissingFileNamesThePath) {
  auto config = LoadGatewayConfigFile("/nonexistent/gateway.yaml");
  ASSERT_FALSE(config.has_value());
  EXPECT_EQ(config.error().file, "/nonexistent/gateway.yaml");
  EXPECT_THAT(config.error().reason, HasSubstr("cannot open"));
}

TEST(LoadGatewayConfigFileTest, ErrorNamesTheFile) {
  const ScratchDirectory scratch;
  const std::filesystem::path file = scratch.Write("gateway.yaml", "datapath: {burst: 300}\n");
  auto config = LoadGatewayConfigFile(file.string());
  ASSERT_FALSE(config.has_value());
  EXPECT_EQ(config.error().Message(), file.string() + ": datapath.burst: 300 is outside 1-256");
}

TEST(LoadGatewayConfigFileTest, ShippedConfigMatchesTheDocumentedValues) {
  auto config = LoadGatewayConfigFile(SourceTreeFile("configs/gateway.yaml").string());
  ASSERT_TRUE(config.has_value()) << config.error().Message();
  EXPECT_THAT(config->eal_args,
              ElementsAre("-l", "0-1", "--no-pci", "--vdev", "net_af_xdp0,iface=gw-kernel",
                          "--vdev", "net_af_xdp1,iface=gw-uplink"));
  EXPECT_EQ(config->kernel_port, "net_af_xdp0");
  EXPECT_EQ(config->uplink_port, "net_af_xdp1");
  EXPECT_EQ(config->shaper_rate_bps, 200'000'000u);
  EXPECT_EQ(config->shaper_burst_bytes, 16384u);
  EXPECT_EQ(config->framing_overhead_bytes, 24u);
  EXPECT_EQ(config->queue_depth, 1024u);
  EXPECT_THAT(config->vxlan_ports, ElementsAre(4789, 8472));
  EXPECT_THAT(config->geneve_ports, ElementsAre(6081));
  EXPECT_EQ(config->rest_listen, "127.0.0.1:9470");
  EXPECT_EQ(config->burst_size, 32u);
  EXPECT_EQ(config->mbufs, 16383u);
  // configs/configs/... does not exist, so the paths stay relative to the working directory.
  EXPECT_EQ(config->priorities_path, "configs/priorities.yaml");
  EXPECT_EQ(config->pods_path, "configs/pods.json");
}

}  // namespace
}  // namespace dg
