#include "perf/bench_common.h"

#include <pthread.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_mbuf.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace dg::perf {

void InitEalOrDie(const char* program, unsigned memory_mb, unsigned main_cpu, bool hugepages) {
  const std::string prefix = std::string("dgperf") + std::to_string(getpid());
  std::vector<std::string> arguments = {program,         "-l",          std::to_string(main_cpu),
                                        "--no-pci",      "--log-level", "*:error",
                                        "--file-prefix", prefix};
  if (hugepages) {
    arguments.push_back("--in-memory");
  } else {
    for (const char* argument : {"--no-huge", "-m", "", "--no-shconf"})
      arguments.push_back(argument);
    arguments[arguments.size() - 2] = std::to_string(memory_mb);
  }
  std::vector<char*> argv;
  for (std::string& argument : arguments) argv.push_back(argument.data());
  argv.push_back(nullptr);
  if (rte_eal_init(static_cast<int>(arguments.size()), argv.data()) < 0) {
    std::fprintf(stderr, "%s: rte_eal_init failed\n", program);
    std::exit(1);
  }
}

void CleanupEal() {
  // EAL leaves its runtime directory (/var/run/dpdk/<prefix> as root) behind.
  const std::string runtime_dir = rte_eal_get_runtime_dir();
  rte_eal_cleanup();
  if (runtime_dir.find("dgperf") != std::string::npos) {
    std::error_code ignored;
    std::filesystem::remove_all(runtime_dir, ignored);
  }
}

bool TakeHugeFlag(int* argc, char** argv) {
  bool found = false;
  int kept = 0;
  for (int i = 0; i < *argc; ++i) {
    if (i > 0 && std::strcmp(argv[i], "--huge") == 0) {
      found = true;
      continue;
    }
    argv[kept++] = argv[i];
  }
  *argc = kept;
  return found;
}

rte_mempool* CreatePoolOrDie(const char* name, uint32_t mbufs, uint16_t data_room) {
  rte_mempool* pool = rte_pktmbuf_pool_create(
      name, mbufs, 0, 0, static_cast<uint16_t>(data_room + RTE_PKTMBUF_HEADROOM), 0);
  if (pool == nullptr) {
    std::fprintf(stderr, "cannot create mempool %s of %u mbufs\n", name, mbufs);
    std::exit(1);
  }
  return pool;
}

rte_mbuf* MakeMbuf(rte_mempool* pool, const std::vector<uint8_t>& bytes) {
  rte_mbuf* mbuf = rte_pktmbuf_alloc(pool);
  if (mbuf == nullptr) return nullptr;
  char* data = rte_pktmbuf_append(mbuf, static_cast<uint16_t>(bytes.size()));
  if (data == nullptr) {
    rte_pktmbuf_free(mbuf);
    return nullptr;
  }
  std::memcpy(data, bytes.data(), bytes.size());
  return mbuf;
}

std::vector<std::vector<uint8_t>> ReadPcap(const std::string& path, std::string* error) {
  std::vector<std::vector<uint8_t>> frames;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = path + ": cannot open";
    return {};
  }
  uint8_t header[24];
  if (!in.read(reinterpret_cast<char*>(header), sizeof(header))) {
    *error = path + ": no pcap header";
    return {};
  }
  uint32_t magic;
  std::memcpy(&magic, header, 4);
  bool swapped;
  if (magic == 0xa1b2c3d4 || magic == 0xa1b23c4d) {
    swapped = false;
  } else if (magic == 0xd4c3b2a1 || magic == 0x4d3cb2a1) {
    swapped = true;
  } else {
    *error = path + ": not a classic pcap file";
    return {};
  }
  auto field = [swapped](const uint8_t* bytes) {
    uint32_t value;
    std::memcpy(&value, bytes, 4);
    return swapped ? __builtin_bswap32(value) : value;
  };
  uint8_t record[16];
  while (in.read(reinterpret_cast<char*>(record), sizeof(record))) {
    const uint32_t captured = field(record + 8);
    if (captured > 65535) {
      *error = path + ": corrupt record";
      return {};
    }
    std::vector<uint8_t> frame(captured);
    if (!in.read(reinterpret_cast<char*>(frame.data()), captured)) break;
    frames.push_back(std::move(frame));
  }
  if (frames.empty()) *error = path + ": no frames";
  return frames;
}

uint64_t TscHz() { return rte_get_tsc_hz(); }

uint64_t TimerOverheadCycles() {
  static const uint64_t overhead = [] {
    std::vector<uint64_t> samples(20001);
    for (uint64_t& sample : samples) {
      const uint64_t start = rte_rdtsc();
      sample = rte_rdtsc() - start;
    }
    std::nth_element(samples.begin(), samples.begin() + samples.size() / 2, samples.end());
    return samples[samples.size() / 2];
  }();
  return overhead;
}

double CycleSamples::MedianPerItem(uint32_t items_per_sample) {
  if (samples_.empty()) return 0;
  std::nth_element(samples_.begin(), samples_.begin() + samples_.size() / 2, samples_.end());
  const double median = samples_[samples_.size() / 2];
  const double overhead = static_cast<double>(TimerOverheadCycles());
  return std::max(0.0, median - overhead) / items_per_sample;
}

double CycleSamples::MeanPerItem(uint32_t items_per_sample) const {
  if (count_ == 0) return 0;
  const double mean = static_cast<double>(total_) / static_cast<double>(count_);
  return std::max(0.0, mean - static_cast<double>(TimerOverheadCycles())) / items_per_sample;
}

