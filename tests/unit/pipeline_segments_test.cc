// The pipeline on multi-segment mbufs (scatter receive, chained jumbo and GSO frames):
// wherever the segments split the headers, a frame leaves exactly as its contiguous
// twin does, and the DSCP rewrite lands in whichever segment holds the bytes.
#include <gtest/gtest.h>
#include <rte_mbuf.h>

#include "gateway/datapath.h"
#include "gateway/pipeline.h"
#include "gateway/segmented_frame.h"
#include "tests/unit/eal_environment.h"
#include "tests/unit/frame_builder.h"

namespace dg {
namespace {

using testing::BuildFrame;
using testing::FrameBytes;
using testing::FrameSpec;
using testing::MakeChainedMbuf;
using testing::MakeMbuf;

constexpr uint8_t kCriticalDscp = 46;

PodTableEntry CriticalPod(const std::string& address) {
  PodTableEntry entry;
  EXPECT_TRUE(ParsePodAddress(address, &entry.address.key)) << address;
  entry.address.text = address;
  entry.namespace_name = "ray-training";
  entry.pod_name = "trainer";
  return entry;
}

class PipelineSegmentsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    PriorityPolicy policy;
    policy.classes = {{"critical", kCriticalDscp, 0, {}}, {"standard", 0, 0, {}}};
    policy.default_class = 1;
    policy.exact_namespaces = {{"ray-training", 0}};
    auto built = BuildDatapath(
        PolicyInputs{policy,
                     {CriticalPod("10.0.0.1"), CriticalPod("fd00::5"), CriticalPod("10.1.0.1")}},
        {4789}, {6081}, 1024);
    ASSERT_TRUE(built) << built.error().Message();
    datapath_ = std::move(*built);
  }

  struct Outcome {
    std::vector<uint8_t> bytes;
    uint8_t class_id;
    uint32_t namespace_id;
    std::vector<uint16_t> segment_lengths;
  };

  Outcome Classify(rte_mbuf* mbuf) {
    uint8_t class_id = 255;
    uint32_t namespace_id = 999;
    const PolicySnapshot* policy = datapath_->publisher->Current().load();
    ClassifyAndMarkBurst(*datapath_->pipeline, *policy, &mbuf, 1, &class_id, &namespace_id);
    Outcome outcome{FrameBytes(mbuf), class_id, namespace_id, {}};
    for (const rte_mbuf* segment = mbuf; segment != nullptr; segment = segment->next) {
      outcome.segment_lengths.push_back(segment->data_len);
    }
    rte_pktmbuf_free(mbuf);
    return outcome;
  }

  // Splits the frame at every offset in [1, up_to) in turn and compares with the
  // contiguous frame; returns the contiguous outcome.
  Outcome ExpectEverySplitLikeContiguous(const std::vector<uint8_t>& frame, uint32_t up_to) {
    const Outcome contiguous = Classify(MakeMbuf(frame));
    for (uint32_t cut = 1; cut < up_to && cut < frame.size(); ++cut) {
      const Outcome split = Classify(MakeChainedMbuf(frame, {cut}));
      EXPECT_EQ(split.bytes, contiguous.bytes) << "split at " << cut;
      EXPECT_EQ(split.class_id, contiguous.class_id) << "split at " << cut;
      EXPECT_EQ(split.namespace_id, contiguous.namespace_id) << "split at " << cut;
      EXPECT_EQ(split.segment_lengths,
                (std::vector<uint16_t>{static_cast<uint16_t>(cut),
                                       static_cast<uint16_t>(frame.size() - cut)}));
    }
    return contiguous;
  }

  uint64_t Unclassified(UnclassifiedReason reason) const {
    return datapath_->counters->unclassified[static_cast<uint32_t>(reason)].Load();
  }

  std::unique_ptr<Datapath> datapath_;
};

TEST_F(PipelineSegmentsTest, Ipv4SplitAnywhereInItsHeadersIsMarkedLikeContiguous) {
  FrameSpec spec;
  spec.source = "10.0.0.1";
  spec.tos = 0x01;
  const Outcome contiguous = ExpectEverySplitLikeContiguous(BuildFrame(spec), 14 + 20 + 8);
  EXPECT_EQ(contiguous.bytes[15], (kCriticalDscp << 2) | 0x01);
  EXPECT_EQ(Unclassified(UnclassifiedReason::headers_not_contiguous), 0u);
}

TEST_F(PipelineSegmentsTest, MarkedIpv4ChecksumEqualsAFullRecomputationAcrossSegments) {
  FrameSpec spec;
  spec.source = "10.0.0.1";
  const std::vector<uint8_t> frame = BuildFrame(spec);
  // TOS in the first segment, the checksum split between the second and third.
  const Outcome split = Classify(MakeChainedMbuf(frame, {16, 25}));
  EXPECT_EQ(split.bytes[15] >> 2, kCriticalDscp);
  EXPECT_EQ((split.bytes[24] << 8) | split.bytes[25],
            testing::FullIpv4Checksum(split.bytes.data() + 14, 20));
}

