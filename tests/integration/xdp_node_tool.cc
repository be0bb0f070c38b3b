// Test driver for the node XDP loader (xdp/node_programs.h) until `dscp-gateway node` wires
// it: attach | detach | status | release | restore | beat | stale-after NS, optionally
// inside a network namespace (setns only: keeps the caller's /sys/fs/bpf, which
// `ip netns exec` would hide by remounting /sys).
// Output of status: one `key value` per line, for the netns test to parse.
#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "xdp/node_programs.h"

namespace {

using dg::xdp::NodeLegs;

int Fail(const dg::EnvironmentError& error) {
  std::printf("error %s\n", error.Message().c_str());
  return 1;
}

void PrintLeg(const char* role, const dg::xdp::LegStatus& leg) {
  std::printf("%s.interface %s\n%s.exists %d\n%s.program_id %u\n%s.program_name %s\n%s.mode %s\n",
              role, leg.interface.c_str(), role, leg.exists ? 1 : 0, role, leg.program_id, role,
              leg.program_name.empty() ? "-" : leg.program_name.c_str(), role,
              std::string(dg::xdp::AttachModeName(leg.mode)).c_str());
}

int Status(const NodeLegs& legs) {
  auto status = dg::xdp::QueryNodePrograms(legs);
  if (!status) return Fail(status.error());
  PrintLeg("uplink", status->uplink);
  PrintLeg("gateway_leg", status->gateway_leg);
  PrintLeg("kernel_leg", status->kernel_leg);
  std::printf("maps_pinned %d\n", status->maps_pinned ? 1 : 0);
  if (status->gateway_sockets_bound) {
    std::printf("gateway_sockets_bound %u\n", *status->gateway_sockets_bound);
  } else {
    std::printf("gateway_sockets_bound unknown\n");
  }
  std::printf("heartbeat_age_ns %lld\nheartbeat_stale_after_ns %lld\n",
              status->heartbeat_age ? static_cast<long long>(status->heartbeat_age->count()) : -1LL,
              static_cast<long long>(status->heartbeat_stale_after.count()));
  const auto& infos = dg::xdp::XdpCounterInfos();
  for (size_t counter = 0; counter < infos.size(); ++counter) {
    std::printf("counter.%.*s %llu\n", static_cast<int>(infos[counter].name.size()),
                infos[counter].name.data(),
                static_cast<unsigned long long>(status->counters[counter]));
  }
  return 0;
}

int Usage() {
  std::printf(
      "usage: xdp_node_tool [--netns NAME] attach|detach|status|release|restore|beat|"
      "stale-after NS --uplink IFACE [--gateway-leg IFACE] [--kernel-leg IFACE]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  NodeLegs legs;
  std::string command;
  std::string netns;
  unsigned long long stale_after_ns = 0;
  for (int i = 1; i < argc; ++i) {
    std::string_view argument = argv[i];
    auto next = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    const char* value = nullptr;
    if (argument == "--netns" && (value = next())) {
      netns = value;
    } else if (argument == "--uplink" && (value = next())) {
      legs.uplink = value;
    } else if (argument == "--gateway-leg" && (value = next())) {
      legs.gateway_leg = value;
    } else if (argument == "--kernel-leg" && (value = next())) {
      legs.kernel_leg = value;
    } else if (command.empty()) {
      command = argument;
      if (command == "stale-after") {
        if (!(value = next())) return Usage();
        stale_after_ns = std::strtoull(value, nullptr, 10);
      }
    } else {
      return Usage();
    }
  }
  if (command.empty() || legs.uplink.empty()) return Usage();
  if (!netns.empty()) {
    int fd = open(("/var/run/netns/" + netns).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 || setns(fd, CLONE_NEWNET) != 0) {
      std::printf("error setns %s\n", netns.c_str());
      return 1;
    }
    close(fd);
  }
  dg::EnvResult<void> done;
  if (command == "attach") {
    done = dg::xdp::AttachNodePrograms(legs);
  } else if (command == "detach") {
    done = dg::xdp::DetachNodePrograms(legs);
  } else if (command == "status") {
    return Status(legs);
  } else if (command == "release") {
    done = dg::xdp::ReleaseLegsForGateway(legs);
  } else if (command == "restore") {
    done = dg::xdp::RestoreLegsAfterGateway(legs);
  } else if (command == "beat" || command == "stale-after") {
    auto maps = dg::xdp::XdpMaps::OpenPinned();
    if (!maps) return Fail(maps.error());
    if (command == "beat") {
      done = maps->Beat();
    } else {
      done = maps->SetStaleAfter(stale_after_ns);
    }
  } else {
    return Usage();
  }
  if (!done) return Fail(done.error());
  std::printf("ok\n");
  return 0;
}
