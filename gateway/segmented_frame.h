// Frames whose headers do not sit in the first mbuf segment (scatter RX, chained jumbo
// and GSO frames). Kept off the fast path: the pipeline calls these only after the
// contiguous parse reported headers_not_contiguous, or when the bytes to mark continue
// past the first segment.
#pragma once

#include <cstdint>

#include "gateway/packet_parser.h"

struct rte_mbuf;

namespace dg {

// Header bytes gathered from a multi-segment frame: outer headers, a Geneve header with
// options and the inner headers fit; deeper headers stay headers_not_contiguous.
inline constexpr uint32_t kHeaderGatherWindow = 512;

// Bytes from the IP header's start that the DSCP rewrite may touch (IPv4: TOS at 1,
// checksum at 10-11; IPv6: traffic class in 0-1).
inline constexpr uint32_t kIpMarkSpan = 12;

// Re-parses the frame from a copy of its first kHeaderGatherWindow bytes, wherever the
// segments split them. Overwrites `parsed`; returns true when it is now classifiable.
bool ParseGatheredHeaders(const rte_mbuf* mbuf, const OverlayPorts& overlay_ports,
                          ParsedPacket* parsed);

// Rewrites DSCP (and the IPv4 checksum) of the IP header at `l3_offset` whose bytes may
// be spread over several segments. Returns true if the header changed.
bool SetIpDscpAcrossSegments(rte_mbuf* mbuf, uint32_t l3_offset, uint8_t ip_version, uint8_t dscp);

}  // namespace dg
