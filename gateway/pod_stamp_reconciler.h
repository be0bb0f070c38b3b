// podEgressStamp on the control thread (docs/architecture.md, "Masqueraded egress"): the
// guard on the kernel leg from start to exit; every second, the pod-stamp map brought to
// the pod table and policy the datapath uses (by differences) and the stamp program put
// on pod veths as they appear. Everything attached is removed on destruction: without a
// gateway to translate them, pool-3 codepoints would reach the fabric.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "control/control_plane.h"
#include "control/datapath_tables.h"
#include "control/gateway_config.h"
#include "control/pod_stamp_plan.h"
#include "xdp/pod_stamp_programs.h"

namespace dg {

class PodStampReconciler {
 public:
  // Loads the programs and attaches the guard to `guard_interface`.
  static EnvResult<std::unique_ptr<PodStampReconciler>> Start(
      const PodEgressStampSettings& settings, const std::string& guard_interface,
      const DatapathTables& datapath);
  ~PodStampReconciler();
  PodStampReconciler(const PodStampReconciler&) = delete;
  PodStampReconciler& operator=(const PodStampReconciler&) = delete;

  // One pass now, then every second on `io`; adds its gauges and counters to every
  // metrics reading of `control_plane`.
  void Serve(boost::asio::io_context& io, ControlPlane& control_plane);
  void Reconcile();

 private:
  PodStampReconciler(const PodEgressStampSettings& settings, uint32_t guard_ifindex,
                     const DatapathTables& datapath, xdp::PodStampPrograms programs);
  void ReconcilePods();
  void ReconcileLinks();
  void Schedule();

  PodEgressStampSettings settings_;
  uint32_t guard_ifindex_;
  const DatapathTables& datapath_;
  xdp::PodStampPrograms programs_;
  PodStampMap applied_;
  std::vector<uint32_t> attached_;
  uint64_t attach_failures_ = 0;
  uint32_t last_failed_ifindex_ = 0;
  bool map_error_logged_ = false;
  std::unique_ptr<boost::asio::steady_timer> timer_;
};

}  // namespace dg
