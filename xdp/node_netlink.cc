#include "xdp/node_netlink.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>

#include <cerrno>
#include <cstring>
#include <map>

namespace dg::node {
namespace {

constexpr size_t kReceiveBufferSize = 1 << 16;
constexpr size_t kRequestBufferSize = 1 << 13;
// Route flags a configuration may carry; the rest is state the kernel reports (dead,
// linkdown, offload, trap) and refuses on add.
constexpr unsigned kConfigurableRouteFlags = RTNH_F_ONLINK;

const nlmsghdr* Header(const RawMessage& message) {
  return reinterpret_cast<const nlmsghdr*>(message.data());
}

template <class Visit>
void ForEachAttribute(const nlmsghdr* header, size_t family_header_size, Visit&& visit) {
  const char* tail = static_cast<const char*>(mnl_nlmsg_get_payload_tail(header));
  for (auto* attribute =
           static_cast<const nlattr*>(mnl_nlmsg_get_payload_offset(header, family_header_size));
       mnl_attr_ok(attribute, static_cast<int>(tail - reinterpret_cast<const char*>(attribute)));
       attribute = mnl_attr_next(attribute)) {
    visit(attribute);
  }
}

template <class Visit>
void ForEachNexthop(const nlattr* multipath, Visit&& visit) {
  const char* cursor = static_cast<const char*>(mnl_attr_get_payload(multipath));
  size_t left = mnl_attr_get_payload_len(multipath);
  while (left >= sizeof(rtnexthop)) {
    auto* nexthop = reinterpret_cast<const rtnexthop*>(cursor);
    if (nexthop->rtnh_len < sizeof(rtnexthop) || nexthop->rtnh_len > left) break;
    visit(nexthop);
    const size_t step = RTNH_ALIGN(nexthop->rtnh_len);
    if (step >= left) break;
    cursor += step;
    left -= step;
  }
}

const rtmsg* RouteHeader(const RawMessage& route) {
  return static_cast<const rtmsg*>(mnl_nlmsg_get_payload(Header(route)));
}

std::map<uint16_t, const nlattr*> RouteAttributes(const RawMessage& route) {
  std::map<uint16_t, const nlattr*> attributes;
  ForEachAttribute(Header(route), sizeof(rtmsg), [&](const nlattr* attribute) {
    attributes[mnl_attr_get_type(attribute)] = attribute;
  });
  return attributes;
}

std::string AddressText(int family, const nlattr* attribute) {
  if (attribute == nullptr) return "?";
  char text[INET6_ADDRSTRLEN] = "?";
  inet_ntop(family, mnl_attr_get_payload(attribute), text, sizeof(text));
  return text;
}

// A fresh message with `header` (nlmsghdr + family header) copied and no attributes yet.
nlmsghdr* StartCopy(std::vector<uint8_t>& buffer, const nlmsghdr* original, size_t family_size) {
  buffer.assign(original->nlmsg_len + 64, 0);
  nlmsghdr* copy = mnl_nlmsg_put_header(buffer.data());
  *copy = *original;
  copy->nlmsg_len = MNL_ALIGN(sizeof(nlmsghdr));
  void* family = mnl_nlmsg_put_extra_header(copy, family_size);
  std::memcpy(family, mnl_nlmsg_get_payload(original), family_size);
  return copy;
}

void PutRaw(nlmsghdr* message, const nlattr* attribute, const void* payload) {
  // nla_type keeps the nested/byte-order bits that mnl_attr_get_type masks off.
  mnl_attr_put(message, attribute->nla_type, mnl_attr_get_payload_len(attribute), payload);
}

RawMessage Finish(std::vector<uint8_t>& buffer, const nlmsghdr* message) {
  buffer.resize(message->nlmsg_len);
  return buffer;
}

std::string ErrnoText(int error) { return std::strerror(error); }

}  // namespace

bool IsKernelRoute(const RawMessage& route) {
  return RouteHeader(route)->rtm_protocol == RTPROT_KERNEL;
}

bool IsClonedRoute(const RawMessage& route) {
  return (RouteHeader(route)->rtm_flags & RTM_F_CLONED) != 0;
}

bool RouteUsesLink(const RawMessage& route, int ifindex) {
  bool uses = false;
  for (const auto& [type, attribute] : RouteAttributes(route)) {
    if (type == RTA_OIF && static_cast<int>(mnl_attr_get_u32(attribute)) == ifindex) uses = true;
    if (type == RTA_MULTIPATH) {
      ForEachNexthop(attribute, [&](const rtnexthop* nexthop) {
        if (nexthop->rtnh_ifindex == ifindex) uses = true;
      });
    }
  }
  return uses;
}

bool RouteUsesNexthopObject(const RawMessage& route) {
  return RouteAttributes(route).contains(RTA_NH_ID);
}

RawMessage RetargetRoute(const RawMessage& route, int from_ifindex, int to_ifindex) {
  std::vector<uint8_t> buffer;
  nlmsghdr* copy = StartCopy(buffer, Header(route), sizeof(rtmsg));
  auto* header = static_cast<rtmsg*>(mnl_nlmsg_get_payload(copy));
  header->rtm_flags &= kConfigurableRouteFlags;
  ForEachAttribute(Header(route), sizeof(rtmsg), [&](const nlattr* attribute) {
    const uint16_t type = mnl_attr_get_type(attribute);
    if (type == RTA_CACHEINFO) return;
    if (type == RTA_OIF) {
      const uint32_t oif = mnl_attr_get_u32(attribute);
      mnl_attr_put_u32(
          copy, RTA_OIF,
          static_cast<int>(oif) == from_ifindex ? static_cast<uint32_t>(to_ifindex) : oif);
      return;
    }
    if (type == RTA_MULTIPATH) {
      std::vector<uint8_t> nexthops(static_cast<const uint8_t*>(mnl_attr_get_payload(attribute)),
                                    static_cast<const uint8_t*>(mnl_attr_get_payload(attribute)) +
                                        mnl_attr_get_payload_len(attribute));
      ForEachNexthop(attribute, [&](const rtnexthop* nexthop) {
        auto* patched = reinterpret_cast<rtnexthop*>(
            nexthops.data() + (reinterpret_cast<const uint8_t*>(nexthop) -
                               static_cast<const uint8_t*>(mnl_attr_get_payload(attribute))));
        if (patched->rtnh_ifindex == from_ifindex) patched->rtnh_ifindex = to_ifindex;
        patched->rtnh_flags &= kConfigurableRouteFlags;
      });
      PutRaw(copy, attribute, nexthops.data());
      return;
    }
    PutRaw(copy, attribute, mnl_attr_get_payload(attribute));
  });
  return Finish(buffer, copy);
}

RawMessage RetargetAddress(const RawMessage& address, int to_ifindex, const std::string& from_name,
                           const std::string& to_name) {
  std::vector<uint8_t> buffer;
  nlmsghdr* copy = StartCopy(buffer, Header(address), sizeof(ifaddrmsg));
  static_cast<ifaddrmsg*>(mnl_nlmsg_get_payload(copy))->ifa_index =
      static_cast<uint32_t>(to_ifindex);
  ForEachAttribute(Header(address), sizeof(ifaddrmsg), [&](const nlattr* attribute) {
    if (mnl_attr_get_type(attribute) == IFA_LABEL) {
      std::string label = mnl_attr_get_str(attribute);
      if (label.starts_with(from_name)) label = to_name + label.substr(from_name.size());
      if (label.size() < IFNAMSIZ) mnl_attr_put_strz(copy, IFA_LABEL, label.c_str());
      return;
    }
    PutRaw(copy, attribute, mnl_attr_get_payload(attribute));
  });
  return Finish(buffer, copy);
}

namespace {
struct AddressKey {
  int family = 0;
  int prefix = 0;
  std::vector<uint8_t> local;
  bool operator==(const AddressKey&) const = default;
};

AddressKey KeyOf(const RawMessage& address) {
  const auto* header = static_cast<const ifaddrmsg*>(mnl_nlmsg_get_payload(Header(address)));
  AddressKey key{header->ifa_family, header->ifa_prefixlen, {}};
  const nlattr* local = nullptr;
  const nlattr* peer = nullptr;
  ForEachAttribute(Header(address), sizeof(ifaddrmsg), [&](const nlattr* attribute) {
    if (mnl_attr_get_type(attribute) == IFA_LOCAL) local = attribute;
    if (mnl_attr_get_type(attribute) == IFA_ADDRESS) peer = attribute;
  });
  if (local == nullptr) local = peer;
  if (local != nullptr) {
    const auto* bytes = static_cast<const uint8_t*>(mnl_attr_get_payload(local));
    key.local.assign(bytes, bytes + mnl_attr_get_payload_len(local));
  }
  return key;
}
}  // namespace

bool SameAddress(const RawMessage& a, const RawMessage& b) { return KeyOf(a) == KeyOf(b); }

std::string DescribeAddress(const RawMessage& address) {
  const auto* header = static_cast<const ifaddrmsg*>(mnl_nlmsg_get_payload(Header(address)));
  const nlattr* local = nullptr;
  ForEachAttribute(Header(address), sizeof(ifaddrmsg), [&](const nlattr* attribute) {
    const uint16_t type = mnl_attr_get_type(attribute);
    if (type == IFA_LOCAL || (type == IFA_ADDRESS && local == nullptr)) local = attribute;
  });
  return std::string(header->ifa_family == AF_INET ? "inet " : "inet6 ") +
         AddressText(header->ifa_family, local) + "/" + std::to_string(header->ifa_prefixlen);
}

std::string DescribeRoute(const RawMessage& route) {
  const rtmsg* header = RouteHeader(route);
  const auto attributes = RouteAttributes(route);
  auto find = [&](uint16_t type) -> const nlattr* {
    auto it = attributes.find(type);
    return it == attributes.end() ? nullptr : it->second;
  };
  std::string text = header->rtm_family == AF_INET ? "inet " : "inet6 ";
  text += header->rtm_dst_len == 0 ? std::string("default")
                                   : AddressText(header->rtm_family, find(RTA_DST)) + "/" +
                                         std::to_string(header->rtm_dst_len);
  const nlattr* table = find(RTA_TABLE);
  text += " table " + std::to_string(table ? mnl_attr_get_u32(table) : header->rtm_table);
  if (const nlattr* gateway = find(RTA_GATEWAY))
    text += " via " + AddressText(header->rtm_family, gateway);
  if (find(RTA_MULTIPATH)) text += " multipath";
  return text;
}

Rtnetlink::Rtnetlink(mnl_socket* socket)
    : socket_(socket), port_id_(mnl_socket_get_portid(socket)) {}

Rtnetlink::Rtnetlink(Rtnetlink&& other) noexcept
    : socket_(other.socket_), port_id_(other.port_id_), sequence_(other.sequence_) {
  other.socket_ = nullptr;
}

Rtnetlink::~Rtnetlink() {
  if (socket_ != nullptr) mnl_socket_close(socket_);
}

EnvResult<Rtnetlink> Rtnetlink::Open() {
  mnl_socket* socket = mnl_socket_open(NETLINK_ROUTE);
  if (socket == nullptr) return EnvironmentError{"open rtnetlink socket", ErrnoText(errno)};
  if (mnl_socket_bind(socket, 0, MNL_SOCKET_AUTOPID) < 0) {
    const int error = errno;
    mnl_socket_close(socket);
    return EnvironmentError{"bind rtnetlink socket", ErrnoText(error)};
  }
  return Rtnetlink(socket);
}

EnvResult<std::vector<RawMessage>> Rtnetlink::Exchange(std::vector<uint8_t> request,
                                                       const std::string& what, int* kernel_errno) {
  auto* header = reinterpret_cast<nlmsghdr*>(request.data());
  header->nlmsg_seq = ++sequence_;
  header->nlmsg_pid = 0;
  // A dump ends with NLMSG_DONE; anything else must end with an ACK, or we would wait forever.
  if ((header->nlmsg_flags & NLM_F_DUMP) != NLM_F_DUMP) header->nlmsg_flags |= NLM_F_ACK;
  if (mnl_socket_sendto(socket_, request.data(), header->nlmsg_len) < 0) {
    return EnvironmentError{what, "send: " + ErrnoText(errno)};
  }
  std::vector<RawMessage> replies;
  std::vector<uint8_t> buffer(kReceiveBufferSize);
  auto collect = [](const nlmsghdr* message, void* data) -> int {
    auto* out = static_cast<std::vector<RawMessage>*>(data);
    const auto* bytes = reinterpret_cast<const uint8_t*>(message);
    out->emplace_back(bytes, bytes + message->nlmsg_len);
    return MNL_CB_OK;
  };
  for (;;) {
    const ssize_t received = mnl_socket_recvfrom(socket_, buffer.data(), buffer.size());
    if (received < 0) return EnvironmentError{what, "receive: " + ErrnoText(errno)};
    const int status = mnl_cb_run(buffer.data(), static_cast<size_t>(received), sequence_, port_id_,
                                  +collect, &replies);
    if (status == MNL_CB_STOP) break;
    if (status < 0) {
      const int error = errno;
      if (kernel_errno != nullptr) {
        *kernel_errno = error;
        return std::vector<RawMessage>{};
      }
      if (error == EPERM)
        return EnvironmentError{what, "not permitted (needs root: CAP_NET_ADMIN)"};
      return EnvironmentError{what, ErrnoText(error)};
    }
  }
  if (kernel_errno != nullptr) *kernel_errno = 0;
  return replies;
}

namespace {
std::optional<LinkInfo> ParseLink(const RawMessage& message) {
  const nlmsghdr* header = Header(message);
  if (header->nlmsg_type != RTM_NEWLINK) return std::nullopt;
  const auto* link = static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(header));
  LinkInfo info;
  info.ifindex = link->ifi_index;
  info.flags = link->ifi_flags;
  ForEachAttribute(header, sizeof(ifinfomsg), [&](const nlattr* attribute) {
    switch (mnl_attr_get_type(attribute)) {
      case IFLA_IFNAME:
        info.name = mnl_attr_get_str(attribute);
        break;
      case IFLA_MTU:
        info.mtu = mnl_attr_get_u32(attribute);
        break;
      case IFLA_ADDRESS:
        if (mnl_attr_get_payload_len(attribute) == info.mac.size()) {
          std::memcpy(info.mac.data(), mnl_attr_get_payload(attribute), info.mac.size());
        }
        break;
      case IFLA_XDP: {
        const char* cursor = static_cast<const char*>(mnl_attr_get_payload(attribute));
        int left = static_cast<int>(mnl_attr_get_payload_len(attribute));
        for (auto* nested = reinterpret_cast<const nlattr*>(cursor); mnl_attr_ok(nested, left);) {
          if (mnl_attr_get_type(nested) == IFLA_XDP_ATTACHED) {
            info.xdp_attached = mnl_attr_get_u8(nested) != XDP_ATTACHED_NONE;
          }
          const nlattr* next = mnl_attr_next(nested);
          left -= static_cast<int>(reinterpret_cast<const char*>(next) -
                                   reinterpret_cast<const char*>(nested));
          nested = next;
        }
        break;
      }
      default:
        break;
    }
  });
  return info;
}

std::vector<uint8_t> LinkRequest(uint16_t type, uint16_t flags, int ifindex, nlmsghdr** out) {
  std::vector<uint8_t> buffer(kRequestBufferSize, 0);
  nlmsghdr* header = mnl_nlmsg_put_header(buffer.data());
  header->nlmsg_type = type;
  header->nlmsg_flags = NLM_F_REQUEST | flags;
  auto* link = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(header, sizeof(ifinfomsg)));
  link->ifi_family = AF_UNSPEC;
  link->ifi_index = ifindex;
  *out = header;
  return buffer;
}
// A dump of every object of one kind: the zeroed family header asks for AF_UNSPEC (all).
std::vector<uint8_t> DumpRequest(uint16_t type, size_t family_size) {
  std::vector<uint8_t> buffer(kRequestBufferSize, 0);
  nlmsghdr* header = mnl_nlmsg_put_header(buffer.data());
  header->nlmsg_type = type;
  header->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  mnl_nlmsg_put_extra_header(header, family_size);
  buffer.resize(header->nlmsg_len);
  return buffer;
}
}  // namespace

