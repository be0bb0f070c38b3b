// The pod-stamp programs (xdp/dg_pod_stamp.bpf.c) run through BPF_PROG_TEST_RUN on private
// (unpinned) maps: the frame they hand back and the counters they bump are the contract.
#include <bpf/bpf.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <net/if.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <vector>

#include "tests/unit/bpf_object_under_test.h"
#include "tests/unit/frame_builder.h"
#include "tests/unit/pod_keys.h"
#include "xdp/bpf_objects.h"
#include "xdp/node_programs.h"

namespace dg::xdp {
namespace {

using dg::testing::BuildFrame;
using dg::testing::FrameSpec;
using dg::testing::FullIpv4Checksum;

constexpr uint8_t kEcnCe = 3;

class StampObject : public BpfObjectUnderTest {
 public:
  StampObject() : BpfObjectUnderTest(LoadObjectFile(DG_STAMP_OBJECT, PinMaps::kNo)) {}

  void AddPod(const std::string& address, uint8_t class_id) const {
    dg_pod_key key = dg::testing::PodKey(address);
    uint8_t codepoint = dg_stamp_codepoint(class_id);
    ASSERT_EQ(bpf_map_update_elem(Map(DG_XDP_NAME(DG_STAMP_MAP_PODS)), &key, &codepoint, BPF_ANY),
              0)
        << ErrnoText(errno);
  }

  void TrustInterface(uint32_t ifindex) const {
    uint8_t trusted = 1;
    ASSERT_EQ(bpf_map_update_elem(Map(DG_XDP_NAME(DG_STAMP_MAP_TRUSTED_IFS)), &ifindex, &trusted,
                                  BPF_ANY),
              0)
        << ErrnoText(errno);
  }

