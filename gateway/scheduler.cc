#include "gateway/scheduler.h"

#include <rte_mbuf.h>

#include <algorithm>
#include <bit>

#include "gateway/dscp_marker.h"
#include "gateway/packet_parser.h"
#include "gateway/policy_snapshot.h"

namespace dg {
namespace {

// CE goes on the outer IP header: the one the DSCP rewrite marks, and the one the fabric's
// queues and the tunnel endpoint see. A VXLAN/Geneve endpoint copies ECT from the inner
// header to the outer when it encapsulates and CE from the outer to the inner when it
// decapsulates (RFC 6040, Linux ip_tunnel_ecn_encap/INET_ECN_decapsulate), so the mark
// reaches the inner flow's receiver; an outer ECT over a Not-ECT inner is dropped there,
// which is the drop CoDel would have made. Only the packets CoDel signals are parsed again.
bool MarkCongestionExperienced(rte_mbuf* mbuf) {
  static const OverlayPorts kOverlayPorts;
  uint8_t* frame = rte_pktmbuf_mtod(mbuf, uint8_t*);
  ParsedPacket parsed;
  ParsePacket(frame, rte_pktmbuf_data_len(mbuf), rte_pktmbuf_pkt_len(mbuf), kOverlayPorts, &parsed);
  // ip_version stays 0 unless the outer IP header is complete, whatever the inner holds.
  if (parsed.ip_version == 0) return false;
  return SetIpCongestionExperienced(frame + parsed.l3_offset, parsed.ip_version);
}

constexpr uint16_t kDropBatch = 64;

}  // namespace

uint64_t DerivedBurstBytes(uint64_t rate_bps) {
  constexpr uint64_t kTwoJumboFrames = 2 * (9216 + 24);
  return std::max<uint64_t>(rate_bps / 8 / 1000, kTwoJumboFrames);
}

StrictPriorityScheduler::StrictPriorityScheduler(const SchedulerConfig& config,
                                                 WorkerCounters* counters, uint64_t now_tsc)
    : config_(config),
      counters_(counters),
      capacity_(std::bit_ceil(std::max<uint32_t>(config.queue_depth, 1))),
      mask_(capacity_ - 1) {
  for (ClassQueue& queue : queues_) queue.slots = std::make_unique<QueuedPacket[]>(capacity_);
  const uint64_t burst = config.port_burst_bytes != 0 ? config.port_burst_bytes
                                                      : DerivedBurstBytes(config.port_rate_bps);
  port_shaper_.Configure(config.port_rate_bps, burst, config.tsc_hz, now_tsc);
  for (uint32_t b = 0; b < kSojournBucketCount; ++b) {
    sojourn_bounds_cycles_[b] = kSojournBucketBoundsMicros[b] * config.tsc_hz / 1000000;
  }
  for (uint32_t c = 0; c < DG_MAX_CLASSES; ++c) ApplyQueueSettings(c, ClassQueueSettings{});
}

void StrictPriorityScheduler::ApplyQueueSettings(uint32_t class_id,
                                                 const ClassQueueSettings& settings) {
  // In kHz first: nanoseconds (< 2^32) times a TSC rate in Hz could overflow 64 bits.
  auto cycles = [this](uint64_t nanoseconds) {
    return nanoseconds * (config_.tsc_hz / 1000) / 1'000'000;
  };
  QueueManagement& management = management_[class_id];
  // Without a clock CoDel would see every packet as late.
  management.codel = settings.codel && !config_.lossless && config_.tsc_hz != 0;
  management.ecn = settings.ecn;
  management.limit_bytes = config_.lossless ? UINT64_MAX : settings.limit_bytes;
  management.codel_params.target = cycles(settings.codel_target_ns);
  management.codel_params.interval = cycles(settings.codel_interval_ns);
  management.codel_params.max_packet_bytes = WireBytes(1514, config_.framing_overhead_bytes);
}

uint16_t StrictPriorityScheduler::FreeDropped(rte_mbuf** dropped, uint16_t count) {
  if (count != 0) rte_pktmbuf_free_bulk(dropped, count);
  return 0;
}

StrictPriorityScheduler::~StrictPriorityScheduler() { DiscardAll(); }

uint32_t StrictPriorityScheduler::DiscardAll() {
  uint32_t discarded = 0;
  for (uint32_t class_id = 0; class_id < DG_MAX_CLASSES; ++class_id) {
    ClassQueue& queue = queues_[class_id];
    for (; queue.head != queue.tail; ++queue.head, ++discarded) {
      rte_pktmbuf_free(queue.slots[queue.head & mask_].mbuf);
    }
    queue.wire_bytes = 0;
    codel_[class_id].OnQueueEmpty();
    counters_->classes[class_id].depth.Set(0);
  }
  return discarded;
}

uint32_t StrictPriorityScheduler::TotalDepth() const {
  uint32_t total = 0;
  for (uint32_t c = 0; c < DG_MAX_CLASSES; ++c) total += Depth(c);
  return total;
}

void StrictPriorityScheduler::ApplyPolicy(const PolicySnapshot& snapshot, uint64_t now_tsc) {
  if (snapshot.generation == applied_generation_) return;
  applied_generation_ = snapshot.generation;
  for (uint32_t c = 0; c < DG_MAX_CLASSES; ++c) {
    const uint64_t ceiling = snapshot.class_ceiling_bps[c];
    if (ceiling == applied_ceiling_bps_[c]) continue;
    applied_ceiling_bps_[c] = ceiling;
    class_ceilings_[c].Configure(ceiling, DerivedBurstBytes(ceiling), config_.tsc_hz, now_tsc);
  }
  for (uint32_t c = 0; c < DG_MAX_CLASSES; ++c) ApplyQueueSettings(c, snapshot.class_queue[c]);
}

uint16_t StrictPriorityScheduler::EnqueueBurst(rte_mbuf* const* packets, const uint8_t* class_ids,
                                               const uint32_t* namespace_ids, uint16_t count,
                                               uint64_t now_tsc) {
  rte_mbuf* dropped[256];
  uint16_t dropped_count = 0;
  uint16_t queued = 0;
  for (uint16_t i = 0; i < count; ++i) {
    const uint32_t class_id = class_ids[i] < DG_MAX_CLASSES ? class_ids[i] : DG_MAX_CLASSES - 1;
    const uint32_t namespace_id = namespace_ids[i] % DG_MAX_NAMESPACES;
    ClassQueue& queue = queues_[class_id];
    ClassCounters& class_counters = counters_->classes[class_id];
    const uint32_t frame_length = rte_pktmbuf_pkt_len(packets[i]);
    counters_->namespace_packets[namespace_id].Increment();
    counters_->namespace_bytes[namespace_id].Add(frame_length);
    const uint32_t wire_bytes = WireBytes(frame_length, config_.framing_overhead_bytes);
    // An empty queue takes any frame, so a byte limit below a jumbo frame cannot block it.
    const bool over_byte_limit =
        queue.wire_bytes != 0 && queue.wire_bytes + wire_bytes > management_[class_id].limit_bytes;
    if (queue.tail - queue.head == capacity_ || over_byte_limit) {
      class_counters.drops.Increment();
      counters_->namespace_drops[namespace_id].Increment();
      dropped[dropped_count++] = packets[i];
      if (dropped_count == 256) {
        rte_pktmbuf_free_bulk(dropped, dropped_count);
        dropped_count = 0;
      }
      continue;
    }
    queue.slots[queue.tail & mask_] = QueuedPacket{packets[i], namespace_id, wire_bytes, now_tsc};
    queue.wire_bytes += wire_bytes;
    ++queue.tail;
    ++queued;
    const uint32_t depth = queue.tail - queue.head;
    class_counters.depth.Set(depth);
    if (depth > class_counters.peak_depth.Load()) class_counters.peak_depth.Set(depth);
  }
  if (dropped_count != 0) rte_pktmbuf_free_bulk(dropped, dropped_count);
  return queued;
}

uint16_t StrictPriorityScheduler::DequeueBurst(rte_mbuf** packets, uint16_t max_count,
                                               uint64_t now_tsc) {
  port_shaper_.Refill(now_tsc);
  uint16_t count = 0;
  bool port_exhausted = false;
  rte_mbuf* dropped[kDropBatch];
  uint16_t dropped_count = 0;
  for (uint32_t class_id = 0; class_id < DG_MAX_CLASSES && count < max_count && !port_exhausted;
       ++class_id) {
    ClassQueue& queue = queues_[class_id];
    if (queue.head == queue.tail) continue;
    TokenBucket& ceiling = class_ceilings_[class_id];
    ceiling.Refill(now_tsc);
    const QueueManagement& management = management_[class_id];
    CodelQueueState& codel = codel_[class_id];
    const uint16_t first = count;
    uint64_t sent_bytes = 0;
    uint32_t aqm_drops = 0;
    uint32_t ecn_marks = 0;
    // Sojourn times are binned locally and published once per class per burst.
    uint32_t sojourn_counts[kSojournBucketCount + 1] = {};
    uint64_t sojourn_sum = 0;
    while (queue.head != queue.tail && count < max_count) {
      const QueuedPacket head = queue.slots[queue.head & mask_];
      // The port is the shared bottleneck: when it is out of tokens nobody may send, or
      // a lower class would overtake a higher one.
      if (!port_shaper_.CanSend(head.wire_bytes)) {
        port_exhausted = true;
        break;
      }
      if (!ceiling.CanSend(head.wire_bytes)) break;  // at its ceiling: the next class may go
      const uint64_t sojourn = now_tsc > head.enqueue_tsc ? now_tsc - head.enqueue_tsc : 0;
      ++queue.head;
      queue.wire_bytes -= head.wire_bytes;
      if (management.codel) {
        const CodelVerdict verdict =
            codel.OnDequeue(now_tsc, sojourn, queue.wire_bytes, management.codel_params,
                            [&] { return management.ecn && MarkCongestionExperienced(head.mbuf); });
        if (verdict == CodelVerdict::kDrop) {
          ++aqm_drops;
          dropped[dropped_count++] = head.mbuf;
          if (dropped_count == kDropBatch) dropped_count = FreeDropped(dropped, dropped_count);
          continue;  // a dropped frame costs no tokens
        }
        if (verdict == CodelVerdict::kMarked) ++ecn_marks;
      }
      port_shaper_.Consume(head.wire_bytes);
      ceiling.Consume(head.wire_bytes);
      uint32_t bucket = 0;
      while (bucket < kSojournBucketCount && sojourn > sojourn_bounds_cycles_[bucket]) ++bucket;
      ++sojourn_counts[bucket];
      sojourn_sum += sojourn;
      sent_bytes += rte_pktmbuf_pkt_len(head.mbuf);
      packets[count++] = head.mbuf;
    }
    if (queue.head == queue.tail) codel.OnQueueEmpty();
    ClassCounters& class_counters = counters_->classes[class_id];
    if (count != first) {
      class_counters.packets.Add(count - first);
      class_counters.bytes.Add(sent_bytes);
      for (uint32_t b = 0; b <= kSojournBucketCount; ++b) {
        if (sojourn_counts[b] != 0) class_counters.sojourn_buckets[b].Add(sojourn_counts[b]);
      }
      class_counters.sojourn_cycles_sum.Add(sojourn_sum);
    }
    if (aqm_drops != 0) class_counters.aqm_drops.Add(aqm_drops);
    if (ecn_marks != 0) class_counters.ecn_marks.Add(ecn_marks);
    class_counters.depth.Set(queue.tail - queue.head);
    if (!ceiling.unlimited()) class_counters.ceiling_tokens_bytes.Set(ceiling.tokens_bytes());
  }
  FreeDropped(dropped, dropped_count);
  if (!port_shaper_.unlimited())
    counters_->port_shaper_tokens_bytes.Set(port_shaper_.tokens_bytes());
  return count;
}

}  // namespace dg
