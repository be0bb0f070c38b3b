// podEgressStamp's trust rule: frames whose source is not a pod (masqueraded to the node's
// address) take the class their stamp codepoint names, and are marked like a pod's.
#include <gtest/gtest.h>
#include <rte_mbuf.h>

#include "gateway/datapath.h"
#include "gateway/pipeline.h"
#include "tests/unit/eal_environment.h"
#include "tests/unit/frame_builder.h"

namespace dg {
namespace {

using testing::BuildFrame;
using testing::FrameSpec;
using testing::FullIpv4Checksum;
using testing::MakeMbuf;

constexpr uint8_t kCritical = 0, kStandard = 1, kScavenger = 2;
constexpr uint8_t kEcn = 0x01;

uint8_t Tos(uint8_t dscp) { return static_cast<uint8_t>(dscp << 2 | kEcn); }

struct StampCase {
  const char* name;
  bool trusted;
  std::string source;
  int ip_version;
  uint8_t dscp_in;
  uint8_t dscp_out;
  uint8_t class_id;
  uint64_t stamp_classified;
  uint64_t stamp_unknown_class;
};

class PipelineStampTest : public ::testing::TestWithParam<StampCase> {
 protected:
  void SetUp() override {
    PriorityPolicy policy;
    policy.classes = {{"critical", 46, 0, {}}, {"standard", 0, 0, {}}, {"scavenger", 8, 0, {}}};
    policy.default_class = kStandard;
    policy.prefix_namespaces = {{"batch-", kScavenger}};
    PodTableEntry pod;
    ASSERT_TRUE(ParsePodAddress("10.0.0.2", &pod.address.key));
    pod.address.text = "10.0.0.2";
    pod.namespace_name = "batch-etl";
    pod.pod_name = "etl";
    auto built = BuildDatapath(PolicyInputs{policy, {pod}}, {4789}, {6081}, 1024);
    ASSERT_TRUE(built) << built.error().Message();
    datapath_ = std::move(*built);
  }

  // One frame through the pipeline; returns it as it leaves.
  std::vector<uint8_t> Classify(const std::vector<uint8_t>& frame) {
    rte_mbuf* mbuf = MakeMbuf(frame);
    const PolicySnapshot* policy = datapath_->publisher->Current().load();
    EXPECT_EQ(
        ClassifyAndMarkBurst(*datapath_->pipeline, *policy, &mbuf, 1, &class_id_, &namespace_id_),
        1);
    const uint8_t* data = rte_pktmbuf_mtod(mbuf, const uint8_t*);
    std::vector<uint8_t> out(data, data + rte_pktmbuf_data_len(mbuf));
    rte_pktmbuf_free(mbuf);
    return out;
  }

  static uint8_t TrafficClass(const std::vector<uint8_t>& frame, int ip_version) {
    if (ip_version == 4) return frame[15];
    return static_cast<uint8_t>((frame[14] & 0x0f) << 4 | frame[15] >> 4);
  }

  std::unique_ptr<Datapath> datapath_;
  uint8_t class_id_ = 255;
  uint32_t namespace_id_ = 999;
};

TEST_P(PipelineStampTest, ClassifiesAndMarks) {
  const StampCase& test = GetParam();
  datapath_->publisher->SetPodStampsTrusted(test.trusted);
  FrameSpec spec;
  spec.ip_version = test.ip_version;
  spec.source = test.source;
  spec.destination = test.ip_version == 4 ? "192.0.2.9" : "2001:db8::9";
  spec.tos = Tos(test.dscp_in);

  const auto out = Classify(BuildFrame(spec));

  EXPECT_EQ(TrafficClass(out, test.ip_version), Tos(test.dscp_out));
  EXPECT_EQ(class_id_, test.class_id);
  EXPECT_EQ(datapath_->counters->stamp_classified.Load(), test.stamp_classified);
  EXPECT_EQ(datapath_->counters->stamp_unknown_class.Load(), test.stamp_unknown_class);
  if (test.ip_version == 4) {
    EXPECT_EQ(out[24] << 8 | out[25], FullIpv4Checksum(out.data() + 14, 20));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Frames, PipelineStampTest,
    ::testing::Values(
        StampCase{"node_address_stamped_critical_gets_ef", true, "192.0.2.1", 4,
                  dg_stamp_codepoint(kCritical), 46, kCritical, 1, 0},
        StampCase{"node_address_stamped_scavenger_gets_cs1", true, "192.0.2.1", 4,
                  dg_stamp_codepoint(kScavenger), 8, kScavenger, 1, 0},
        StampCase{"ipv6_node_address_stamped", true, "2001:db8::1", 6,
                  dg_stamp_codepoint(kCritical), 46, kCritical, 1, 0},
        StampCase{"codepoint_of_no_class_stays_default_unchanged", true, "192.0.2.1", 4,
                  dg_stamp_codepoint(5), dg_stamp_codepoint(5), kStandard, 0, 1},
        StampCase{"node_ef_is_not_a_stamp", true, "192.0.2.1", 4, 46, 46, kStandard, 0, 0},
        StampCase{"untrusted_stamp_is_ignored", false, "192.0.2.1", 4,
                  dg_stamp_codepoint(kCritical), dg_stamp_codepoint(kCritical), kStandard, 0, 0},
        StampCase{"a_pods_own_class_beats_a_stamp", true, "10.0.0.2", 4,
                  dg_stamp_codepoint(kCritical), 8, kScavenger, 0, 0}),
    [](const ::testing::TestParamInfo<StampCase>& info) { return std::string(info.param.name); });

TEST_F(PipelineStampTest, ObserveModeCountsAStampedFrameAsWouldMark) {
  datapath_->publisher->SetPodStampsTrusted(true);
  datapath_->publisher->SetDatapathMode(DatapathMode::kObserve);
  FrameSpec spec;
  spec.source = "192.0.2.1";
  spec.tos = Tos(dg_stamp_codepoint(kCritical));
  const auto frame = BuildFrame(spec);

  EXPECT_EQ(Classify(frame), frame);
  EXPECT_EQ(class_id_, kCritical);
  EXPECT_EQ(datapath_->counters->classes[kCritical].would_mark_packets.Load(), 1u);
}

}  // namespace
}  // namespace dg
