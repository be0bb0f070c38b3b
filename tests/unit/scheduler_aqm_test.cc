// The scheduler's queue management: CoDel on the dequeue path (drops, CE marks on the
// header the DSCP rewrite marks) and the per-class byte limit.
#include "tests/unit/frame_builder.h"
#include "tests/unit/scheduler_test_fixture.h"

namespace dg::scheduler_test {
namespace {

using testing::BuildFrame;
using testing::FrameSpec;
using testing::FullIpv4Checksum;
using testing::Overlay;

constexpr uint8_t kClass = 2;
constexpr uint8_t kEct0 = 0x02;
constexpr uint8_t kCe = 0x03;
// Defaults (control/queue_settings.h) on the fixture's 1 GHz clock.
constexpr uint64_t kInterval = 10 * kMillisecond;

PolicySnapshot SnapshotWithQueue(uint32_t class_id, const ClassQueueSettings& settings) {
  PolicySnapshot snapshot;
  snapshot.generation = 7;
  snapshot.class_queue[class_id] = settings;
  return snapshot;
}

// CoDel as RFC 8289 has it: a signal CE cannot carry is a drop.
ClassQueueSettings DroppingNonEct() {
  ClassQueueSettings settings;
  settings.codel = true;
  settings.ecn = true;
  settings.drop_non_ect = true;
  return settings;
}

class SchedulerAqmTest : public SchedulerTest {
 protected:
  // Queues `count` copies of `frame` at `now`.
  std::vector<rte_mbuf*> EnqueueFrames(const std::vector<uint8_t>& frame, uint16_t count,
                                       uint64_t now = kStartTsc) {
    std::vector<rte_mbuf*> mbufs;
    for (uint16_t i = 0; i < count; ++i) mbufs.push_back(testing::MakeMbuf(frame));
    const std::vector<uint8_t> class_ids(count, kClass);
    const std::vector<uint32_t> namespace_ids(count, 1);
    queued_ =
        scheduler_->EnqueueBurst(mbufs.data(), class_ids.data(), namespace_ids.data(), count, now);
    return mbufs;
  }

  // Dequeues one frame at a time from `from` on, one per `step`, until the queue is empty;
  // returns what left, in order (the caller frees it).
  std::vector<rte_mbuf*> DrainOneAtATime(uint64_t from, uint64_t step) {
    std::vector<rte_mbuf*> sent;
    for (uint64_t now = from; scheduler_->Depth(kClass) != 0; now += step) {
      for (rte_mbuf* mbuf : Dequeue(1, now)) sent.push_back(mbuf);
    }
    return sent;
  }

  const ClassCounters& Counters() const { return counters_->classes[kClass]; }

  void ApplyQueueSettings(const ClassQueueSettings& settings) {
    scheduler_->ApplyPolicy(SnapshotWithQueue(kClass, settings), kStartTsc);
  }