EnvResult<std::optional<LinkInfo>> Rtnetlink::GetLink(const std::string& name) {
  return FetchLink(0, name);
}

EnvResult<std::optional<LinkInfo>> Rtnetlink::GetLink(int ifindex) {
  return FetchLink(ifindex, "");
}

EnvResult<std::optional<LinkInfo>> Rtnetlink::FetchLink(int ifindex, const std::string& name) {
  nlmsghdr* header = nullptr;
  std::vector<uint8_t> request = LinkRequest(RTM_GETLINK, 0, ifindex, &header);
  if (!name.empty()) mnl_attr_put_strz(header, IFLA_IFNAME, name.c_str());
  const std::string what = "get link " + (name.empty() ? std::to_string(ifindex) : name);
  int error = 0;
  auto replies = Exchange(std::move(request), what, &error);
  if (!replies) return replies.error();
  if (error == ENODEV) return std::optional<LinkInfo>();
  if (error != 0) return EnvironmentError{what, ErrnoText(error)};
  for (const RawMessage& reply : *replies) {
    if (auto link = ParseLink(reply)) return link;
  }
  return std::optional<LinkInfo>();
}

EnvResult<void> Rtnetlink::CreateVethPair(const std::string& name, const std::string& peer_name) {
  nlmsghdr* header = nullptr;
  std::vector<uint8_t> request =
      LinkRequest(RTM_NEWLINK, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, 0, &header);
  mnl_attr_put_strz(header, IFLA_IFNAME, name.c_str());
  nlattr* linkinfo = mnl_attr_nest_start(header, IFLA_LINKINFO);
  mnl_attr_put_strz(header, IFLA_INFO_KIND, "veth");
  nlattr* data = mnl_attr_nest_start(header, IFLA_INFO_DATA);
  nlattr* peer = mnl_attr_nest_start(header, VETH_INFO_PEER);
  // The peer is described by its own ifinfomsg followed by its attributes.
  auto* peer_link = static_cast<ifinfomsg*>(mnl_nlmsg_get_payload_tail(header));
  std::memset(peer_link, 0, sizeof(ifinfomsg));
  header->nlmsg_len += MNL_ALIGN(sizeof(ifinfomsg));
  mnl_attr_put_strz(header, IFLA_IFNAME, peer_name.c_str());
  mnl_attr_nest_end(header, peer);
  mnl_attr_nest_end(header, data);
  mnl_attr_nest_end(header, linkinfo);
  request.resize(header->nlmsg_len);
  auto replies = Exchange(std::move(request), "create veth " + name + "/" + peer_name, nullptr);
  if (!replies) return replies.error();
  return {};
}

