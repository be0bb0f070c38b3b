#include "tests/unit/scheduler_test_fixture.h"

namespace dg::scheduler_test {
namespace {

// ---------------------------------------------------------------------------------------
// Framing overhead

TEST(WireBytesTest, FullFrameAddsTheFramingOverhead) { EXPECT_EQ(WireBytes(1500, 24), 1524u); }

TEST(WireBytesTest, SixtyFourByteFrameAddsTheFramingOverhead) { EXPECT_EQ(WireBytes(64, 24), 88u); }

TEST(WireBytesTest, FrameBelowTheMinimumIsPaddedToSixtyBytes) {
  EXPECT_EQ(WireBytes(20, 24), 84u);
  EXPECT_EQ(WireBytes(59, 24), 84u);
  EXPECT_EQ(WireBytes(60, 24), 84u);
  EXPECT_EQ(WireBytes(61, 24), 85u);
}

TEST_F(SchedulerTest, SixtyFourByteFrameConsumesEightyEightPortTokens) {
  MakeScheduler(Config(16, kEightMbit, 10'000));
  Enqueue(0, 1, 64, 1);

  EXPECT_EQ(DequeueAndFree(32, kStartTsc), 1u);

  EXPECT_EQ(scheduler_->port_shaper().tokens_bytes(), 10'000u - 88u);
}

TEST_F(SchedulerTest, FullFrameConsumesFrameplusOverheadPortTokens) {
  MakeScheduler(Config(16, kEightMbit, 10'000));
  Enqueue(0, 1, 1500, 1);

  EXPECT_EQ(DequeueAndFree(32, kStartTsc), 1u);

  EXPECT_EQ(scheduler_->port_shaper().tokens_bytes(), 10'000u - 1524u);
}

TEST_F(SchedulerTest, TinyFrameConsumesPaddedMinimumPlusOverheadPortTokens) {
  MakeScheduler(Config(16, kEightMbit, 10'000));
  Enqueue(0, 1, 20, 1);

  EXPECT_EQ(DequeueAndFree(32, kStartTsc), 1u);

  EXPECT_EQ(scheduler_->port_shaper().tokens_bytes(), 10'000u - 84u);
}

TEST_F(SchedulerTest, ConfiguredFramingOverheadIsUsed) {
  SchedulerConfig config = Config(16, kEightMbit, 10'000);
  config.framing_overhead_bytes = 0;
  MakeScheduler(config);
  Enqueue(0, 1, 1500, 1);

  EXPECT_EQ(DequeueAndFree(32, kStartTsc), 1u);

  EXPECT_EQ(scheduler_->port_shaper().tokens_bytes(), 10'000u - 1500u);
}

TEST_F(SchedulerTest, BurstOfExactlyThreeWireFramesPassesThreeSixtyFourByteFrames) {
  MakeScheduler(Config(16, kEightMbit, 3 * 88));
  Enqueue(0, 1, 64, 4);

  EXPECT_EQ(DequeueAndFree(32, kStartTsc), 3u);

  EXPECT_EQ(scheduler_->port_shaper().tokens_bytes(), 0u);
  EXPECT_EQ(scheduler_->Depth(0), 1u);
}

// ---------------------------------------------------------------------------------------
// Port shaper

TEST_F(SchedulerTest, PortShaperPassesTheBurstAtOnce) {
  MakeScheduler(Config(128, kEightMbit, 10 * kFullFrameWire));
  Enqueue(0, 1, kFullFrame, 100);

  EXPECT_EQ(DequeueAndFree(64, kStartTsc), 10u);
}

TEST_F(SchedulerTest, PortShaperSendsBurstPlusRateTimesIntervalWithinOneFrame) {
  constexpr uint64_t kBurst = 10 * kFullFrameWire;  // 15 240
  MakeScheduler(Config(128, kEightMbit, kBurst));
  Enqueue(0, 1, kFullFrame, 100);

  // 10 ms in 100 us polls: 1 000 000 B/s * 10 ms = 10 000 bytes on top of the burst.
  uint64_t sent_wire_bytes = 0;
  for (uint64_t poll = 0; poll <= 100; ++poll) {
    sent_wire_bytes +=
        uint64_t{kFullFrameWire} * DequeueAndFree(64, kStartTsc + poll * 100 * kMicrosecond);
  }

  constexpr uint64_t kAllowance = kBurst + 10'000;  // 25 240
  EXPECT_LE(sent_wire_bytes, kAllowance);
  EXPECT_GT(sent_wire_bytes, kAllowance - kFullFrameWire);
  EXPECT_EQ(sent_wire_bytes, 16u * kFullFrameWire);
}

TEST_F(SchedulerTest, PortShaperSendsNothingWhileOutOfTokens) {
  MakeScheduler(Config(16, kEightMbit, 2 * kFullFrameWire));
  Enqueue(0, 1, kFullFrame, 4);
  ASSERT_EQ(DequeueAndFree(32, kStartTsc), 2u);

  EXPECT_EQ(DequeueAndFree(32, kStartTsc), 0u);
  // 1523.999 bytes of tokens: still one short of a full frame.
  EXPECT_EQ(DequeueAndFree(32, kStartTsc + kFullFrameWire * kMicrosecond - 1), 0u);
  EXPECT_EQ(scheduler_->Depth(0), 2u);
}

TEST_F(SchedulerTest, PortShaperSendsAgainOnceAFrameWorthOfTokensHasAccrued) {
  MakeScheduler(Config(16, kEightMbit, 2 * kFullFrameWire));
  Enqueue(0, 1, kFullFrame, 4);
  ASSERT_EQ(DequeueAndFree(32, kStartTsc), 2u);

  EXPECT_EQ(DequeueAndFree(32, kStartTsc + kFullFrameWire * kMicrosecond), 1u);
}

TEST_F(SchedulerTest, PortShaperRefillIsCappedAtTheBurst) {
  MakeScheduler(Config(128, kEightMbit, 3 * kFullFrameWire));
  Enqueue(0, 1, kFullFrame, 100);
  ASSERT_EQ(DequeueAndFree(64, kStartTsc), 3u);

  // A whole second idle would be a million bytes; the bucket holds only the burst.
  EXPECT_EQ(DequeueAndFree(64, kStartTsc + 1000 * kMillisecond), 3u);
}

TEST_F(SchedulerTest, LowerClassDoesNotOvertakeHigherClassBlockedByPortShaper) {
  MakeScheduler(Config(16, kEightMbit, 2000));
  Enqueue(0, 1, kFullFrame, 1);
  ASSERT_EQ(DequeueAndFree(32, kStartTsc), 1u);  // 2000 - 1524 = 476 tokens left
  Enqueue(0, 1, kFullFrame, 1);                  // needs 1524
  Enqueue(1, 2, 64, 1);                          // needs 88, which would fit in 476

  EXPECT_EQ(DequeueAndFree(32, kStartTsc), 0u);
  EXPECT_EQ(scheduler_->Depth(1), 1u);
}

TEST_F(SchedulerTest, HigherClassBlockedByPortShaperLeavesFirstOnceTokensAccrue) {
  MakeScheduler(Config(16, kEightMbit, 2000));
  Enqueue(0, 1, kFullFrame, 1);
  ASSERT_EQ(DequeueAndFree(32, kStartTsc), 1u);  // 476 tokens left
  const std::vector<rte_mbuf*> high = Enqueue(0, 1, kFullFrame, 1);
  const std::vector<rte_mbuf*> low = Enqueue(1, 2, 64, 1);
  ASSERT_EQ(DequeueAndFree(32, kStartTsc), 0u);

  // 476 + 1136 = 1612 = 1524 + 88: exactly enough for both, high first.
  const std::vector<rte_mbuf*> out = Dequeue(32, kStartTsc + 1136 * kMicrosecond);

  EXPECT_EQ(out, (std::vector<rte_mbuf*>{high[0], low[0]}));
  FreeAll(out);
}

TEST_F(SchedulerTest, ZeroPortBurstIsDerivedFromTheRate) {
  // 80 Gbit/s: 1 ms is 10 000 000 bytes, more than two jumbo frames.
  MakeScheduler(Config(16, 80'000'000'000, 0));

  EXPECT_EQ(scheduler_->port_shaper().tokens_bytes(), 10'000'000u);
}

TEST(DerivedBurstBytesTest, IsOneMillisecondAtTheRate) {
  EXPECT_EQ(DerivedBurstBytes(100'000'000'000), 12'500'000u);
}

TEST(DerivedBurstBytesTest, IsNeverLessThanTwoJumboFrames) {
  EXPECT_EQ(DerivedBurstBytes(8'000'000), 2u * (9216 + 24));
  EXPECT_EQ(DerivedBurstBytes(0), 2u * (9216 + 24));
}

// ---------------------------------------------------------------------------------------
// Unshaped

TEST_F(SchedulerTest, UnshapedPortDequeuesUpToMaxCount) {
  MakeScheduler(Config(1024, 0, 0));
  Enqueue(0, 1, kFullFrame, 300);
  Enqueue(6, 1, kFullFrame, 300);

  EXPECT_EQ(DequeueAndFree(256, kStartTsc), 256u);
  EXPECT_EQ(DequeueAndFree(256, kStartTsc), 256u);
  EXPECT_EQ(DequeueAndFree(256, kStartTsc), 88u);
  EXPECT_EQ(scheduler_->TotalDepth(), 0u);
}

TEST_F(SchedulerTest, ZeroMaxCountDequeuesNothing) {
  MakeScheduler(Config(16, 0, 0));
  Enqueue(0, 1, 100, 3);

  EXPECT_EQ(DequeueAndFree(0, kStartTsc), 0u);
  EXPECT_EQ(scheduler_->Depth(0), 3u);
}

// ---------------------------------------------------------------------------------------
// Per-class ceiling (8 Mbit/s: derived burst 18 480 bytes = 12 full frames + 192 bytes)

constexpr uint32_t kCeilingBurstFrames = 12;

TEST_F(SchedulerTest, ClassAtItsCeilingLetsTheNextClassSend) {
  MakeScheduler(Config(64, 0, 0));
  scheduler_->ApplyPolicy(Snapshot(1, 0, kEightMbit), kStartTsc);
  const std::vector<rte_mbuf*> high = Enqueue(0, 1, kFullFrame, 20);
  const std::vector<rte_mbuf*> next = Enqueue(1, 2, kFullFrame, 3);

  const std::vector<rte_mbuf*> out = Dequeue(64, kStartTsc);

  std::vector<rte_mbuf*> expected(high.begin(), high.begin() + kCeilingBurstFrames);
  expected.insert(expected.end(), next.begin(), next.end());
  EXPECT_EQ(out, expected);
  EXPECT_EQ(scheduler_->Depth(0), 20u - kCeilingBurstFrames);
  FreeAll(out);
}

TEST_F(SchedulerTest, ClassAtItsCeilingDoesNotBlockTheShapedPort) {
  MakeScheduler(Config(64, kEightMbit, 100 * kFullFrameWire));
  scheduler_->ApplyPolicy(Snapshot(1, 0, kEightMbit), kStartTsc);
  Enqueue(0, 1, kFullFrame, 20);
  Enqueue(1, 2, kFullFrame, 3);

  EXPECT_EQ(DequeueAndFree(64, kStartTsc), kCeilingBurstFrames + 3);
  EXPECT_EQ(scheduler_->Depth(1), 0u);
  EXPECT_EQ(scheduler_->port_shaper().tokens_bytes(), (100u - 15u) * kFullFrameWire);
}

TEST_F(SchedulerTest, CeilingRateIsHonouredOverTime) {
  MakeScheduler(Config(128, 0, 0));
  PolicySnapshot snapshot = Snapshot(1, 0, kEightMbit);
  snapshot.class_queue[0].codel = false;  // the queue stands for 100 ms: CoDel would drop
  scheduler_->ApplyPolicy(snapshot, kStartTsc);
  Enqueue(0, 1, kFullFrame, 100);

  // 100 ms in 1 ms polls: 18 480 burst + 100 000 bytes = 118 480 -> 77 full frames.
  uint64_t sent_wire_bytes = 0;
  for (uint64_t poll = 0; poll <= 100; ++poll) {
    sent_wire_bytes +=
        uint64_t{kFullFrameWire} * DequeueAndFree(64, kStartTsc + poll * kMillisecond);
  }

  constexpr uint64_t kAllowance = 18'480 + 100'000;
  EXPECT_LE(sent_wire_bytes, kAllowance);
  EXPECT_GT(sent_wire_bytes, kAllowance - kFullFrameWire);
  EXPECT_EQ(sent_wire_bytes, 77u * kFullFrameWire);
}

TEST_F(SchedulerTest, CeilingAppliesOnlyToItsClass) {
  MakeScheduler(Config(128, 0, 0));
  scheduler_->ApplyPolicy(Snapshot(1, 0, kEightMbit), kStartTsc);
  Enqueue(3, 1, kFullFrame, 100);

  EXPECT_EQ(DequeueAndFree(128, kStartTsc), 100u);
}

TEST_F(SchedulerTest, NewGenerationRaisesTheCeilingRate) {
  MakeScheduler(Config(128, 0, 0));
  scheduler_->ApplyPolicy(Snapshot(1, 0, kEightMbit), kStartTsc);
  Enqueue(0, 1, kFullFrame, 100);
  ASSERT_EQ(DequeueAndFree(64, kStartTsc), kCeilingBurstFrames);

  // 80 Mbit/s: the bucket is reconfigured full (burst still 18 480), then 10 000 bytes/ms.
  scheduler_->ApplyPolicy(Snapshot(2, 0, 10 * kEightMbit), kStartTsc);
  EXPECT_EQ(DequeueAndFree(64, kStartTsc), kCeilingBurstFrames);

  // 192 left + 10 000 = 10 192 -> 6 frames (the old ceiling would allow none).
  EXPECT_EQ(DequeueAndFree(64, kStartTsc + kMillisecond), 6u);
}

TEST_F(SchedulerTest, NewGenerationWithoutCeilingUnblocksTheClass) {
  MakeScheduler(Config(128, 0, 0));
  scheduler_->ApplyPolicy(Snapshot(1, 0, kEightMbit), kStartTsc);
  Enqueue(0, 1, kFullFrame, 100);
  ASSERT_EQ(DequeueAndFree(64, kStartTsc), kCeilingBurstFrames);

  scheduler_->ApplyPolicy(Snapshot(2, 0, 0), kStartTsc);

  EXPECT_EQ(DequeueAndFree(128, kStartTsc), 100u - kCeilingBurstFrames);
}

TEST_F(SchedulerTest, SameGenerationIsNotApplied) {
  MakeScheduler(Config(128, 0, 0));
  scheduler_->ApplyPolicy(Snapshot(1, 0, kEightMbit), kStartTsc);
  Enqueue(0, 1, kFullFrame, 100);
  ASSERT_EQ(DequeueAndFree(64, kStartTsc), kCeilingBurstFrames);

  scheduler_->ApplyPolicy(Snapshot(1, 0, 0), kStartTsc);

  EXPECT_EQ(DequeueAndFree(64, kStartTsc), 0u);
}

// A new generation (the publisher makes one whenever a namespace is interned) that keeps a
// class's ceiling must not refill that class's bucket, or every generation is a free burst.
class UnchangedCeilingTest : public SchedulerTest,
                             public ::testing::WithParamInterface<uint64_t> {};

TEST_P(UnchangedCeilingTest, NewGenerationWithUnchangedCeilingKeepsTheClassTokens) {
  const uint64_t ceiling_bps = GetParam();
  MakeScheduler(Config(128, 0, 0));
  scheduler_->ApplyPolicy(Snapshot(1, 0, ceiling_bps), kStartTsc);
  Enqueue(0, 1, kFullFrame, 100);
  ASSERT_EQ(DequeueAndFree(64, kStartTsc), kCeilingBurstFrames);

  scheduler_->ApplyPolicy(Snapshot(2, 0, ceiling_bps), kStartTsc);

  EXPECT_EQ(DequeueAndFree(64, kStartTsc), 0u);
}

INSTANTIATE_TEST_SUITE_P(Ceilings, UnchangedCeilingTest,
                         ::testing::Values(uint64_t{8'000'000}, uint64_t{8'000'004}),
                         [](const ::testing::TestParamInfo<uint64_t>& info) {
                           return std::to_string(info.param) + "bps";
                         });

}  // namespace
}  // namespace dg::scheduler_test
