#include "gateway/pipeline.h"

#include <gtest/gtest.h>
#include <rte_mbuf.h>

#include "gateway/datapath.h"
#include "tests/unit/eal_environment.h"
#include "tests/unit/frame_builder.h"

namespace dg {
namespace {

using testing::BuildFrame;
using testing::FrameSpec;
using testing::MakeMbuf;
using testing::Overlay;

PriorityPolicy TestPolicy() {
  PriorityPolicy policy;
  policy.classes = {{"critical", 46, 0, {}}, {"standard", 0, 0, {}}, {"scavenger", 8, 0, {}}};
  policy.default_class = 1;
  policy.exact_namespaces = {{"ray-training", 0}};
  policy.prefix_namespaces = {{"batch-", 2}};
  return policy;
}

PodTableEntry Pod(const std::string& address, const std::string& namespace_name) {
  PodTableEntry entry;
  EXPECT_TRUE(ParsePodAddress(address, &entry.address.key)) << address;
  entry.address.text = address;
  entry.namespace_name = namespace_name;
  entry.pod_name = namespace_name + "-pod";
  return entry;
}

class PipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    PolicyInputs inputs{TestPolicy(),
                        {Pod("10.0.0.1", "ray-training"), Pod("10.0.0.2", "batch-etl"),
                         Pod("10.1.0.1", "ray-training"), Pod("fd00::5", "ray-training"),
                         Pod("10.0.0.3", "default")}};
    auto built = BuildDatapath(inputs, {4789, 8472}, {6081}, 1024);
    ASSERT_TRUE(built) << built.error().Message();
    datapath_ = std::move(*built);
  }

  // Runs one burst; returns the frames as they leave, with class and namespace per frame.
  std::vector<std::vector<uint8_t>> Classify(const std::vector<std::vector<uint8_t>>& frames) {
    std::vector<rte_mbuf*> mbufs;
    for (const auto& frame : frames) mbufs.push_back(MakeMbuf(frame));
    class_ids_.assign(frames.size(), 255);
    namespace_ids_.assign(frames.size(), 999);
    const PolicySnapshot* policy = datapath_->publisher->Current().load();
    EXPECT_EQ(ClassifyAndMarkBurst(*datapath_->pipeline, *policy, mbufs.data(),
                                   static_cast<uint16_t>(mbufs.size()), class_ids_.data(),
                                   namespace_ids_.data()),
              frames.size());
    std::vector<std::vector<uint8_t>> out;
    for (rte_mbuf* mbuf : mbufs) {
      const uint8_t* data = rte_pktmbuf_mtod(mbuf, const uint8_t*);
      out.emplace_back(data, data + rte_pktmbuf_data_len(mbuf));
      rte_pktmbuf_free(mbuf);
    }
    return out;
  }

  static uint8_t OuterTos(const std::vector<uint8_t>& frame) { return frame[15]; }

  std::unique_ptr<Datapath> datapath_;
  std::vector<uint8_t> class_ids_;
  std::vector<uint32_t> namespace_ids_;
};

TEST_F(PipelineTest, PodInCriticalNamespaceIsMarkedEfWithEcnKept) {
  FrameSpec spec;
  spec.source = "10.0.0.1";
  spec.tos = 0x02;
  const auto out = Classify({BuildFrame(spec)});
  EXPECT_EQ(OuterTos(out[0]), (46 << 2) | 0x02);
  EXPECT_EQ(class_ids_[0], 0);
  EXPECT_EQ(datapath_->publisher->NamespaceName(namespace_ids_[0]), "ray-training");
  EXPECT_EQ(datapath_->counters->marked.Load(), 1u);
}

TEST_F(PipelineTest, PrefixNamespaceGetsItsClass) {
  FrameSpec spec;
  spec.source = "10.0.0.2";
  const auto out = Classify({BuildFrame(spec)});
  EXPECT_EQ(OuterTos(out[0]) >> 2, 8);
  EXPECT_EQ(class_ids_[0], 2);
}