EnvResult<void> Rtnetlink::ChangeLink(int ifindex, const LinkChange& change) {
  nlmsghdr* header = nullptr;
  std::vector<uint8_t> request = LinkRequest(RTM_NEWLINK, NLM_F_ACK, ifindex, &header);
  auto* link = static_cast<ifinfomsg*>(mnl_nlmsg_get_payload(header));
  if (change.up) {
    link->ifi_change |= IFF_UP;
    if (*change.up) link->ifi_flags |= IFF_UP;
  }
  if (change.promisc) {
    link->ifi_change |= IFF_PROMISC;
    if (*change.promisc) link->ifi_flags |= IFF_PROMISC;
  }
  if (change.mac) mnl_attr_put(header, IFLA_ADDRESS, change.mac->size(), change.mac->data());
  if (change.mtu) mnl_attr_put_u32(header, IFLA_MTU, *change.mtu);
  request.resize(header->nlmsg_len);
  auto replies = Exchange(std::move(request), "change link " + std::to_string(ifindex), nullptr);
  if (!replies) return replies.error();
  return {};
}

EnvResult<void> Rtnetlink::DeleteLink(const std::string& name) {
  nlmsghdr* header = nullptr;
  std::vector<uint8_t> request = LinkRequest(RTM_DELLINK, NLM_F_ACK, 0, &header);
  mnl_attr_put_strz(header, IFLA_IFNAME, name.c_str());
  request.resize(header->nlmsg_len);
  int error = 0;
  auto replies = Exchange(std::move(request), "delete link " + name, &error);
  if (!replies) return replies.error();
  if (error != 0 && error != ENODEV)
    return EnvironmentError{"delete link " + name, ErrnoText(error)};
  return {};
}