TEST_F(PipelineSegmentsTest, Ipv6WithHopByHopSplitAnywhereIsMarkedLikeContiguous) {
  FrameSpec spec;
  spec.ip_version = 6;
  spec.source = "fd00::5";
  spec.destination = "fd00::9";
  spec.ipv6_hop_by_hop = true;
  spec.flow_label = 0xabcde;
  const Outcome contiguous = ExpectEverySplitLikeContiguous(BuildFrame(spec), 14 + 40 + 8 + 8);
  EXPECT_EQ(contiguous.class_id, 0);
}

TEST_F(PipelineSegmentsTest, OverlaySplitBeforeItsInnerSourceIsClassifiedByTheInnerSource) {
  FrameSpec spec;
  spec.source = "192.0.2.1";  // the node: only the inner source is a pod
  spec.udp_destination_port = 4789;
  spec.overlay = testing::Overlay::kVxlan;
  spec.inner_source = "10.1.0.1";
  const Outcome contiguous =
      ExpectEverySplitLikeContiguous(BuildFrame(spec), 14 + 20 + 8 + 8 + 14 + 20);
  EXPECT_EQ(contiguous.bytes[15] >> 2, kCriticalDscp);
}

TEST_F(PipelineSegmentsTest, TinySegmentsAreGatheredAndMarked) {
  FrameSpec spec;
  spec.source = "10.0.0.1";
  const std::vector<uint8_t> frame = BuildFrame(spec);
  std::vector<uint32_t> cuts;
  for (uint32_t cut = 3; cut < frame.size(); cut += 3) cuts.push_back(cut);
  const Outcome split = Classify(MakeChainedMbuf(frame, cuts));
  const Outcome contiguous = Classify(MakeMbuf(frame));
  EXPECT_EQ(split.bytes, contiguous.bytes);
  EXPECT_EQ(split.segment_lengths.size(), cuts.size() + 1);
}

TEST_F(PipelineSegmentsTest, BigTcpFrameOfManySegmentsIsMarkedInItsFirstSegmentOnly) {
  FrameSpec spec;
  spec.source = "10.0.0.1";
  spec.udp = false;
  spec.payload_bytes = 100000 - 14 - 20;
  std::vector<uint8_t> frame = BuildFrame(spec);
  frame[16] = 0;  // total length 0: BIG TCP
  frame[17] = 0;
  const uint16_t checksum = testing::FullIpv4Checksum(frame.data() + 14, 20);
  frame[24] = static_cast<uint8_t>(checksum >> 8);
  frame[25] = static_cast<uint8_t>(checksum);
  std::vector<uint32_t> cuts;
  for (uint32_t cut = 2048; cut < frame.size(); cut += 2048) cuts.push_back(cut);

  const Outcome split = Classify(MakeChainedMbuf(frame, cuts));

  ASSERT_EQ(split.bytes.size(), frame.size());
  EXPECT_EQ(split.bytes[15] >> 2, kCriticalDscp);
  EXPECT_EQ((split.bytes[24] << 8) | split.bytes[25],
            testing::FullIpv4Checksum(split.bytes.data() + 14, 20));
  std::vector<uint8_t> expected = frame;
  expected[15] = split.bytes[15];
  expected[24] = split.bytes[24];
  expected[25] = split.bytes[25];
  EXPECT_EQ(split.bytes, expected);
}

TEST_F(PipelineSegmentsTest, HeadersPastTheGatheredBytesLeaveUnchangedAndAreCounted) {
  FrameSpec spec;
  spec.ip_version = 6;
  spec.source = "fd00::5";
  spec.destination = "fd00::9";
  spec.ipv6_hop_by_hop = true;
  std::vector<uint8_t> frame = BuildFrame(spec);
  // Grow the hop-by-hop header to its largest, 2048 bytes of Pad1 options, so the header
  // chain runs past what the parser gathers from a multi-segment frame.
  constexpr uint32_t kHopByHopOffset = 14 + 40;
  frame[kHopByHopOffset + 1] = 255;
  frame.insert(frame.begin() + kHopByHopOffset + 8, 2048 - 8, 0);
  const uint32_t payload_length = static_cast<uint32_t>(frame.size()) - kHopByHopOffset;
  frame[18] = static_cast<uint8_t>(payload_length >> 8);
  frame[19] = static_cast<uint8_t>(payload_length);
  ASSERT_GT(kHopByHopOffset + 2048, kHeaderGatherWindow);

  rte_mbuf* chained = MakeChainedMbuf(frame, {100, 1100});
  ASSERT_NE(chained, nullptr);

  const Outcome split = Classify(chained);

  EXPECT_EQ(split.bytes, frame);
  EXPECT_EQ(split.namespace_id, DG_NAMESPACE_NONE);
  EXPECT_EQ(Unclassified(UnclassifiedReason::headers_not_contiguous), 1u);
  ParsedPacket contiguous;
  ParsePacket(frame.data(), static_cast<uint32_t>(frame.size()),
              static_cast<uint32_t>(frame.size()), OverlayPorts{}, &contiguous);
  EXPECT_EQ(contiguous.reason, UnclassifiedReason::kNone) << "contiguous, it is classifiable";
}

}  // namespace
}  // namespace dg
