// Target (a): one frame through the real fast path (ClassifyAndMarkBurst over DPDK mbufs,
// the pod table and a published policy), asserting what the gateway promises about every
// frame: the length never changes; only the outer DSCP may change, ECN never; for IPv4 only
// the TOS byte and the header checksum, and when the header arrived with a valid checksum
// the incrementally updated one equals a full recomputation.
//
// Input: byte 0 chooses how the frame is split over an mbuf chain (0: one segment), the
// rest is the frame from the Ethernet header on.
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_mbuf.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "gateway/datapath.h"
#include "gateway/pipeline.h"
#include "tests/fuzz/fuzz_check.h"

namespace dg {
namespace {

rte_mempool* mempool = nullptr;
Datapath* datapath = nullptr;

PodTableEntry Pod(const std::string& address, const std::string& namespace_name) {
  PodTableEntry entry;
  ParsePodAddress(address, &entry.address.key);
  entry.address.text = address;
  entry.namespace_name = namespace_name;
  entry.pod_name = namespace_name + "-pod";
  return entry;
}

// The addresses the seed frames use, in classes with different DSCPs, so marking happens
// (not 0.0.0.0: the IPv4 pod table reserves it as its empty-slot marker and refuses it).
PolicyInputs FuzzPolicy() {
  PriorityPolicy policy;
  policy.classes = {{.name = "critical", .dscp = 46},
                    {.name = "standard", .dscp = 0},
                    {.name = "scavenger", .dscp = 8}};
  policy.default_class = 1;
  policy.exact_namespaces = {{"ray-training", 0}};
  policy.prefix_namespaces = {{"batch-", 2}};
  return PolicyInputs{
      policy,
      {Pod("10.0.0.1", "ray-training"), Pod("10.0.0.2", "batch-etl"),
       Pod("10.1.0.1", "ray-training"), Pod("10.1.0.2", "batch-etl"),
       Pod("fd00::5", "ray-training"), Pod("fd00::6", "batch-etl"), Pod("::", "ray-training")}};
}

uint16_t Ipv4HeaderChecksum(const uint8_t* header, uint32_t length) {
  uint32_t sum = 0;
  for (uint32_t i = 0; i < length; i += 2) {
    if (i == 10) continue;
    sum += static_cast<uint32_t>((header[i] << 8) | header[i + 1]);
  }
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

// 0x0000 and 0xffff are both one's-complement zero: RFC 1624 may give either.
bool SameOnesComplement(uint16_t a, uint16_t b) {
  return a == b || ((a == 0x0000 || a == 0xffff) && (b == 0x0000 || b == 0xffff));
}

// The frame as an mbuf chain: `split` bytes in the first segment, the rest in a second.
rte_mbuf* MakeChain(const uint8_t* frame, uint32_t length, uint32_t split) {
  rte_mbuf* head = rte_pktmbuf_alloc(mempool);
  FUZZ_CHECK(head != nullptr, "mempool exhausted: an mbuf leaked");
  const uint32_t first = split == 0 || split >= length ? length : split;
  std::memcpy(rte_pktmbuf_append(head, static_cast<uint16_t>(first)), frame, first);
  if (first == length) return head;
  rte_mbuf* tail = rte_pktmbuf_alloc(mempool);
  FUZZ_CHECK(tail != nullptr, "mempool exhausted: an mbuf leaked");
  std::memcpy(rte_pktmbuf_append(tail, static_cast<uint16_t>(length - first)), frame + first,
              length - first);
  FUZZ_CHECK(rte_pktmbuf_chain(head, tail) == 0, "cannot chain two segments");
  return head;
}

std::vector<uint8_t> Flatten(const rte_mbuf* mbuf) {
  std::vector<uint8_t> bytes;
  for (const rte_mbuf* segment = mbuf; segment != nullptr; segment = segment->next) {
    const uint8_t* data = rte_pktmbuf_mtod(segment, const uint8_t*);
    bytes.insert(bytes.end(), data, data + segment->data_len);
  }
  return bytes;
}

void CheckOnlyDscpChanged(const std::vector<uint8_t>& in, const std::vector<uint8_t>& out) {
  FUZZ_CHECK(in.size() == out.size(), "length %zu became %zu", in.size(), out.size());
  std::vector<size_t> changed;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != out[i]) changed.push_back(i);
  }
  if (changed.empty()) return;
  // The parser, given the unchanged frame, names the header the pipeline may mark.
  ParsedPacket parsed;
  ParsePacket(in.data(), static_cast<uint32_t>(in.size()), static_cast<uint32_t>(in.size()),
              datapath->pipeline->overlay_ports, &parsed);
  FUZZ_CHECK(parsed.reason == UnclassifiedReason::kNone, "an unclassified frame changed (byte %zu)",
             changed.front());
  const size_t l3 = parsed.l3_offset;
  if (parsed.ip_version == 4) {
    for (size_t index : changed) {
      FUZZ_CHECK(index == l3 + 1 || index == l3 + 10 || index == l3 + 11,
                 "IPv4 byte %zu changed; header at %zu", index, l3);
    }
    FUZZ_CHECK((in[l3 + 1] & 0x03) == (out[l3 + 1] & 0x03), "ECN changed");
    const uint32_t header_length = (in[l3] & 0x0f) * 4u;
    FUZZ_CHECK(header_length >= 20 && l3 + header_length <= in.size(),
               "marked an IPv4 header of %u bytes at %zu in %zu", header_length, l3, in.size());
    const uint16_t in_checksum = static_cast<uint16_t>((in[l3 + 10] << 8) | in[l3 + 11]);
    const uint16_t out_checksum = static_cast<uint16_t>((out[l3 + 10] << 8) | out[l3 + 11]);
    const uint16_t recomputed = Ipv4HeaderChecksum(&out[l3], header_length);
    if (SameOnesComplement(Ipv4HeaderChecksum(&in[l3], header_length), in_checksum)) {
      FUZZ_CHECK(SameOnesComplement(recomputed, out_checksum),
                 "incremental checksum %04x, recomputed %04x", out_checksum, recomputed);
    } else {
      FUZZ_CHECK(!SameOnesComplement(recomputed, out_checksum),
                 "a bad IPv4 checksum was laundered into a good one");
    }
    return;
  }
  FUZZ_CHECK(parsed.ip_version == 6, "marked IP version %u", parsed.ip_version);
  for (size_t index : changed) {
    FUZZ_CHECK(index == l3 || index == l3 + 1, "IPv6 byte %zu changed; header at %zu", index, l3);
  }
  // Version and flow label stay; of the traffic class only DSCP may change, ECN never.
  FUZZ_CHECK((in[l3] & 0xf0) == (out[l3] & 0xf0), "IP version nibble changed");
  FUZZ_CHECK((in[l3 + 1] & 0x0f) == (out[l3 + 1] & 0x0f), "flow label changed");
  FUZZ_CHECK((in[l3 + 1] & 0x30) == (out[l3 + 1] & 0x30), "ECN changed");
}

}  // namespace
}  // namespace dg

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // No hugepages, no shared files, no devices: DPDK as the unit tests run it (--no-huge
  // implies legacy memory, which --in-memory refuses, hence --no-shconf and a prefix).
  const std::string prefix = "dgfuzz" + std::to_string(getpid());
  std::vector<std::string> arguments = {
      "packet_fuzz", "-l",          "0",       "--no-huge",     "-m",  "128", "--no-shconf",
      "--no-pci",    "--log-level", "*:error", "--file-prefix", prefix};
  std::vector<char*> argv;
  for (std::string& argument : arguments) argv.push_back(argument.data());
  FUZZ_CHECK(rte_eal_init(static_cast<int>(argv.size()), argv.data()) >= 0, "EAL: %s",
             rte_strerror(rte_errno));
  dg::mempool = rte_pktmbuf_pool_create("fuzz_mbufs", 255, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
  FUZZ_CHECK(dg::mempool != nullptr, "mbuf pool: %s", rte_strerror(rte_errno));
  auto built = dg::BuildDatapath(dg::FuzzPolicy(), {4789, 8472}, {6081}, 64);
  FUZZ_CHECK(built, "cannot build the datapath: %s", built.error().Message().c_str());
  dg::datapath = built->release();  // lives as long as the process
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace dg;
  if (size < 2 || size - 1 > RTE_MBUF_DEFAULT_DATAROOM) return -1;
  const uint8_t* frame = data + 1;
  const uint32_t length = static_cast<uint32_t>(size - 1);
  const std::vector<uint8_t> in(frame, frame + length);
  rte_mbuf* mbuf = MakeChain(frame, length, data[0]);
  uint8_t class_id = 0xff;
  uint32_t namespace_id = 0xffffffff;
  const PolicySnapshot* policy = datapath->publisher->Current().load();
  FUZZ_CHECK(
      ClassifyAndMarkBurst(*datapath->pipeline, *policy, &mbuf, 1, &class_id, &namespace_id) == 1,
      "the burst was not handled whole");
  FUZZ_CHECK(class_id < datapath->publisher->policy().classes.size(), "class %u", class_id);
  FUZZ_CHECK(rte_pktmbuf_pkt_len(mbuf) == length, "pkt_len %u became %u", length,
             rte_pktmbuf_pkt_len(mbuf));
  const std::vector<uint8_t> out = Flatten(mbuf);
  rte_pktmbuf_free(mbuf);
  CheckOnlyDscpChanged(in, out);
  return 0;
}
