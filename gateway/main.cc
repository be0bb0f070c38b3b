// dscp-gateway: classify egress by pod, rewrite DSCP, schedule by strict priority.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "control/log.h"
#include "gateway/replay.h"
#include "gateway/run.h"
#include "xdp/node_command.h"

namespace {

constexpr const char* kUsage = R"(usage:
  dscp-gateway run --config FILE
      Forward between the kernel-facing port and the uplink: classify egress by source
      pod, rewrite DSCP, schedule by strict priority behind the port shaper.
      SIGINT/SIGTERM stop receiving, drain the queues and print the final counters.
  dscp-gateway check-config --config FILE
      Validate the config and the policy files it names; exit 0 if good, 1 if not.
  dscp-gateway replay --priorities CONFIGMAP.yaml --pods PODS.json --in IN.pcap --out OUT.pcap
                      [--json] [--burst N] [--queue-depth N] [--vxlan-port P]... [--geneve-port P]...
                      [--shaper-rate RATE] [--mode enforce|observe]
      Run the same datapath over a capture (pcap or pcapng, Ethernet; no hugepages
      needed). Every frame is written out with its captured bytes, wire length and
      timestamp (backpressure, never tail drop; records up to 256 KiB); prints counts per
      class, namespace and unclassified reason (--json: as one JSON object). --shaper-rate
      is the shaper.rate that class rates written in percent refer to (replay does not shape).
      --mode observe: counts what would be marked and writes every frame unchanged, in order.
  dscp-gateway node attach|detach|status ...   (dscp-gateway node --help)
  dscp-gateway --help | --version

Every command takes --log-level error|warning|info|debug (default info): what goes to stderr.

Configuration reference: docs/configuration.md; example: configs/gateway.yaml.
)";

int UsageError(const std::string& message) {
  DG_LOG_ERROR("main", "%s", message.c_str());
  std::fprintf(stderr, "\n%s", kUsage);
  return 2;
}

// Minimal flag reader: --name VALUE and boolean --name.
class Flags {
 public:
  Flags(int argc, char** argv, int first) : args_(argv + first, argv + argc) {}

  bool TakeBool(std::string_view name) {
    for (auto it = args_.begin(); it != args_.end(); ++it) {
      if (*it == name) {
        args_.erase(it);
        return true;
      }
    }
    return false;
  }
  // All values of a repeatable flag.
  std::vector<std::string> TakeAll(std::string_view name) {
    std::vector<std::string> values;
    for (size_t i = 0; i < args_.size();) {
      if (args_[i] == name && i + 1 < args_.size()) {
        values.push_back(args_[i + 1]);
        args_.erase(args_.begin() + static_cast<long>(i), args_.begin() + static_cast<long>(i) + 2);
      } else if (args_[i] == name) {
        missing_value_ = std::string(name);
        args_.erase(args_.begin() + static_cast<long>(i));
      } else {
        ++i;
      }
    }
    return values;
  }
  std::string Take(std::string_view name) {
    std::vector<std::string> values = TakeAll(name);
    return values.empty() ? std::string() : values.back();
  }
  // Anything not taken is an error: a typo must not be silently ignored.
  std::string Leftover() const {
    if (!missing_value_.empty()) return missing_value_ + " needs a value";
    return args_.empty() ? std::string() : "unknown argument '" + args_.front() + "'";
  }

 private:
  std::vector<std::string> args_;
  std::string missing_value_;
};

bool ParseNumber(const std::string& text, uint32_t low, uint32_t high, uint32_t* value) {
  char* end = nullptr;
  const unsigned long parsed = std::strtoul(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || parsed < low || parsed > high) return false;
  *value = static_cast<uint32_t>(parsed);
  return true;
}

int CheckedLoad(const std::string& config_path, dg::GatewayConfig* config,
                dg::PolicyInputs* inputs) {
  if (config_path.empty()) return UsageError("--config FILE is required");
  auto loaded_config = dg::LoadGatewayConfigFile(config_path);
  if (!loaded_config) {
    DG_LOG_ERROR("main", "invalid config: %s", loaded_config.error().Message().c_str());
    return 1;
  }
  auto loaded_inputs = dg::LoadPolicyInputs(
      loaded_config->priorities_path, loaded_config->pods_path, loaded_config->shaper_rate_bps);
  if (!loaded_inputs) {
    DG_LOG_ERROR("main", "invalid policy: %s", loaded_inputs.error().Message().c_str());
    return 1;
  }
  *config = std::move(*loaded_config);
  *inputs = std::move(*loaded_inputs);
  return 0;
}

