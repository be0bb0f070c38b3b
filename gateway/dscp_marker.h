// DSCP rewrite and ECN congestion marking of an IP header in place. The DSCP rewrite never
// touches ECN (the low two bits of TOS / traffic class): it belongs to the endpoints'
// congestion control, which the queue manager signals only by setting CE (RFC 3168).
#pragma once

#include <cstdint>

namespace dg {

// RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), in one's complement arithmetic, for the
// 16-bit word m (version/IHL and TOS) that changes to m'. Incremental, so a header that
// arrived with a bad checksum leaves with an equally bad one: corruption stays visible.
inline uint16_t UpdateChecksumForWordChange(uint16_t checksum, uint16_t old_word,
                                            uint16_t new_word) {
  uint32_t sum = static_cast<uint16_t>(~checksum) +
                 static_cast<uint32_t>(static_cast<uint16_t>(~old_word)) + new_word;
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

// Rewrites TOS and updates the header checksum. Returns true if the header changed.
inline bool WriteIpv4Tos(uint8_t* ipv4_header, uint8_t new_tos) {
  const uint8_t old_tos = ipv4_header[1];
  if (new_tos == old_tos) return false;
  const uint16_t old_word = static_cast<uint16_t>((ipv4_header[0] << 8) | old_tos);
  const uint16_t new_word = static_cast<uint16_t>((ipv4_header[0] << 8) | new_tos);
  const uint16_t checksum = static_cast<uint16_t>((ipv4_header[10] << 8) | ipv4_header[11]);
  const uint16_t updated = UpdateChecksumForWordChange(checksum, old_word, new_word);
  ipv4_header[1] = new_tos;
  ipv4_header[10] = static_cast<uint8_t>(updated >> 8);
  ipv4_header[11] = static_cast<uint8_t>(updated);
  return true;
}

// Returns true if the header changed.
inline bool SetIpv4Dscp(uint8_t* ipv4_header, uint8_t dscp) {
  return WriteIpv4Tos(ipv4_header, static_cast<uint8_t>((dscp << 2) | (ipv4_header[1] & 0x03)));
}

// Traffic class straddles bytes 0 and 1 (version:4, class:8, flow label:20); IPv6 has
// no header checksum, and the flow label stays as the sender chose it.
inline uint8_t Ipv6TrafficClass(const uint8_t* ipv6_header) {
  return static_cast<uint8_t>(((ipv6_header[0] & 0x0f) << 4) | (ipv6_header[1] >> 4));
}

inline bool WriteIpv6TrafficClass(uint8_t* ipv6_header, uint8_t new_class) {
  if (new_class == Ipv6TrafficClass(ipv6_header)) return false;
  ipv6_header[0] = static_cast<uint8_t>((ipv6_header[0] & 0xf0) | (new_class >> 4));
  ipv6_header[1] = static_cast<uint8_t>((ipv6_header[1] & 0x0f) | ((new_class & 0x0f) << 4));
  return true;
}

inline bool SetIpv6Dscp(uint8_t* ipv6_header, uint8_t dscp) {
  const uint8_t old_class = Ipv6TrafficClass(ipv6_header);
  return WriteIpv6TrafficClass(ipv6_header, static_cast<uint8_t>((dscp << 2) | (old_class & 0x03)));
}

inline uint8_t IpDscp(const uint8_t* ip_header, uint8_t ip_version) {
  return ip_version == 4 ? static_cast<uint8_t>(ip_header[1] >> 2)
                         : static_cast<uint8_t>(((ip_header[0] & 0x0f) << 2) | (ip_header[1] >> 6));
}

inline bool SetIpDscp(uint8_t* ip_header, uint8_t ip_version, uint8_t dscp) {
  return ip_version == 4 ? SetIpv4Dscp(ip_header, dscp) : SetIpv6Dscp(ip_header, dscp);
}

// RFC 3168 codepoints in the low two bits of TOS / traffic class.
inline constexpr uint8_t kEcnMask = 0x03;
inline constexpr uint8_t kEcnNotEct = 0x00;
inline constexpr uint8_t kEcnCongestionExperienced = 0x03;

// Sets CE on an ECN-capable packet (ECT(0) or ECT(1)); a packet already carrying CE is left
// as it is. Returns false for a Not-ECT packet: its sender would ignore the mark, so the
// queue manager must drop it instead (RFC 3168 section 5, as Linux's INET_ECN_set_ce).
inline bool SetIpCongestionExperienced(uint8_t* ip_header, uint8_t ip_version) {
  const uint8_t traffic_class = ip_version == 4 ? ip_header[1] : Ipv6TrafficClass(ip_header);
  if ((traffic_class & kEcnMask) == kEcnNotEct) return false;
  const auto marked = static_cast<uint8_t>(traffic_class | kEcnCongestionExperienced);
  if (ip_version == 4) {
    WriteIpv4Tos(ip_header, marked);
  } else {
    WriteIpv6TrafficClass(ip_header, marked);
  }
  return true;
}

}  // namespace dg
