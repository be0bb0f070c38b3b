// The node's XDP programs run through BPF_PROG_TEST_RUN on private (unpinned) maps: no
// interface, no traffic. What they return and which counter they bump is the contract.
#include <bpf/bpf.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <net/if.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <ctime>
#include <vector>

#include "tests/unit/bpf_object_under_test.h"
#include "xdp/bpf_objects.h"
#include "xdp/node_programs.h"

namespace dg::xdp {
namespace {

constexpr uint64_t kStaleAfterNs = DG_XDP_HEARTBEAT_STALE_AFTER_NS_DEFAULT;

class ProgramUnderTest : public BpfObjectUnderTest {
 public:
  explicit ProgramUnderTest(NodeProgram program)
      : BpfObjectUnderTest(LoadObject(program, PinMaps::kNo)), program_(program) {}

  // Any existing interface will do: test runs return the verdict, nothing is sent.
  void SetRedirectTargetsToLoopback() const {
    uint32_t key = 0;
    uint32_t loopback = if_nametoindex("lo");
    dg_xdp_legs targets{loopback, loopback};
    ASSERT_EQ(bpf_map_update_elem(Map(DG_XDP_NAME(DG_XDP_MAP_LEGS)), &key, &targets, BPF_ANY), 0)
        << ErrnoText(errno);
  }

  // The program's verdict for one minimal Ethernet frame.
  uint32_t Run() const {
    std::array<uint8_t, 64> frame{};
    frame[12] = 0x08;  // IPv4 ethertype; the programs do not look, but keep it a frame
    bpf_test_run_opts run{};
    run.sz = sizeof(run);
    run.data_in = frame.data();
    run.data_size_in = frame.size();
    run.repeat = 1;
    int program_fd = ProgramFd(object(), program_).value();
    EXPECT_EQ(bpf_prog_test_run_opts(program_fd, &run), 0) << ErrnoText(errno);
    return run.retval;
  }

 private:
  NodeProgram program_;
};

// Loading needs CAP_BPF; without it there is nothing to test, which is not a pass.
#define LOAD_OR_SKIP(program)                                                       \
  ProgramUnderTest program_under_test(program);                                     \
  if (!program_under_test.loaded() && geteuid() != 0) GTEST_SKIP() << "needs root"; \
  ASSERT_TRUE(program_under_test.loaded()) << program_under_test.error()

TEST(KernelLegProgram, FailsOpenToTheUplinkWhenNoSocketIsBound) {
  LOAD_OR_SKIP(NodeProgram::kKernelLeg);
  program_under_test.SetRedirectTargetsToLoopback();
  program_under_test.WriteHeartbeat(MonotonicNowNs(), kStaleAfterNs);

  EXPECT_EQ(program_under_test.Run(), XDP_REDIRECT);
  EXPECT_EQ(program_under_test.Counter(DG_XDP_FAIL_OPEN_NO_SOCKET), 1u);
  EXPECT_EQ(program_under_test.Counter(DG_XDP_TO_GATEWAY), 0u);
  EXPECT_EQ(program_under_test.Counter(DG_XDP_FAIL_OPEN_STALE_HEARTBEAT), 0u);
}

TEST(KernelLegProgram, FailsOpenWithAStaleHeartbeat) {
  LOAD_OR_SKIP(NodeProgram::kKernelLeg);
  program_under_test.SetRedirectTargetsToLoopback();
  program_under_test.WriteHeartbeat(MonotonicNowNs() - 2 * kStaleAfterNs, kStaleAfterNs);

  EXPECT_EQ(program_under_test.Run(), XDP_REDIRECT);
  EXPECT_EQ(program_under_test.Counter(DG_XDP_FAIL_OPEN_STALE_HEARTBEAT), 1u);
  EXPECT_EQ(program_under_test.Counter(DG_XDP_FAIL_OPEN_NO_SOCKET), 0u);
}

TEST(KernelLegProgram, TreatsAGatewayThatNeverBeatAsStale) {
  LOAD_OR_SKIP(NodeProgram::kKernelLeg);
  program_under_test.SetRedirectTargetsToLoopback();
  program_under_test.WriteHeartbeat(0, kStaleAfterNs);

  program_under_test.Run();
  EXPECT_EQ(program_under_test.Counter(DG_XDP_FAIL_OPEN_STALE_HEARTBEAT), 1u);
}

TEST(KernelLegProgram, IgnoresTheHeartbeatWhenTheCheckIsDisabled) {
  LOAD_OR_SKIP(NodeProgram::kKernelLeg);
  program_under_test.SetRedirectTargetsToLoopback();
  program_under_test.WriteHeartbeat(0, 0);

  program_under_test.Run();
  EXPECT_EQ(program_under_test.Counter(DG_XDP_FAIL_OPEN_NO_SOCKET), 1u);
  EXPECT_EQ(program_under_test.Counter(DG_XDP_FAIL_OPEN_STALE_HEARTBEAT), 0u);
}

TEST(KernelLegProgram, PassesWhenTheUplinkIsNotSet) {
  LOAD_OR_SKIP(NodeProgram::kKernelLeg);
  program_under_test.WriteHeartbeat(MonotonicNowNs(), kStaleAfterNs);

  EXPECT_EQ(program_under_test.Run(), XDP_PASS);
  EXPECT_EQ(program_under_test.Counter(DG_XDP_FAIL_OPEN_UNAVAILABLE), 1u);
}

TEST(KernelLegProgram, CountsEveryFrame) {
  LOAD_OR_SKIP(NodeProgram::kKernelLeg);
  program_under_test.SetRedirectTargetsToLoopback();
  program_under_test.WriteHeartbeat(MonotonicNowNs(), kStaleAfterNs);

  for (int frame = 0; frame < 3; ++frame) program_under_test.Run();
  EXPECT_EQ(program_under_test.Counter(DG_XDP_FAIL_OPEN_NO_SOCKET), 3u);
}

TEST(UplinkProgram, RedirectsToTheKernelLeg) {
  LOAD_OR_SKIP(NodeProgram::kUplink);
  program_under_test.SetRedirectTargetsToLoopback();

  EXPECT_EQ(program_under_test.Run(), XDP_REDIRECT);
  EXPECT_EQ(program_under_test.Counter(DG_XDP_BYPASS_TO_KERNEL), 1u);
  EXPECT_EQ(program_under_test.Counter(DG_XDP_BYPASS_UNAVAILABLE), 0u);
}

TEST(UplinkProgram, PassesWhenNeitherKernelLegNorSocketIsThere) {
  LOAD_OR_SKIP(NodeProgram::kUplink);

  EXPECT_EQ(program_under_test.Run(), XDP_PASS);
  EXPECT_EQ(program_under_test.Counter(DG_XDP_BYPASS_UNAVAILABLE), 1u);
  EXPECT_EQ(program_under_test.Counter(DG_XDP_BYPASS_TO_KERNEL), 0u);
}

TEST(NapiProgram, PassesEveryFrame) {
  LOAD_OR_SKIP(NodeProgram::kNapi);
  EXPECT_EQ(program_under_test.Run(), XDP_PASS);
}

TEST(XdpCounterInfos, NameEveryCounterOnce) {
  const auto& infos = XdpCounterInfos();
  for (size_t first = 0; first < infos.size(); ++first) {
    EXPECT_FALSE(infos[first].name.empty());
    EXPECT_FALSE(infos[first].help.empty());
    for (size_t second = first + 1; second < infos.size(); ++second) {
      EXPECT_NE(infos[first].name, infos[second].name);
    }
  }
}

}  // namespace
}  // namespace dg::xdp