int Run(Flags& flags) {
  const std::string config_path = flags.Take("--config");
  if (std::string leftover = flags.Leftover(); !leftover.empty()) return UsageError(leftover);
  dg::GatewayConfig config;
  dg::PolicyInputs inputs;
  if (int rc = CheckedLoad(config_path, &config, &inputs); rc != 0) return rc;
  return dg::RunGateway(config, inputs);
}

int CheckConfig(Flags& flags) {
  const std::string config_path = flags.Take("--config");
  if (std::string leftover = flags.Leftover(); !leftover.empty()) return UsageError(leftover);
  dg::GatewayConfig config;
  dg::PolicyInputs inputs;
  if (int rc = CheckedLoad(config_path, &config, &inputs); rc != 0) return rc;
  std::printf("%s: ok (%zu classes, %zu pod addresses)\n", config_path.c_str(),
              inputs.policy.classes.size(), inputs.pods.size());
  return 0;
}

int Replay(Flags& flags) {
  dg::ReplayOptions options;
  options.priorities_path = flags.Take("--priorities");
  options.pods_path = flags.Take("--pods");
  options.input_pcap = flags.Take("--in");
  options.output_pcap = flags.Take("--out");
  options.json = flags.TakeBool("--json");
  const std::string burst = flags.Take("--burst");
  const std::string depth = flags.Take("--queue-depth");
  const std::string shaper_rate = flags.Take("--shaper-rate");
  const std::vector<std::string> vxlan_ports = flags.TakeAll("--vxlan-port");
  const std::vector<std::string> geneve_ports = flags.TakeAll("--geneve-port");
  const std::string mode = flags.Take("--mode");
  if (std::string leftover = flags.Leftover(); !leftover.empty()) return UsageError(leftover);
  if (options.input_pcap.empty() || options.output_pcap.empty()) {
    return UsageError("replay needs --in and --out");
  }
  if (!mode.empty()) {
    auto parsed = dg::ParseDatapathMode(mode, "replay", "--mode");
    if (!parsed) return UsageError(parsed.error().Message());
    options.mode = *parsed;
  }
  uint32_t number = 0;
  if (!burst.empty()) {
    if (!ParseNumber(burst, 1, 256, &number)) return UsageError("--burst takes 1..256");
    options.burst_size = static_cast<uint16_t>(number);
  }
  if (!depth.empty()) {
    if (!ParseNumber(depth, 1, 65536, &number)) return UsageError("--queue-depth takes 1..65536");
    options.queue_depth = number;
  }
  if (!shaper_rate.empty()) {
    auto rate = dg::ParseRateBps(shaper_rate, "--shaper-rate", "");
    if (!rate) return UsageError(rate.error().Message());
    options.shaper_rate_bps = *rate;
  }
  auto parse_ports = [&](const std::vector<std::string>& texts, std::vector<uint16_t>* ports) {
    if (texts.empty()) return true;
    ports->clear();
    for (const std::string& text : texts) {
      if (!ParseNumber(text, 1, 65535, &number)) return false;
      ports->push_back(static_cast<uint16_t>(number));
    }
    return true;
  };
  if (!parse_ports(vxlan_ports, &options.vxlan_ports) ||
      !parse_ports(geneve_ports, &options.geneve_ports)) {
    return UsageError("overlay ports take 1..65535");
  }
  auto inputs =
      dg::LoadPolicyInputs(options.priorities_path, options.pods_path, options.shaper_rate_bps);
  if (!inputs) {
    DG_LOG_ERROR("main", "invalid policy: %s", inputs.error().Message().c_str());
    return 1;
  }
  return dg::RunReplay(options, *inputs);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return UsageError("a command is required");
  const std::string_view command = argv[1];
  if (command == "node") return dg::node::NodeMain(argc - 1, argv + 1);  // its own flags and --help
  Flags flags(argc, argv, 2);
  if (command == "--help" || command == "-h" || command == "help" || flags.TakeBool("--help")) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (const std::string level = flags.Take("--log-level"); !level.empty()) {
    const std::optional<dg::LogLevel> parsed = dg::ParseLogLevel(level);
    if (!parsed) return UsageError("--log-level takes error, warning, info or debug");
    dg::SetLogLevel(*parsed);
  }
  if (command == "--version") {
    std::puts("dscp-gateway 0.1.0");
    return 0;
  }
  if (command == "run") return Run(flags);
  if (command == "check-config") return CheckConfig(flags);
  if (command == "replay") return Replay(flags);
  return UsageError("unknown command '" + std::string(command) + "'");
}
