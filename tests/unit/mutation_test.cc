// Property test over mutated frames: whatever arrives, the pipeline either marks a
// well-formed IP header (changing only TOS/traffic class and the IPv4 checksum) or
// leaves the frame byte-identical. Deterministic seed; run under valgrind by meson too.
#include <gtest/gtest.h>
#include <rte_mbuf.h>

#include <random>

#include "gateway/datapath.h"
#include "gateway/pipeline.h"
#include "tests/unit/eal_environment.h"
#include "tests/unit/frame_builder.h"

namespace dg {
namespace {

using testing::BuildFrame;
using testing::FrameSpec;
using testing::Overlay;

std::vector<std::vector<uint8_t>> SeedFrames() {
  std::vector<FrameSpec> specs(8);
  specs[1].ip_version = 6;
  specs[1].source = "fd00::5";
  specs[1].destination = "fd00::9";
  specs[1].ipv6_hop_by_hop = true;
  specs[2].vlan_tpids = {0x88A8, 0x8100};
  specs[2].ipv4_option_words = 3;
  specs[3].udp_destination_port = 4789;
  specs[3].overlay = Overlay::kVxlan;
  specs[4].udp_destination_port = 6081;
  specs[4].overlay = Overlay::kGeneve;
  specs[4].geneve_option_words = 2;
  specs[5].more_fragments = true;
  specs[6].ip_version = 0;
  specs[7].udp_destination_port = 8472;
  specs[7].overlay = Overlay::kVxlan;
  specs[7].inner_ip_version = 6;
  specs[7].inner_source = "fd00::5";
  specs[7].inner_destination = "fd00::6";
  std::vector<std::vector<uint8_t>> frames;
  for (const FrameSpec& spec : specs) frames.push_back(BuildFrame(spec));
  return frames;
}

TEST(MutationTest, EveryMutatedFrameIsEitherProperlyMarkedOrUntouched) {
  PriorityPolicy policy;
  policy.classes = {{"critical", 46, 0, {}}, {"standard", 0, 0, {}}};
  policy.default_class = 1;
  policy.exact_namespaces = {{"ray", 0}};
  PolicyInputs inputs{policy, {}};
  for (const char* address : {"10.0.0.1", "10.1.0.1", "fd00::5"}) {
    PodTableEntry entry;
    ASSERT_TRUE(ParsePodAddress(address, &entry.address.key));
    entry.address.text = address;
    entry.namespace_name = "ray";
    inputs.pods.push_back(entry);
  }
  auto datapath = BuildDatapath(inputs, {4789, 8472}, {6081}, 1024);
  ASSERT_TRUE(datapath);
  const PolicySnapshot* snapshot = (*datapath)->publisher->Current().load();

  std::mt19937 random(20261123);
  const auto seeds = SeedFrames();
  uint64_t marked = 0;
  uint64_t untouched = 0;
  for (int round = 0; round < 30000; ++round) {
    std::vector<uint8_t> frame = seeds[random() % seeds.size()];
    switch (random() % 3) {
      case 0:  // flip a few bytes, biased to the headers
        for (int flips = 1 + random() % 4; flips > 0; --flips) {
          frame[random() % std::min<size_t>(frame.size(), 96)] ^=
              static_cast<uint8_t>(1 + random() % 255);
        }
        break;
      case 1:  // truncate
        frame.resize(random() % (frame.size() + 1));
        break;
      default:  // both
        frame[random() % frame.size()] = static_cast<uint8_t>(random());
        frame.resize(random() % (frame.size() + 1));
    }
    rte_mbuf* mbuf = testing::MakeMbuf(frame);
    ASSERT_NE(mbuf, nullptr);
    uint8_t class_id = 0;
    uint32_t namespace_id = 0;
    ClassifyAndMarkBurst(*(*datapath)->pipeline, *snapshot, &mbuf, 1, &class_id, &namespace_id);
    const uint8_t* out = rte_pktmbuf_mtod(mbuf, const uint8_t*);
    ASSERT_EQ(rte_pktmbuf_data_len(mbuf), frame.size());
    std::vector<size_t> changed;
    for (size_t i = 0; i < frame.size(); ++i) {
      if (out[i] != frame[i]) changed.push_back(i);
    }
    rte_pktmbuf_free(mbuf);
    if (changed.empty()) {
      ++untouched;
      continue;
    }
    ++marked;
    // Marked: only the TOS byte and checksum of an IPv4 header, or the first two bytes
    // of an IPv6 header, may differ.
    ASSERT_LE(changed.size(), 3u) << "round " << round;
    ASSERT_LE(changed.back() - changed.front(), 10u) << "round " << round;
  }
  EXPECT_GT(marked, 1000u) << "the mutations should leave many frames classifiable";
  EXPECT_GT(untouched, 1000u);
}

}  // namespace
}  // namespace dg
