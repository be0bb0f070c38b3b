#include "gateway/worker.h"

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>

#include <algorithm>

namespace dg {

Worker::Worker(const WorkerOptions& options, PipelineContext* context,
               StrictPriorityScheduler* scheduler)
    : options_(options),
      context_(context),
      scheduler_(scheduler),
      counters_(context->counters),
      pod_shaper_(rte_get_tsc_hz(), context->counters) {
  if (options_.burst_size == 0 || options_.burst_size > kMaxBurst) options_.burst_size = 32;
}

uint32_t Worker::ReceiveFromKernel(uint64_t now_tsc) {
  const PolicySnapshot* policy = context_->policy->load(std::memory_order_acquire);
  if (policy->observe_only) return ObserveFromKernel(*policy);
  if (options_.backpressure) {
    for (uint32_t c = 0; c < DG_MAX_CLASSES; ++c) {
      if (scheduler_->FreeSlots(c) < options_.burst_size) return 0;
    }
  }
  rte_mbuf* packets[kMaxBurst];
  const uint16_t received = rte_eth_rx_burst(options_.kernel_port, 0, packets, options_.burst_size);
  last_kernel_poll_empty_ = received == 0;
  if (received == 0) return 0;
  uint64_t bytes = 0;
  for (uint16_t i = 0; i < received; ++i) bytes += rte_pktmbuf_pkt_len(packets[i]);
  counters_->kernel_rx_packets.Add(received);
  counters_->kernel_rx_bytes.Add(bytes);

  uint8_t class_ids[kMaxBurst];
  uint32_t namespace_ids[kMaxBurst];
  ClassifyAndMarkBurst(*context_, *policy, packets, received, class_ids, namespace_ids);
  uint16_t admitted = received;
  if (options_.enforce_pod_limits) {
    pod_shaper_.ApplyPolicy(*policy, now_tsc);
    admitted = pod_shaper_.AdmitBurst(packets, class_ids, namespace_ids, received, now_tsc);
  }
  // Uncongested (nothing queued or waiting for the uplink, tokens to spare): the burst goes
  // straight to the uplink's pending list, skipping the queue round trip.
  if (pending_count_ == 0) {
    scheduler_->ApplyPolicy(*policy, now_tsc);
    pending_count_ =
        scheduler_->CutThroughBurst(packets, class_ids, namespace_ids, admitted, now_tsc, pending_);
    pending_offset_ = 0;
    if (pending_count_ != 0) return received;
  }
  scheduler_->EnqueueBurst(packets, class_ids, namespace_ids, admitted, now_tsc);
  return received;
}

uint16_t Worker::SchedulerRoom() const {
  if (!options_.backpressure) return options_.burst_size;
  uint32_t room = options_.burst_size;
  for (uint32_t c = 0; c < DG_MAX_CLASSES; ++c) room = std::min(room, scheduler_->FreeSlots(c));
  return static_cast<uint16_t>(room);
}

uint32_t Worker::ReleasePodQueues(uint64_t now_tsc) {
  if (pod_shaper_.Backlog() == 0) return 0;
  const PolicySnapshot* policy = context_->policy->load(std::memory_order_acquire);
  pod_shaper_.ApplyPolicy(*policy, now_tsc);
  rte_mbuf* packets[kMaxBurst];
  uint8_t class_ids[kMaxBurst];
  uint32_t pod_values[kMaxBurst];
  const uint16_t released =
      pod_shaper_.ReleaseBurst(*policy, packets, class_ids, pod_values, SchedulerRoom(), now_tsc);
  scheduler_->EnqueueBurst(packets, class_ids, pod_values, released, now_tsc);
  return released;
}

uint32_t Worker::ObserveFromKernel(const PolicySnapshot& policy) {
  // Arrival order and no shaper: a burst goes straight to the uplink through the pending
  // frames, after whatever enforce mode had queued before the switch. While the uplink
  // does not take them, nothing more is received (the kernel's ring holds the rest).
  if (pending_count_ != 0 || scheduler_->TotalDepth() != 0 || pod_shaper_.Backlog() != 0) {
    return 0;
  }
  const uint16_t received =
      rte_eth_rx_burst(options_.kernel_port, 0, pending_, options_.burst_size);
  last_kernel_poll_empty_ = received == 0;
  if (received == 0) return 0;
  uint8_t class_ids[kMaxBurst];
  uint32_t namespace_ids[kMaxBurst];
  ClassifyAndMarkBurst(*context_, policy, pending_, received, class_ids, namespace_ids);
  uint64_t bytes = 0;
  for (uint16_t i = 0; i < received; ++i) {
    const uint32_t length = rte_pktmbuf_pkt_len(pending_[i]);
    const uint32_t class_id = class_ids[i] < DG_MAX_CLASSES ? class_ids[i] : DG_MAX_CLASSES - 1;
    const uint32_t namespace_id = namespace_ids[i] % DG_MAX_NAMESPACES;
    bytes += length;
    counters_->classes[class_id].observed_packets.Increment();
    counters_->classes[class_id].observed_bytes.Add(length);
    counters_->namespace_packets[namespace_id].Increment();
    counters_->namespace_bytes[namespace_id].Add(length);
  }
  counters_->kernel_rx_packets.Add(received);
  counters_->kernel_rx_bytes.Add(bytes);
  counters_->observe_forwarded.Add(received);
  pending_count_ = received;
  pending_offset_ = 0;
  return received;
}

uint32_t Worker::SendToUplink(uint64_t now_tsc) {
  if (pending_count_ == 0) {
    const PolicySnapshot* policy = context_->policy->load(std::memory_order_acquire);
    scheduler_->ApplyPolicy(*policy, now_tsc);
    pending_count_ = scheduler_->DequeueBurst(pending_, options_.burst_size, now_tsc);
    pending_offset_ = 0;
    if (pending_count_ == 0) return 0;
  }
  // Already charged to the shaper: frames the uplink does not take now are retried, not
  // dropped.
  const uint16_t sent = rte_eth_tx_burst(options_.uplink_port, 0, pending_ + pending_offset_,
                                         static_cast<uint16_t>(pending_count_ - pending_offset_));
  uint64_t bytes = 0;
  for (uint16_t i = 0; i < sent; ++i) bytes += rte_pktmbuf_pkt_len(pending_[pending_offset_ + i]);
  counters_->uplink_tx_packets.Add(sent);
  counters_->uplink_tx_bytes.Add(bytes);
  pending_offset_ = static_cast<uint16_t>(pending_offset_ + sent);
  if (pending_offset_ == pending_count_) {
    pending_count_ = 0;
    pending_offset_ = 0;
  } else {
    counters_->uplink_tx_retries.Increment();
  }
  return sent;
}

uint32_t Worker::PassUplinkToKernel() {
  rte_mbuf* packets[kMaxBurst];
  const uint16_t received = rte_eth_rx_burst(options_.uplink_port, 0, packets, options_.burst_size);
  if (received == 0) return 0;
  uint64_t received_bytes = 0;
  for (uint16_t i = 0; i < received; ++i) received_bytes += rte_pktmbuf_pkt_len(packets[i]);
  counters_->uplink_rx_packets.Add(received);
  counters_->uplink_rx_bytes.Add(received_bytes);
  const uint16_t sent = rte_eth_tx_burst(options_.kernel_port, 0, packets, received);
  uint64_t unsent_bytes = 0;
  for (uint16_t i = sent; i < received; ++i) unsent_bytes += rte_pktmbuf_pkt_len(packets[i]);
  counters_->kernel_tx_packets.Add(sent);
  counters_->kernel_tx_bytes.Add(received_bytes - unsent_bytes);
  if (sent < received) {
    counters_->kernel_tx_drops.Add(received - sent);
    rte_pktmbuf_free_bulk(packets + sent, received - sent);
  }
  return received;
}

uint32_t Worker::PollOnce(uint64_t now_tsc, bool receive_from_kernel) {
  uint32_t moved = 0;
  if (receive_from_kernel) moved += ReceiveFromKernel(now_tsc);
  moved += ReleasePodQueues(now_tsc);
  moved += SendToUplink(now_tsc);
  if (options_.pass_uplink_to_kernel) moved += PassUplinkToKernel();
  return moved;
}

void Worker::DiscardBacklog() {
  uint64_t discarded = 0;
  if (pending_count_ > pending_offset_) {
    discarded += pending_count_ - pending_offset_;
    rte_pktmbuf_free_bulk(pending_ + pending_offset_, pending_count_ - pending_offset_);
  }
  pending_count_ = 0;
  pending_offset_ = 0;
  discarded += pod_shaper_.DiscardAll();
  discarded += scheduler_->DiscardAll();
  counters_->drain_drops.Add(discarded);
}

void Worker::RunUntilStopped(const std::atomic<bool>& stop, rte_rcu_qsbr* qsbr, unsigned thread_id,
                             uint64_t drain_cycles) {
  if (qsbr != nullptr) {
    rte_rcu_qsbr_thread_register(qsbr, thread_id);
    rte_rcu_qsbr_thread_online(qsbr, thread_id);
  }
  while (!stop.load(std::memory_order_relaxed)) {
    PollOnce(rte_rdtsc(), true);
    counters_->heartbeat.Increment();
    if (qsbr != nullptr) rte_rcu_qsbr_quiescent(qsbr, thread_id);
  }
  // Stop receiving, then let the shaper empty the queues in priority order.
  const uint64_t deadline = rte_rdtsc() + drain_cycles;
  for (uint64_t now = rte_rdtsc(); Backlog() != 0 && now < deadline; now = rte_rdtsc()) {
    PollOnce(now, false);
    if (qsbr != nullptr) rte_rcu_qsbr_quiescent(qsbr, thread_id);
  }
  DiscardBacklog();
  if (qsbr != nullptr) {
    rte_rcu_qsbr_thread_offline(qsbr, thread_id);
    rte_rcu_qsbr_thread_unregister(qsbr, thread_id);
  }
}

}  // namespace dg
