#include "gateway/scheduler.h"

#include <gtest/gtest.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <memory>
#include <string>
#include <vector>

#include "gateway/counters.h"
#include "gateway/policy_snapshot.h"
#include "gateway/token_bucket.h"
#include "tests/unit/eal_environment.h"

namespace dg {
namespace {

using testing::MakeMbuf;
using testing::TestMempool;

// Time is injected: at 1 GHz one TSC cycle is one nanosecond.
constexpr uint64_t kTscHz = 1'000'000'000;
constexpr uint64_t kMicrosecond = 1'000;
constexpr uint64_t kMillisecond = 1'000'000;
constexpr uint64_t kStartTsc = 5'000'000'000;  // arbitrary, not zero
constexpr uint32_t kOverhead = 24;
constexpr uint32_t kFullFrame = 1500;
constexpr uint32_t kFullFrameWire = kFullFrame + kOverhead;  // 1524
// 1 000 000 bytes per second: one byte per microsecond.
constexpr uint64_t kEightMbit = 8'000'000;

SchedulerConfig Config(uint32_t queue_depth, uint64_t port_rate_bps, uint64_t port_burst_bytes) {
  SchedulerConfig config;
  config.queue_depth = queue_depth;
  config.port_rate_bps = port_rate_bps;
  config.port_burst_bytes = port_burst_bytes;
  config.framing_overhead_bytes = kOverhead;
  config.tsc_hz = kTscHz;
  return config;
}

PolicySnapshot Snapshot(uint64_t generation, uint32_t class_id, uint64_t ceiling_bps) {
  PolicySnapshot snapshot;
  snapshot.generation = generation;
  snapshot.class_ceiling_bps[class_id] = ceiling_bps;
  return snapshot;
}

void FreeAll(const std::vector<rte_mbuf*>& mbufs) {
  for (rte_mbuf* mbuf : mbufs) rte_pktmbuf_free(mbuf);
}

class SchedulerTest : public ::testing::Test {
 protected:
  void SetUp() override { pool_available_at_start_ = rte_mempool_avail_count(TestMempool()); }

  void MakeScheduler(const SchedulerConfig& config, uint64_t now_tsc = kStartTsc) {
    scheduler_ = std::make_unique<StrictPriorityScheduler>(config, counters_.get(), now_tsc);
  }

  // Offers `count` frames of `length` bytes in one burst; returns the mbufs offered (those
  // tail-dropped are already freed) and stores how many were queued in `queued_`.
  std::vector<rte_mbuf*> Enqueue(uint8_t class_id, uint32_t namespace_id, uint32_t length,
                                 uint16_t count, uint64_t now_tsc = kStartTsc) {
    std::vector<rte_mbuf*> mbufs;
    for (uint16_t i = 0; i < count; ++i) {
      rte_mbuf* mbuf = MakeMbuf(length);
      EXPECT_NE(mbuf, nullptr);
      mbufs.push_back(mbuf);
    }
    const std::vector<uint8_t> class_ids(count, class_id);
    const std::vector<uint32_t> namespace_ids(count, namespace_id);
    queued_ = scheduler_->EnqueueBurst(mbufs.data(), class_ids.data(), namespace_ids.data(), count,
                                       now_tsc);
    return mbufs;
  }

  std::vector<rte_mbuf*> Dequeue(uint16_t max_count, uint64_t now_tsc) {
    std::vector<rte_mbuf*> out(max_count == 0 ? 1 : max_count);
    const uint16_t count = scheduler_->DequeueBurst(out.data(), max_count, now_tsc);
    out.resize(count);
    return out;
  }

  // Dequeues, frees what left and returns how many did.
  uint32_t DequeueAndFree(uint16_t max_count, uint64_t now_tsc) {
    const std::vector<rte_mbuf*> out = Dequeue(max_count, now_tsc);
    FreeAll(out);
    return static_cast<uint32_t>(out.size());
  }

