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

// rte_eal_init with --no-huge --no-shconf --no-pci and a unique file prefix, main lcore
// on `main_cpu`. Exits the process with a message on failure.
void InitEalOrDie(const char* program, unsigned memory_mb, unsigned main_cpu);
void CleanupEal();

rte_mempool* CreatePoolOrDie(const char* name, uint32_t mbufs, uint16_t data_room);
rte_mbuf* MakeMbuf(rte_mempool* pool, const std::vector<uint8_t>& bytes);

// Frames of a classic (libpcap, not pcapng) capture file; empty + *error on failure.
std::vector<std::vector<uint8_t>> ReadPcap(const std::string& path, std::string* error);

uint64_t TscHz();

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
