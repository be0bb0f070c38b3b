// Loader internals shared by node_programs.cc, xdp_maps.cc and the unit tests: opening the
// compiled objects, the pin paths, and attaching one program to one interface with libbpf.
#pragma once

#include <bpf/libbpf.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "control/result.h"
#include "xdp/node_programs.h"

namespace dg::xdp {

struct BpfObjectCloser {
  void operator()(bpf_object* object) const { bpf_object__close(object); }
};
using BpfObjectPtr = std::unique_ptr<bpf_object, BpfObjectCloser>;

// Closes a file descriptor on scope exit.
class OwnedFd {
 public:
  OwnedFd() = default;
  explicit OwnedFd(int fd) : fd_(fd) {}
  OwnedFd(OwnedFd&& other) noexcept : fd_(other.Release()) {}
  OwnedFd& operator=(OwnedFd&& other) noexcept;
  OwnedFd(const OwnedFd&) = delete;
  OwnedFd& operator=(const OwnedFd&) = delete;
  ~OwnedFd();
  int get() const { return fd_; }
  int Release();

 private:
  int fd_ = -1;
};

// Where libbpf pins LIBBPF_PIN_BY_NAME maps by default, and so where DPDK's net_af_xdp
// (which passes no pin root) finds them.
inline constexpr const char* kPinRoot = "/sys/fs/bpf";
std::string PinPath(const char* map_name);

enum class PinMaps { kYes, kNo };  // kNo: private maps, for tests with no interfaces

// Opens and loads one object; with PinMaps::kYes its shared maps are reused from (or
// pinned to) kPinRoot.
EnvResult<BpfObjectPtr> LoadObject(NodeProgram program, PinMaps pin_maps);
// The same for an object file that is not one of the node's three (DG_STAMP_OBJECT),
// found where ObjectPath looks.
EnvResult<BpfObjectPtr> LoadObjectFile(const char* object_file, PinMaps pin_maps);
EnvResult<std::string> ObjectFilePath(const char* object_file);
// The object's only program's fd (owned by the object).
EnvResult<int> ProgramFd(bpf_object* object, NodeProgram program);
EnvResult<int> ProgramFdByName(bpf_object* object, const char* program_name);
EnvResult<int> MapFd(bpf_object* object, const char* map_name);

// CLOCK_MONOTONIC in nanoseconds: the clock bpf_ktime_get_ns() reads (heartbeats).
uint64_t MonotonicNowNs();

std::string ErrnoText(int error);  // strerror for a positive or negative errno

// The interface's index, or 0 when it does not exist.
unsigned InterfaceIndex(const std::string& interface);

LegStatus QueryLeg(const std::string& interface);
// Attaches prog_fd; one of our programs already there (ours or the PMD's instance) is
// replaced atomically in its mode, another program is an error; on a free interface
// native mode is tried first, then SKB mode.
EnvResult<AttachMode> AttachToLeg(const std::string& interface, int prog_fd);
// Detaches the program on the interface when it is one of ours (dg_*); another
// program is left in place with a warning.
EnvResult<void> DetachOwnFromLeg(const std::string& interface);

// AF_XDP sockets bound to the interface in this network namespace (sock_diag);
// nullopt when the kernel cannot list them (no CONFIG_XDP_SOCKETS_DIAG).
EnvResult<std::optional<uint32_t>> CountXskSocketsBound(unsigned ifindex);

}  // namespace dg::xdp
