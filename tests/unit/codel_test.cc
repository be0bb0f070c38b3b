// CoDel against RFC 8289's behaviour, with an injected clock in microseconds.
#include "gateway/codel.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace dg {
namespace {

constexpr uint64_t kTarget = 500;      // µs
constexpr uint64_t kInterval = 10000;  // µs
constexpr uint64_t kLongSojourn = 2 * kTarget;
constexpr uint64_t kShortSojourn = kTarget / 2;
constexpr uint64_t kDeepBacklog = 100 * 1538;

CodelParams Params() {
  CodelParams params;
  params.target = kTarget;
  params.interval = kInterval;
  return params;
}

class CodelTest : public ::testing::Test {
 protected:
  CodelVerdict Dequeue(uint64_t now, uint64_t sojourn, bool ecn_capable = false,
                       uint64_t backlog = kDeepBacklog) {
    return codel_.OnDequeue(now, sojourn, backlog, params_, [&] {
      ++mark_attempts_;
      return ecn_capable;
    });
  }

  // Dequeues one packet per `step` from `from` up to (excluding) `until`, all above target;
  // returns the times of the congestion signals (drops or marks).
  std::vector<uint64_t> SignalTimes(uint64_t from, uint64_t until, uint64_t step = 1,
                                    bool ecn_capable = false) {
    std::vector<uint64_t> times;
    for (uint64_t now = from; now < until; now += step) {
      if (Dequeue(now, kLongSojourn, ecn_capable) != CodelVerdict::kForward) times.push_back(now);
    }
    return times;
  }

