#include "xdp/bpf_objects.h"

#include <bpf/bpf.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <mutex>
#include <string_view>
#include <vector>

#include "control/log.h"

namespace dg::xdp {
namespace {

constexpr const char* kComponent = "xdp";

struct ProgramFiles {
  const char* object;
  const char* program;
};

ProgramFiles FilesOf(NodeProgram program) {
  switch (program) {
    case NodeProgram::kKernelLeg:
      return {DG_XDP_OBJECT_KERNEL_LEG, DG_XDP_NAME(DG_XDP_PROG_KERNEL_LEG)};
    case NodeProgram::kUplink:
      return {DG_XDP_OBJECT_UPLINK, DG_XDP_NAME(DG_XDP_PROG_UPLINK)};
    case NodeProgram::kNapi:
      return {DG_XDP_OBJECT_NAPI, DG_XDP_NAME(DG_XDP_PROG_NAPI)};
  }
  return {"", ""};
}

bool IsOwnProgramName(std::string_view name) {
  for (NodeProgram program : {NodeProgram::kKernelLeg, NodeProgram::kUplink, NodeProgram::kNapi}) {
    if (name == FilesOf(program).program) return true;
  }
  return false;
}

// libbpf's own messages go through the project's log, warnings as warnings.
int LogLibbpf(libbpf_print_level level, const char* format, va_list args) {
  if (level == LIBBPF_DEBUG && !LogEnabled(LogLevel::kDebug)) return 0;
  std::array<char, 1024> line{};
  int length = std::vsnprintf(line.data(), line.size(), format, args);
  std::string_view text(line.data(), length < 0 ? 0 : std::min<size_t>(length, line.size() - 1));
  while (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  if (text.starts_with("libbpf: ")) text.remove_prefix(8);  // the component says it already
  Log(level == LIBBPF_WARN ? LogLevel::kWarning : LogLevel::kDebug, "libbpf", text);
  return 0;
}

void RouteLibbpfLogs() {
  static std::once_flag once;
  std::call_once(once, [] { libbpf_set_print(LogLibbpf); });
}

uint32_t ModeFlag(AttachMode mode) {
  switch (mode) {
    case AttachMode::kNative:
      return XDP_FLAGS_DRV_MODE;
    case AttachMode::kGeneric:
      return XDP_FLAGS_SKB_MODE;
    case AttachMode::kOffload:
      return XDP_FLAGS_HW_MODE;
    case AttachMode::kNone:
      break;
  }
  return 0;
}

std::string ExecutableDir() {
  std::error_code error;
  auto executable = std::filesystem::read_symlink("/proc/self/exe", error);
  return error ? std::string() : executable.parent_path().string();
}

}  // namespace

uint64_t MonotonicNowNs() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<uint64_t>(now.tv_sec) * 1'000'000'000ULL + static_cast<uint64_t>(now.tv_nsec);
}

OwnedFd& OwnedFd::operator=(OwnedFd&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    fd_ = other.Release();
  }
  return *this;
}

OwnedFd::~OwnedFd() {
  if (fd_ >= 0) close(fd_);
}

int OwnedFd::Release() {
  int fd = fd_;
  fd_ = -1;
  return fd;
}

std::string ErrnoText(int error) { return std::strerror(error < 0 ? -error : error); }

std::string PinPath(const char* map_name) { return std::string(kPinRoot) + "/" + map_name; }

unsigned InterfaceIndex(const std::string& interface) { return if_nametoindex(interface.c_str()); }

std::string_view AttachModeName(AttachMode mode) {
  switch (mode) {
    case AttachMode::kNone:
      return "none";
    case AttachMode::kNative:
      return "native";
    case AttachMode::kGeneric:
      return "skb";
    case AttachMode::kOffload:
      return "offload";
  }
  return "none";
}

EnvResult<std::string> ObjectPath(NodeProgram program) {
  return ObjectFilePath(FilesOf(program).object);
}

