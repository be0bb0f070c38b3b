// Floors (classes[].minRate): served before strict priority, so a class with a floor never
// starves; the rest goes by strict priority; maxRate stays a ceiling. Shares are measured
// over simulated seconds on the injected clock.
#include <array>
#include <bit>
#include <bitset>
#include <cmath>

#include "tests/unit/scheduler_test_fixture.h"

namespace dg::scheduler_test {
namespace {

constexpr uint32_t kClasses = 4;
constexpr uint64_t kPortRate = kEightMbit;  // 1 000 000 bytes per second
constexpr uint64_t kStep = kMillisecond;
constexpr uint64_t kWarmUpSteps = 500;  // the initial bursts of every bucket are spent by then
constexpr uint64_t kMeasuredSteps = 4000;
constexpr uint32_t kKeepQueued = 8;  // frames topped up per backlogged class every step

// Class 1 and class 3 have floors of 10% and 20% of the port; 0 and 2 have none.
constexpr std::array<double, kClasses> kFloorShare = {0.0, 0.1, 0.0, 0.2};

class SchedulerFloorTest : public SchedulerTest {
 protected:
  void SetUp() override {
    SchedulerTest::SetUp();
    MakeScheduler(Config(64, kPortRate, 0));
    for (uint32_t c = 0; c < kClasses; ++c) {
      snapshot_.class_floor_bps[c] = static_cast<uint64_t>(kFloorShare[c] * kPortRate);
    }
    snapshot_.generation = 1;
    scheduler_->ApplyPolicy(snapshot_, kStartTsc);
  }

  // Keeps the classes in `backlogged` (a bit per class) non-empty for the whole run and
  // returns each class's share of the bytes sent after the warm-up.
  std::array<double, kClasses> MeasureShares(uint32_t backlogged) {
    std::array<uint64_t, kClasses> at_warm_up{};
    for (uint64_t step = 0; step < kWarmUpSteps + kMeasuredSteps; ++step) {
      if (step == kWarmUpSteps) {
        for (uint32_t c = 0; c < kClasses; ++c) at_warm_up[c] = counters_->classes[c].bytes.Load();
      }
      for (uint32_t c = 0; c < kClasses; ++c) {
        if ((backlogged & (1u << c)) == 0) continue;
        const uint32_t depth = scheduler_->Depth(c);
        if (depth < kKeepQueued) {
          Enqueue(static_cast<uint8_t>(c), 1, kFullFrame,
                  static_cast<uint16_t>(kKeepQueued - depth), now_);
        }
      }
      now_ += kStep;
      DequeueAndFree(32, now_);
    }
    std::array<double, kClasses> shares{};
    uint64_t total = 0;
    for (uint32_t c = 0; c < kClasses; ++c)
      total += counters_->classes[c].bytes.Load() - at_warm_up[c];
    for (uint32_t c = 0; c < kClasses; ++c) {
      shares[c] = static_cast<double>(counters_->classes[c].bytes.Load() - at_warm_up[c]) /
                  static_cast<double>(total);
    }
    scheduler_->DiscardAll();
    return shares;
  }

  // Wire bytes (what the shaper and ceilings count) per second since the start, on the
  // injected clock.
  double WireBytesPerSecond(uint32_t class_id) const {
    const double frames = static_cast<double>(counters_->classes[class_id].packets.Load());
    return frames * kFullFrameWire / (static_cast<double>(now_ - kStartTsc) / kTscHz);
  }

  PolicySnapshot snapshot_;
  uint64_t now_ = kStartTsc;  // runs on across measurements: the buckets never see time go back
};

// Each backlogged class with a floor gets its floor; what is left goes to the highest
// backlogged class, by strict priority; every other class gets nothing.
std::array<double, kClasses> ExpectedShares(uint32_t backlogged) {
  std::array<double, kClasses> expected{};
  double floors = 0;
  for (uint32_t c = 0; c < kClasses; ++c) {
    if ((backlogged & (1u << c)) != 0) {
      expected[c] = kFloorShare[c];
      floors += kFloorShare[c];
    }
  }
  expected[std::countr_zero(backlogged)] += 1.0 - floors;
  return expected;
}

TEST_F(SchedulerFloorTest, SharesUnderEveryMixOfBackloggedClasses) {
  for (uint32_t backlogged = 1; backlogged < (1u << kClasses); ++backlogged) {
    const std::array<double, kClasses> shares = MeasureShares(backlogged);
    const std::array<double, kClasses> expected = ExpectedShares(backlogged);
    for (uint32_t c = 0; c < kClasses; ++c) {
      // One frame in a hundred: the frames are 1.5 KB against a 1 MB/s port.
      EXPECT_NEAR(shares[c], expected[c], 0.01)
          << "class " << c << " with backlogged classes 0b" << std::bitset<kClasses>(backlogged);
    }
  }
}

TEST_F(SchedulerFloorTest, FlooredClassAloneTakesThePortBeyondItsFloor) {
  MeasureShares(0b1000);
  EXPECT_NEAR(WireBytesPerSecond(3), kPortRate / 8, 0.01 * kPortRate / 8);
}

TEST_F(SchedulerFloorTest, CeilingStillCapsAFlooredClass) {
  snapshot_.class_ceiling_bps[3] = kPortRate * 3 / 10;
  snapshot_.generation = 2;
  scheduler_->ApplyPolicy(snapshot_, kStartTsc);
  MeasureShares(0b1000);
  EXPECT_NEAR(WireBytesPerSecond(3), 0.3 * kPortRate / 8, 0.01 * kPortRate / 8);
}

TEST_F(SchedulerFloorTest, WithoutFloorsTheLowestClassStarves) {
  snapshot_ = PolicySnapshot{};
  snapshot_.generation = 2;
  scheduler_->ApplyPolicy(snapshot_, kStartTsc);
  const std::array<double, kClasses> shares = MeasureShares(0b1001);
  EXPECT_EQ(shares[3], 0.0);
}

TEST_F(SchedulerFloorTest, FloorServesALowClassBeforeAHigherOneWithinABurst) {
  Enqueue(0, 1, kFullFrame, 4);
  Enqueue(3, 1, kFullFrame, 1);
  const std::vector<rte_mbuf*> out = Dequeue(5, kStartTsc + kMillisecond);
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(counters_->classes[3].packets.Load(), 1u);
  FreeAll(out);
}

}  // namespace
}  // namespace dg::scheduler_test
