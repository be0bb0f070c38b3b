#include "gateway/pod_stamp_reconciler.h"

#include <net/if.h>

#include <algorithm>
#include <chrono>
#include <utility>

#include "control/log.h"
#include "control/metrics.h"

namespace dg {
namespace {

constexpr const char* kComponent = "pod-stamp";
constexpr std::chrono::seconds kReconcilePeriod{1};

}  // namespace

EnvResult<std::unique_ptr<PodStampReconciler>> PodStampReconciler::Start(
    const PodEgressStampSettings& settings, const std::string& guard_interface,
    const DatapathTables& datapath) {
  const uint32_t guard_ifindex = if_nametoindex(guard_interface.c_str());
  if (guard_ifindex == 0) {
    return EnvironmentError{"podEgressStamp guard on " + guard_interface, "no such interface"};
  }
  auto programs = xdp::PodStampPrograms::Load();
  if (!programs) return programs.error();
  if (auto attached = programs->AttachGuard(guard_ifindex); !attached) return attached.error();
  DG_LOG_INFO(kComponent, "stamp guard on %s; stamping pod veths matching %zu patterns",
              guard_interface.c_str(), settings.interfaces.size());
  return std::unique_ptr<PodStampReconciler>(
      new PodStampReconciler(settings, guard_ifindex, datapath, std::move(*programs)));
}

PodStampReconciler::PodStampReconciler(const PodEgressStampSettings& settings,
                                       uint32_t guard_ifindex, const DatapathTables& datapath,
                                       xdp::PodStampPrograms programs)
    : settings_(settings),
      guard_ifindex_(guard_ifindex),
      datapath_(datapath),
      programs_(std::move(programs)) {}

PodStampReconciler::~PodStampReconciler() {
  if (timer_) timer_->cancel();
  // Stamps first, guard last: no stamped frame reaches the fabric unguarded.
  for (uint32_t ifindex : attached_) {
    if (auto detached = programs_.DetachStamp(ifindex); !detached) {
      DG_LOG_WARNING(kComponent, "%s", detached.error().Message().c_str());
    }
  }
  if (auto detached = programs_.DetachGuard(guard_ifindex_); !detached) {
    DG_LOG_WARNING(kComponent, "%s", detached.error().Message().c_str());
  }
  programs_.RemovePins();
  DG_LOG_INFO(kComponent, "pod stamp removed from %zu veths, guard removed", attached_.size());
}

void PodStampReconciler::Serve(boost::asio::io_context& io, ControlPlane& control_plane) {
  timer_ = std::make_unique<boost::asio::steady_timer>(io);
  control_plane.AddMetricSource([this](MetricSnapshot& snapshot) {
    snapshot.Add(MetricIndex("dscp_gateway_pod_stamp_interfaces"), {},
                 static_cast<uint64_t>(attached_.size()));
    snapshot.Add(MetricIndex("dscp_gateway_pod_stamp_attach_failures_total"), {}, attach_failures_);
    snapshot.Add(MetricIndex("dscp_gateway_pod_stamp_entries"), {},
                 static_cast<uint64_t>(applied_.size()));
  });
  Reconcile();
  Schedule();
}

void PodStampReconciler::Schedule() {
  timer_->expires_after(kReconcilePeriod);
  timer_->async_wait([this](const boost::system::error_code& error) {
    if (error) return;
    Reconcile();
    Schedule();
  });
}

void PodStampReconciler::Reconcile() {
  // Pods first: a veth that appears with its pod is stamped from its first frame.
  ReconcilePods();
  ReconcileLinks();
}

void PodStampReconciler::ReconcilePods() {
  std::vector<PodStampSource> sources;
  for (const PodDirectoryEntry& pod : datapath_.Pods()) {
    dg_pod_key key{};
    if (!ParsePodAddress(pod.address, &key)) continue;
    const PodOverrideDecision* override = datapath_.PodOverride(pod.pod_slot);
    const uint32_t class_id = override != nullptr && override->class_index
                                  ? *override->class_index
                                  : datapath_.ClassOfNamespace(pod.namespace_id);
    sources.push_back({key, class_id});
  }
  PodStampMap desired = DesiredPodStamps(sources);
  PodStampChanges changes = DiffPodStamps(applied_, desired);
  bool failed = false;
  for (const auto& [address, codepoint] : changes.upserts) {
    if (auto written = programs_.UpsertPod(address, codepoint); written) {
      applied_[address] = codepoint;
    } else if (!std::exchange(failed, true) && !map_error_logged_) {
      DG_LOG_WARNING(kComponent, "%s (those pods stay unstamped)",
                     written.error().Message().c_str());
    }
  }
  for (const dg_pod_key& address : changes.erases) {
    if (programs_.ErasePod(address)) applied_.erase(address);
  }
  map_error_logged_ = map_error_logged_ || failed;
}

void PodStampReconciler::ReconcileLinks() {
  const std::vector<NodeLink> links = xdp::ListNodeLinks();
  PodLinkChanges changes = DiffPodLinks(links, settings_.interfaces, attached_, guard_ifindex_);
  for (uint32_t ifindex : changes.forget) {
    programs_.DetachStamp(ifindex);  // usually gone with its link already
    attached_.erase(std::remove(attached_.begin(), attached_.end(), ifindex), attached_.end());
  }
  for (const NodeLink& link : changes.attach) {
    if (auto attached = programs_.AttachStamp(link.ifindex); !attached) {
      // Counted every time; logged once per link (it is retried every second).
      if (attach_failures_++ == 0 || link.ifindex != last_failed_ifindex_) {
        DG_LOG_WARNING(kComponent, "%s", attached.error().Message().c_str());
      }
      last_failed_ifindex_ = link.ifindex;
      continue;
    }
    DG_LOG_DEBUG(kComponent, "stamping %s", link.name.c_str());
    attached_.push_back(link.ifindex);
  }
  // Trusted only once stamped: until then the guard clears a pod's own codepoint (its
  // first frames go in the default class) rather than let one through unstamped.
  if (auto trusted = programs_.SetTrustedInterfaces(TrustedIfindexes(links, attached_)); !trusted) {
    DG_LOG_WARNING(kComponent, "%s", trusted.error().Message().c_str());
  }
}

}  // namespace dg
