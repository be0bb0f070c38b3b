// Builds test frames from a declarative spec, with correct lengths and checksums, so
// each test case is a row of data rather than a hex dump.
#pragma once

#include <arpa/inet.h>

#include <cstdint>
#include <string>
#include <vector>

namespace dg::testing {

enum class Overlay { kNone, kVxlan, kGeneve };

struct FrameSpec {
  std::vector<uint16_t> vlan_tpids;  // e.g. {0x88A8, 0x8100}
  int ip_version = 4;                // 4, 6, or 0 for a non-IP (ARP) frame
  std::string source = "10.0.0.1";
  std::string destination = "10.0.0.2";
  uint8_t tos = 0;  // TOS / traffic class byte (DSCP << 2 | ECN)
  uint32_t flow_label = 0;
  uint8_t ipv4_option_words = 0;  // IHL = 5 + this
  bool ipv6_hop_by_hop = false;
  uint16_t fragment_offset_units = 0;  // in 8-byte units
  bool more_fragments = false;
  uint16_t identification = 0x1234;
  bool udp = true;  // else a bare payload with protocol 6
  uint16_t udp_destination_port = 5000;
  Overlay overlay = Overlay::kNone;
  uint8_t geneve_option_words = 0;
  bool geneve_inner_ethernet = true;  // false: protocol type 0x0800/0x86DD directly
  int inner_ip_version = 4;
  std::string inner_source = "10.1.0.1";
  std::string inner_destination = "10.1.0.2";
  uint32_t payload_bytes = 32;
};

inline void Put16(std::vector<uint8_t>& out, uint16_t value) {
  out.push_back(static_cast<uint8_t>(value >> 8));
  out.push_back(static_cast<uint8_t>(value));
}

inline std::vector<uint8_t> AddressBytes(int version, const std::string& text) {
  std::vector<uint8_t> bytes(version == 4 ? 4 : 16);
  inet_pton(version == 4 ? AF_INET : AF_INET6, text.c_str(), bytes.data());
  return bytes;
}

// One's complement checksum computed from scratch: the oracle for incremental updates.
inline uint16_t FullIpv4Checksum(const uint8_t* header, uint32_t length) {
  uint32_t sum = 0;
  for (uint32_t i = 0; i < length; i += 2) {
    if (i == 10) continue;  // the checksum field itself
    sum += static_cast<uint32_t>((header[i] << 8) | header[i + 1]);
  }
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

inline std::vector<uint8_t> IpHeader(int version, const std::string& source,
                                     const std::string& destination, uint8_t tos, uint8_t protocol,
                                     uint32_t payload_length, const FrameSpec& spec, bool outer) {
  std::vector<uint8_t> header;
  if (version == 4) {
    const uint8_t option_words = outer ? spec.ipv4_option_words : 0;
    const uint32_t header_length = 20 + option_words * 4u;
    header.push_back(static_cast<uint8_t>(0x40 | (5 + option_words)));
    header.push_back(tos);
    Put16(header, static_cast<uint16_t>(header_length + payload_length));
    Put16(header, outer ? spec.identification : 0x4321);
    uint16_t flags_offset = outer ? spec.fragment_offset_units : 0;
    if (outer && spec.more_fragments) flags_offset |= 0x2000;
    Put16(header, flags_offset);
    header.push_back(64);
    header.push_back(protocol);
    Put16(header, 0);
    for (uint8_t b : AddressBytes(4, source)) header.push_back(b);
    for (uint8_t b : AddressBytes(4, destination)) header.push_back(b);
    for (uint32_t i = 0; i < option_words * 4u; ++i)
      header.push_back(i == 0 ? 0x01 : 0x01);  // NOPs
    const uint16_t checksum = FullIpv4Checksum(header.data(), header_length);
    header[10] = static_cast<uint8_t>(checksum >> 8);
    header[11] = static_cast<uint8_t>(checksum);
    return header;
  }
  const bool hop_by_hop = outer && spec.ipv6_hop_by_hop;
  const bool fragment = outer && (spec.more_fragments || spec.fragment_offset_units != 0);
  const uint32_t extension_length = (hop_by_hop ? 8 : 0) + (fragment ? 8 : 0);
  const uint32_t flow = outer ? spec.flow_label : 0;
  header.push_back(static_cast<uint8_t>(0x60 | (tos >> 4)));
  header.push_back(static_cast<uint8_t>(((tos & 0x0f) << 4) | ((flow >> 16) & 0x0f)));
  Put16(header, static_cast<uint16_t>(flow));
  Put16(header, static_cast<uint16_t>(payload_length + extension_length));
  header.push_back(hop_by_hop ? 0 : (fragment ? 44 : protocol));
  header.push_back(64);
  for (uint8_t b : AddressBytes(6, source)) header.push_back(b);
  for (uint8_t b : AddressBytes(6, destination)) header.push_back(b);
  if (hop_by_hop) {
    const uint8_t next = fragment ? 44 : protocol;
    for (uint8_t b : {next, uint8_t{0}, uint8_t{1}, uint8_t{4}, uint8_t{0}, uint8_t{0}, uint8_t{0},
                      uint8_t{0}}) {
      header.push_back(b);  // PadN option filling the 8 bytes
    }
  }
  if (fragment) {
    header.push_back(protocol);
    header.push_back(0);
    Put16(header,
          static_cast<uint16_t>((spec.fragment_offset_units << 3) | (spec.more_fragments ? 1 : 0)));
    Put16(header, 0);
    Put16(header, spec.identification);
  }
  return header;
}

inline std::vector<uint8_t> EthernetHeader(const std::vector<uint16_t>& vlan_tpids,
                                           uint16_t ether_type) {
  std::vector<uint8_t> header = {0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01};
  uint16_t vlan_id = 100;
  for (uint16_t tpid : vlan_tpids) {
    Put16(header, tpid);
    Put16(header, vlan_id++);
  }
  Put16(header, ether_type);
  return header;
}

inline std::vector<uint8_t> BuildFrame(const FrameSpec& spec) {
  if (spec.ip_version == 0) {  // ARP request
    std::vector<uint8_t> frame = EthernetHeader(spec.vlan_tpids, 0x0806);
    frame.resize(frame.size() + 28, 0x01);
    return frame;
  }
  std::vector<uint8_t> payload(spec.payload_bytes, 0xab);
  if (spec.overlay != Overlay::kNone) {
    std::vector<uint8_t> inner;
    const uint16_t inner_type = spec.inner_ip_version == 4 ? 0x0800 : 0x86DD;
    if (spec.overlay == Overlay::kVxlan || spec.geneve_inner_ethernet) {
      inner = EthernetHeader({}, inner_type);
    }
    std::vector<uint8_t> inner_ip =
        IpHeader(spec.inner_ip_version, spec.inner_source, spec.inner_destination, 0x00, 17,
                 8 + spec.payload_bytes, spec, false);
    inner.insert(inner.end(), inner_ip.begin(), inner_ip.end());
    Put16(inner, 1111);
    Put16(inner, 2222);
    Put16(inner, static_cast<uint16_t>(8 + spec.payload_bytes));
    Put16(inner, 0);
    inner.insert(inner.end(), payload.begin(), payload.end());
    std::vector<uint8_t> tunnel;
    if (spec.overlay == Overlay::kVxlan) {
      tunnel = {0x08, 0, 0, 0, 0, 0, 42, 0};
    } else {
      tunnel.push_back(spec.geneve_option_words);
      tunnel.push_back(0);
      Put16(tunnel, spec.geneve_inner_ethernet ? 0x6558 : inner_type);
      for (uint8_t b : {0, 0, 42, 0}) tunnel.push_back(static_cast<uint8_t>(b));
      for (uint32_t i = 0; i < spec.geneve_option_words * 4u; ++i) tunnel.push_back(0x5a);
    }
    tunnel.insert(tunnel.end(), inner.begin(), inner.end());
    payload = tunnel;
  }
  std::vector<uint8_t> l4;
  if (spec.udp) {
    Put16(l4, 40000);
    Put16(l4, spec.udp_destination_port);
    Put16(l4, static_cast<uint16_t>(8 + payload.size()));
    Put16(l4, 0);
  }
  l4.insert(l4.end(), payload.begin(), payload.end());
  std::vector<uint8_t> frame =
      EthernetHeader(spec.vlan_tpids, spec.ip_version == 4 ? 0x0800 : 0x86DD);
  std::vector<uint8_t> ip =
      IpHeader(spec.ip_version, spec.source, spec.destination, spec.tos, spec.udp ? 17 : 6,
               static_cast<uint32_t>(l4.size()), spec, true);
  frame.insert(frame.end(), ip.begin(), ip.end());
  frame.insert(frame.end(), l4.begin(), l4.end());
  return frame;
}

}  // namespace dg::testing
