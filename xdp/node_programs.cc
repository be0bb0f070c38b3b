#include "xdp/node_programs.h"

#include <bpf/bpf.h>
#include <unistd.h>

#include <cerrno>

#include "control/log.h"
#include "xdp/bpf_objects.h"

namespace dg::xdp {
namespace {

constexpr const char* kComponent = "xdp";

// Every map pinned by name in any of the objects.
constexpr const char* kPinnedMaps[] = {
    DG_XDP_NAME(DG_XDP_MAP_LEGS),
    DG_XDP_NAME(DG_XDP_MAP_COUNTERS),
    DG_XDP_NAME(DG_XDP_MAP_HEARTBEAT),
};

EnvResult<void> WriteRedirectTargets(bpf_object* object, const NodeLegs& legs) {
  const std::string operation = "write XDP redirect targets";
  auto map = MapFd(object, DG_XDP_NAME(DG_XDP_MAP_LEGS));
  if (!map) return map.error();
  dg_xdp_legs targets{InterfaceIndex(legs.uplink), InterfaceIndex(legs.gateway_leg)};
  if (targets.uplink_ifindex == 0)
    return EnvironmentError{operation, "no interface " + legs.uplink};
  if (targets.gateway_leg_ifindex == 0) {
    return EnvironmentError{operation, "no interface " + legs.gateway_leg};
  }
  uint32_t key = 0;
  if (bpf_map_update_elem(*map, &key, &targets, BPF_ANY) != 0) {
    return EnvironmentError{operation, ErrnoText(errno)};
  }
  return {};
}

// A freshly pinned heartbeat is all zero: give it the default staleness. An operator's
// value (or 0, check disabled, once a gateway has beaten) is kept on re-attach.
EnvResult<void> InitialiseHeartbeat(bpf_object* object) {
  auto map = MapFd(object, DG_XDP_NAME(DG_XDP_MAP_HEARTBEAT));
  if (!map) return map.error();
  uint32_t key = 0;
  dg_xdp_heartbeat heartbeat{};
  if (bpf_map_lookup_elem(*map, &key, &heartbeat) != 0) {
    return EnvironmentError{"read XDP heartbeat", ErrnoText(errno)};
  }
  if (heartbeat.last_beat_ns != 0 || heartbeat.stale_after_ns != 0) return {};
  heartbeat.stale_after_ns = DG_XDP_HEARTBEAT_STALE_AFTER_NS_DEFAULT;
  if (bpf_map_update_elem(*map, &key, &heartbeat, BPF_ANY) != 0) {
    return EnvironmentError{"initialise XDP heartbeat", ErrnoText(errno)};
  }
  return {};
}

EnvResult<void> LoadAndAttach(NodeProgram program, const std::string& interface,
                              const NodeLegs& legs) {
  auto object = LoadObject(program, PinMaps::kYes);
  if (!object) return object.error();
  if (program != NodeProgram::kNapi) {
    if (auto written = WriteRedirectTargets(object->get(), legs); !written) return written.error();
  }
  if (program == NodeProgram::kKernelLeg) {
    if (auto initialised = InitialiseHeartbeat(object->get()); !initialised) {
      return initialised.error();
    }
  }
  auto program_fd = ProgramFd(object->get(), program);
  if (!program_fd) return program_fd.error();
  auto mode = AttachToLeg(interface, *program_fd);
  if (!mode) return mode.error();
  DG_LOG_INFO(kComponent, "%s: XDP program attached (%s mode)", interface.c_str(),
              std::string(AttachModeName(*mode)).c_str());
  // The attachment and the pins keep program and maps alive once the object is closed.
  return {};
}

}  // namespace

EnvResult<void> AttachNodePrograms(const NodeLegs& legs) {
  // dgw-kernel first: a redirect into its peer needs its NAPI before frames arrive.
  if (auto attached = LoadAndAttach(NodeProgram::kNapi, legs.kernel_leg, legs); !attached) {
    return attached.error();
  }
  if (auto attached = LoadAndAttach(NodeProgram::kKernelLeg, legs.gateway_leg, legs); !attached) {
    return attached.error();
  }
  return LoadAndAttach(NodeProgram::kUplink, legs.uplink, legs);
}

EnvResult<void> DetachNodePrograms(const NodeLegs& legs) {
  // Ingress first, so nothing is redirected into a leg that lost its program.
  for (const std::string* leg : {&legs.uplink, &legs.gateway_leg, &legs.kernel_leg}) {
    if (auto detached = DetachOwnFromLeg(*leg); !detached) return detached.error();
  }
  for (const char* map_name : kPinnedMaps) {
    std::string path = PinPath(map_name);
    if (unlink(path.c_str()) != 0 && errno != ENOENT) {
      return EnvironmentError{"remove pin " + path, ErrnoText(errno)};
    }
  }
  return {};
}

EnvResult<NodeProgramsStatus> QueryNodePrograms(const NodeLegs& legs) {
  NodeProgramsStatus status;
  status.uplink = QueryLeg(legs.uplink);
  status.gateway_leg = QueryLeg(legs.gateway_leg);
  status.kernel_leg = QueryLeg(legs.kernel_leg);
  if (status.gateway_leg.exists) {
    auto bound = CountXskSocketsBound(InterfaceIndex(legs.gateway_leg));
    if (!bound) return bound.error();
    status.gateway_sockets_bound = *bound;
  }
  status.maps_pinned = true;
  for (const char* map_name : kPinnedMaps) {
    status.maps_pinned = status.maps_pinned && access(PinPath(map_name).c_str(), F_OK) == 0;
  }
  if (!status.maps_pinned) return status;
  auto maps = XdpMaps::OpenPinned();
  if (!maps) return maps.error();
  auto heartbeat = maps->ReadHeartbeat();
  if (!heartbeat) return heartbeat.error();
  status.heartbeat_stale_after = std::chrono::nanoseconds(heartbeat->stale_after_ns);
  if (heartbeat->last_beat_ns != 0) {
    status.heartbeat_age =
        std::chrono::nanoseconds(static_cast<int64_t>(MonotonicNowNs() - heartbeat->last_beat_ns));
  }
  auto counters = maps->ReadCounters();
  if (!counters) return counters.error();
  status.counters = *counters;
  return status;
}

EnvResult<void> ReleaseLegsForGateway(const NodeLegs& legs) {
  auto maps = XdpMaps::OpenPinned();
  if (!maps) return maps.error();
  // Fresh before the PMD binds its sockets, so its first frames are not failed open.
  if (auto beaten = maps->Beat(); !beaten) return beaten.error();
  for (const std::string* leg : {&legs.uplink, &legs.gateway_leg}) {
    if (auto detached = DetachOwnFromLeg(*leg); !detached) return detached.error();
  }
  return {};
}

EnvResult<void> RestoreLegsAfterGateway(const NodeLegs& legs) { return AttachNodePrograms(legs); }

}  // namespace dg::xdp
