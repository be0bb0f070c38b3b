// CutThroughBurst: with every queue empty and tokens for the whole burst, frames skip the
// queue round trip with the order and counters of EnqueueBurst + DequeueBurst; otherwise
// it declines and changes nothing.
#include <vector>

#include "tests/unit/scheduler_test_fixture.h"

namespace dg::scheduler_test {
namespace {

// Classes 2, 0, 3, 0, 2, 1 in arrival order, namespaces 1..6.
const std::vector<uint8_t> kMixedClasses = {2, 0, 3, 0, 2, 1};
const std::vector<uint32_t> kMixedNamespaces = {1, 2, 3, 4, 5, 6};

std::vector<rte_mbuf*> MakeBurst(size_t count, uint32_t length = kFullFrame) {
  std::vector<rte_mbuf*> burst;
  for (size_t i = 0; i < count; ++i) burst.push_back(MakeMbuf(length));
  return burst;
}

class SchedulerCutThroughTest : public SchedulerTest {
 protected:
  uint16_t CutThrough(const std::vector<rte_mbuf*>& burst, const std::vector<uint8_t>& classes,
                      const std::vector<uint32_t>& namespaces, uint64_t now_tsc = kStartTsc) {
    out_.assign(burst.size(), nullptr);
    return scheduler_->CutThroughBurst(burst.data(), classes.data(), namespaces.data(),
                                       static_cast<uint16_t>(burst.size()), now_tsc, out_.data());
  }

  void MakeSchedulerWithAFloorForClass3() {
    MakeScheduler(Config(64, 0, 0));
    PolicySnapshot snapshot;
    snapshot.generation = 1;
    snapshot.class_floor_bps[3] = kEightMbit;
    scheduler_->ApplyPolicy(snapshot, kStartTsc);
  }

