// The pod-stamp tc programs (xdp/dg_pod_stamp.bpf.c) and their maps, through libbpf:
// dg_pod_stamp on tc ingress of pod veths, dg_stamp_guard on tc egress of the node's
// kernel leg (docs/architecture.md, "Masqueraded egress"). The maps are pinned next to
// the XDP ones, so a restarted gateway finds what a killed one left and replaces it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "control/pod_stamp_plan.h"
#include "control/result.h"
#include "xdp/bpf_objects.h"

namespace dg::xdp {

class PodStampPrograms {
 public:
  static EnvResult<PodStampPrograms> Load();

  // tc filters of ours (fixed handle and priority, before a CNI's own): attaching again
  // replaces. The programs pass frames on to the next filter (TC_ACT_UNSPEC).
  EnvResult<void> AttachGuard(uint32_t ifindex);
  EnvResult<void> AttachStamp(uint32_t ifindex);
  // Removes our filter; a link that is gone took it along, so that is no error.
  EnvResult<void> DetachGuard(uint32_t ifindex);
  EnvResult<void> DetachStamp(uint32_t ifindex);

  EnvResult<void> UpsertPod(const dg_pod_key& address, uint8_t codepoint);
  EnvResult<void> ErasePod(const dg_pod_key& address);
  // The guard's trusted ingress interfaces, replaced as a whole.
  EnvResult<void> SetTrustedInterfaces(const std::vector<uint32_t>& ifindexes);
  // Both maps unpinned (they go with the last filter): a later gateway starts afresh.
  void RemovePins();

 private:
  explicit PodStampPrograms(BpfObjectPtr object);

  BpfObjectPtr object_;
  int stamp_fd_ = -1;
  int guard_fd_ = -1;
  int pods_fd_ = -1;
  int trusted_fd_ = -1;
  std::vector<uint32_t> trusted_;
};

// Every link of this network namespace with its bridge master (rtnetlink through
// if_nameindex and sysfs).
std::vector<NodeLink> ListNodeLinks();

}  // namespace dg::xdp