bool PinThisThread(unsigned cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return pthread_setaffinity_np(pthread_self(), sizeof(set), &set) == 0;
}

dg_pod_key Ipv4Key(uint32_t host_order_address) {
  dg_pod_key key{};
  key.addr[10] = 0xff;
  key.addr[11] = 0xff;
  const uint32_t network = htonl(host_order_address);
  std::memcpy(key.addr + 12, &network, 4);
  return key;
}

dg_pod_key Ipv6Key(const std::string& text) {
  dg_pod_key key{};
  inet_pton(AF_INET6, text.c_str(), key.addr);
  return key;
}

namespace {

// resize + memcpy rather than vector::insert: GCC 12 at -O3 reports a false
// -Warray-bounds inside insert() for small initializer-list vectors.
void Append(std::vector<uint8_t>& out, const std::vector<uint8_t>& tail) {
  const size_t old_size = out.size();
  out.resize(old_size + tail.size());
  if (!tail.empty()) std::memcpy(out.data() + old_size, tail.data(), tail.size());
}

void Put16(std::vector<uint8_t>& out, uint16_t value) {
  out.push_back(static_cast<uint8_t>(value >> 8));
  out.push_back(static_cast<uint8_t>(value));
}

void PutAddress(std::vector<uint8_t>& out, int version, const std::string& text) {
  uint8_t bytes[16] = {};
  inet_pton(version == 4 ? AF_INET : AF_INET6, text.c_str(), bytes);
  Append(out, std::vector<uint8_t>(bytes, bytes + (version == 4 ? 4 : 16)));
}

uint16_t Ipv4Checksum(const uint8_t* header) {
  uint32_t sum = 0;
  for (uint32_t i = 0; i < 20; i += 2)
    sum += static_cast<uint32_t>((header[i] << 8) | header[i + 1]);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

std::vector<uint8_t> Ethernet(uint16_t vlan_id, uint16_t ether_type) {
  std::vector<uint8_t> header = {0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01};
  if (vlan_id != 0) {
    Put16(header, 0x8100);
    Put16(header, vlan_id);
  }
  Put16(header, ether_type);
  return header;
}

// IP header + `payload` (protocol `protocol`).
std::vector<uint8_t> IpPacket(int version, const std::string& source,
                              const std::string& destination, uint8_t protocol,
                              const std::vector<uint8_t>& payload) {
  std::vector<uint8_t> packet;
  if (version == 4) {
    packet = {0x45, 0x00};
    Put16(packet, static_cast<uint16_t>(20 + payload.size()));
    Put16(packet, 0x1234);
    Put16(packet, 0);
    packet.push_back(64);
    packet.push_back(protocol);
    Put16(packet, 0);
    PutAddress(packet, 4, source);
    PutAddress(packet, 4, destination);
    const uint16_t checksum = Ipv4Checksum(packet.data());
    packet[10] = static_cast<uint8_t>(checksum >> 8);
    packet[11] = static_cast<uint8_t>(checksum);
  } else {
    packet = {0x60, 0, 0, 0};
    Put16(packet, static_cast<uint16_t>(payload.size()));
    packet.push_back(protocol);
    packet.push_back(64);
    PutAddress(packet, 6, source);
    PutAddress(packet, 6, destination);
  }
  Append(packet, payload);
  return packet;
}

std::vector<uint8_t> L4(bool udp, uint16_t destination_port, const std::vector<uint8_t>& payload) {
  std::vector<uint8_t> segment;
  Put16(segment, 40000);
  Put16(segment, destination_port);
  if (udp) {
    Put16(segment, static_cast<uint16_t>(8 + payload.size()));
    Put16(segment, 0);
  } else {
    segment.resize(20, 0);  // TCP header: seq, ack, offset 5, flags ACK
    segment[12] = 0x50;
    segment[13] = 0x10;
  }
  Append(segment, payload);
  return segment;
}

}  // namespace

std::vector<uint8_t> BuildFrame(const FrameSpec& spec) {
  const uint32_t ethernet = 14 + (spec.vlan_id != 0 ? 4 : 0);
  const uint32_t ip = spec.ip_version == 4 ? 20 : 40;
  const uint32_t l4 = spec.udp ? 8 : 20;
  uint32_t headers = ethernet + ip + l4;
  if (spec.vxlan) headers = ethernet + 20 + 8 + 8 + 14 + 20 + l4;
  const std::vector<uint8_t> payload(spec.frame_bytes > headers ? spec.frame_bytes - headers : 0,
                                     0xab);
  std::vector<uint8_t> frame;
  if (spec.vxlan) {
    std::vector<uint8_t> inner = Ethernet(0, 0x0800);
    const auto inner_ip = IpPacket(4, spec.inner_source, "10.245.0.1", spec.udp ? 17 : 6,
                                   L4(spec.udp, spec.udp_destination_port, payload));
    Append(inner, inner_ip);
    std::vector<uint8_t> tunnel = {0x08, 0, 0, 0, 0, 0, 42, 0};
    Append(tunnel, inner);
    frame = Ethernet(spec.vlan_id, 0x0800);
    const auto outer = IpPacket(4, spec.source, spec.destination, 17, L4(true, 4789, tunnel));
    Append(frame, outer);
    return frame;
  }
  frame = Ethernet(spec.vlan_id, spec.ip_version == 4 ? 0x0800 : 0x86DD);
  const auto packet = IpPacket(spec.ip_version, spec.source, spec.destination, spec.udp ? 17 : 6,
                               L4(spec.udp, spec.udp_destination_port, payload));
  Append(frame, packet);
  return frame;
}

}  // namespace dg::perf
