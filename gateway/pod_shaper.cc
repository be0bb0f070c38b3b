#include "gateway/pod_shaper.h"

#include <rte_mbuf.h>

#include <algorithm>

#include "gateway/scheduler.h"

namespace dg {
namespace {

// At least what the shaper's bucket admits at once, so one jumbo frame always fits.
uint64_t QueueByteLimit(uint64_t rate_bps) {
  return std::max<uint64_t>(rate_bps / 8 * PodShaper::kQueueLatencyMicros / 1'000'000,
                            DerivedBurstBytes(0));
}

// Tokens a pod may save up: kBucketMicros at its rate, at least two jumbo frames. A
// userspace worker that loses its core for a few milliseconds would otherwise lose the
// tokens of that gap for good, and the pod would fall short of its limit.
uint64_t BucketBytes(uint64_t rate_bps) {
  return std::max<uint64_t>(rate_bps / 8 * PodShaper::kBucketMicros / 1'000'000,
                            DerivedBurstBytes(0));
}

}  // namespace

static_assert((PodShaper::kQueuePackets & (PodShaper::kQueuePackets - 1)) == 0);
static_assert(kPodSlotCount <= UINT16_MAX);

PodShaper::PodShaper(uint64_t tsc_hz, WorkerCounters* counters)
    : tsc_hz_(tsc_hz),
      counters_(counters),
      queues_(std::make_unique<PodQueue[]>(kPodSlotCount)),
      entries_(std::make_unique<Entry[]>(static_cast<size_t>(kPodSlotCount) * kQueuePackets)),
      active_slots_(std::make_unique<uint16_t[]>(kPodSlotCount)) {}

void PodShaper::ApplyPolicy(const PolicySnapshot& snapshot, uint64_t now_tsc) {
  if (snapshot.generation == applied_generation_) return;
  applied_generation_ = snapshot.generation;
  for (uint32_t slot = 1; slot < kPodSlotCount; ++slot) {
    const uint64_t rate = snapshot.pod_egress_bps[slot];
    PodQueue& queue = queues_[slot];
    if (rate == queue.applied_bps) continue;
    queue.applied_bps = rate;
    queue.byte_limit = QueueByteLimit(rate);
    // A rate of 0 makes the bucket unlimited: what is queued leaves with the next release.
    queue.bucket.Configure(rate, BucketBytes(rate), tsc_hz_, now_tsc);
  }
}

uint16_t PodShaper::AdmitBurst(rte_mbuf** packets, uint8_t* class_ids, uint32_t* pod_values,
                               uint16_t count, uint64_t now_tsc) {
  rte_mbuf* dropped[256];
  uint16_t dropped_count = 0;
  uint16_t kept = 0;
  for (uint16_t i = 0; i < count; ++i) {
    const uint32_t slot = SlotOfPodValue(pod_values[i]);
    PodQueue& queue = queues_[slot];
    const uint32_t bytes = rte_pktmbuf_pkt_len(packets[i]);
    if (slot != 0 && !queue.bucket.unlimited()) {
      queue.bucket.Refill(now_tsc);
      const bool nothing_ahead = queue.head == queue.tail;
      if (!nothing_ahead || !queue.bucket.CanSend(bytes)) {
        if (queue.tail - queue.head == kQueuePackets ||
            queue.queued_bytes + bytes > queue.byte_limit) {
          counters_->pod_shaper_drops.Increment();
          dropped[dropped_count++] = packets[i];
          if (dropped_count == 256) {
            rte_pktmbuf_free_bulk(dropped, dropped_count);
            dropped_count = 0;
          }
          continue;
        }
        entries_[static_cast<size_t>(slot) * kQueuePackets + queue.tail % kQueuePackets] =
            Entry{packets[i], pod_values[i], bytes};
        ++queue.tail;
        queue.queued_bytes += bytes;
        ++backlog_packets_;
        counters_->pod_shaper_delayed.Increment();
        if (nothing_ahead) active_slots_[active_count_++] = static_cast<uint16_t>(slot);
        continue;
      }
      queue.bucket.Consume(bytes);
    }
    packets[kept] = packets[i];
    class_ids[kept] = class_ids[i];
    pod_values[kept] = pod_values[i];
    ++kept;
  }
  if (dropped_count != 0) rte_pktmbuf_free_bulk(dropped, dropped_count);
  return kept;
}

void PodShaper::Deactivate(uint32_t active_index) {
  active_slots_[active_index] = active_slots_[--active_count_];
}

uint16_t PodShaper::ReleaseBurst(const PolicySnapshot& policy, rte_mbuf** packets,
                                 uint8_t* class_ids, uint32_t* pod_values, uint16_t max_count,
                                 uint64_t now_tsc) {
  uint16_t count = 0;
  // Each call starts with the next pod, so a busy pod early in the list cannot take every
  // release.
  const uint32_t to_visit = active_count_;
  uint32_t visited = 0;
  uint32_t index = active_count_ == 0 ? 0 : next_turn_ % active_count_;
  while (visited < to_visit && active_count_ != 0 && count < max_count) {
    const uint32_t slot = active_slots_[index];
    PodQueue& queue = queues_[slot];
    queue.bucket.Refill(now_tsc);
    while (queue.head != queue.tail && count < max_count) {
      const Entry& head =
          entries_[static_cast<size_t>(slot) * kQueuePackets + queue.head % kQueuePackets];
      if (!queue.bucket.CanSend(head.bytes)) break;
      queue.bucket.Consume(head.bytes);
      queue.queued_bytes -= head.bytes;
      packets[count] = head.mbuf;
      pod_values[count] = head.pod_value;
      class_ids[count] = policy.ClassOf(head.pod_value);
      ++count;
      ++queue.head;
      --backlog_packets_;
    }
    ++visited;
    if (queue.head == queue.tail) {
      Deactivate(index);  // the last active slot moves here: visit it next
      if (index >= active_count_) index = 0;
    } else {
      index = active_count_ == 0 ? 0 : (index + 1) % active_count_;
    }
  }
  next_turn_ = index;
  return count;
}

uint32_t PodShaper::DiscardAll() {
  const uint32_t discarded = backlog_packets_;
  for (uint32_t a = 0; a < active_count_; ++a) {
    PodQueue& queue = queues_[active_slots_[a]];
    for (; queue.head != queue.tail; ++queue.head) {
      rte_pktmbuf_free(entries_[static_cast<size_t>(active_slots_[a]) * kQueuePackets +
                                queue.head % kQueuePackets]
                           .mbuf);
    }
    queue.queued_bytes = 0;
  }
  active_count_ = 0;
  backlog_packets_ = 0;
  return discarded;
}

}  // namespace dg