TEST_F(PipelineTest, UnlistedNamespaceGetsDefaultClassDscp) {
  FrameSpec spec;
  spec.source = "10.0.0.3";
  spec.tos = 34 << 2;
  const auto out = Classify({BuildFrame(spec)});
  EXPECT_EQ(OuterTos(out[0]) >> 2, 0);
  EXPECT_EQ(class_ids_[0], 1);
}

TEST_F(PipelineTest, UnknownSourceLeavesByteIdenticalInDefaultClass) {
  FrameSpec spec;
  spec.source = "192.0.2.77";
  spec.tos = 0x13;
  const auto frame = BuildFrame(spec);
  const auto out = Classify({frame});
  EXPECT_EQ(out[0], frame);
  EXPECT_EQ(class_ids_[0], 1);
  EXPECT_EQ(namespace_ids_[0], DG_NAMESPACE_NONE);
  EXPECT_EQ(datapath_->counters->unknown_source.Load(), 1u);
}

TEST_F(PipelineTest, MalformedFrameLeavesByteIdenticalAndIsCountedByReason) {
  FrameSpec spec;
  spec.source = "10.0.0.1";
  auto frame = BuildFrame(spec);
  frame[14] = 0x43;  // IHL 3
  const auto out = Classify({frame});
  EXPECT_EQ(out[0], frame);
  EXPECT_EQ(datapath_->counters->unclassified[static_cast<int>(UnclassifiedReason::bad_ihl)].Load(),
            1u);
}

TEST_F(PipelineTest, NonIpFramesRideTheTopClassUnchanged) {
  FrameSpec spec;
  spec.ip_version = 0;
  const auto frame = BuildFrame(spec);
  const auto out = Classify({frame});
  EXPECT_EQ(out[0], frame);
  EXPECT_EQ(class_ids_[0], kNonIpClass);
}

TEST_F(PipelineTest, OverlayMarksOuterByInnerSourceAndKeepsInnerIdentical) {
  FrameSpec spec;
  spec.source = "192.0.2.1";  // the node: not a pod
  spec.udp_destination_port = 4789;
  spec.overlay = Overlay::kVxlan;
  spec.inner_source = "10.1.0.1";
  const auto frame = BuildFrame(spec);
  const auto out = Classify({frame});
  EXPECT_EQ(OuterTos(out[0]) >> 2, 46);
  const size_t inner_offset = 14 + 20 + 8 + 8;
  EXPECT_TRUE(std::equal(frame.begin() + inner_offset, frame.end(), out[0].begin() + inner_offset));
}

TEST_F(PipelineTest, EveryFragmentOfAnOverlayDatagramGetsTheFirstFragmentsMark) {
  FrameSpec first;
  first.source = "192.0.2.1";
  first.udp_destination_port = 4789;
  first.overlay = Overlay::kVxlan;
  first.inner_source = "10.1.0.1";
  first.more_fragments = true;
  FrameSpec middle = first;
  middle.overlay = Overlay::kNone;
  middle.udp = false;
  middle.fragment_offset_units = 10;
  FrameSpec last = middle;
  last.more_fragments = false;
  last.fragment_offset_units = 20;
  auto middle_frame = BuildFrame(middle);
  auto last_frame = BuildFrame(last);
  for (auto* frame : {&middle_frame, &last_frame}) {
    (*frame)[14 + 9] = 17;  // same protocol as the first fragment, checksum fixed below
    (*frame)[24] = (*frame)[25] = 0;
    const uint16_t checksum = testing::FullIpv4Checksum(frame->data() + 14, 20);
    (*frame)[24] = static_cast<uint8_t>(checksum >> 8);
    (*frame)[25] = static_cast<uint8_t>(checksum);
  }
  const auto out = Classify({BuildFrame(first), middle_frame, last_frame});
  for (const auto& frame : out) EXPECT_EQ(OuterTos(frame) >> 2, 46);
  EXPECT_EQ(datapath_->counters->fragment_cache_hits.Load(), 2u);
}

TEST_F(PipelineTest, Ipv6PodIsMarked) {
  FrameSpec spec;
  spec.ip_version = 6;
  spec.source = "fd00::5";
  spec.destination = "fd00::9";
  const auto out = Classify({BuildFrame(spec)});
  const uint8_t traffic_class =
      static_cast<uint8_t>(((out[0][14] & 0x0f) << 4) | (out[0][15] >> 4));
  EXPECT_EQ(traffic_class >> 2, 46);
}

