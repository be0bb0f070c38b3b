// Shared by the scheduler_test sources: an injected 1 GHz clock, config builders and a fixture
// owning one scheduler over the test mempool.
#pragma once

#include <gtest/gtest.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <memory>
#include <string>
#include <vector>

#include "gateway/counters.h"
#include "gateway/policy_snapshot.h"
#include "gateway/scheduler.h"
#include "gateway/token_bucket.h"
#include "tests/unit/eal_environment.h"

namespace dg::scheduler_test {

using testing::MakeMbuf;
using testing::TestMempool;

// Time is injected: at 1 GHz one TSC cycle is one nanosecond.
inline constexpr uint64_t kTscHz = 1'000'000'000;
inline constexpr uint64_t kMicrosecond = 1'000;
inline constexpr uint64_t kMillisecond = 1'000'000;
inline constexpr uint64_t kStartTsc = 5'000'000'000;  // arbitrary, not zero
inline constexpr uint32_t kOverhead = 24;
inline constexpr uint32_t kFullFrame = 1500;
inline constexpr uint32_t kFullFrameWire = kFullFrame + kOverhead;  // 1524
// 1 000 000 bytes per second: one byte per microsecond.
inline constexpr uint64_t kEightMbit = 8'000'000;

inline SchedulerConfig Config(uint32_t queue_depth, uint64_t port_rate_bps,
                              uint64_t port_burst_bytes) {
  SchedulerConfig config;
  config.queue_depth = queue_depth;
  config.port_rate_bps = port_rate_bps;
  config.port_burst_bytes = port_burst_bytes;
  config.framing_overhead_bytes = kOverhead;
  config.tsc_hz = kTscHz;
  return config;
}

inline PolicySnapshot Snapshot(uint64_t generation, uint32_t class_id, uint64_t ceiling_bps) {
  PolicySnapshot snapshot;
  snapshot.generation = generation;
  snapshot.class_ceiling_bps[class_id] = ceiling_bps;
  return snapshot;
}

inline void FreeAll(const std::vector<rte_mbuf*>& mbufs) {
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

}  // namespace dg::scheduler_test
