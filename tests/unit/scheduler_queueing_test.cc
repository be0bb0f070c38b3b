#include <algorithm>
#include <iterator>

#include "tests/unit/scheduler_test_fixture.h"

namespace dg::scheduler_test {
namespace {

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
// Sojourn histogram: a packet's wait lands in the first bucket whose upper bound it does
// not exceed (Prometheus `le`), the last bucket above every bound.

struct SojournCase {
  uint64_t wait_ns;
  uint64_t expected_upper_bound_micros;  // 0: the bucket above every bound
};

class SojournBucketTest : public SchedulerTest,
                          public ::testing::WithParamInterface<SojournCase> {};

uint32_t BucketWithUpperBound(uint64_t micros) {
  if (micros == 0) return kSojournBucketCount;
  const auto* bound = std::find(std::begin(kSojournBucketBoundsMicros),
                                std::end(kSojournBucketBoundsMicros), micros);
  EXPECT_NE(bound, std::end(kSojournBucketBoundsMicros)) << "no bound at " << micros << " us";
  return static_cast<uint32_t>(bound - std::begin(kSojournBucketBoundsMicros));
}

TEST_P(SojournBucketTest, WaitIsCountedInItsBucketOnly) {
  MakeScheduler(Config(16, 0, 0));
  Enqueue(2, 1, 100, 1, kStartTsc);
  ASSERT_EQ(DequeueAndFree(32, kStartTsc + GetParam().wait_ns), 1u);
  const uint32_t expected = BucketWithUpperBound(GetParam().expected_upper_bound_micros);
  for (uint32_t b = 0; b <= kSojournBucketCount; ++b) {
    EXPECT_EQ(counters_->classes[2].sojourn_buckets[b].Load(), b == expected ? 1u : 0u)
        << "bucket " << b;
  }
}

INSTANTIATE_TEST_SUITE_P(Waits, SojournBucketTest,
                         ::testing::Values(SojournCase{0, 10}, SojournCase{10 * kMicrosecond, 10},
                                           SojournCase{10 * kMicrosecond + 1, 50},
                                           SojournCase{600 * kMicrosecond, 750},
                                           SojournCase{1200 * kMicrosecond, 1500},
                                           SojournCase{2500 * kMicrosecond, 3000},
                                           SojournCase{4500 * kMicrosecond, 5000},
                                           SojournCase{100 * kMillisecond, 100000},
                                           SojournCase{200 * kMillisecond, 0}));

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

}  // namespace
}  // namespace dg::scheduler_test
