#include "gateway/packet_parser.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>

#include "control/pods.h"
#include "tests/unit/frame_builder.h"

namespace dg {
namespace {

using testing::BuildFrame;
using testing::FrameSpec;
using testing::Overlay;

struct ParserCase {
  std::string name;
  FrameSpec spec;
  std::function<void(std::vector<uint8_t>&)> mutate;  // turns a good frame into a bad one
  UnclassifiedReason expected_reason;
  std::string expected_source;  // what the packet is classified by ("" when unclassified)
  uint16_t expected_l3_offset = 14;
  bool expected_overlay = false;
};

FrameSpec Spec(std::function<void(FrameSpec&)> edit) {
  FrameSpec spec;
  edit(spec);
  return spec;
}

void PrintTo(const ParserCase& parser_case, std::ostream* out) { *out << parser_case.name; }

const ParserCase kCases[] = {
    {"plain_ipv4", {}, nullptr, UnclassifiedReason::kNone, "10.0.0.1"},
    {"ipv4_with_options", Spec([](FrameSpec& s) { s.ipv4_option_words = 10; }), nullptr,
     UnclassifiedReason::kNone, "10.0.0.1"},
    {"single_vlan", Spec([](FrameSpec& s) { s.vlan_tpids = {0x8100}; }), nullptr,
     UnclassifiedReason::kNone, "10.0.0.1", 18},
    {"qinq", Spec([](FrameSpec& s) {
       s.vlan_tpids = {0x88A8, 0x8100};
     }),
     nullptr, UnclassifiedReason::kNone, "10.0.0.1", 22},
    {"three_vlan_tags", Spec([](FrameSpec& s) {
       s.vlan_tpids = {0x88A8, 0x8100, 0x8100};
     }),
     nullptr, UnclassifiedReason::vlan_depth, ""},
    {"plain_ipv6", Spec([](FrameSpec& s) {
       s.ip_version = 6;
       s.source = "fd00::5";
       s.destination = "fd00::9";
     }),
     nullptr, UnclassifiedReason::kNone, "fd00::5"},
    {"ipv6_hop_by_hop_then_vxlan", Spec([](FrameSpec& s) {
       s.ip_version = 6;
       s.source = "fd00::1";
       s.destination = "fd00::2";
       s.ipv6_hop_by_hop = true;
       s.udp_destination_port = 4789;
       s.overlay = Overlay::kVxlan;
       s.inner_source = "10.1.0.7";
     }),
     nullptr, UnclassifiedReason::kNone, "10.1.0.7", 14, true},
    {"vxlan_iana_port_inner_source", Spec([](FrameSpec& s) {
       s.udp_destination_port = 4789;
       s.overlay = Overlay::kVxlan;
     }),
     nullptr, UnclassifiedReason::kNone, "10.1.0.1", 14, true},
    {"vxlan_linux_port_inner_ipv6", Spec([](FrameSpec& s) {
       s.udp_destination_port = 8472;
       s.overlay = Overlay::kVxlan;
       s.inner_ip_version = 6;
       s.inner_source = "fd00::77";
       s.inner_destination = "fd00::78";
     }),
     nullptr, UnclassifiedReason::kNone, "fd00::77", 14, true},
    {"geneve_with_options", Spec([](FrameSpec& s) {
       s.udp_destination_port = 6081;
       s.overlay = Overlay::kGeneve;
       s.geneve_option_words = 6;
       s.inner_source = "10.1.0.9";
     }),
     nullptr, UnclassifiedReason::kNone, "10.1.0.9", 14, true},
    {"geneve_bare_inner_ip", Spec([](FrameSpec& s) {
       s.udp_destination_port = 6081;
       s.overlay = Overlay::kGeneve;
       s.geneve_inner_ethernet = false;
       s.inner_source = "10.1.0.10";
     }),
     nullptr, UnclassifiedReason::kNone, "10.1.0.10", 14, true},
    {"udp_to_other_port_is_not_overlay", Spec([](FrameSpec& s) { s.udp_destination_port = 4790; }),
     nullptr, UnclassifiedReason::kNone, "10.0.0.1"},
    {"vxlan_without_valid_vni_flag", Spec([](FrameSpec& s) {
       s.udp_destination_port = 4789;
       s.overlay = Overlay::kVxlan;
     }),
     [](std::vector<uint8_t>& f) { f[14 + 20 + 8] = 0; }, UnclassifiedReason::inner_malformed, "",
     14, true},
    {"vxlan_inner_truncated", Spec([](FrameSpec& s) {
       s.udp_destination_port = 4789;
       s.overlay = Overlay::kVxlan;
       s.payload_bytes = 0;
     }),
     // Cut the inner IPv4 header short but keep the outer lengths consistent.
     [](std::vector<uint8_t>& f) {
       f.resize(14 + 20 + 8 + 8 + 14 + 10);
       const uint16_t total = static_cast<uint16_t>(f.size() - 14);
       f[16] = static_cast<uint8_t>(total >> 8);
       f[17] = static_cast<uint8_t>(total);
       const uint16_t ip_checksum = testing::FullIpv4Checksum(f.data() + 14, 20);
       f[24] = static_cast<uint8_t>(ip_checksum >> 8);
       f[25] = static_cast<uint8_t>(ip_checksum);
     },
     UnclassifiedReason::inner_malformed, "", 14, true},
    {"vxlan_inner_arp", Spec([](FrameSpec& s) {
       s.udp_destination_port = 4789;
       s.overlay = Overlay::kVxlan;
     }),
     [](std::vector<uint8_t>& f) {
       f[14 + 20 + 8 + 8 + 12] = 0x08;
       f[14 + 20 + 8 + 8 + 13] = 0x06;
     },
     UnclassifiedReason::inner_not_ip, "", 14, true},
    {"arp", Spec([](FrameSpec& s) { s.ip_version = 0; }), nullptr, UnclassifiedReason::not_ip, ""},
    {"ethernet_truncated",
     {},
     [](std::vector<uint8_t>& f) { f.resize(10); },
     UnclassifiedReason::truncated,
     ""},
    {"vlan_tag_truncated", Spec([](FrameSpec& s) { s.vlan_tpids = {0x8100}; }),
     [](std::vector<uint8_t>& f) { f.resize(16); }, UnclassifiedReason::truncated, ""},
    {"ipv4_header_truncated",
     {},
     [](std::vector<uint8_t>& f) { f.resize(14 + 12); },
     UnclassifiedReason::truncated,
     ""},
    {"ipv4_options_beyond_frame", Spec([](FrameSpec& s) {
       s.payload_bytes = 0;
       s.udp = false;
     }),
     [](std::vector<uint8_t>& f) { f[14] = 0x4f; }, UnclassifiedReason::truncated, ""},
    {"ipv4_version_6_in_ipv4_ethertype",
     {},
     [](std::vector<uint8_t>& f) { f[14] = 0x65; },
     UnclassifiedReason::bad_ip_version,
     ""},
    {"ipv4_ihl_below_5",
     {},
     [](std::vector<uint8_t>& f) { f[14] = 0x44; },
     UnclassifiedReason::bad_ihl,
     ""},
    {"ipv4_total_length_below_header",
     {},
     [](std::vector<uint8_t>& f) {
       f[16] = 0;
       f[17] = 12;
     },
     UnclassifiedReason::bad_total_length,
     ""},
    {"ipv4_total_length_beyond_frame",
     {},
     [](std::vector<uint8_t>& f) { f[16] = 0x05; },
     UnclassifiedReason::truncated,
     ""},
    {"ipv6_header_truncated", Spec([](FrameSpec& s) {
       s.ip_version = 6;
       s.source = "fd00::1";
       s.destination = "fd00::2";
     }),
     [](std::vector<uint8_t>& f) { f.resize(14 + 30); }, UnclassifiedReason::truncated, ""},
    {"ipv6_payload_beyond_frame", Spec([](FrameSpec& s) {
       s.ip_version = 6;
       s.source = "fd00::1";
       s.destination = "fd00::2";
     }),
     [](std::vector<uint8_t>& f) { f[18] = 0x10; }, UnclassifiedReason::truncated, ""},
    {"ipv6_version_4_in_ipv6_ethertype", Spec([](FrameSpec& s) {
       s.ip_version = 6;
       s.source = "fd00::1";
       s.destination = "fd00::2";
     }),
     [](std::vector<uint8_t>& f) { f[14] = 0x45; }, UnclassifiedReason::bad_ip_version, ""},
    {"ethernet_padding_after_ipv4_is_fine", Spec([](FrameSpec& s) { s.payload_bytes = 0; }),
     [](std::vector<uint8_t>& f) { f.resize(60, 0); }, UnclassifiedReason::kNone, "10.0.0.1"},
    // BIG TCP / GSO beyond 64 KiB: total length 0, the frame bounds the datagram.
    {"ipv4_total_length_zero_is_big_tcp", Spec([](FrameSpec& s) { s.udp = false; }),
     [](std::vector<uint8_t>& f) {
       f[16] = 0;
       f[17] = 0;
     },
     UnclassifiedReason::kNone, "10.0.0.1"},
    {"ipv4_total_length_zero_udp_cut_before_its_header",
     {},
     [](std::vector<uint8_t>& f) {
       f[16] = 0;
       f[17] = 0;
       f.resize(14 + 20 + 4);
     },
     UnclassifiedReason::truncated,
     ""},
    // RFC 2675 jumbogram: payload length 0 and a hop-by-hop jumbo payload option.
    {"ipv6_jumbogram_with_jumbo_payload_option", Spec([](FrameSpec& s) {
       s.ip_version = 6;
       s.source = "fd00::7";
       s.destination = "fd00::2";
       s.ipv6_hop_by_hop = true;
       s.udp = false;
     }),
     [](std::vector<uint8_t>& f) {
       const uint32_t jumbo_length = static_cast<uint32_t>(f.size()) - 14 - 40;
       f[18] = 0;
       f[19] = 0;
       const uint8_t option[] = {0xC2,
                                 4,
                                 static_cast<uint8_t>(jumbo_length >> 24),
                                 static_cast<uint8_t>(jumbo_length >> 16),
                                 static_cast<uint8_t>(jumbo_length >> 8),
                                 static_cast<uint8_t>(jumbo_length)};
       std::copy(std::begin(option), std::end(option), f.begin() + 14 + 40 + 2);
     },
     UnclassifiedReason::kNone, "fd00::7"},
};

class ParserCaseTest : public ::testing::TestWithParam<ParserCase> {};

TEST_P(ParserCaseTest, ClassifiesByTheExpectedSourceOrReason) {
  const ParserCase& parser_case = GetParam();
  std::vector<uint8_t> frame = BuildFrame(parser_case.spec);
  if (parser_case.mutate) parser_case.mutate(frame);
  ParsedPacket parsed;
  const uint32_t length = static_cast<uint32_t>(frame.size());
  ParsePacket(frame.data(), length, length, OverlayPorts{}, &parsed);

  EXPECT_EQ(kUnclassifiedReasonNames[static_cast<int>(parsed.reason)],
            std::string(kUnclassifiedReasonNames[static_cast<int>(parser_case.expected_reason)]));
  if (parser_case.expected_reason == UnclassifiedReason::kNone) {
    EXPECT_EQ(FormatPodAddress(parsed.classify_source), parser_case.expected_source);
    EXPECT_EQ(parsed.l3_offset, parser_case.expected_l3_offset);
  }
  if (parser_case.expected_reason == UnclassifiedReason::kNone ||
      parser_case.expected_reason == UnclassifiedReason::inner_malformed ||
      parser_case.expected_reason == UnclassifiedReason::inner_not_ip) {
    EXPECT_EQ(parsed.is_overlay, parser_case.expected_overlay);
  }
}

INSTANTIATE_TEST_SUITE_P(Frames, ParserCaseTest, ::testing::ValuesIn(kCases),
                         [](const auto& info) { return info.param.name; });

TEST(PacketParser, FirstFragmentOfOverlayIsClassifiedByInnerSource) {
  FrameSpec spec;
  spec.udp_destination_port = 4789;
  spec.overlay = testing::Overlay::kVxlan;
  spec.inner_source = "10.1.0.3";
  spec.more_fragments = true;
  std::vector<uint8_t> frame = BuildFrame(spec);
  ParsedPacket parsed;
  ParsePacket(frame.data(), static_cast<uint32_t>(frame.size()),
              static_cast<uint32_t>(frame.size()), OverlayPorts{}, &parsed);
  EXPECT_TRUE(parsed.is_fragment);
  EXPECT_TRUE(parsed.is_first_fragment);
  EXPECT_EQ(FormatPodAddress(parsed.classify_source), "10.1.0.3");
}

TEST(PacketParser, LaterFragmentsShareTheFirstFragmentsTagAndUseOuterSource) {
  FrameSpec first;
  first.more_fragments = true;
  FrameSpec later = first;
  later.fragment_offset_units = 185;
  later.udp = false;  // later fragments carry payload only
  std::vector<uint8_t> first_frame = BuildFrame(first);
  std::vector<uint8_t> later_frame = BuildFrame(later);
  later_frame[14 + 9] = 17;  // same protocol number as the first fragment
  ParsedPacket first_parsed;
  ParsedPacket later_parsed;
  ParsePacket(first_frame.data(), static_cast<uint32_t>(first_frame.size()),
              static_cast<uint32_t>(first_frame.size()), OverlayPorts{}, &first_parsed);
  ParsePacket(later_frame.data(), static_cast<uint32_t>(later_frame.size()),
              static_cast<uint32_t>(later_frame.size()), OverlayPorts{}, &later_parsed);
  EXPECT_TRUE(later_parsed.is_fragment);
  EXPECT_FALSE(later_parsed.is_first_fragment);
  EXPECT_EQ(later_parsed.fragment_tag, first_parsed.fragment_tag);
  EXPECT_EQ(FormatPodAddress(later_parsed.classify_source), "10.0.0.1");
}

TEST(PacketParser, Ipv6FragmentHeaderIsRecognised) {
  FrameSpec spec;
  spec.ip_version = 6;
  spec.source = "fd00::1";
  spec.destination = "fd00::2";
  spec.fragment_offset_units = 100;
  ParsedPacket parsed;
  std::vector<uint8_t> frame = BuildFrame(spec);
  ParsePacket(frame.data(), static_cast<uint32_t>(frame.size()),
              static_cast<uint32_t>(frame.size()), OverlayPorts{}, &parsed);
  EXPECT_EQ(parsed.reason, UnclassifiedReason::kNone);
  EXPECT_TRUE(parsed.is_fragment);
  EXPECT_FALSE(parsed.is_first_fragment);
}

TEST(PacketParser, ConfiguredOverlayPortReplacesTheDefault) {
  FrameSpec spec;
  spec.udp_destination_port = 9999;
  spec.overlay = testing::Overlay::kVxlan;
  spec.inner_source = "10.1.0.4";
  OverlayPorts ports;
  ports.vxlan[0] = 9999;
  ports.vxlan_count = 1;
  std::vector<uint8_t> frame = BuildFrame(spec);
  ParsedPacket parsed;
  ParsePacket(frame.data(), static_cast<uint32_t>(frame.size()),
              static_cast<uint32_t>(frame.size()), ports, &parsed);
  EXPECT_TRUE(parsed.is_overlay);
  EXPECT_EQ(FormatPodAddress(parsed.classify_source), "10.1.0.4");
}

TEST(PacketParser, HeadersBeyondFirstSegmentAreReportedNotMisread) {
  std::vector<uint8_t> frame = BuildFrame(FrameSpec{});
  ParsedPacket parsed;
  ParsePacket(frame.data(), 20, static_cast<uint32_t>(frame.size()), OverlayPorts{}, &parsed);
  EXPECT_EQ(parsed.reason, UnclassifiedReason::headers_not_contiguous);
}

TEST(PacketParser, EveryPrefixOfEveryCaseParsesWithoutReadingPastTheEnd) {
  // Run under ASan/valgrind this catches any over-read; here it at least proves the
  // parser terminates with a verdict for every truncation point.
  for (const ParserCase& parser_case : kCases) {
    std::vector<uint8_t> frame = BuildFrame(parser_case.spec);
    for (size_t length = 0; length <= frame.size(); ++length) {
      std::vector<uint8_t> prefix(frame.begin(), frame.begin() + static_cast<long>(length));
      ParsedPacket parsed;
      ParsePacket(prefix.data(), static_cast<uint32_t>(length), static_cast<uint32_t>(length),
                  OverlayPorts{}, &parsed);
      if (length < 14) {
        EXPECT_EQ(parsed.reason, UnclassifiedReason::truncated) << parser_case.name;
      }
    }
  }
}

}  // namespace
}  // namespace dg