EnvResult<std::vector<RawMessage>> Rtnetlink::DumpAddresses(int ifindex) {
  auto replies = Exchange(DumpRequest(RTM_GETADDR, sizeof(ifaddrmsg)), "dump addresses", nullptr);
  if (!replies) return replies.error();
  std::vector<RawMessage> addresses;
  for (RawMessage& reply : *replies) {
    if (Header(reply)->nlmsg_type != RTM_NEWADDR) continue;
    const auto* address = static_cast<const ifaddrmsg*>(mnl_nlmsg_get_payload(Header(reply)));
    if (static_cast<int>(address->ifa_index) != ifindex) continue;
    if (address->ifa_family != AF_INET && address->ifa_family != AF_INET6) continue;
    addresses.push_back(std::move(reply));
  }
  return addresses;
}

EnvResult<std::vector<RawMessage>> Rtnetlink::DumpRoutes() {
  auto replies = Exchange(DumpRequest(RTM_GETROUTE, sizeof(rtmsg)), "dump routes", nullptr);
  if (!replies) return replies.error();
  std::vector<RawMessage> routes;
  for (RawMessage& reply : *replies) {
    if (Header(reply)->nlmsg_type != RTM_NEWROUTE) continue;
    const int family = RouteHeader(reply)->rtm_family;
    if (family == AF_INET || family == AF_INET6) routes.push_back(std::move(reply));
  }
  return routes;
}

