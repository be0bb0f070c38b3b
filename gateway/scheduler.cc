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
  management.drop_non_ect = settings.drop_non_ect || !settings.ecn;
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
  for (uint32_t c = 0; c < DG_MAX_CLASSES; ++c) {
    const uint64_t floor = snapshot.class_floor_bps[c];
    if (floor == applied_floor_bps_[c]) continue;
    applied_floor_bps_[c] = floor;
    class_floors_[c].Configure(floor, DerivedBurstBytes(floor), config_.tsc_hz, now_tsc);
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

uint16_t StrictPriorityScheduler::CutThroughBurst(rte_mbuf* const* packets,
                                                  const uint8_t* class_ids,
                                                  const uint32_t* namespace_ids, uint16_t count,
                                                  uint64_t now_tsc, rte_mbuf** out) {
  if (count == 0) return 0;
  for (const ClassQueue& queue : queues_) {
    if (queue.head != queue.tail) return 0;
  }
  uint32_t class_frames[DG_MAX_CLASSES] = {};
  uint64_t class_bytes[DG_MAX_CLASSES] = {};
  uint32_t class_wire_bytes[DG_MAX_CLASSES] = {};  // a burst is at most 256 x 64 KiB
  uint32_t total_wire_bytes = 0;
  for (uint16_t i = 0; i < count; ++i) {
    const uint32_t class_id = class_ids[i] < DG_MAX_CLASSES ? class_ids[i] : DG_MAX_CLASSES - 1;
    const uint32_t frame_length = rte_pktmbuf_pkt_len(packets[i]);
    const uint32_t wire_bytes = WireBytes(frame_length, config_.framing_overhead_bytes);
    ++class_frames[class_id];
    class_bytes[class_id] += frame_length;
    class_wire_bytes[class_id] += wire_bytes;
    total_wire_bytes += wire_bytes;
  }
  port_shaper_.Refill(now_tsc);
  if (!port_shaper_.CoversAll(total_wire_bytes)) return 0;
  uint32_t classes_in_burst = 0;
  bool any_floor = false;
  for (uint32_t c = 0; c < DG_MAX_CLASSES; ++c) {
    if (class_frames[c] == 0) continue;
    ++classes_in_burst;
    class_ceilings_[c].Refill(now_tsc);
    if (!class_ceilings_[c].CoversAll(class_wire_bytes[c])) return 0;
    TokenBucket& floor = class_floors_[c];
    if (floor.unlimited()) continue;
    any_floor = true;
    floor.Refill(now_tsc);
    if (!floor.CoversAll(class_wire_bytes[c])) return 0;
  }
  if (any_floor && classes_in_burst > 1) return 0;

  // Committed: from here on the burst is sent, exactly as the queued path would.
  port_shaper_.Consume(total_wire_bytes);
  uint16_t next_slot[DG_MAX_CLASSES];
  uint16_t slot = 0;
  for (uint32_t c = 0; c < DG_MAX_CLASSES; ++c) {
    next_slot[c] = slot;
    slot = static_cast<uint16_t>(slot + class_frames[c]);
    if (class_frames[c] == 0) continue;
    class_ceilings_[c].Consume(class_wire_bytes[c]);
    if (!class_floors_[c].unlimited()) class_floors_[c].Consume(class_wire_bytes[c]);
    ClassCounters& class_counters = counters_->classes[c];
    class_counters.packets.Add(class_frames[c]);
    class_counters.bytes.Add(class_bytes[c]);
    class_counters.sojourn_buckets[0].Add(class_frames[c]);
    if (!class_ceilings_[c].unlimited()) {
      class_counters.ceiling_tokens_bytes.Set(class_ceilings_[c].tokens_bytes());
    }
  }
  for (uint16_t i = 0; i < count; ++i) {
    const uint32_t class_id = class_ids[i] < DG_MAX_CLASSES ? class_ids[i] : DG_MAX_CLASSES - 1;
    const uint32_t namespace_id = namespace_ids[i] % DG_MAX_NAMESPACES;
    counters_->namespace_packets[namespace_id].Increment();
    counters_->namespace_bytes[namespace_id].Add(rte_pktmbuf_pkt_len(packets[i]));
    out[next_slot[class_id]++] = packets[i];
  }
  counters_->cut_through_packets.Add(count);
  if (!port_shaper_.unlimited())
    counters_->port_shaper_tokens_bytes.Set(port_shaper_.tokens_bytes());
  return count;
}

StrictPriorityScheduler::ClassChoice StrictPriorityScheduler::SelectClass() const {
  ClassChoice by_priority;
  for (uint32_t class_id = 0; class_id < DG_MAX_CLASSES; ++class_id) {
    const ClassQueue& queue = queues_[class_id];
    if (queue.head == queue.tail) continue;
    const uint32_t wire_bytes = queue.slots[queue.head & mask_].wire_bytes;
    if (!class_ceilings_[class_id].CanSend(wire_bytes)) continue;
    const TokenBucket& floor = class_floors_[class_id];
    if (!floor.unlimited() && floor.CanSend(wire_bytes)) return ClassChoice{class_id, true};
    if (by_priority.class_id == kNoClass) by_priority.class_id = class_id;
  }
  return by_priority;
}

uint16_t StrictPriorityScheduler::SendRun(ClassChoice choice, rte_mbuf** packets,
                                          uint16_t max_count, uint64_t now_tsc, uint16_t* sent) {
  const uint32_t class_id = choice.class_id;
  ClassQueue& queue = queues_[class_id];
  TokenBucket& ceiling = class_ceilings_[class_id];
  TokenBucket& floor = class_floors_[class_id];
  const QueueManagement& management = management_[class_id];
  CodelQueueState& codel = codel_[class_id];
  rte_mbuf* dropped[kDropBatch];
  uint16_t dropped_count = 0;
  uint16_t count = 0;
  uint16_t removed = 0;
  uint64_t sent_bytes = 0;
  uint32_t aqm_drops = 0;
  uint32_t ecn_marks = 0;
  // Sojourn times are binned locally and published once per run.
  uint32_t sojourn_counts[kSojournBucketCount + 1] = {};
  uint64_t sojourn_sum = 0;
  while (queue.head != queue.tail && count < max_count) {
    const QueuedPacket head = queue.slots[queue.head & mask_];
    // The port is the shared bottleneck: when it is out of tokens nobody may send, or
    // a lower class would overtake a higher one.
    if (!port_shaper_.CanSend(head.wire_bytes)) break;
    if (!ceiling.CanSend(head.wire_bytes)) break;  // at its ceiling: the next class may go
    // A floor run ends with the floor tokens; what the class sends by priority counts
    // against its floor too, as long as there are tokens (no debt carried over).
    const bool floor_has_tokens = !floor.unlimited() && floor.CanSend(head.wire_bytes);
    if (choice.within_floor && !floor_has_tokens) break;
    const uint64_t sojourn = now_tsc > head.enqueue_tsc ? now_tsc - head.enqueue_tsc : 0;
    ++queue.head;
    ++removed;
    queue.wire_bytes -= head.wire_bytes;
    if (management.codel) {
      // A signal CE cannot carry and may not be a drop is passed over: to CoDel it counts
      // as given (its control law moves on), the packet leaves unchanged.
      bool marked = false;
      const CodelVerdict verdict =
          codel.OnDequeue(now_tsc, sojourn, queue.wire_bytes, management.codel_params, [&] {
            marked = management.ecn && MarkCongestionExperienced(head.mbuf);
            return marked || !management.drop_non_ect;
          });
      if (verdict == CodelVerdict::kDrop) {
        ++aqm_drops;
        dropped[dropped_count++] = head.mbuf;
        if (dropped_count == kDropBatch) dropped_count = FreeDropped(dropped, dropped_count);
        continue;  // a dropped frame costs no tokens
      }
      if (marked) ++ecn_marks;
    }
    if (floor_has_tokens) floor.Consume(head.wire_bytes);
    port_shaper_.Consume(head.wire_bytes);
    ceiling.Consume(head.wire_bytes);
    uint32_t bucket = 0;
    while (bucket < kSojournBucketCount && sojourn > sojourn_bounds_cycles_[bucket]) ++bucket;
    ++sojourn_counts[bucket];
    sojourn_sum += sojourn;
    sent_bytes += rte_pktmbuf_pkt_len(head.mbuf);
    packets[count++] = head.mbuf;
  }
  FreeDropped(dropped, dropped_count);
  if (queue.head == queue.tail) codel.OnQueueEmpty();
  ClassCounters& class_counters = counters_->classes[class_id];
  if (count != 0) {
    class_counters.packets.Add(count);
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
  *sent = count;
  return removed;
}

uint16_t StrictPriorityScheduler::DequeueBurst(rte_mbuf** packets, uint16_t max_count,
                                               uint64_t now_tsc) {
  port_shaper_.Refill(now_tsc);
  for (uint32_t class_id = 0; class_id < DG_MAX_CLASSES; ++class_id) {
    if (queues_[class_id].head == queues_[class_id].tail) continue;
    class_ceilings_[class_id].Refill(now_tsc);
    class_floors_[class_id].Refill(now_tsc);
  }
  // Tokens only drain within a burst, so a class that ends its run is not chosen again for
  // the same reason: at most two runs per class (floor, then priority) per burst.
  uint16_t count = 0;
  while (count < max_count) {
    const ClassChoice choice = SelectClass();
    if (choice.class_id == kNoClass) break;
    uint16_t sent = 0;
    const uint16_t removed = SendRun(choice, packets + count, max_count - count, now_tsc, &sent);
    if (removed == 0) break;  // the port is out of tokens
    count += sent;
  }
  if (!port_shaper_.unlimited())
    counters_->port_shaper_tokens_bytes.Set(port_shaper_.tokens_bytes());
  return count;
}

}  // namespace dg
