// 802.1p priority (PCP) rewrite of a frame's outer VLAN tag in place. The drop eligible
// indicator and the VLAN id stay as the sender wrote them; an untagged frame is never
// tagged (inserting a tag would change the frame's length and its VLAN membership).
#pragma once

#include <cstdint>

namespace dg {

inline constexpr uint16_t kUntaggedL3Offset = 14;  // destination, source, ethertype
inline constexpr uint16_t kOuterTciOffset = 14;    // after the outer tag's TPID

// `l3_offset` is where the parser found the (outer) IP header: beyond 14 bytes only VLAN
// tags lie in between, so the outer tag's TCI is at byte 14. QinQ: the outer (service)
// tag is the one the next switch queues by. Returns true if the byte changed.
inline bool SetOuterVlanPcp(uint8_t* frame, uint16_t l3_offset, uint8_t pcp) {
  if (l3_offset <= kUntaggedL3Offset) return false;
  const uint8_t old_byte = frame[kOuterTciOffset];
  const uint8_t new_byte = static_cast<uint8_t>((pcp << 5) | (old_byte & 0x1f));
  if (new_byte == old_byte) return false;
  frame[kOuterTciOffset] = new_byte;
  return true;
}

// What SetOuterVlanPcp would do, without writing (observe mode).
inline bool OuterVlanPcpDiffers(const uint8_t* frame, uint16_t l3_offset, uint8_t pcp) {
  return l3_offset > kUntaggedL3Offset && (frame[kOuterTciOffset] >> 5) != pcp;
}

}  // namespace dg
