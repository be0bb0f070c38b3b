#include "xdp/pod_stamp_programs.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <net/if.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <system_error>
#include <utility>

namespace dg::xdp {
namespace {

// Ours on any interface: a fixed handle, and priority 1 so the stamp is written before a
// CNI's own filter (Cilium's on lxc*) looks at the frame.
constexpr uint32_t kFilterHandle = 0xd5c9;
constexpr uint32_t kFilterPriority = 1;

EnvResult<void> AttachFilter(uint32_t ifindex, bpf_tc_attach_point point, int prog_fd,
                             const std::string& operation) {
  bpf_tc_hook hook{};
  hook.sz = sizeof(hook);
  hook.ifindex = static_cast<int>(ifindex);
  hook.attach_point = point;
  // The clsact qdisc may be there already (a CNI's, or ours from before): fine.
  if (int error = bpf_tc_hook_create(&hook); error != 0 && error != -EEXIST) {
    return EnvironmentError{operation, "create clsact qdisc: " + ErrnoText(error)};
  }
  bpf_tc_opts options{};
  options.sz = sizeof(options);
  options.prog_fd = prog_fd;
  options.handle = kFilterHandle;
  options.priority = kFilterPriority;
  options.flags = BPF_TC_F_REPLACE;
  if (int error = bpf_tc_attach(&hook, &options)) {
    return EnvironmentError{operation, ErrnoText(error)};
  }
  return {};
}

EnvResult<void> DetachFilter(uint32_t ifindex, bpf_tc_attach_point point,
                             const std::string& operation) {
  bpf_tc_hook hook{};
  hook.sz = sizeof(hook);
  hook.ifindex = static_cast<int>(ifindex);
  hook.attach_point = point;
  bpf_tc_opts options{};
  options.sz = sizeof(options);
  options.handle = kFilterHandle;
  options.priority = kFilterPriority;
  int error = bpf_tc_detach(&hook, &options);
  // Gone with its link, or never there.
  if (error == 0 || error == -ENOENT || error == -ENODEV || error == -EINVAL) return {};
  return EnvironmentError{operation, ErrnoText(error)};
}

std::string IfText(uint32_t ifindex) {
  char name[IF_NAMESIZE] = {};
  return if_indextoname(ifindex, name) != nullptr ? std::string(name)
                                                  : "ifindex " + std::to_string(ifindex);
}

}  // namespace

EnvResult<PodStampPrograms> PodStampPrograms::Load() {
  auto object = LoadObjectFile(DG_STAMP_OBJECT, PinMaps::kYes);
  if (!object) return object.error();
  PodStampPrograms programs(std::move(*object));
  for (auto [name, fd] : {std::pair{DG_XDP_NAME(DG_STAMP_PROG_STAMP), &programs.stamp_fd_},
                          std::pair{DG_XDP_NAME(DG_STAMP_PROG_GUARD), &programs.guard_fd_}}) {
    auto found = ProgramFdByName(programs.object_.get(), name);
    if (!found) return found.error();
    *fd = *found;
  }
  for (auto [name, fd] :
       {std::pair{DG_XDP_NAME(DG_STAMP_MAP_PODS), &programs.pods_fd_},
        std::pair{DG_XDP_NAME(DG_STAMP_MAP_TRUSTED_IFS), &programs.trusted_fd_}}) {
    auto found = MapFd(programs.object_.get(), name);
    if (!found) return found.error();
    *fd = *found;
  }
  return programs;
}

PodStampPrograms::PodStampPrograms(BpfObjectPtr object) : object_(std::move(object)) {}

EnvResult<void> PodStampPrograms::AttachGuard(uint32_t ifindex) {
  return AttachFilter(ifindex, BPF_TC_EGRESS, guard_fd_,
                      "attach the stamp guard to " + IfText(ifindex) + " (tc egress)");
}

EnvResult<void> PodStampPrograms::AttachStamp(uint32_t ifindex) {
  return AttachFilter(ifindex, BPF_TC_INGRESS, stamp_fd_,
                      "attach the pod stamp to " + IfText(ifindex) + " (tc ingress)");
}

EnvResult<void> PodStampPrograms::DetachGuard(uint32_t ifindex) {
  return DetachFilter(ifindex, BPF_TC_EGRESS, "detach the stamp guard from " + IfText(ifindex));
}

EnvResult<void> PodStampPrograms::DetachStamp(uint32_t ifindex) {
  return DetachFilter(ifindex, BPF_TC_INGRESS, "detach the pod stamp from " + IfText(ifindex));
}

EnvResult<void> PodStampPrograms::UpsertPod(const dg_pod_key& address, uint8_t codepoint) {
  if (bpf_map_update_elem(pods_fd_, &address, &codepoint, BPF_ANY) != 0) {
    return EnvironmentError{"write the pod-stamp map", ErrnoText(errno)};
  }
  return {};
}

EnvResult<void> PodStampPrograms::ErasePod(const dg_pod_key& address) {
  if (bpf_map_delete_elem(pods_fd_, &address) != 0 && errno != ENOENT) {
    return EnvironmentError{"erase from the pod-stamp map", ErrnoText(errno)};
  }
  return {};
}

EnvResult<void> PodStampPrograms::SetTrustedInterfaces(const std::vector<uint32_t>& ifindexes) {
  const uint8_t trusted = 1;
  // Added before the old ones go: a frame in between is never wrongly cleared.
  for (uint32_t ifindex : ifindexes) {
    if (bpf_map_update_elem(trusted_fd_, &ifindex, &trusted, BPF_ANY) != 0) {
      return EnvironmentError{"write the stamp guard's interfaces", ErrnoText(errno)};
    }
  }
  for (uint32_t ifindex : trusted_) {
    if (std::find(ifindexes.begin(), ifindexes.end(), ifindex) == ifindexes.end()) {
      bpf_map_delete_elem(trusted_fd_, &ifindex);
    }
  }
  trusted_ = ifindexes;
  return {};
}

void PodStampPrograms::RemovePins() {
  for (const char* name : {DG_XDP_NAME(DG_STAMP_MAP_PODS), DG_XDP_NAME(DG_STAMP_MAP_TRUSTED_IFS)}) {
    unlink(PinPath(name).c_str());
  }
}

std::vector<NodeLink> ListNodeLinks() {
  std::vector<NodeLink> links;
  struct if_nameindex* interfaces = if_nameindex();
  if (interfaces == nullptr) return links;
  for (struct if_nameindex* entry = interfaces; entry->if_index != 0; ++entry) {
    NodeLink link{entry->if_index, entry->if_name, 0};
    std::error_code error;
    auto master = std::filesystem::read_symlink(
        std::filesystem::path("/sys/class/net") / entry->if_name / "master", error);
    if (!error) link.master_ifindex = if_nametoindex(master.filename().c_str());
    links.push_back(std::move(link));
  }
  if_freenameindex(interfaces);
  return links;
}

}  // namespace dg::xdp
