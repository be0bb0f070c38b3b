// The worker's per-pod egress shaper, on an injected 1 GHz clock.
#include "gateway/pod_shaper.h"

#include <gtest/gtest.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <memory>
#include <vector>

#include "tests/unit/eal_environment.h"

namespace dg {
namespace {

using testing::MakeMbuf;
using testing::TestMempool;

constexpr uint64_t kTscHz = 1'000'000'000;  // one cycle is one nanosecond
constexpr uint64_t kStartTsc = 7'000'000'000;
constexpr uint64_t kMillisecond = 1'000'000;
constexpr uint32_t kFrame = 1000;
constexpr uint32_t kNamespace = 5;
constexpr uint32_t kLimitedSlot = 3;
constexpr uint64_t kEightMbit = 8'000'000;  // 1000 bytes per millisecond

class PodShaperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pool_available_at_start_ = rte_mempool_avail_count(TestMempool());
    snapshot_->generation = 1;
    snapshot_->class_of_namespace[kNamespace] = 2;
    snapshot_->pod_egress_bps[kLimitedSlot] = kEightMbit;
    shaper_.ApplyPolicy(*snapshot_, kStartTsc);
  }
  void TearDown() override {
    shaper_.DiscardAll();
    EXPECT_EQ(rte_mempool_avail_count(TestMempool()), pool_available_at_start_) << "mbuf leak";
  }

  // Offers `count` frames from `slot`; returns how many went on at once (freed here).
  uint16_t Admit(uint32_t slot, uint16_t count, uint64_t now_tsc = kStartTsc) {
    std::vector<rte_mbuf*> packets(count);
    std::vector<uint8_t> class_ids(count, 2);
    std::vector<uint32_t> pod_values(count, PodTableValue(kNamespace, slot));
    for (rte_mbuf*& packet : packets) packet = MakeMbuf(kFrame);
    const uint16_t kept =
        shaper_.AdmitBurst(packets.data(), class_ids.data(), pod_values.data(), count, now_tsc);
    for (uint16_t i = 0; i < kept; ++i) {
      EXPECT_EQ(SlotOfPodValue(pod_values[i]), slot);
      rte_pktmbuf_free(packets[i]);
    }
    return kept;
  }
  // Releases what the buckets allow at `now_tsc` (freed here); returns how many.
  uint16_t Release(uint64_t now_tsc, uint16_t max_count = 256) {
    rte_mbuf* packets[256];
    uint8_t class_ids[256];
    uint32_t pod_values[256];
    const uint16_t released =
        shaper_.ReleaseBurst(*snapshot_, packets, class_ids, pod_values, max_count, now_tsc);
    for (uint16_t i = 0; i < released; ++i) {
      EXPECT_EQ(class_ids[i], 2);  // the namespace's class under the current snapshot
      rte_pktmbuf_free(packets[i]);
    }
    return released;
  }
  uint32_t BucketFrames() const {  // what a full bucket lets through at once
    return static_cast<uint32_t>(std::max<uint64_t>(kEightMbit / 8 / 100, 2 * (9216 + 24)) /
                                 kFrame);
  }

  std::unique_ptr<WorkerCounters> counters_ = std::make_unique<WorkerCounters>();
  std::unique_ptr<PolicySnapshot> snapshot_ = std::make_unique<PolicySnapshot>();
  PodShaper shaper_{kTscHz, counters_.get()};
  unsigned pool_available_at_start_ = 0;
};

TEST_F(PodShaperTest, PodsWithoutALimitPassUntouched) {
  EXPECT_EQ(Admit(0, 64), 64);
  EXPECT_EQ(Admit(kLimitedSlot + 1, 64), 64);
  EXPECT_EQ(shaper_.Backlog(), 0u);
}

TEST_F(PodShaperTest, ALimitedPodPassesItsBucketAndQueuesTheRest) {
  EXPECT_EQ(Admit(kLimitedSlot, 30), BucketFrames());
  EXPECT_EQ(shaper_.Backlog(), 30 - BucketFrames());
  EXPECT_EQ(counters_->pod_shaper_delayed.Load(), 30 - BucketFrames());
}

TEST_F(PodShaperTest, QueuedFramesLeaveAtThePodsRate) {
  Admit(kLimitedSlot, 30);
  EXPECT_EQ(Release(kStartTsc), 0);
  EXPECT_EQ(Release(kStartTsc + 5 * kMillisecond), 5);  // 1000 bytes per millisecond
  EXPECT_EQ(Release(kStartTsc + 5 * kMillisecond), 0);
}

TEST_F(PodShaperTest, NothingOvertakesQueuedFramesOfTheSamePod) {
  Admit(kLimitedSlot, 30);
  // Tokens are back, but frames are waiting: a new frame queues behind them.
  EXPECT_EQ(Admit(kLimitedSlot, 1, kStartTsc + 3 * kMillisecond), 0);
}

TEST_F(PodShaperTest, AFullPodQueueDropsAndCounts) {
  // 25 ms at 8 Mbit/s is 25 000 bytes: 25 frames wait, the rest is dropped.
  Admit(kLimitedSlot, 100);
  const uint32_t queued = 25;
  EXPECT_EQ(shaper_.Backlog(), queued);
  EXPECT_EQ(counters_->pod_shaper_drops.Load(), 100 - BucketFrames() - queued);
}

TEST_F(PodShaperTest, ALiftedLimitReleasesTheBacklogAtOnce) {
  Admit(kLimitedSlot, 30);
  snapshot_->generation = 2;
  snapshot_->pod_egress_bps[kLimitedSlot] = 0;
  shaper_.ApplyPolicy(*snapshot_, kStartTsc);
  EXPECT_EQ(Release(kStartTsc), 30 - BucketFrames());
  EXPECT_EQ(shaper_.Backlog(), 0u);
}

TEST_F(PodShaperTest, APolicyOfTheSameGenerationIsNotReapplied) {
  snapshot_->pod_egress_bps[kLimitedSlot] = 0;  // same generation: not picked up
  shaper_.ApplyPolicy(*snapshot_, kStartTsc);
  EXPECT_EQ(Admit(kLimitedSlot, 30), BucketFrames());
}

TEST_F(PodShaperTest, PodsTakeTurnsWhenReleasesAreScarce) {
  snapshot_->generation = 2;
  snapshot_->pod_egress_bps[kLimitedSlot + 1] = kEightMbit;
  shaper_.ApplyPolicy(*snapshot_, kStartTsc);
  Admit(kLimitedSlot, 30);
  Admit(kLimitedSlot + 1, 30);
  const uint64_t later = kStartTsc + 10 * kMillisecond;
  // One frame per call: the second call must serve the other pod.
  rte_mbuf* packet[1];
  uint8_t class_id[1];
  uint32_t values[2];
  ASSERT_EQ(shaper_.ReleaseBurst(*snapshot_, packet, class_id, &values[0], 1, later), 1);
  rte_pktmbuf_free(packet[0]);
  ASSERT_EQ(shaper_.ReleaseBurst(*snapshot_, packet, class_id, &values[1], 1, later), 1);
  rte_pktmbuf_free(packet[0]);
  EXPECT_NE(SlotOfPodValue(values[0]), SlotOfPodValue(values[1]));
}

}  // namespace
}  // namespace dg