  unsigned PoolAvailable() const { return rte_mempool_avail_count(TestMempool()); }

  std::unique_ptr<WorkerCounters> counters_ = std::make_unique<WorkerCounters>();
  std::unique_ptr<StrictPriorityScheduler> scheduler_;
  uint16_t queued_ = 0;
  unsigned pool_available_at_start_ = 0;
};

// ---------------------------------------------------------------------------------------
// Strict priority and FIFO

TEST_F(SchedulerTest, HigherClassLeavesBeforeLowerClassEnqueuedEarlier) {
  MakeScheduler(Config(16, 0, 0));
  const std::vector<rte_mbuf*> low = Enqueue(3, 1, 100, 2);
  const std::vector<rte_mbuf*> high = Enqueue(0, 2, 100, 2);
  const std::vector<rte_mbuf*> middle = Enqueue(1, 3, 100, 1);

  const std::vector<rte_mbuf*> out = Dequeue(32, kStartTsc);

  EXPECT_EQ(out, (std::vector<rte_mbuf*>{high[0], high[1], middle[0], low[0], low[1]}));
  FreeAll(out);
}

TEST_F(SchedulerTest, PacketsOfOneClassLeaveInArrivalOrder) {
  MakeScheduler(Config(16, 0, 0));
  const std::vector<rte_mbuf*> first = Enqueue(2, 1, 100, 3);
  const std::vector<rte_mbuf*> second = Enqueue(2, 1, 200, 2);

  const std::vector<rte_mbuf*> out = Dequeue(32, kStartTsc);

  EXPECT_EQ(out, (std::vector<rte_mbuf*>{first[0], first[1], first[2], second[0], second[1]}));
  FreeAll(out);
}

TEST_F(SchedulerTest, HigherClassArrivingLaterOvertakesQueuedLowerClass) {
  MakeScheduler(Config(16, 0, 0));
  const std::vector<rte_mbuf*> low = Enqueue(5, 1, 100, 3);
  std::vector<rte_mbuf*> out = Dequeue(1, kStartTsc);
  ASSERT_EQ(out, (std::vector<rte_mbuf*>{low[0]}));
  FreeAll(out);
  const std::vector<rte_mbuf*> high = Enqueue(4, 1, 100, 1);

  out = Dequeue(32, kStartTsc);

  EXPECT_EQ(out, (std::vector<rte_mbuf*>{high[0], low[1], low[2]}));
  FreeAll(out);
}

TEST_F(SchedulerTest, ClassIdBeyondLastClassIsQueuedInLastClass) {
  MakeScheduler(Config(16, 0, 0));

  Enqueue(200, 1, 100, 2);

  EXPECT_EQ(queued_, 2);
  EXPECT_EQ(scheduler_->Depth(DG_MAX_CLASSES - 1), 2u);
  EXPECT_EQ(scheduler_->TotalDepth(), 2u);
}

// ---------------------------------------------------------------------------------------
// Tail drop

TEST_F(SchedulerTest, FullClassQueueTailDropsTheExcess) {
  MakeScheduler(Config(4, 0, 0));

  const std::vector<rte_mbuf*> offered = Enqueue(2, 7, 100, 6);

  EXPECT_EQ(queued_, 4);
  EXPECT_EQ(scheduler_->Depth(2), 4u);
  // The first four are kept, the last two dropped.
  const std::vector<rte_mbuf*> out = Dequeue(32, kStartTsc);
  EXPECT_EQ(out, (std::vector<rte_mbuf*>{offered[0], offered[1], offered[2], offered[3]}));
  FreeAll(out);
}

TEST_F(SchedulerTest, TailDropsAreCountedPerClassAndPerNamespace) {
  MakeScheduler(Config(4, 0, 0));

  Enqueue(2, 7, 100, 3);
  Enqueue(2, 9, 100, 4);  // one fits, three dropped

  EXPECT_EQ(counters_->classes[2].drops.Load(), 3u);
  EXPECT_EQ(counters_->namespace_drops[9].Load(), 3u);
  EXPECT_EQ(counters_->namespace_drops[7].Load(), 0u);
}

TEST_F(SchedulerTest, EnqueueCountsEveryOfferedPacketAndByteOfTheNamespace) {
  MakeScheduler(Config(4, 0, 0));

  Enqueue(2, 7, 100, 6);  // four queued, two dropped

  EXPECT_EQ(counters_->namespace_packets[7].Load(), 6u);
  EXPECT_EQ(counters_->namespace_bytes[7].Load(), 600u);
}

TEST_F(SchedulerTest, TailDropInOneClassLeavesOtherClassesUnaffected) {
  MakeScheduler(Config(4, 0, 0));

  Enqueue(2, 7, 100, 10);
  Enqueue(1, 8, 100, 4);
  const uint16_t queued_in_class_1 = queued_;
  Enqueue(3, 9, 100, 4);
  const uint16_t queued_in_class_3 = queued_;

  EXPECT_EQ(queued_in_class_1, 4);
  EXPECT_EQ(queued_in_class_3, 4);
  EXPECT_EQ(counters_->classes[1].drops.Load(), 0u);
  EXPECT_EQ(counters_->classes[3].drops.Load(), 0u);
  EXPECT_EQ(counters_->namespace_drops[8].Load(), 0u);
  EXPECT_EQ(counters_->namespace_drops[9].Load(), 0u);
  EXPECT_EQ(counters_->classes[2].drops.Load(), 6u);
}

TEST_F(SchedulerTest, TailDroppedPacketsAreReturnedToTheMempool) {
  MakeScheduler(Config(4, 0, 0));

  Enqueue(2, 7, 100, 10);

  EXPECT_EQ(PoolAvailable(), pool_available_at_start_ - 4);
  FreeAll(Dequeue(32, kStartTsc));
  EXPECT_EQ(PoolAvailable(), pool_available_at_start_);
}

TEST_F(SchedulerTest, BurstLargerThanTheDropBatchIsDroppedAndFreedCompletely) {
  MakeScheduler(Config(1, 0, 0));

  Enqueue(0, 3, 64, 600);  // 599 drops: more than the 256-entry drop batch

  EXPECT_EQ(queued_, 1);
  EXPECT_EQ(counters_->classes[0].drops.Load(), 599u);
  EXPECT_EQ(PoolAvailable(), pool_available_at_start_ - 1);
}

// ---------------------------------------------------------------------------------------
// Queue depth

TEST_F(SchedulerTest, QueueDepthRoundsUpToAPowerOfTwo) {
  MakeScheduler(Config(5, 0, 0));

  Enqueue(0, 1, 100, 9);

  EXPECT_EQ(scheduler_->capacity(), 8u);
  EXPECT_EQ(queued_, 8);
  EXPECT_EQ(scheduler_->FreeSlots(0), 0u);
}

TEST_F(SchedulerTest, PowerOfTwoQueueDepthIsKept) {
  MakeScheduler(Config(1024, 0, 0));

  EXPECT_EQ(scheduler_->capacity(), 1024u);
}

TEST_F(SchedulerTest, ZeroQueueDepthBecomesOneSlot) {
  MakeScheduler(Config(0, 0, 0));

  Enqueue(0, 1, 100, 2);

  EXPECT_EQ(scheduler_->capacity(), 1u);
  EXPECT_EQ(queued_, 1);
}

TEST_F(SchedulerTest, DepthCounterFollowsEnqueueAndDequeue) {
  MakeScheduler(Config(16, 0, 0));
  Enqueue(3, 1, 100, 5);
  EXPECT_EQ(counters_->classes[3].depth.Load(), 5u);

  EXPECT_EQ(DequeueAndFree(2, kStartTsc), 2u);

  EXPECT_EQ(counters_->classes[3].depth.Load(), 3u);
  EXPECT_EQ(scheduler_->Depth(3), 3u);
}

TEST_F(SchedulerTest, PeakDepthCounterKeepsTheHighestDepth) {
  MakeScheduler(Config(16, 0, 0));
  Enqueue(3, 1, 100, 5);
  EXPECT_EQ(DequeueAndFree(4, kStartTsc), 4u);

  Enqueue(3, 1, 100, 2);

  EXPECT_EQ(counters_->classes[3].depth.Load(), 3u);
  EXPECT_EQ(counters_->classes[3].peak_depth.Load(), 5u);
}

TEST_F(SchedulerTest, DequeueCountsPacketsAndFrameBytesOfTheClass) {
  MakeScheduler(Config(16, 0, 0));
  Enqueue(1, 1, 100, 2);
  Enqueue(1, 1, 1000, 1);
  Enqueue(4, 1, 64, 1);

  EXPECT_EQ(DequeueAndFree(32, kStartTsc), 4u);

  EXPECT_EQ(counters_->classes[1].packets.Load(), 3u);
  EXPECT_EQ(counters_->classes[1].bytes.Load(), 1200u);
  EXPECT_EQ(counters_->classes[4].packets.Load(), 1u);
  EXPECT_EQ(counters_->classes[4].bytes.Load(), 64u);
}

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
  scheduler_->ApplyPolicy(Snapshot(1, 0, kEightMbit), kStartTsc);
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

// ---------------------------------------------------------------------------------------
// DiscardAll

TEST_F(SchedulerTest, DiscardAllReturnsHowManyWereQueued) {
  MakeScheduler(Config(16, 0, 0));
  Enqueue(0, 1, 100, 3);
  Enqueue(4, 1, 100, 5);
  Enqueue(7, 1, 100, 2);

  EXPECT_EQ(scheduler_->DiscardAll(), 10u);
  EXPECT_EQ(scheduler_->TotalDepth(), 0u);
}

TEST_F(SchedulerTest, DiscardAllFreesEveryQueuedPacket) {
  MakeScheduler(Config(16, 0, 0));
  Enqueue(0, 1, 100, 3);
  Enqueue(4, 1, 100, 5);
  ASSERT_EQ(PoolAvailable(), pool_available_at_start_ - 8);

  scheduler_->DiscardAll();

  EXPECT_EQ(PoolAvailable(), pool_available_at_start_);
}

TEST_F(SchedulerTest, DiscardAllResetsTheDepthCounters) {
  MakeScheduler(Config(16, 0, 0));
  Enqueue(4, 1, 100, 5);

  scheduler_->DiscardAll();

  EXPECT_EQ(counters_->classes[4].depth.Load(), 0u);
  EXPECT_EQ(DequeueAndFree(32, kStartTsc), 0u);
}

TEST_F(SchedulerTest, DiscardAllOnEmptySchedulerReturnsZero) {
  MakeScheduler(Config(16, 0, 0));

  EXPECT_EQ(scheduler_->DiscardAll(), 0u);
}

TEST_F(SchedulerTest, DestructorFreesQueuedPackets) {
  MakeScheduler(Config(16, 0, 0));
  Enqueue(2, 1, 100, 6);

  scheduler_.reset();

  EXPECT_EQ(PoolAvailable(), pool_available_at_start_);
}

// ---------------------------------------------------------------------------------------
// TokenBucket alone: 24 bit/s = 3 bytes per second, at a 1 kHz clock = 3 bytes per 1000
// cycles, so a single cycle is worth 0.003 bytes.

constexpr uint64_t kSlowHz = 1000;

TEST(TokenBucketTest, StartsFull) {
  TokenBucket bucket;
  bucket.Configure(kEightMbit, 5000, kTscHz, kStartTsc);

  EXPECT_EQ(bucket.tokens_bytes(), 5000u);
  EXPECT_TRUE(bucket.CanSend(5000));
  EXPECT_FALSE(bucket.CanSend(5001));
}

TEST(TokenBucketTest, RefillIsCappedAtTheBurst) {
  TokenBucket bucket;
  bucket.Configure(kEightMbit, 5000, kTscHz, kStartTsc);
  bucket.Consume(5000);

  bucket.Refill(kStartTsc + 1000 * kMillisecond);  // a million bytes' worth

  EXPECT_EQ(bucket.tokens_bytes(), 5000u);
}

TEST(TokenBucketTest, RefillAddsRateTimesElapsedTime) {
  TokenBucket bucket;
  bucket.Configure(kEightMbit, 5000, kTscHz, kStartTsc);
  bucket.Consume(5000);

  bucket.Refill(kStartTsc + 1234 * kMicrosecond);

  EXPECT_EQ(bucket.tokens_bytes(), 1234u);
}

TEST(TokenBucketTest, ManySingleCycleRefillsDoNotDrift) {
  TokenBucket bucket;
  bucket.Configure(24, 3, kSlowHz, 0);
  bucket.Consume(3);

  for (uint64_t tsc = 1; tsc <= 999; ++tsc) bucket.Refill(tsc);
  EXPECT_EQ(bucket.tokens_bytes(), 2u);  // 2.997 bytes
  EXPECT_FALSE(bucket.CanSend(3));

  bucket.Refill(1000);
  EXPECT_EQ(bucket.tokens_bytes(), 3u);
  EXPECT_TRUE(bucket.CanSend(3));
}

TEST(TokenBucketTest, ManySmallRefillsAddTheSameAsOneLargeRefill) {
  TokenBucket stepped;
  TokenBucket single;
  stepped.Configure(8'000'008, 10'000'000, kTscHz, 0);  // 1 000 001 bytes per second
  single.Configure(8'000'008, 10'000'000, kTscHz, 0);
  stepped.Consume(10'000'000);
  single.Consume(10'000'000);

  for (uint64_t tsc = 7; tsc <= 7'000'000; tsc += 7) stepped.Refill(tsc);
  single.Refill(7'000'000);

  EXPECT_EQ(stepped.tokens_bytes(), 7'000u);  // 7 ms * 1 000 001 B/s = 7000.007 bytes
  EXPECT_EQ(single.tokens_bytes(), 7'000u);
  EXPECT_TRUE(stepped.CanSend(7'000));
  EXPECT_FALSE(stepped.CanSend(7'001));
}

TEST(TokenBucketTest, TimeGoingBackwardsAddsNothing) {
  TokenBucket bucket;
  bucket.Configure(kEightMbit, 5000, kTscHz, kStartTsc);
  bucket.Consume(5000);

  bucket.Refill(kStartTsc - 1000 * kMicrosecond);

  EXPECT_EQ(bucket.tokens_bytes(), 0u);
}

TEST(TokenBucketTest, TimeGoingBackwardsDoesNotMoveTheClockBack) {
  TokenBucket bucket;
  bucket.Configure(kEightMbit, 5000, kTscHz, kStartTsc);
  bucket.Consume(5000);
  bucket.Refill(kStartTsc - 1000 * kMicrosecond);

  bucket.Refill(kStartTsc + 100 * kMicrosecond);

  EXPECT_EQ(bucket.tokens_bytes(), 100u);  // not 1100
}

TEST(TokenBucketTest, ZeroRateIsUnlimited) {
  TokenBucket bucket;
  bucket.Configure(0, 100, kTscHz, kStartTsc);
  bucket.Consume(1'000'000);

  EXPECT_TRUE(bucket.unlimited());
  EXPECT_TRUE(bucket.CanSend(1'000'000));
}

TEST(TokenBucketTest, ReportsTheConfiguredRate) {
  TokenBucket bucket;
  bucket.Configure(kEightMbit, 5000, kTscHz, kStartTsc);

  EXPECT_EQ(bucket.rate_bits_per_second(), kEightMbit);
}

}  // namespace
}  // namespace dg
