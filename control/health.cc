#include "control/health.h"

namespace dg {

void HeartbeatMonitor::Sample(uint64_t heartbeat, Clock::time_point now) {
  if (heartbeat == last_) return;
  last_ = heartbeat;
  changed_at_ = now;
}

std::string ReadinessProblem(const ReadinessInputs& inputs) {
  if (!inputs.healthy) return "datapath heartbeat stalled";
  if (!inputs.policy_loaded) return "no policy loaded";
  if (!inputs.kernel_link_up || !inputs.uplink_link_up) {
    return std::string("link down on ") + (inputs.kernel_link_up ? "uplink" : "kernel") + " port";
  }
  if (inputs.kubernetes_enabled && !inputs.kubernetes_synced) {
    return "pod table not yet synced from the Kubernetes API";
  }
  return "";
}

}  // namespace dg
