// Liveness and readiness of the gateway, from what the control thread samples.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace dg {

// The worker loops millions of times a second; its loop counter standing still for a
// second means it is stuck.
class HeartbeatMonitor {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr auto kStaleAfter = std::chrono::seconds(1);

  // `slack`: how late a sample may come (the sampling interval).
  HeartbeatMonitor(Clock::time_point now, Clock::duration slack)
      : changed_at_(now), slack_(slack) {}

  void Sample(uint64_t heartbeat, Clock::time_point now);
  bool Healthy(Clock::time_point now) const { return now - changed_at_ < kStaleAfter + slack_; }

 private:
  uint64_t last_ = 0;
  Clock::time_point changed_at_;
  Clock::duration slack_;
};

struct ReadinessInputs {
  bool healthy = false;
  bool policy_loaded = false;
  bool kernel_link_up = false;
  bool uplink_link_up = false;
  bool kubernetes_enabled = false;
  bool kubernetes_synced = false;
};

// Ready to take traffic: "" if so, else the first reason why not, in the order an
// operator should look: datapath, policy, links, Kubernetes sync.
std::string ReadinessProblem(const ReadinessInputs& inputs);

}  // namespace dg
