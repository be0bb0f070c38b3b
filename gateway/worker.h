// The run-to-completion loop in the style of DPDK's l3fwd: receive a burst from the
// kernel-facing port, classify and mark it, queue it by class; send what the shaper
// allows on the uplink; pass uplink traffic straight back to the kernel.
#pragma once

#include <atomic>
#include <cstdint>

#include "gateway/pipeline.h"
#include "gateway/pod_shaper.h"
#include "gateway/scheduler.h"

struct rte_rcu_qsbr;

namespace dg {

inline constexpr uint16_t kMaxBurst = 256;

struct WorkerOptions {
  uint16_t kernel_port = 0;
  uint16_t uplink_port = 0;
  uint16_t burst_size = 32;
  // Replay: receive only while every queue can take a whole burst, so nothing is ever
  // tail-dropped. Live: tail drop, because a gateway cannot slow the kernel down.
  bool backpressure = false;
  // Replay has no return path to pass through.
  bool pass_uplink_to_kernel = true;
  // Per-pod egress limits (kubernetes.io/egress-bandwidth) in the pod shaper.
  bool enforce_pod_limits = true;
};

class Worker {
 public:
  Worker(const WorkerOptions& options, PipelineContext* context,
         StrictPriorityScheduler* scheduler);

  // One iteration. Returns the number of frames that moved (received or sent).
  uint32_t PollOnce(uint64_t now_tsc, bool receive_from_kernel);

  // Frames still held: in pod queues, queued in the scheduler or waiting for the uplink.
  uint32_t Backlog() const {
    return pod_shaper_.Backlog() + scheduler_->TotalDepth() + pending_count_;
  }

  // Frees everything still held, counting it as drain drops (shutdown deadline passed).
  void DiscardBacklog();

  // True after a receive poll on the kernel port returned nothing (replay: end of file).
  bool last_kernel_poll_empty() const { return last_kernel_poll_empty_; }

  // Runs until `stop` is set, then drains for up to `drain_cycles`. Registers with
  // `qsbr` (thread id = lcore id) so the control plane can reclaim tables safely.
  void RunUntilStopped(const std::atomic<bool>& stop, rte_rcu_qsbr* qsbr, unsigned thread_id,
                       uint64_t drain_cycles);

 private:
  uint32_t ReceiveFromKernel(uint64_t now_tsc);
  uint32_t ReleasePodQueues(uint64_t now_tsc);
  uint16_t SchedulerRoom() const;
  uint32_t ObserveFromKernel(const PolicySnapshot& policy);
  uint32_t SendToUplink(uint64_t now_tsc);
  uint32_t PassUplinkToKernel();

  WorkerOptions options_;
  PipelineContext* context_;
  StrictPriorityScheduler* scheduler_;
  WorkerCounters* counters_;
  PodShaper pod_shaper_;
  rte_mbuf* pending_[kMaxBurst];
  uint16_t pending_count_ = 0;
  uint16_t pending_offset_ = 0;
  bool last_kernel_poll_empty_ = false;
};

}  // namespace dg
