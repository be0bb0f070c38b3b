// Shared by the perf/ microbenchmarks: EAL without hugepages, an mbuf pool, test frames
// (a trimmed copy of tests/unit/frame_builder.h: perf/ does not include tests/), a
// minimal pcap reader, and TSC helpers.
#pragma once

#include <arpa/inet.h>

#include <cstdint>
#include <string>
#include <vector>

#include "dscp_gateway_abi.h"

struct rte_mempool;
struct rte_mbuf;

namespace dg::perf {

// rte_eal_init with the main lcore on `main_cpu`, --no-pci and a unique file prefix.
// Without `hugepages`: --no-huge -m memory_mb --no-shconf (no root, no setup needed, but
// 4 KiB pages: big tables then pay TLB misses the daemon, on 2 MiB pages, does not).
// With it: --in-memory on the hugepages .ci/setup reserves (needs root). Exits the
// process with a message on failure.
// The four-class policy of the benchmarks (perf/netns/policies.py is the traffic tests').
inline constexpr const char* kBenchmarkPriorities = R"(classes:
  - {name: critical, dscp: 46}
  - {name: high, dscp: 34}
  - {name: standard, dscp: 0}
  - {name: scavenger, dscp: 8}
defaultClass: standard
namespaces: {ray-training: critical, ray-serve: high, inference: high, batch-*: scavenger}
)";

void InitEalOrDie(const char* program, unsigned memory_mb, unsigned main_cpu,
                  bool hugepages = false);

// Removes "--huge" from argv (returns whether it was there), for the benchmarks' mains.
bool TakeHugeFlag(int* argc, char** argv);
void CleanupEal();

rte_mempool* CreatePoolOrDie(const char* name, uint32_t mbufs, uint16_t data_room);
rte_mbuf* MakeMbuf(rte_mempool* pool, const std::vector<uint8_t>& bytes);

// Frames of a classic (libpcap, not pcapng) capture file; empty + *error on failure.
std::vector<std::vector<uint8_t>> ReadPcap(const std::string& path, std::string* error);

uint64_t TscHz();

// Cost of an empty rte_rdtsc()-timed region (median of many back-to-back pairs), to
// subtract from timed samples. Calibrated once.
uint64_t TimerOverheadCycles();

// Per-sample TSC cycles of a timed region (one sample per burst). The median is robust
// against the preemptions a shared host inflicts on a few samples, which would dominate
// a mean; both are reported.
class CycleSamples {
 public:
  static constexpr size_t kCapacity = size_t{1} << 21;
  CycleSamples() { samples_.reserve(kCapacity); }
  void Add(uint64_t cycles) {
    total_ += cycles;
    ++count_;
    if (samples_.size() < kCapacity)
      samples_.push_back(cycles > UINT32_MAX ? UINT32_MAX : static_cast<uint32_t>(cycles));
  }
  uint64_t count() const { return count_; }
  // Per item (packet), timer overhead removed.
  double MedianPerItem(uint32_t items_per_sample);
  double MeanPerItem(uint32_t items_per_sample) const;

 private:
  std::vector<uint32_t> samples_;
  uint64_t total_ = 0;
  uint64_t count_ = 0;
};

// Pins the calling thread to one CPU (false if the CPU does not exist).
bool PinThisThread(unsigned cpu);

// IPv4 address as a pod key (IPv4-mapped IPv6, as the parser builds it).
dg_pod_key Ipv4Key(uint32_t host_order_address);
dg_pod_key Ipv6Key(const std::string& text);

// ---------------------------------------------------------------- frame building
struct FrameSpec {
  uint16_t vlan_id = 0;  // 0: untagged; else one 802.1Q tag
  int ip_version = 4;
  std::string source = "10.0.0.1";
  std::string destination = "10.0.0.2";
  bool udp = true;  // else TCP-sized bare header (protocol 6)
  uint16_t udp_destination_port = 5000;
  bool vxlan = false;  // outer UDP to 4789, inner Ethernet + IPv4 from inner_source
  std::string inner_source = "10.1.0.1";
  uint32_t frame_bytes = 64;  // padded (or not shortened) to this total length
};

std::vector<uint8_t> BuildFrame(const FrameSpec& spec);

// Offset of the outer IPv4 source address in an untagged IPv4 frame.
inline constexpr uint32_t kIpv4SourceOffset = 14 + 12;

}  // namespace dg::perf