  // Runs the program over the frame; returns the frame it leaves behind.
  std::vector<uint8_t> Run(const char* program, const std::vector<uint8_t>& frame,
                           uint32_t ingress_ifindex = 0) const {
    std::vector<uint8_t> out(frame.size() + 256);
    __sk_buff context{};
    context.ingress_ifindex = ingress_ifindex;
    bpf_test_run_opts run{};
    run.sz = sizeof(run);
    run.data_in = frame.data();
    run.data_size_in = static_cast<uint32_t>(frame.size());
    run.data_out = out.data();
    run.data_size_out = static_cast<uint32_t>(out.size());
    run.ctx_in = &context;
    run.ctx_size_in = sizeof(context);
    run.repeat = 1;
    int program_fd = ProgramFdByName(object(), program).value();
    EXPECT_EQ(bpf_prog_test_run_opts(program_fd, &run), 0) << ErrnoText(errno);
    EXPECT_EQ(run.retval, static_cast<uint32_t>(TC_ACT_UNSPEC));  // never a drop
    out.resize(run.data_size_out);
    return out;
  }
};

constexpr const char* kStamp = DG_XDP_NAME(DG_STAMP_PROG_STAMP);
constexpr const char* kGuard = DG_XDP_NAME(DG_STAMP_PROG_GUARD);

FrameSpec Spec(int ip_version, const std::string& source, std::vector<uint16_t> vlan_tpids = {},
               uint32_t flow_label = 0) {
  FrameSpec spec;
  spec.ip_version = ip_version;
  spec.source = source;
  spec.destination = ip_version == 6 ? "fd00::2" : "10.0.0.2";
  spec.vlan_tpids = std::move(vlan_tpids);
  spec.flow_label = flow_label;
  return spec;
}

// The IP header starts after Ethernet and the spec's VLAN tags.
size_t L3Offset(const FrameSpec& spec) { return 14 + 4 * spec.vlan_tpids.size(); }

uint8_t TrafficClass(const FrameSpec& spec, const std::vector<uint8_t>& frame) {
  const uint8_t* ip = frame.data() + L3Offset(spec);
  if (spec.ip_version == 4) return ip[1];
  return static_cast<uint8_t>(((ip[0] & 0x0f) << 4) | (ip[1] >> 4));
}

uint16_t StoredIpv4Checksum(const FrameSpec& spec, const std::vector<uint8_t>& frame) {
  const uint8_t* ip = frame.data() + L3Offset(spec);
  return static_cast<uint16_t>((ip[10] << 8) | ip[11]);
}

void ExpectValidIpv4Checksum(const FrameSpec& spec, const std::vector<uint8_t>& frame) {
  if (spec.ip_version != 4) return;
  EXPECT_EQ(StoredIpv4Checksum(spec, frame), FullIpv4Checksum(frame.data() + L3Offset(spec), 20));
}

#define LOAD_OR_SKIP()                                                    \
  StampObject programs;                                                   \
  if (!programs.loaded() && geteuid() != 0) GTEST_SKIP() << "needs root"; \
  ASSERT_TRUE(programs.loaded()) << programs.error()

TEST(StampCodepoint, RoundTripsEveryClassInPoolThree) {
  for (uint8_t class_id = 0; class_id < DG_STAMP_CLASS_LIMIT; ++class_id) {
    const uint8_t codepoint = dg_stamp_codepoint(class_id);
    EXPECT_LE(codepoint, DG_DSCP_MAX);
    EXPECT_TRUE(dg_is_stamp_codepoint(codepoint));
    EXPECT_EQ(dg_stamp_class(codepoint), class_id);
  }
}

TEST(StampCodepoint, NoStandardDscpIsACodepoint) {
  for (uint8_t dscp : {0, 8, 10, 18, 26, 34, 46, 48, 56}) EXPECT_FALSE(dg_is_stamp_codepoint(dscp));
}

struct StampCase {
  const char* name;
  FrameSpec spec;
};

class StampProgram : public ::testing::TestWithParam<StampCase> {};

TEST_P(StampProgram, WritesThePodsCodepointOverItsOwnDscpKeepingEcn) {
  LOAD_OR_SKIP();
  FrameSpec spec = GetParam().spec;
  spec.tos = static_cast<uint8_t>(46 << 2 | kEcnCe);  // the pod asks for EF
  programs.AddPod(spec.source, 5);

  std::vector<uint8_t> out = programs.Run(kStamp, BuildFrame(spec));

  EXPECT_EQ(TrafficClass(spec, out), dg_stamp_codepoint(5) << 2 | kEcnCe);
  EXPECT_EQ(programs.Counter(DG_XDP_POD_STAMPED), 1u);
  ExpectValidIpv4Checksum(spec, out);
}

TEST_P(StampProgram, LeavesAnotherSourcesDscpAlone) {
  LOAD_OR_SKIP();
  FrameSpec spec = GetParam().spec;
  spec.tos = 46 << 2;

  std::vector<uint8_t> frame = BuildFrame(spec);
  EXPECT_EQ(programs.Run(kStamp, frame), frame);
  EXPECT_EQ(programs.Counter(DG_XDP_POD_STAMP_NOT_POD), 1u);
}

TEST_P(StampProgram, ClearsACodepointFromASourceNotInTheMap) {
  LOAD_OR_SKIP();
  FrameSpec spec = GetParam().spec;
  spec.tos = static_cast<uint8_t>(dg_stamp_codepoint(0) << 2 | kEcnCe);

  std::vector<uint8_t> out = programs.Run(kStamp, BuildFrame(spec));

  EXPECT_EQ(TrafficClass(spec, out), kEcnCe);
  EXPECT_EQ(programs.Counter(DG_XDP_STAMP_FORGERIES), 1u);
  ExpectValidIpv4Checksum(spec, out);
}

TEST_P(StampProgram, GuardClearsAForgedCodepointKeepingEcn) {
  LOAD_OR_SKIP();
  FrameSpec spec = GetParam().spec;
  spec.tos = static_cast<uint8_t>(dg_stamp_codepoint(0) << 2 | kEcnCe);

  std::vector<uint8_t> out = programs.Run(kGuard, BuildFrame(spec));

  EXPECT_EQ(TrafficClass(spec, out), kEcnCe);
  EXPECT_EQ(programs.Counter(DG_XDP_STAMP_FORGERIES), 1u);
  ExpectValidIpv4Checksum(spec, out);
}

TEST_P(StampProgram, GuardLeavesOrdinaryDscpAlone) {
  LOAD_OR_SKIP();
  FrameSpec spec = GetParam().spec;
  spec.tos = static_cast<uint8_t>(46 << 2 | kEcnCe);

  std::vector<uint8_t> frame = BuildFrame(spec);
  EXPECT_EQ(programs.Run(kGuard, frame), frame);
  EXPECT_EQ(programs.Counter(DG_XDP_STAMP_FORGERIES), 0u);
}

TEST_P(StampProgram, GuardPassesAStampFromATrustedInterface) {
  LOAD_OR_SKIP();
  FrameSpec spec = GetParam().spec;
  spec.tos = static_cast<uint8_t>(dg_stamp_codepoint(2) << 2);
  const uint32_t pod_veth = if_nametoindex("lo");
  programs.TrustInterface(pod_veth);
  programs.WriteHeartbeat(MonotonicNowNs());

  std::vector<uint8_t> frame = BuildFrame(spec);
  EXPECT_EQ(programs.Run(kGuard, frame, pod_veth), frame);
  EXPECT_EQ(programs.Counter(DG_XDP_STAMP_FORGERIES), 0u);
}

TEST_P(StampProgram, GuardClearsATrustedStampWhileTheNodeFailsOpen) {
  LOAD_OR_SKIP();
  FrameSpec spec = GetParam().spec;
  spec.tos = static_cast<uint8_t>(dg_stamp_codepoint(2) << 2 | kEcnCe);
  const uint32_t pod_veth = if_nametoindex("lo");
  programs.TrustInterface(pod_veth);
  programs.WriteHeartbeat(MonotonicNowNs() - 2 * DG_XDP_HEARTBEAT_STALE_AFTER_NS_DEFAULT);

  std::vector<uint8_t> out = programs.Run(kGuard, BuildFrame(spec), pod_veth);

  EXPECT_EQ(TrafficClass(spec, out), kEcnCe);
  EXPECT_EQ(programs.Counter(DG_XDP_STAMP_FAIL_OPEN), 1u);
  EXPECT_EQ(programs.Counter(DG_XDP_STAMP_FORGERIES), 0u);
  ExpectValidIpv4Checksum(spec, out);
}

INSTANTIATE_TEST_SUITE_P(
    Frames, StampProgram,
    ::testing::Values(StampCase{"ipv4", Spec(4, "10.244.1.5")},
                      StampCase{"ipv6", Spec(6, "fd00:10:244::5")},
                      StampCase{"ipv4_two_vlan_tags", Spec(4, "10.244.1.5", {0x88A8, 0x8100})},
                      StampCase{"ipv6_flow_label", Spec(6, "fd00:10:244::5", {}, 0xabcde)}),
    [](const ::testing::TestParamInfo<StampCase>& info) { return std::string(info.param.name); });

TEST(StampProgramFrames, CountsANonIpFrame) {
  LOAD_OR_SKIP();
  FrameSpec spec = Spec(0, "10.0.0.1");
  std::vector<uint8_t> frame = BuildFrame(spec);
  EXPECT_EQ(programs.Run(kStamp, frame), frame);
  EXPECT_EQ(programs.Counter(DG_XDP_POD_STAMP_NOT_IP), 1u);
}

TEST(StampProgramFrames, KeepsTheIpv6FlowLabel) {
  LOAD_OR_SKIP();
  FrameSpec spec = Spec(6, "fd00:10:244::5", {}, 0xfffff);
  programs.AddPod(spec.source, 3);
  std::vector<uint8_t> frame = BuildFrame(spec);

  std::vector<uint8_t> out = programs.Run(kStamp, frame);

  const size_t ip = L3Offset(spec);
  EXPECT_EQ(out[ip] & 0xf0, 0x60);
  EXPECT_EQ(out[ip + 1] & 0x0f, 0x0f);
  EXPECT_EQ(out[ip + 2], 0xff);
  EXPECT_EQ(out[ip + 3], 0xff);
}

}  // namespace
}  // namespace dg::xdp