  std::vector<rte_mbuf*> out_;
};

TEST_F(SchedulerCutThroughTest, SendsTheBurstInTheOrderTheQueuedPathWould) {
  MakeScheduler(Config(64, 0, 0));
  const std::vector<rte_mbuf*> burst = MakeBurst(kMixedClasses.size());
  ASSERT_EQ(CutThrough(burst, kMixedClasses, kMixedNamespaces), burst.size());
  const std::vector<rte_mbuf*> expected = {burst[1], burst[3], burst[5],
                                           burst[0], burst[4], burst[2]};
  EXPECT_EQ(out_, expected);
  EXPECT_EQ(counters_->cut_through_packets.Load(), burst.size());
  FreeAll(burst);
}

TEST_F(SchedulerCutThroughTest, CountsWhatTheQueuedPathCounts) {
  MakeScheduler(Config(64, 0, 0));
  const std::vector<rte_mbuf*> burst = MakeBurst(kMixedClasses.size());
  CutThrough(burst, kMixedClasses, kMixedNamespaces);
  auto queued_counters = std::make_unique<WorkerCounters>();
  StrictPriorityScheduler queued(Config(64, 0, 0), queued_counters.get(), kStartTsc);
  queued.EnqueueBurst(burst.data(), kMixedClasses.data(), kMixedNamespaces.data(),
                      static_cast<uint16_t>(burst.size()), kStartTsc);
  std::vector<rte_mbuf*> queued_out(burst.size());
  ASSERT_EQ(queued.DequeueBurst(queued_out.data(), static_cast<uint16_t>(burst.size()), kStartTsc),
            burst.size());
  EXPECT_EQ(queued_out, out_);
  for (uint32_t c = 0; c < DG_MAX_CLASSES; ++c) {
    const ClassCounters& cut = counters_->classes[c];
    const ClassCounters& ref = queued_counters->classes[c];
    EXPECT_EQ(cut.packets.Load(), ref.packets.Load()) << c;
    EXPECT_EQ(cut.bytes.Load(), ref.bytes.Load()) << c;
    EXPECT_EQ(cut.drops.Load(), ref.drops.Load()) << c;
    EXPECT_EQ(cut.depth.Load(), ref.depth.Load()) << c;
    EXPECT_EQ(cut.sojourn_cycles_sum.Load(), ref.sojourn_cycles_sum.Load()) << c;
    for (uint32_t b = 0; b <= kSojournBucketCount; ++b) {
      EXPECT_EQ(cut.sojourn_buckets[b].Load(), ref.sojourn_buckets[b].Load()) << c << "/" << b;
    }
  }
  for (uint32_t n : kMixedNamespaces) {
    EXPECT_EQ(counters_->namespace_packets[n].Load(), queued_counters->namespace_packets[n].Load());
    EXPECT_EQ(counters_->namespace_bytes[n].Load(), queued_counters->namespace_bytes[n].Load());
  }
  FreeAll(burst);
}

TEST_F(SchedulerCutThroughTest, DeclinesWhileAnythingIsQueued) {
  MakeScheduler(Config(64, 0, 0));
  const std::vector<rte_mbuf*> waiting = Enqueue(3, 1, kFullFrame, 1);
  const std::vector<rte_mbuf*> burst = MakeBurst(1);
  EXPECT_EQ(CutThrough(burst, {0}, {1}), 0);
  EXPECT_EQ(counters_->classes[0].packets.Load(), 0u);
  EXPECT_EQ(counters_->cut_through_packets.Load(), 0u);
  EXPECT_EQ(counters_->namespace_packets[1].Load(), 1u);  // the queued frame only
  FreeAll(burst);
  scheduler_->DiscardAll();
}

TEST_F(SchedulerCutThroughTest, DeclinesWithoutPortTokensForTheWholeBurstAndKeepsThem) {
  // Room for two full frames, not three.
  MakeScheduler(Config(64, kEightMbit, 2 * kFullFrameWire));
  const std::vector<rte_mbuf*> burst = MakeBurst(3);
  EXPECT_EQ(CutThrough(burst, {0, 0, 0}, {1, 1, 1}), 0);
  EXPECT_EQ(scheduler_->port_shaper().tokens_bytes(), 2 * kFullFrameWire);
  EXPECT_EQ(counters_->namespace_packets[1].Load(), 0u);
  FreeAll(burst);
}

TEST_F(SchedulerCutThroughTest, ConsumesPortTokensForTheBurst) {
  MakeScheduler(Config(64, kEightMbit, 4 * kFullFrameWire));
  const std::vector<rte_mbuf*> burst = MakeBurst(3);
  EXPECT_EQ(CutThrough(burst, {0, 0, 0}, {1, 1, 1}), 3);
  EXPECT_EQ(scheduler_->port_shaper().tokens_bytes(), kFullFrameWire);
  FreeAll(burst);
}

TEST_F(SchedulerCutThroughTest, DeclinesAtAClassCeiling) {
  MakeScheduler(Config(64, 0, 0));
  // 8 Mbit/s: a derived burst of two jumbo frames, 18480 bytes: 12 full frames.
  scheduler_->ApplyPolicy(Snapshot(1, 2, kEightMbit), kStartTsc);
  const std::vector<rte_mbuf*> burst = MakeBurst(13);
  EXPECT_EQ(CutThrough(burst, std::vector<uint8_t>(13, 2), std::vector<uint32_t>(13, 1)), 0);
  FreeAll(burst);
}

TEST_F(SchedulerCutThroughTest, DeclinesAMixedBurstWhenOneOfItsClassesHasAFloor) {
  MakeSchedulerWithAFloorForClass3();
  const std::vector<rte_mbuf*> burst = MakeBurst(kMixedClasses.size());
  EXPECT_EQ(CutThrough(burst, kMixedClasses, kMixedNamespaces), 0);
  FreeAll(burst);
}

TEST_F(SchedulerCutThroughTest, SendsABurstOfOneFlooredClass) {
  MakeSchedulerWithAFloorForClass3();
  const std::vector<rte_mbuf*> burst = MakeBurst(2);
  EXPECT_EQ(CutThrough(burst, {3, 3}, {1, 1}), 2);
  EXPECT_EQ(counters_->classes[3].packets.Load(), 2u);
  FreeAll(burst);
}

}  // namespace
}  // namespace dg::scheduler_test
