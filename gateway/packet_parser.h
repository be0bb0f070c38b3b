// Header parsing for classification: finds the IP header to mark and the source
// address to classify by. Pure functions over bytes, no DPDK, so they are unit-tested
// and fuzzed directly.
#pragma once

#include <cstdint>

#include "dscp_gateway_abi.h"
#include "gateway/unclassified_reasons.h"

namespace dg {

// UDP destination ports that carry an overlay. A handful at most, so a linear scan of
// a small array beats any hash.
struct OverlayPorts {
  static constexpr int kMaxPorts = 8;
  uint16_t vxlan[kMaxPorts] = {DG_VXLAN_PORT_IANA, DG_VXLAN_PORT_LINUX};
  uint8_t vxlan_count = 2;
  uint16_t geneve[kMaxPorts] = {DG_GENEVE_PORT};
  uint8_t geneve_count = 1;
};

// No default member initialisers on purpose: the pipeline keeps a burst-sized array of
// these on the stack, and ParsePacket resets each one it fills; zeroing the whole array
// per burst showed in profiles.
struct ParsedPacket {
  UnclassifiedReason reason;
  uint8_t ip_version;  // outer (marked) header: 4 or 6
  bool is_overlay;
  bool is_fragment;
  bool is_first_fragment;
  uint16_t l3_offset;          // offset of the outer IP header in the frame
  uint64_t fragment_tag;       // identifies the datagram a fragment belongs to
  dg_pod_key classify_source;  // inner source for overlays, else outer source
};

// `contiguous_length` bytes starting at `frame` are readable; `frame_length` is the
// whole frame (equal unless the frame is split over several buffers).
void ParsePacket(const uint8_t* frame, uint32_t contiguous_length, uint32_t frame_length,
                 const OverlayPorts& overlay_ports, ParsedPacket* parsed);

}  // namespace dg