  // A queue of 16 frames whose head has waited above target for a whole interval: the
  // dequeue at the returned time is CoDel's first signal.
  uint64_t QueueAboveTargetForAnInterval(const std::vector<uint8_t>& frame) {
    EnqueueFrames(frame, 16);
    FreeAll(Dequeue(1, kStartTsc + kMillisecond));
    FreeAll(Dequeue(1, kStartTsc + kMillisecond + 1));
    return kStartTsc + kMillisecond + kInterval;
  }
};

std::vector<uint8_t> FullSizeFrame(uint8_t tos, Overlay overlay = Overlay::kNone) {
  FrameSpec spec;
  spec.tos = tos;
  spec.overlay = overlay;
  if (overlay == Overlay::kVxlan) spec.udp_destination_port = 4789;
  spec.payload_bytes = 1400;
  return BuildFrame(spec);
}

const uint8_t* Ipv4Header(const rte_mbuf* mbuf) {
  return rte_pktmbuf_mtod(mbuf, const uint8_t*) + 14;
}

TEST_F(SchedulerAqmTest, AStandingQueueLosesItsHeadOnceItWaitedAnIntervalAboveTarget) {
  MakeScheduler(Config(64, 0, 0));
  ApplyQueueSettings(DroppingNonEct());
  EnqueueFrames(FullSizeFrame(0), 32);
  ASSERT_EQ(queued_, 32);
  FreeAll(Dequeue(1, kStartTsc + kMillisecond));  // above target: the interval starts
  FreeAll(Dequeue(1, kStartTsc + kMillisecond + kInterval - 1));
  EXPECT_EQ(Counters().aqm_drops.Load(), 0u);

  const std::vector<rte_mbuf*> out = Dequeue(1, kStartTsc + kMillisecond + kInterval);

  EXPECT_EQ(Counters().aqm_drops.Load(), 1u);
  EXPECT_EQ(out.size(), 1u) << "the frame after the dropped head is sent";
  EXPECT_EQ(scheduler_->Depth(kClass), 32u - 4u);
  FreeAll(out);
}

TEST_F(SchedulerAqmTest, AStandingQueueBelowTargetIsNeverDropped) {
  MakeScheduler(Config(64, 0, 0));
  ApplyQueueSettings(DroppingNonEct());
  // Four frames 100 µs apart stay queued: each leaves after 400 µs, for five intervals.
  const uint64_t step = 100 * kMicrosecond;
  for (uint64_t i = 0; i < 4; ++i) EnqueueFrames(FullSizeFrame(0), 1, kStartTsc + i * step);
  uint64_t now = kStartTsc + 4 * step;
  for (; now < kStartTsc + 5 * kInterval; now += step) {
    EnqueueFrames(FullSizeFrame(0), 1, now);
    FreeAll(Dequeue(1, now));
  }
  EXPECT_EQ(Counters().aqm_drops.Load(), 0u);
  EXPECT_EQ(scheduler_->Depth(kClass), 4u);
}

TEST_F(SchedulerAqmTest, EcnCapableHeadIsMarkedCongestionExperiencedAndSent) {
  MakeScheduler(Config(64, 0, 0));
  EnqueueFrames(FullSizeFrame((46 << 2) | kEct0), 16);
  FreeAll(Dequeue(1, kStartTsc + kMillisecond));
  FreeAll(Dequeue(1, kStartTsc + kMillisecond + 1));

  const std::vector<rte_mbuf*> out = Dequeue(1, kStartTsc + kMillisecond + kInterval);

  ASSERT_EQ(out.size(), 1u);
  const uint8_t* ip = Ipv4Header(out[0]);
  EXPECT_EQ(ip[1], (46 << 2) | kCe) << "CE set, DSCP kept";
  EXPECT_EQ(static_cast<uint16_t>((ip[10] << 8) | ip[11]), FullIpv4Checksum(ip, 20));
  EXPECT_EQ(Counters().ecn_marks.Load(), 1u);
  EXPECT_EQ(Counters().aqm_drops.Load(), 0u);
  FreeAll(out);
}

TEST_F(SchedulerAqmTest, OverlayFramesAreMarkedOnTheOuterHeaderTheDscpRewriteMarks) {
  MakeScheduler(Config(64, 0, 0));
  const std::vector<uint8_t> frame = FullSizeFrame(kEct0, Overlay::kVxlan);
  EnqueueFrames(frame, 16);
  FreeAll(Dequeue(1, kStartTsc + kMillisecond));
  FreeAll(Dequeue(1, kStartTsc + kMillisecond + 1));

  const std::vector<rte_mbuf*> out = Dequeue(1, kStartTsc + kMillisecond + kInterval);

  ASSERT_EQ(out.size(), 1u);
  const uint8_t* data = rte_pktmbuf_mtod(out[0], const uint8_t*);
  EXPECT_EQ(data[14 + 1], kCe);
  // Everything after the outer IPv4 header (UDP, VXLAN, the inner frame) is untouched.
  EXPECT_TRUE(std::equal(frame.begin() + 34, frame.end(), data + 34));
  FreeAll(out);
}

TEST_F(SchedulerAqmTest, NotEcnCapableHeadIsDroppedWhenDropNonEctIsOn) {
  MakeScheduler(Config(64, 0, 0));
  ApplyQueueSettings(DroppingNonEct());
  const uint64_t signal_time = QueueAboveTargetForAnInterval(FullSizeFrame(46 << 2));

  FreeAll(Dequeue(1, signal_time));

  EXPECT_EQ(Counters().aqm_drops.Load(), 1u);
  EXPECT_EQ(Counters().ecn_marks.Load(), 0u);
}

TEST_F(SchedulerAqmTest, ByDefaultANotEcnCapableHeadIsSentUnchangedWhereCodelWouldDropIt) {
  MakeScheduler(Config(64, 0, 0));
  ApplyQueueSettings(ClassQueueSettings{});
  const std::vector<uint8_t> frame = FullSizeFrame(46 << 2);
  const uint64_t signal_time = QueueAboveTargetForAnInterval(frame);

  const std::vector<rte_mbuf*> out = Dequeue(1, signal_time);

  EXPECT_EQ(Counters().aqm_drops.Load(), 0u);
  EXPECT_EQ(Counters().ecn_marks.Load(), 0u);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(scheduler_->Depth(kClass), 16u - 3u) << "the head itself left, nothing was dropped";
  EXPECT_TRUE(std::equal(frame.begin(), frame.end(), rte_pktmbuf_mtod(out[0], const uint8_t*)));
  FreeAll(out);
}

TEST_F(SchedulerAqmTest, ByDefaultAnEcnCapableHeadIsStillMarked) {
  MakeScheduler(Config(64, 0, 0));
  ApplyQueueSettings(ClassQueueSettings{});
  const uint64_t signal_time = QueueAboveTargetForAnInterval(FullSizeFrame(kEct0));

  const std::vector<rte_mbuf*> out = Dequeue(1, signal_time);

  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(Ipv4Header(out[0])[1], kCe);
  EXPECT_EQ(Counters().ecn_marks.Load(), 1u);
  EXPECT_EQ(Counters().aqm_drops.Load(), 0u);
  FreeAll(out);
}

TEST_F(SchedulerAqmTest, EcnOffDropsEcnCapableFramesToo) {
  MakeScheduler(Config(64, 0, 0));
  ClassQueueSettings settings;
  settings.ecn = false;
  settings.drop_non_ect = false;  // with ECN off every signal is a drop regardless
  scheduler_->ApplyPolicy(SnapshotWithQueue(kClass, settings), kStartTsc);
  const std::vector<uint8_t> frame = FullSizeFrame(kEct0);
  EnqueueFrames(frame, 16);
  FreeAll(Dequeue(1, kStartTsc + kMillisecond));
  FreeAll(Dequeue(1, kStartTsc + kMillisecond + 1));

  const std::vector<rte_mbuf*> out = Dequeue(1, kStartTsc + kMillisecond + kInterval);

  EXPECT_EQ(Counters().aqm_drops.Load(), 1u);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(Ipv4Header(out[0])[1], kEct0) << "the frame sent after the drop is not marked";
  FreeAll(out);
}

TEST_F(SchedulerAqmTest, CodelOffNeverDrops) {
  MakeScheduler(Config(64, 0, 0));
  ClassQueueSettings settings;
  settings.codel = false;
  scheduler_->ApplyPolicy(SnapshotWithQueue(kClass, settings), kStartTsc);
  EnqueueFrames(FullSizeFrame(0), 64);

  FreeAll(DrainOneAtATime(kStartTsc + kMillisecond, kMillisecond));

  EXPECT_EQ(Counters().aqm_drops.Load(), 0u);
  EXPECT_EQ(Counters().packets.Load(), 64u);
}

TEST_F(SchedulerAqmTest, LosslessSchedulerNeverDropsNorLimitsBytes) {
  SchedulerConfig config = Config(64, 0, 0);
  config.lossless = true;
  MakeScheduler(config);
  ClassQueueSettings settings;
  settings.limit_bytes = 2 * kFullFrameWire;
  scheduler_->ApplyPolicy(SnapshotWithQueue(kClass, settings), kStartTsc);
  EnqueueFrames(FullSizeFrame(0), 64);
  ASSERT_EQ(queued_, 64);

  FreeAll(DrainOneAtATime(kStartTsc + kMillisecond, kMillisecond));

  EXPECT_EQ(Counters().aqm_drops.Load(), 0u);
  EXPECT_EQ(Counters().packets.Load(), 64u);
}

TEST_F(SchedulerAqmTest, ByteLimitTailDropsFramesThatWouldExceedIt) {
  MakeScheduler(Config(64, 0, 0));
  const std::vector<uint8_t> frame = FullSizeFrame(0);
  const uint32_t wire = WireBytes(static_cast<uint32_t>(frame.size()), kOverhead);
  ClassQueueSettings settings;
  settings.limit_bytes = 3 * wire + wire / 2;
  scheduler_->ApplyPolicy(SnapshotWithQueue(kClass, settings), kStartTsc);

  const std::vector<rte_mbuf*> offered = EnqueueFrames(frame, 5);

  EXPECT_EQ(queued_, 3);
  EXPECT_EQ(scheduler_->QueuedBytes(kClass), 3u * wire);
  EXPECT_EQ(Counters().drops.Load(), 2u);
  EXPECT_EQ(counters_->namespace_drops[1].Load(), 2u);
  const std::vector<rte_mbuf*> out = Dequeue(32, kStartTsc);
  EXPECT_EQ(out, (std::vector<rte_mbuf*>{offered[0], offered[1], offered[2]}));
  EXPECT_EQ(scheduler_->QueuedBytes(kClass), 0u);
  FreeAll(out);
}

TEST_F(SchedulerAqmTest, AnEmptyQueueTakesAFrameLargerThanItsByteLimit) {
  MakeScheduler(Config(64, 0, 0));
  ClassQueueSettings settings;
  settings.limit_bytes = 1000;
  scheduler_->ApplyPolicy(SnapshotWithQueue(kClass, settings), kStartTsc);

  EnqueueFrames(FullSizeFrame(0), 2);

  EXPECT_EQ(queued_, 1);
  FreeAll(Dequeue(32, kStartTsc));
}

}  // namespace
}  // namespace dg::scheduler_test
