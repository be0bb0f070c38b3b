// The pure parts of `node attach`: how saved rtnetlink messages are retargeted, and the
// journal's JSON. No root, no sockets: messages are built by hand.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>

#include <cstring>
#include <map>

#include "xdp/node_netlink.h"
#include "xdp/node_state.h"

namespace dg::node {
namespace {

constexpr int kUplink = 2;
constexpr int kKernelLeg = 9;
constexpr int kOther = 3;

class MessageBuilder {
 public:
  explicit MessageBuilder(uint16_t type)
      : buffer_(4096, 0), header_(mnl_nlmsg_put_header(buffer_.data())) {
    header_->nlmsg_type = type;
  }
  template <class T>
  T* Family() {
    return static_cast<T*>(mnl_nlmsg_put_extra_header(header_, sizeof(T)));
  }
  nlmsghdr* header() { return header_; }
  RawMessage Done() {
    buffer_.resize(header_->nlmsg_len);
    return buffer_;
  }

 private:
  std::vector<uint8_t> buffer_;
  nlmsghdr* header_;
};

// Attribute type -> payload bytes, top level only.
std::map<uint16_t, std::vector<uint8_t>> Attributes(const RawMessage& message, size_t family_size) {
  std::map<uint16_t, std::vector<uint8_t>> attributes;
  const auto* header = reinterpret_cast<const nlmsghdr*>(message.data());
  const char* tail = static_cast<const char*>(mnl_nlmsg_get_payload_tail(header));
  for (auto* attribute =
           static_cast<const nlattr*>(mnl_nlmsg_get_payload_offset(header, family_size));
       mnl_attr_ok(attribute, static_cast<int>(tail - reinterpret_cast<const char*>(attribute)));
       attribute = mnl_attr_next(attribute)) {
    const auto* payload = static_cast<const uint8_t*>(mnl_attr_get_payload(attribute));
    attributes[mnl_attr_get_type(attribute)].assign(payload,
                                                    payload + mnl_attr_get_payload_len(attribute));
  }
  return attributes;
}

uint32_t U32(const std::vector<uint8_t>& bytes) {
  uint32_t value = 0;
  std::memcpy(&value, bytes.data(), sizeof(value));
  return value;
}

RawMessage DefaultRoute(int oif) {
  MessageBuilder builder(RTM_NEWROUTE);
  auto* route = builder.Family<rtmsg>();
  route->rtm_family = AF_INET;
  route->rtm_protocol = RTPROT_STATIC;
  route->rtm_type = RTN_UNICAST;
  route->rtm_flags = RTNH_F_LINKDOWN | RTNH_F_ONLINK;
  mnl_attr_put_u32(builder.header(), RTA_TABLE, 100);
  mnl_attr_put_u32(builder.header(), RTA_PRIORITY, 42);
  mnl_attr_put_u32(builder.header(), RTA_GATEWAY, inet_addr("10.0.0.1"));
  mnl_attr_put_u32(builder.header(), RTA_OIF, static_cast<uint32_t>(oif));
  rta_cacheinfo cache{};
  mnl_attr_put(builder.header(), RTA_CACHEINFO, sizeof(cache), &cache);
  return builder.Done();
}

RawMessage MultipathRoute() {
  MessageBuilder builder(RTM_NEWROUTE);
  auto* route = builder.Family<rtmsg>();
  route->rtm_family = AF_INET;
  route->rtm_dst_len = 24;
  route->rtm_protocol = RTPROT_BOOT;
  mnl_attr_put_u32(builder.header(), RTA_DST, inet_addr("10.97.0.0"));
  std::vector<uint8_t> nexthops(2 * sizeof(rtnexthop), 0);
  auto* first = reinterpret_cast<rtnexthop*>(nexthops.data());
  auto* second = first + 1;
  *first = {sizeof(rtnexthop), RTNH_F_DEAD, 0, kUplink};
  *second = {sizeof(rtnexthop), 0, 1, kOther};
  mnl_attr_put(builder.header(), RTA_MULTIPATH, nexthops.size(), nexthops.data());
  return builder.Done();
}

TEST(RetargetRoute, MovesTheOutputInterfaceAndKeepsEveryConfiguredAttribute) {
  const auto moved =
      Attributes(RetargetRoute(DefaultRoute(kUplink), kUplink, kKernelLeg), sizeof(rtmsg));
  EXPECT_EQ(U32(moved.at(RTA_OIF)), static_cast<uint32_t>(kKernelLeg));
  EXPECT_EQ(U32(moved.at(RTA_TABLE)), 100u);
  EXPECT_EQ(U32(moved.at(RTA_PRIORITY)), 42u);
  EXPECT_EQ(U32(moved.at(RTA_GATEWAY)), inet_addr("10.0.0.1"));
}

TEST(RetargetRoute, DropsKernelReportedStateTheKernelRefusesOnAdd) {
  const RawMessage moved = RetargetRoute(DefaultRoute(kUplink), kUplink, kKernelLeg);
  EXPECT_FALSE(Attributes(moved, sizeof(rtmsg)).contains(RTA_CACHEINFO));
  const auto* route = static_cast<const rtmsg*>(
      mnl_nlmsg_get_payload(reinterpret_cast<const nlmsghdr*>(moved.data())));
  EXPECT_EQ(route->rtm_flags, RTNH_F_ONLINK);
  EXPECT_EQ(route->rtm_protocol, RTPROT_STATIC);
}

TEST(RetargetRoute, LeavesARouteOfAnotherInterfaceAlone) {
  const auto moved =
      Attributes(RetargetRoute(DefaultRoute(kOther), kUplink, kKernelLeg), sizeof(rtmsg));
  EXPECT_EQ(U32(moved.at(RTA_OIF)), static_cast<uint32_t>(kOther));
}

TEST(RetargetRoute, MovesOnlyTheUplinkNexthopOfAMultipathRoute) {
  const auto moved =
      Attributes(RetargetRoute(MultipathRoute(), kUplink, kKernelLeg), sizeof(rtmsg));
  const auto& bytes = moved.at(RTA_MULTIPATH);
  ASSERT_EQ(bytes.size(), 2 * sizeof(rtnexthop));
  const auto* nexthops = reinterpret_cast<const rtnexthop*>(bytes.data());
  EXPECT_EQ(nexthops[0].rtnh_ifindex, kKernelLeg);
  EXPECT_EQ(nexthops[0].rtnh_flags, 0);
  EXPECT_EQ(nexthops[1].rtnh_ifindex, kOther);
  EXPECT_EQ(nexthops[1].rtnh_hops, 1);
}

TEST(RouteUsesLink, SeesTheUplinkInAMultipathNexthop) {
  EXPECT_TRUE(RouteUsesLink(MultipathRoute(), kUplink));
  EXPECT_TRUE(RouteUsesLink(MultipathRoute(), kOther));
  EXPECT_FALSE(RouteUsesLink(MultipathRoute(), kKernelLeg));
}

RawMessage LabelledAddress(const char* label) {
  MessageBuilder builder(RTM_NEWADDR);
  auto* address = builder.Family<ifaddrmsg>();
  address->ifa_family = AF_INET;
  address->ifa_prefixlen = 24;
  address->ifa_index = kUplink;
  mnl_attr_put_u32(builder.header(), IFA_LOCAL, inet_addr("10.77.0.3"));
  mnl_attr_put_u32(builder.header(), IFA_ADDRESS, inet_addr("10.77.0.3"));
  mnl_attr_put_strz(builder.header(), IFA_LABEL, label);
  return builder.Done();
}

TEST(RetargetAddress, RenamesTheLabelPrefixAndTheInterface) {
  const RawMessage moved =
      RetargetAddress(LabelledAddress("eth0:1"), kKernelLeg, "eth0", "dgw-kernel");
  const auto* address = static_cast<const ifaddrmsg*>(
      mnl_nlmsg_get_payload(reinterpret_cast<const nlmsghdr*>(moved.data())));
  EXPECT_EQ(address->ifa_index, static_cast<uint32_t>(kKernelLeg));
  EXPECT_STREQ(
      reinterpret_cast<const char*>(Attributes(moved, sizeof(ifaddrmsg)).at(IFA_LABEL).data()),
      "dgw-kernel:1");
  EXPECT_TRUE(SameAddress(moved, LabelledAddress("eth0:1")));
  EXPECT_EQ(DescribeAddress(moved), "inet 10.77.0.3/24");
}

NodeState SampleState() {
  NodeState state;
  state.phase = Phase::kAttaching;
  state.step = 4;
  state.uplink.name = "eth0";
  state.uplink.ifindex = kUplink;
  state.uplink.mac = {0x02, 0x00, 0x5e, 0x10, 0x00, 0x01};
  state.uplink.mtu = 9000;
  state.uplink.promisc = true;
  state.uplink.offloads = {{"gro", true}, {"tso", false}};
  state.uplink.addresses = {LabelledAddress("eth0")};
  state.uplink.routes = {DefaultRoute(kUplink), MultipathRoute()};
  return state;
}

TEST(NodeStateJson, RoundTripsEverythingDetachNeeds) {
  const NodeState saved = SampleState();
  auto loaded = NodeStateFromJson(NodeStateToJson(saved), "node.json");
  ASSERT_TRUE(loaded) << loaded.error().Message();
  EXPECT_EQ(loaded->phase, Phase::kAttaching);
  EXPECT_EQ(loaded->step, 4);
  EXPECT_EQ(loaded->uplink.name, "eth0");
  EXPECT_EQ(loaded->uplink.mac, saved.uplink.mac);
  EXPECT_EQ(loaded->uplink.mtu, 9000u);
  EXPECT_TRUE(loaded->uplink.promisc);
  EXPECT_EQ(loaded->uplink.offloads, saved.uplink.offloads);
  EXPECT_EQ(loaded->uplink.addresses, saved.uplink.addresses);
  EXPECT_EQ(loaded->uplink.routes, saved.uplink.routes);
}

TEST(NodeStateJson, NamesTheKeyOfACorruptMessage) {
  std::string text = NodeStateToJson(SampleState());
  const size_t routes = text.find("\"routes\":[\"");
  ASSERT_NE(routes, std::string::npos);
  text.insert(routes + 11, "zz");
  auto loaded = NodeStateFromJson(text, "node.json");
  ASSERT_FALSE(loaded);
  EXPECT_EQ(loaded.error().file, "node.json");
  EXPECT_EQ(loaded.error().key, "uplink.routes[0]");
}

TEST(NodeStateJson, RejectsAnUnknownPhase) {
  std::string text = NodeStateToJson(SampleState());
  text.replace(text.find("attaching"), 9, "sleeping");
  auto loaded = NodeStateFromJson(text, "node.json");
  ASSERT_FALSE(loaded);
  EXPECT_EQ(loaded.error().key, "phase");
}

}  // namespace
}  // namespace dg::node