EnvResult<std::string> ObjectFilePath(const char* object) {
  std::vector<std::string> directories;
  if (const char* override_dir = std::getenv("DSCP_GATEWAY_BPF_DIR")) {
    directories.push_back(override_dir);
  } else {
    std::string executable_dir = ExecutableDir();
    if (!executable_dir.empty()) {
      directories.push_back(executable_dir);
      directories.push_back(executable_dir + "/../xdp");  // the build tree
    }
    directories.push_back(DG_BPF_INSTALL_DIR);
  }
  std::string tried;
  for (const std::string& directory : directories) {
    std::string path = directory + "/" + object;
    if (access(path.c_str(), R_OK) == 0) {
      return EnvResult<std::string>(boost::system::in_place_value,
                                    std::filesystem::weakly_canonical(path).string());
    }
    tried += (tried.empty() ? "" : ", ") + path;
  }
  return EnvironmentError{std::string("find BPF object ") + object,
                          "not readable in any of: " + tried + " (set DSCP_GATEWAY_BPF_DIR)"};
}

EnvResult<BpfObjectPtr> LoadObject(NodeProgram program, PinMaps pin_maps) {
  return LoadObjectFile(FilesOf(program).object, pin_maps);
}

EnvResult<BpfObjectPtr> LoadObjectFile(const char* object_file, PinMaps pin_maps) {
  RouteLibbpfLogs();
  auto path = ObjectFilePath(object_file);
  if (!path) return path.error();
  bpf_object_open_opts options{};
  options.sz = sizeof(options);
  options.pin_root_path = kPinRoot;
  BpfObjectPtr object(bpf_object__open_file(path->c_str(), &options));
  if (int error = libbpf_get_error(object.get())) {
    object.release();  // an error pointer, not an object
    return EnvironmentError{"open BPF object " + *path, ErrnoText(error)};
  }
  if (pin_maps == PinMaps::kNo) {
    bpf_map* map = nullptr;
    bpf_object__for_each_map(map, object.get()) { bpf_map__set_pin_path(map, nullptr); }
  }
  if (int error = bpf_object__load(object.get())) {
    return EnvironmentError{
        "load BPF object " + *path,
        ErrnoText(error) + (pin_maps == PinMaps::kYes
                                ? " (a map pinned in " + std::string(kPinRoot) +
                                      " by an older build? `node detach` removes them)"
                                : "")};
  }
  return object;
}

EnvResult<int> ProgramFd(bpf_object* object, NodeProgram program) {
  return ProgramFdByName(object, FilesOf(program).program);
}

EnvResult<int> ProgramFdByName(bpf_object* object, const char* name) {
  bpf_program* found = bpf_object__find_program_by_name(object, name);
  if (found == nullptr) {
    return EnvironmentError{std::string("find BPF program ") + name, "not in the object"};
  }
  return bpf_program__fd(found);
}

EnvResult<int> MapFd(bpf_object* object, const char* map_name) {
  bpf_map* map = bpf_object__find_map_by_name(object, map_name);
  if (map == nullptr) {
    return EnvironmentError{std::string("find BPF map ") + map_name, "not in the object"};
  }
  return bpf_map__fd(map);
}

LegStatus QueryLeg(const std::string& interface) {
  LegStatus status;
  status.interface = interface;
  unsigned ifindex = InterfaceIndex(interface);
  if (ifindex == 0) return status;
  status.exists = true;
  bpf_xdp_query_opts query{};
  query.sz = sizeof(query);
  if (bpf_xdp_query(static_cast<int>(ifindex), 0, &query) != 0 || query.prog_id == 0) {
    return status;
  }
  status.program_id = query.prog_id;
  switch (query.attach_mode) {
    case XDP_ATTACHED_DRV:
      status.mode = AttachMode::kNative;
      break;
    case XDP_ATTACHED_SKB:
      status.mode = AttachMode::kGeneric;
      break;
    case XDP_ATTACHED_HW:
      status.mode = AttachMode::kOffload;
      break;
    default:
      status.mode = query.drv_prog_id != 0 ? AttachMode::kNative : AttachMode::kGeneric;
  }
  OwnedFd program(bpf_prog_get_fd_by_id(status.program_id));
  if (program.get() >= 0) {
    bpf_prog_info info{};
    uint32_t length = sizeof(info);
    if (bpf_obj_get_info_by_fd(program.get(), &info, &length) == 0) status.program_name = info.name;
  }
  return status;
}