TEST_F(PipelineTest, NewPolicyAppliesToTheNextBurst) {
  FrameSpec spec;
  spec.source = "10.0.0.1";
  ASSERT_EQ(OuterTos(Classify({BuildFrame(spec)})[0]) >> 2, 46);
  PriorityPolicy demoted = TestPolicy();
  demoted.exact_namespaces = {{"ray-training", 2}};
  datapath_->publisher->SetPolicy(demoted);
  EXPECT_EQ(OuterTos(Classify({BuildFrame(spec)})[0]) >> 2, 8);
}

TEST_F(PipelineTest, RemovedPodIsNoLongerMarked) {
  datapath_->pod_directory->ReplaceAll({Pod("10.0.0.2", "batch-etl")});
  FrameSpec spec;
  spec.source = "10.0.0.1";
  const auto frame = BuildFrame(spec);
  EXPECT_EQ(Classify({frame})[0], frame);
}

TEST_F(PipelineTest, BurstLongerThanOneLookupChunkIsFullyClassified) {
  std::vector<std::vector<uint8_t>> frames;
  for (int i = 0; i < 200; ++i) {
    FrameSpec spec;
    spec.source = i % 2 == 0 ? "10.0.0.1" : "10.0.0.2";
    frames.push_back(BuildFrame(spec));
  }
  const auto out = Classify(frames);
  for (int i = 0; i < 200; ++i) EXPECT_EQ(OuterTos(out[i]) >> 2, i % 2 == 0 ? 46 : 8) << i;
}

// Classes of TestPolicy() with an 802.1p priority: critical 5, scavenger 1.
void UsePcpPolicy(Datapath& datapath) {
  PriorityPolicy policy = TestPolicy();
  policy.classes[0].pcp = 5;
  policy.classes[2].pcp = 1;
  datapath.publisher->SetPolicy(std::move(policy));
}

constexpr size_t kOuterTci = 14;  // first byte of the outer tag's TCI: PCP:3 DEI:1 VID:4

TEST_F(PipelineTest, TaggedFrameGetsClassPcpWithDeiAndVlanIdKept) {
  UsePcpPolicy(*datapath_);
  FrameSpec spec;
  spec.vlan_tpids = {0x8100};
  auto frame = BuildFrame(spec);
  frame[kOuterTci] =
      static_cast<uint8_t>((2 << 5) | 0x10 | (frame[kOuterTci] & 0x0f));  // PCP 2, DEI
  const auto out = Classify({frame});
  EXPECT_EQ(out[0][kOuterTci] >> 5, 5);
  EXPECT_EQ(out[0][kOuterTci] & 0x10, 0x10);
  EXPECT_EQ(((out[0][kOuterTci] & 0x0f) << 8) | out[0][kOuterTci + 1], 100);
  EXPECT_EQ(out[0][kOuterTci + 4 + 1] >> 2, 46);  // DSCP too
  EXPECT_EQ(datapath_->counters->pcp_marked.Load(), 1u);
}

TEST_F(PipelineTest, QinQGetsPcpOnTheOuterTagOnly) {
  UsePcpPolicy(*datapath_);
  FrameSpec spec;
  spec.source = "10.0.0.2";  // scavenger: PCP 1
  spec.vlan_tpids = {0x88A8, 0x8100};
  auto frame = BuildFrame(spec);
  frame[kOuterTci + 4] |= 6 << 5;  // the inner (customer) tag says 6
  const auto out = Classify({frame});
  EXPECT_EQ(out[0][kOuterTci] >> 5, 1);
  EXPECT_EQ(out[0][kOuterTci + 4] >> 5, 6);
}

TEST_F(PipelineTest, UntaggedFrameStaysUntaggedWithPcpConfigured) {
  UsePcpPolicy(*datapath_);
  const auto frame = BuildFrame(FrameSpec{});
  const auto out = Classify({frame});
  ASSERT_EQ(out[0].size(), frame.size());
  EXPECT_EQ(out[0][12], 0x08);  // still IPv4 right after the MACs
  EXPECT_EQ(OuterTos(out[0]) >> 2, 46);
  EXPECT_EQ(datapath_->counters->pcp_marked.Load(), 0u);
}

