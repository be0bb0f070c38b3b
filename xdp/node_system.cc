#include "xdp/node_system.h"

#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

namespace dg::node {
namespace {

struct OffloadCommands {
  uint32_t get;
  uint32_t set;
  uint32_t flag = 0;  // a bit of ETHTOOL_[GS]FLAGS; 0: get/set carry the value itself
};

OffloadCommands CommandsFor(Offload offload) {
  switch (offload) {
    case Offload::kTso:
      return {ETHTOOL_GTSO, ETHTOOL_STSO};
    case Offload::kGso:
      return {ETHTOOL_GGSO, ETHTOOL_SGSO};
    case Offload::kGro:
      return {ETHTOOL_GGRO, ETHTOOL_SGRO};
    case Offload::kTxChecksum:
      return {ETHTOOL_GTXCSUM, ETHTOOL_STXCSUM};
    case Offload::kTxVlan:
      return {ETHTOOL_GFLAGS, ETHTOOL_SFLAGS, ETH_FLAG_TXVLAN};
  }
  return {0, 0};
}

EnvResult<uint32_t> Ethtool(const std::string& ifname, uint32_t command, uint32_t data,
                            const std::string& what) {
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return EnvironmentError{what, std::strerror(errno)};
  ethtool_value value{command, data};
  ifreq request{};
  std::strncpy(request.ifr_name, ifname.c_str(), IFNAMSIZ - 1);
  request.ifr_data = reinterpret_cast<char*>(&value);
  const int rc = ioctl(fd, SIOCETHTOOL, &request);
  const int error = errno;
  close(fd);
  if (rc < 0) return EnvironmentError{what, std::strerror(error)};
  return value.data;
}

std::string Ipv6SysctlPath(const std::string& ifname) {
  return "/proc/sys/net/ipv6/conf/" + ifname + "/disable_ipv6";
}

}  // namespace

const char* OffloadName(Offload offload) {
  switch (offload) {
    case Offload::kTso:
      return "tso";
    case Offload::kGso:
      return "gso";
    case Offload::kGro:
      return "gro";
    case Offload::kTxChecksum:
      return "tx-checksum";
    case Offload::kTxVlan:
      return "tx-vlan";
  }
  return "?";
}

EnvResult<bool> GetOffload(const std::string& ifname, Offload offload) {
  const OffloadCommands commands = CommandsFor(offload);
  auto value = Ethtool(ifname, commands.get, 0,
                       std::string("read ") + OffloadName(offload) + " of " + ifname);
  if (!value) return value.error();
  return commands.flag == 0 ? *value != 0 : (*value & commands.flag) != 0;
}

EnvResult<void> SetOffload(const std::string& ifname, Offload offload, bool enabled) {
  const std::string what =
      std::string("turn ") + OffloadName(offload) + (enabled ? " on" : " off") + " on " + ifname;
  auto current = GetOffload(ifname, offload);
  if (!current) return current.error();
  if (*current == enabled) return {};
  const OffloadCommands commands = CommandsFor(offload);
  uint32_t data = enabled ? 1 : 0;
  if (commands.flag != 0) {  // SFLAGS sets every flag: the others as they are
    auto flags = Ethtool(ifname, commands.get, 0, what);
    if (!flags) return flags.error();
    data = enabled ? *flags | commands.flag : *flags & ~commands.flag;
  }
  if (auto set = Ethtool(ifname, commands.set, data, what); !set) return set.error();
  auto after = GetOffload(ifname, offload);
  if (!after) return after.error();
  if (*after != enabled)
    return EnvironmentError{what, "the driver kept it " + std::string(*after ? "on" : "off")};
  return {};
}

EnvResult<bool> Ipv6Disabled(const std::string& ifname) {
  std::ifstream file(Ipv6SysctlPath(ifname));
  int value = 0;
  // No IPv6 at all (ipv6.disable=1) reads as disabled.
  if (!file) return true;
  if (!(file >> value)) return EnvironmentError{"read " + Ipv6SysctlPath(ifname), "not a number"};
  return value != 0;
}

EnvResult<void> SetIpv6Disabled(const std::string& ifname, bool disabled) {
  auto current = Ipv6Disabled(ifname);
  if (!current) return current.error();
  if (*current == disabled) return {};
  std::ofstream file(Ipv6SysctlPath(ifname));
  file << (disabled ? "1\n" : "0\n");
  file.flush();
  if (!file) return EnvironmentError{"write " + Ipv6SysctlPath(ifname), std::strerror(errno)};
  return {};
}

}  // namespace dg::node