EnvResult<AttachMode> AttachToLeg(const std::string& interface, int prog_fd) {
  const std::string operation = "attach XDP program to " + interface;
  unsigned ifindex = InterfaceIndex(interface);
  if (ifindex == 0) return EnvironmentError{operation, "no such interface"};
  LegStatus current = QueryLeg(interface);
  bpf_xdp_attach_opts options{};
  options.sz = sizeof(options);
  if (current.program_id != 0 && !IsOwnProgramName(current.program_name)) {
    return EnvironmentError{operation, "XDP program " + std::to_string(current.program_id) + " (" +
                                           current.program_name +
                                           ") is attached and is not ours; not replacing it"};
  }
  if (current.program_id != 0) {
    OwnedFd old_program(bpf_prog_get_fd_by_id(current.program_id));
    if (old_program.get() < 0)
      return EnvironmentError{operation, "get attached program: " + ErrnoText(errno)};
    options.old_prog_fd = old_program.get();
    if (int error = bpf_xdp_attach(static_cast<int>(ifindex), prog_fd,
                                   ModeFlag(current.mode) | XDP_FLAGS_REPLACE, &options)) {
      return EnvironmentError{operation, "replace program " + std::to_string(current.program_id) +
                                             ": " + ErrnoText(error)};
    }
    return current.mode;
  }
  int native_error = bpf_xdp_attach(static_cast<int>(ifindex), prog_fd,
                                    XDP_FLAGS_DRV_MODE | XDP_FLAGS_UPDATE_IF_NOEXIST, &options);
  if (native_error == 0) return AttachMode::kNative;
  int generic_error = bpf_xdp_attach(static_cast<int>(ifindex), prog_fd,
                                     XDP_FLAGS_SKB_MODE | XDP_FLAGS_UPDATE_IF_NOEXIST, &options);
  if (generic_error == 0) {
    DG_LOG_WARNING(kComponent, "%s: native XDP refused (%s), attached in SKB mode",
                   interface.c_str(), ErrnoText(native_error).c_str());
    return AttachMode::kGeneric;
  }
  return EnvironmentError{operation, "native mode: " + ErrnoText(native_error) +
                                         "; SKB mode: " + ErrnoText(generic_error)};
}

EnvResult<void> DetachOwnFromLeg(const std::string& interface) {
  LegStatus current = QueryLeg(interface);
  if (current.program_id == 0) return {};
  if (!IsOwnProgramName(current.program_name)) {
    DG_LOG_WARNING(kComponent, "%s: left XDP program %u (%s) in place: not one of ours",
                   interface.c_str(), current.program_id, current.program_name.c_str());
    return {};
  }
  const std::string operation = "detach XDP program from " + interface;
  OwnedFd old_program(bpf_prog_get_fd_by_id(current.program_id));
  if (old_program.get() < 0) return EnvironmentError{operation, ErrnoText(errno)};
  bpf_xdp_attach_opts options{};
  options.sz = sizeof(options);
  options.old_prog_fd = old_program.get();
  // Replacing exactly the program we saw with none: a program attached since is kept.
  if (int error = bpf_xdp_attach(static_cast<int>(InterfaceIndex(interface)), -1,
                                 ModeFlag(current.mode) | XDP_FLAGS_REPLACE, &options)) {
    return EnvironmentError{operation, ErrnoText(error)};
  }
  return {};
}

}  // namespace dg::xdp