TEST_F(PipelineTest, ClassWithoutPcpLeavesTheTagAlone) {
  UsePcpPolicy(*datapath_);
  FrameSpec spec;
  spec.source = "10.0.0.3";  // standard: no pcp
  spec.vlan_tpids = {0x8100};
  auto frame = BuildFrame(spec);
  frame[kOuterTci] |= 3 << 5;
  const auto out = Classify({frame});
  EXPECT_EQ(out[0][kOuterTci], frame[kOuterTci]);
}

TEST_F(PipelineTest, ObserveModeLeavesEveryFrameByteIdentical) {
  UsePcpPolicy(*datapath_);
  datapath_->publisher->SetDatapathMode(DatapathMode::kObserve);
  FrameSpec tagged;
  tagged.vlan_tpids = {0x8100};
  FrameSpec batch;
  batch.source = "10.0.0.2";
  const std::vector<std::vector<uint8_t>> frames = {BuildFrame(tagged), BuildFrame(batch)};
  EXPECT_EQ(Classify(frames), frames);
  EXPECT_EQ(datapath_->counters->marked.Load(), 0u);
  EXPECT_EQ(datapath_->counters->pcp_marked.Load(), 0u);
}

TEST_F(PipelineTest, ObserveModeClassifiesAsEnforceWould) {
  datapath_->publisher->SetDatapathMode(DatapathMode::kObserve);
  FrameSpec critical;
  FrameSpec batch;
  batch.source = "10.0.0.2";
  FrameSpec unknown;
  unknown.source = "192.0.2.1";
  Classify({BuildFrame(critical), BuildFrame(batch), BuildFrame(unknown)});
  EXPECT_EQ(class_ids_, (std::vector<uint8_t>{0, 2, 1}));
  EXPECT_EQ(datapath_->publisher->NamespaceName(namespace_ids_[1]), "batch-etl");
  EXPECT_EQ(datapath_->counters->unknown_source.Load(), 1u);
}

TEST_F(PipelineTest, ObserveModeCountsWouldMarkByClassAndNamespace) {
  datapath_->publisher->SetDatapathMode(DatapathMode::kObserve);
  FrameSpec already_ef;  // critical, already DSCP 46: enforce would not rewrite it
  already_ef.tos = 46 << 2;
  FrameSpec critical;  // DSCP 0 -> 46
  FrameSpec batch;     // DSCP 0 -> 8
  batch.source = "10.0.0.2";
  Classify({BuildFrame(already_ef), BuildFrame(critical), BuildFrame(batch), BuildFrame(batch)});
  const WorkerCounters& counters = *datapath_->counters;
  EXPECT_EQ(counters.classes[0].would_mark_packets.Load(), 1u);
  EXPECT_EQ(counters.classes[2].would_mark_packets.Load(), 2u);
  EXPECT_EQ(counters.namespace_would_mark_packets[namespace_ids_[2]].Load(), 2u);
  EXPECT_EQ(counters.namespace_would_mark_packets[namespace_ids_[0]].Load(), 1u);
}

TEST_F(PipelineTest, ObserveModeCountsAPcpOnlyDifferenceAsWouldMark) {
  UsePcpPolicy(*datapath_);
  datapath_->publisher->SetDatapathMode(DatapathMode::kObserve);
  FrameSpec spec;  // critical, DSCP already 46, tag priority 0 where the class wants 5
  spec.tos = 46 << 2;
  spec.vlan_tpids = {0x8100};
  Classify({BuildFrame(spec)});
  EXPECT_EQ(datapath_->counters->classes[0].would_mark_packets.Load(), 1u);
}

TEST_F(PipelineTest, SwitchingBackToEnforceMarksAgain) {
  datapath_->publisher->SetDatapathMode(DatapathMode::kObserve);
  datapath_->publisher->SetDatapathMode(DatapathMode::kEnforce);
  const auto out = Classify({BuildFrame(FrameSpec{})});
  EXPECT_EQ(OuterTos(out[0]) >> 2, 46);
}

}  // namespace
}  // namespace dg
