#include "gateway/dscp_marker.h"

#include <gtest/gtest.h>

#include <random>

#include "tests/unit/frame_builder.h"

namespace dg {
namespace {

using testing::BuildFrame;
using testing::FrameSpec;
using testing::FullIpv4Checksum;

uint16_t StoredChecksum(const uint8_t* ip) { return static_cast<uint16_t>((ip[10] << 8) | ip[11]); }

struct MarkerCase {
  const char* name;
  std::vector<uint16_t> vlans;
  uint8_t option_words;
};

class Ipv4MarkerTest : public ::testing::TestWithParam<MarkerCase> {};

TEST_P(Ipv4MarkerTest, IncrementalChecksumEqualsFullRecomputationForEveryDscpAndEcn) {
  const MarkerCase& marker_case = GetParam();
  const uint32_t l3_offset = 14 + 4 * static_cast<uint32_t>(marker_case.vlans.size());
  for (int original_tos = 0; original_tos < 256; original_tos += 7) {
    for (uint8_t dscp = 0; dscp <= 63; ++dscp) {
      FrameSpec spec;
      spec.vlan_tpids = marker_case.vlans;
      spec.ipv4_option_words = marker_case.option_words;
      spec.tos = static_cast<uint8_t>(original_tos);
      std::vector<uint8_t> frame = BuildFrame(spec);
      uint8_t* ip = frame.data() + l3_offset;
      const uint32_t header_length = (ip[0] & 0x0f) * 4u;
      SetIpv4Dscp(ip, dscp);
      ASSERT_EQ(ip[1] >> 2, dscp);
      ASSERT_EQ(ip[1] & 0x03, original_tos & 0x03) << "ECN must be preserved";
      ASSERT_EQ(StoredChecksum(ip), FullIpv4Checksum(ip, header_length))
          << "tos " << original_tos << " -> dscp " << int{dscp};
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Headers, Ipv4MarkerTest,
                         ::testing::Values(MarkerCase{"plain", {}, 0},
                                           MarkerCase{"options_4", {}, 4},
                                           MarkerCase{"options_10_qinq", {0x88A8, 0x8100}, 10},
                                           MarkerCase{"vlan", {0x8100}, 1}),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(Ipv4Marker, RandomHeadersKeepChecksumsExact) {
  std::mt19937 random(12345);
  for (int round = 0; round < 20000; ++round) {
    uint8_t header[60];
    const uint32_t words = 5 + random() % 11;
    for (uint32_t i = 0; i < words * 4; ++i) header[i] = static_cast<uint8_t>(random());
    header[0] = static_cast<uint8_t>(0x40 | words);
    const uint16_t checksum = FullIpv4Checksum(header, words * 4);
    header[10] = static_cast<uint8_t>(checksum >> 8);
    header[11] = static_cast<uint8_t>(checksum);
    SetIpv4Dscp(header, static_cast<uint8_t>(random() % 64));
    ASSERT_EQ(StoredChecksum(header), FullIpv4Checksum(header, words * 4)) << "round " << round;
  }
}

// One's complement difference a - b: what an incremental update carries over unchanged.
uint16_t OnesComplementDifference(uint16_t a, uint16_t b) {
  uint32_t sum = a + static_cast<uint16_t>(~b);
  sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}

TEST(Ipv4Marker, BadChecksumStaysExactlyAsBad) {
  for (uint16_t corruption : {0x0001, 0x0101, 0x8000, 0x1234}) {
    std::vector<uint8_t> frame = BuildFrame(FrameSpec{});
    uint8_t* ip = frame.data() + 14;
    const uint16_t corrupted = static_cast<uint16_t>(StoredChecksum(ip) + corruption);
    ip[10] = static_cast<uint8_t>(corrupted >> 8);
    ip[11] = static_cast<uint8_t>(corrupted);
    const uint16_t error_before = OnesComplementDifference(corrupted, FullIpv4Checksum(ip, 20));
    SetIpv4Dscp(ip, 46);
    const uint16_t correct_after = FullIpv4Checksum(ip, 20);
    EXPECT_NE(StoredChecksum(ip), correct_after) << "corruption must not be laundered";
    EXPECT_EQ(OnesComplementDifference(StoredChecksum(ip), correct_after), error_before);
  }
}

TEST(Ipv4Marker, SameDscpLeavesHeaderUntouched) {
  FrameSpec spec;
  spec.tos = (34 << 2) | 0x01;
  std::vector<uint8_t> frame = BuildFrame(spec);
  const std::vector<uint8_t> before = frame;
  EXPECT_FALSE(SetIpv4Dscp(frame.data() + 14, 34));
  EXPECT_EQ(frame, before);
}

TEST(Ipv4Marker, OnlyTosAndChecksumBytesChange) {
  std::vector<uint8_t> frame = BuildFrame(FrameSpec{});
  const std::vector<uint8_t> before = frame;
  ASSERT_TRUE(SetIpv4Dscp(frame.data() + 14, 46));
  for (size_t i = 0; i < frame.size(); ++i) {
    if (i == 14 + 1 || i == 14 + 10 || i == 14 + 11) continue;
    EXPECT_EQ(frame[i], before[i]) << "byte " << i;
  }
}

TEST(Ipv6Marker, RewritesDscpKeepsEcnAndFlowLabel) {
  for (int ecn = 0; ecn < 4; ++ecn) {
    FrameSpec spec;
    spec.ip_version = 6;
    spec.source = "fd00::1";
    spec.destination = "fd00::2";
    spec.tos = static_cast<uint8_t>((10 << 2) | ecn);
    spec.flow_label = 0xABCDE;
    std::vector<uint8_t> frame = BuildFrame(spec);
    uint8_t* ip = frame.data() + 14;
    ASSERT_TRUE(SetIpv6Dscp(ip, 46));
    const uint8_t traffic_class = static_cast<uint8_t>(((ip[0] & 0x0f) << 4) | (ip[1] >> 4));
    EXPECT_EQ(traffic_class >> 2, 46);
    EXPECT_EQ(traffic_class & 0x03, ecn);
    EXPECT_EQ(ip[0] >> 4, 6) << "version";
    const uint32_t flow_label = ((ip[1] & 0x0fu) << 16) | (ip[2] << 8) | ip[3];
    EXPECT_EQ(flow_label, 0xABCDEu);
  }
}

TEST(Ipv6Marker, EveryDscpRoundTrips) {
  for (uint8_t dscp = 0; dscp <= 63; ++dscp) {
    uint8_t header[40] = {0x6f, 0xf1, 0x23, 0x45};
    SetIpv6Dscp(header, dscp);
    EXPECT_EQ((((header[0] & 0x0f) << 4) | (header[1] >> 4)) >> 2, dscp);
    EXPECT_EQ(header[1] & 0x0f, 0x01) << "flow label nibble";
    EXPECT_EQ((header[1] >> 4) & 0x03, 0x03) << "ECN bits of 0xff traffic class";
  }
}

}  // namespace
}  // namespace dg