  CodelParams params_ = Params();
  CodelQueueState codel_;
  int mark_attempts_ = 0;
};

TEST_F(CodelTest, FirstDropComesOneIntervalAfterTheDelayRoseAboveTarget) {
  const std::vector<uint64_t> signals = SignalTimes(1000, 1000 + kInterval + 1);
  ASSERT_EQ(signals.size(), 1u);
  EXPECT_EQ(signals[0], 1000 + kInterval);
  EXPECT_TRUE(codel_.dropping());
}

TEST_F(CodelTest, NeverDropsWhileTheDelayStaysBelowTarget) {
  for (uint64_t now = 1; now < 10 * kInterval; now += 7) {
    ASSERT_EQ(Dequeue(now, kTarget - 1), CodelVerdict::kForward) << "at " << now;
  }
  EXPECT_EQ(mark_attempts_, 0);
}

TEST_F(CodelTest, SendsThePacketAfterTheDropThatEntersTheDroppingState) {
  SignalTimes(1, 1 + kInterval);
  ASSERT_EQ(Dequeue(1 + kInterval, kLongSojourn), CodelVerdict::kDrop);
  // Still far above target, yet RFC 8289's dequeue() returns the next packet after the drop.
  EXPECT_EQ(Dequeue(1 + kInterval, 50 * kTarget), CodelVerdict::kForward);
}

TEST_F(CodelTest, DropsAreSpacedByIntervalOverTheSquareRootOfTheCount) {
  const std::vector<uint64_t> signals = SignalTimes(1, 1 + 5 * kInterval);
  ASSERT_GE(signals.size(), 6u);
  for (size_t i = 1; i < 6; ++i) {
    // The drop at signals[i - 1] was the i-th of this dropping state, so the next is due
    // interval / sqrt(i) later (the clock advances by one, hence at most one late).
    const auto spacing = static_cast<uint64_t>(kInterval / std::sqrt(static_cast<double>(i)));
    EXPECT_NEAR(static_cast<double>(signals[i] - signals[i - 1]), static_cast<double>(spacing), 1.0)
        << "gap after drop " << i;
  }
  EXPECT_EQ(codel_.count(), signals.size());
}

TEST_F(CodelTest, LeavesTheDroppingStateOnThePacketBelowTarget) {
  SignalTimes(1, 1 + 2 * kInterval);
  ASSERT_TRUE(codel_.dropping());
  EXPECT_EQ(Dequeue(1 + 2 * kInterval, kShortSojourn), CodelVerdict::kForward);
  EXPECT_FALSE(codel_.dropping());
}

TEST_F(CodelTest, AfterLeavingItTakesAFullIntervalAboveTargetAgain) {
  SignalTimes(1, 1 + 2 * kInterval);
  const uint64_t below = 1 + 2 * kInterval;
  Dequeue(below, kShortSojourn);
  const std::vector<uint64_t> signals = SignalTimes(below + 1, below + 1 + kInterval + 1);
  ASSERT_EQ(signals.size(), 1u);
  EXPECT_EQ(signals[0], below + 1 + kInterval);
}

TEST_F(CodelTest, ReentrySoonAfterLeavingResumesTheDropRate) {
  // Drops at 1+I (count 1), then I, I/sqrt2, I/sqrt3 apart: count 4 by 1 + 3.27 I.
  SignalTimes(1, 1 + 3 * kInterval + 3000);
  ASSERT_EQ(codel_.count(), 4u);
  const uint64_t below = 1 + 3 * kInterval + 3000;
  Dequeue(below, kShortSojourn);
  SignalTimes(below + 1, below + 1 + kInterval + 1);
  // RFC 8289: count - lastcount = 4 - 1 = 3 drops in the last dropping state, and
  // drop_next is within 16 intervals: start again at 3, not 1.
  EXPECT_EQ(codel_.count(), 3u);
}

TEST_F(CodelTest, ReentryLongAfterLeavingStartsOverAtOneDrop) {
  SignalTimes(1, 1 + 3 * kInterval + 3000);
  ASSERT_EQ(codel_.count(), 4u);
  const uint64_t later = 1 + 20 * kInterval;
  Dequeue(later, kShortSojourn);
  SignalTimes(later + 1, later + 1 + kInterval + 1);
  EXPECT_EQ(codel_.count(), 1u);
}

TEST_F(CodelTest, EcnCapablePacketsAreMarkedInsteadOfDropped) {
  const std::vector<uint64_t> signals = SignalTimes(1, 1 + 3 * kInterval, 1, true);
  ASSERT_GE(signals.size(), 3u);
  EXPECT_EQ(signals[0], 1 + kInterval);
  // A mark sends the packet, so the control law spaces marks like drops.
  EXPECT_NEAR(static_cast<double>(signals[1] - signals[0]), static_cast<double>(kInterval), 1.0);
  EXPECT_EQ(mark_attempts_, static_cast<int>(signals.size()));
}

TEST_F(CodelTest, TheMarkedPacketIsSentNotDropped) {
  SignalTimes(1, 1 + kInterval, 1, true);
  EXPECT_EQ(Dequeue(1 + kInterval, kLongSojourn, true), CodelVerdict::kMarked);
}

TEST_F(CodelTest, PacketsThatCannotBeMarkedAreDropped) {
  SignalTimes(1, 1 + kInterval, 1, true);
  EXPECT_EQ(Dequeue(1 + kInterval, kLongSojourn, false), CodelVerdict::kDrop);
  EXPECT_EQ(mark_attempts_, 1);
}

TEST_F(CodelTest, ABacklogOfOneFullSizeFrameIsNeverDropped) {
  for (uint64_t now = 1; now < 5 * kInterval; now += 10) {
    ASSERT_EQ(Dequeue(now, 100 * kTarget, false, params_.max_packet_bytes), CodelVerdict::kForward);
  }
}

TEST_F(CodelTest, AnEmptyQueueEndsTheDroppingState) {
  SignalTimes(1, 1 + 2 * kInterval);
  ASSERT_TRUE(codel_.dropping());
  codel_.OnQueueEmpty();
  EXPECT_FALSE(codel_.dropping());
  const std::vector<uint64_t> signals = SignalTimes(2 * kInterval + 5, 3 * kInterval + 6);
  ASSERT_EQ(signals.size(), 1u);
  EXPECT_EQ(signals[0], 3 * kInterval + 5);
}

}  // namespace
}  // namespace dg
