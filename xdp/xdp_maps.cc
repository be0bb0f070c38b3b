#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include <cerrno>
#include <utility>
#include <vector>

#include "xdp/bpf_objects.h"
#include "xdp/node_programs.h"

namespace dg::xdp {
namespace {

void CloseIfOpen(int fd) {
  if (fd >= 0) close(fd);
}

}  // namespace

const std::array<XdpCounterInfo, DG_XDP_COUNTER_COUNT>& XdpCounterInfos() {
#define DG_XDP_COUNTER_INFO_(id, name, help) XdpCounterInfo{name, help},
  static const std::array<XdpCounterInfo, DG_XDP_COUNTER_COUNT> infos{
      {DG_XDP_COUNTERS(DG_XDP_COUNTER_INFO_)}};
#undef DG_XDP_COUNTER_INFO_
  return infos;
}

EnvResult<XdpMaps> XdpMaps::OpenPinned() {
  std::string heartbeat_path = PinPath(DG_XDP_NAME(DG_XDP_MAP_HEARTBEAT));
  OwnedFd heartbeat(bpf_obj_get(heartbeat_path.c_str()));
  if (heartbeat.get() < 0) {
    return EnvironmentError{"open pinned map " + heartbeat_path,
                            ErrnoText(errno) + " (is `dscp-gateway node attach` done?)"};
  }
  std::string counters_path = PinPath(DG_XDP_NAME(DG_XDP_MAP_COUNTERS));
  OwnedFd counters(bpf_obj_get(counters_path.c_str()));
  if (counters.get() < 0) {
    return EnvironmentError{"open pinned map " + counters_path, ErrnoText(errno)};
  }
  return XdpMaps(heartbeat.Release(), counters.Release());
}

EnvResult<XdpMaps> XdpMaps::OfObject(bpf_object* object) {
  auto counters_fd = MapFd(object, DG_XDP_NAME(DG_XDP_MAP_COUNTERS));
  if (!counters_fd) return counters_fd.error();
  OwnedFd counters(dup(*counters_fd));
  if (counters.get() < 0) return EnvironmentError{"duplicate XDP map descriptor", ErrnoText(errno)};
  // dg_uplink has no heartbeat map: its maps answer every heartbeat call with an error.
  OwnedFd heartbeat;
  if (auto heartbeat_fd = MapFd(object, DG_XDP_NAME(DG_XDP_MAP_HEARTBEAT))) {
    heartbeat = OwnedFd(dup(*heartbeat_fd));
    if (heartbeat.get() < 0) {
      return EnvironmentError{"duplicate XDP map descriptor", ErrnoText(errno)};
    }
  }
  return XdpMaps(heartbeat.Release(), counters.Release());
}

XdpMaps::XdpMaps(int heartbeat_fd, int counters_fd)
    : heartbeat_fd_(heartbeat_fd), counters_fd_(counters_fd) {}

XdpMaps::XdpMaps(XdpMaps&& other) noexcept
    : heartbeat_fd_(std::exchange(other.heartbeat_fd_, -1)),
      counters_fd_(std::exchange(other.counters_fd_, -1)) {}

XdpMaps& XdpMaps::operator=(XdpMaps&& other) noexcept {
  if (this != &other) {
    CloseIfOpen(heartbeat_fd_);
    CloseIfOpen(counters_fd_);
    heartbeat_fd_ = std::exchange(other.heartbeat_fd_, -1);
    counters_fd_ = std::exchange(other.counters_fd_, -1);
  }
  return *this;
}

XdpMaps::~XdpMaps() {
  CloseIfOpen(heartbeat_fd_);
  CloseIfOpen(counters_fd_);
}

EnvResult<void> XdpMaps::Beat() { return WriteHeartbeat(MonotonicNowNs()); }

EnvResult<void> XdpMaps::WriteHeartbeat(uint64_t monotonic_ns) {
  auto heartbeat = ReadHeartbeat();
  if (!heartbeat) return heartbeat.error();
  heartbeat->last_beat_ns = monotonic_ns;
  return UpdateHeartbeat(*heartbeat);
}

EnvResult<void> XdpMaps::SetStaleAfter(uint64_t stale_after_ns) {
  auto heartbeat = ReadHeartbeat();
  if (!heartbeat) return heartbeat.error();
  heartbeat->stale_after_ns = stale_after_ns;
  return UpdateHeartbeat(*heartbeat);
}

// Only the gateway beats and only an operator sets the staleness, so read-modify-write
// of the two fields does not race in practice; each field is written whole.
EnvResult<void> XdpMaps::UpdateHeartbeat(const dg_xdp_heartbeat& heartbeat) {
  if (heartbeat_fd_ < 0) return EnvironmentError{"write XDP heartbeat", "no heartbeat map"};
  uint32_t key = 0;
  if (bpf_map_update_elem(heartbeat_fd_, &key, &heartbeat, BPF_ANY) != 0) {
    return EnvironmentError{"write XDP heartbeat", ErrnoText(errno)};
  }
  return {};
}

EnvResult<dg_xdp_heartbeat> XdpMaps::ReadHeartbeat() const {
  if (heartbeat_fd_ < 0) return EnvironmentError{"read XDP heartbeat", "no heartbeat map"};
  dg_xdp_heartbeat heartbeat{};
  uint32_t key = 0;
  if (bpf_map_lookup_elem(heartbeat_fd_, &key, &heartbeat) != 0) {
    return EnvironmentError{"read XDP heartbeat", ErrnoText(errno)};
  }
  return heartbeat;
}

EnvResult<XdpCounterTotals> XdpMaps::ReadCounters() const {
  int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) return EnvironmentError{"count possible CPUs", ErrnoText(cpus)};
  std::vector<uint64_t> per_cpu(static_cast<size_t>(cpus));
  XdpCounterTotals totals{};
  for (uint32_t counter = 0; counter < DG_XDP_COUNTER_COUNT; ++counter) {
    if (bpf_map_lookup_elem(counters_fd_, &counter, per_cpu.data()) != 0) {
      return EnvironmentError{"read XDP counters", ErrnoText(errno)};
    }
    for (uint64_t value : per_cpu) totals[counter] += value;
  }
  return totals;
}

}  // namespace dg::xdp