EnvResult<std::optional<int>> Rtnetlink::DefaultRouteLink() {
  auto routes = DumpRoutes();
  if (!routes) return routes.error();
  std::optional<int> link;
  uint32_t best_metric = UINT32_MAX;
  for (const RawMessage& route : *routes) {
    const rtmsg* header = RouteHeader(route);
    if (header->rtm_family != AF_INET || header->rtm_dst_len != 0 ||
        header->rtm_type != RTN_UNICAST)
      continue;
    const auto attributes = RouteAttributes(route);
    const auto table = attributes.find(RTA_TABLE);
    if ((table != attributes.end() ? mnl_attr_get_u32(table->second) : header->rtm_table) !=
        RT_TABLE_MAIN)
      continue;
    const auto metric = attributes.find(RTA_PRIORITY);
    const uint32_t value = metric != attributes.end() ? mnl_attr_get_u32(metric->second) : 0;
    std::optional<int> oif;
    if (auto it = attributes.find(RTA_OIF); it != attributes.end())
      oif = static_cast<int>(mnl_attr_get_u32(it->second));
    if (auto it = attributes.find(RTA_MULTIPATH); it != attributes.end() && !oif) {
      ForEachNexthop(it->second, [&](const rtnexthop* nexthop) {
        if (!oif) oif = nexthop->rtnh_ifindex;
      });
    }
    if (oif && value < best_metric) {
      best_metric = value;
      link = oif;
    }
  }
  return link;
}

EnvResult<int> Rtnetlink::Replay(const RawMessage& message, uint16_t type,
                                 std::initializer_list<int> tolerated) {
  std::vector<uint8_t> request = message;
  auto* header = reinterpret_cast<nlmsghdr*>(request.data());
  header->nlmsg_type = type;
  header->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  if (type == RTM_NEWADDR || type == RTM_NEWROUTE) header->nlmsg_flags |= NLM_F_CREATE | NLM_F_EXCL;
  const bool is_route = type == RTM_NEWROUTE || type == RTM_DELROUTE;
  const std::string what =
      std::string(type == RTM_NEWADDR || type == RTM_NEWROUTE ? "add " : "delete ") +
      (is_route ? "route " + DescribeRoute(message) : "address " + DescribeAddress(message));
  int error = 0;
  auto replies = Exchange(std::move(request), what, &error);
  if (!replies) return replies.error();
  if (error == 0) return 0;
  for (int accepted : tolerated) {
    if (error == accepted) return error;
  }
  if (error == EPERM) return EnvironmentError{what, "not permitted (needs root: CAP_NET_ADMIN)"};
  return EnvironmentError{what, ErrnoText(error)};
}

}  // namespace dg::node
