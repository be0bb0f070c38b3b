// How one class queue is managed: CoDel (RFC 8289) on the time packets wait in it, CE
// marks instead of drops for ECN-capable packets, and a byte limit beside the packet limit
// (queues.depth). Set per class in the priorities file (`aqm`, `queueLimit`), carried to
// the worker in the policy snapshot. Plain data: the control plane and the worker share it.
#pragma once

#include <cstdint>

namespace dg {

// Defaults for datacenter round trips; docs/performance.md ("Active queue management")
// derives them from the virtual node's measurements. The target is a few full-size frames
// at 10-100 Gbit/s and ~5% of a 10 ms interval, as RFC 8289 section 4.4 advises.
inline constexpr uint32_t kDefaultCodelTargetNs = 500'000;
inline constexpr uint32_t kDefaultCodelIntervalNs = 10'000'000;
// 1024 full-size 1500-byte frames fit (the default queues.depth binds first for them); a
// queue of 9000-byte jumbo frames stops at ~230 frames instead of growing to 9 MiB.
inline constexpr uint32_t kDefaultQueueLimitBytes = 2u << 20;

struct ClassQueueSettings {
  bool codel = true;
  bool ecn = true;  // CE on ECT(0)/ECT(1) packets instead of a drop
  // Whether CoDel's signal drops a packet that is not ECN-capable. Off by default: CoDel
  // then bounds the delay of ECN flows by marks and leaves flows without ECN to the tail
  // drop at the limits, as without CoDel. Measured on the virtual node, CoDel's drops cost
  // a TCP flow without ECN ~13k retransmits per 10 s at the same goodput and RTT p99
  // (docs/performance.md, "CoDel's default"). With `ecn` off every signal is a drop.
  bool drop_non_ect = false;
  uint32_t codel_target_ns = kDefaultCodelTargetNs;
  uint32_t codel_interval_ns = kDefaultCodelIntervalNs;
  uint32_t limit_bytes = kDefaultQueueLimitBytes;  // wire bytes (frame + framing overhead)
};

}  // namespace dg
