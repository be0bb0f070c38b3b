// rtnetlink plumbing for `dscp-gateway node`: links, addresses and routes through libmnl.
// Addresses and routes are kept as the raw messages the kernel dumped, so re-adding one on
// another interface changes only its interface index and keeps every other attribute
// (protocol, scope, metric, prefsrc, table, metrics, flags, lifetimes) exactly.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

#include "control/result.h"

struct mnl_socket;

namespace dg::node {

// One rtnetlink message as the kernel sent it (nlmsghdr included).
using RawMessage = std::vector<uint8_t>;
using MacAddress = std::array<uint8_t, 6>;

struct LinkInfo {
  int ifindex = 0;
  std::string name;
  MacAddress mac{};
  uint32_t mtu = 0;
  uint32_t flags = 0;  // IFF_UP, IFF_PROMISC, ...
  bool xdp_attached = false;
};

struct LinkChange {
  std::optional<MacAddress> mac;
  std::optional<uint32_t> mtu;
  std::optional<bool> up;
  std::optional<bool> promisc;
};

// Pure message helpers (no socket): what the move does to each saved message.
bool IsKernelRoute(const RawMessage& route);               // made by the kernel from an address
bool IsClonedRoute(const RawMessage& route);               // a cache entry, not configuration
bool RouteUsesLink(const RawMessage& route, int ifindex);  // RTA_OIF or any nexthop
bool RouteUsesNexthopObject(const RawMessage& route);      // RTA_NH_ID: not supported
// The route with every reference to from_ifindex (RTA_OIF, multipath nexthops) pointing at
// to_ifindex, kernel-reported state (RTA_CACHEINFO, dead/linkdown flags) dropped.
RawMessage RetargetRoute(const RawMessage& route, int from_ifindex, int to_ifindex);
// The address on to_ifindex; an IPv4 label "from_name[:x]" becomes "to_name[:x]".
RawMessage RetargetAddress(const RawMessage& address, int to_ifindex, const std::string& from_name,
                           const std::string& to_name);
// "inet 10.0.0.2/24", "route inet6 default table 254 via fe80::1" : for messages and logs.
std::string DescribeAddress(const RawMessage& address);
std::string DescribeRoute(const RawMessage& route);
// Same address (family, prefix, local) regardless of interface, flags or lifetimes.
bool SameAddress(const RawMessage& a, const RawMessage& b);

class Rtnetlink {
 public:
  static EnvResult<Rtnetlink> Open();
  Rtnetlink(Rtnetlink&& other) noexcept;
  Rtnetlink& operator=(Rtnetlink&&) = delete;
  ~Rtnetlink();

  // nullopt when no link has that name.
  EnvResult<std::optional<LinkInfo>> GetLink(const std::string& name);
  EnvResult<std::optional<LinkInfo>> GetLink(int ifindex);
  EnvResult<void> CreateVethPair(const std::string& name, const std::string& peer_name);
  EnvResult<void> ChangeLink(int ifindex, const LinkChange& change);
  // Ok when the link does not exist.
  EnvResult<void> DeleteLink(const std::string& name);

  EnvResult<std::vector<RawMessage>> DumpAddresses(int ifindex);
  // Every route of every table, IPv4 and IPv6.
  EnvResult<std::vector<RawMessage>> DumpRoutes();
  // Ifindex of the IPv4 default route of the main table; nullopt when there is none.
  EnvResult<std::optional<int>> DefaultRouteLink();

  // Replays a saved message as RTM_NEWADDR/DELADDR/NEWROUTE/DELROUTE. Returns the errno the
  // kernel answered when it is one of `tolerated` (0 when it succeeded).
  EnvResult<int> Replay(const RawMessage& message, uint16_t type,
                        std::initializer_list<int> tolerated);

 private:
  explicit Rtnetlink(mnl_socket* socket);
  // By index, or by name when name is not empty.
  EnvResult<std::optional<LinkInfo>> FetchLink(int ifindex, const std::string& name);
  EnvResult<std::vector<RawMessage>> Exchange(std::vector<uint8_t> request, const std::string& what,
                                              int* kernel_errno);

  mnl_socket* socket_ = nullptr;
  uint32_t port_id_ = 0;
  uint32_t sequence_ = 0;
};

}  // namespace dg::node
