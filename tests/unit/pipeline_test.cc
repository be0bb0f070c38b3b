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

}  // namespace
}  // namespace dg
