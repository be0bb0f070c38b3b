// A BPF object loaded with private (unpinned) maps for BPF_PROG_TEST_RUN, and the map
// access every program test needs: the shared heartbeat and counters, through XdpMaps.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "xdp/bpf_objects.h"
#include "xdp/node_programs.h"

namespace dg::xdp {

class BpfObjectUnderTest {
 public:
  explicit BpfObjectUnderTest(EnvResult<BpfObjectPtr> loaded) {
    if (!loaded) {
      error_ = loaded.error().Message();
      return;
    }
    object_ = std::move(*loaded);
  }

  bool loaded() const { return object_ != nullptr; }
  const std::string& error() const { return error_; }
  bpf_object* object() const { return object_.get(); }
  int Map(const char* name) const { return MapFd(object_.get(), name).value(); }

  // The gateway's heartbeat as its control thread writes it (CLOCK_MONOTONIC ns).
  void WriteHeartbeat(uint64_t last_beat_ns,
                      uint64_t stale_after_ns = DG_XDP_HEARTBEAT_STALE_AFTER_NS_DEFAULT) const {
    XdpMaps maps = XdpMaps::OfObject(object_.get()).value();
    maps.WriteHeartbeat(last_beat_ns).value();
    maps.SetStaleAfter(stale_after_ns).value();
  }

  uint64_t Counter(dg_xdp_counter counter) const {
    return XdpMaps::OfObject(object_.get()).value().ReadCounters().value()[counter];
  }

 private:
  BpfObjectPtr object_;
  std::string error_;
};

}  // namespace dg::xdp
