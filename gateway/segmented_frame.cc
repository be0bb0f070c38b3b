#include "gateway/segmented_frame.h"

#include <rte_mbuf.h>

#include <algorithm>
#include <cstring>

#include "gateway/dscp_marker.h"

namespace dg {
namespace {

// Copies `length` bytes into the frame at `offset`, segment by segment. The caller has
// checked that the frame is long enough.
void WriteAcrossSegments(rte_mbuf* mbuf, uint32_t offset, const uint8_t* bytes, uint32_t length) {
  for (rte_mbuf* segment = mbuf; segment != nullptr && length != 0; segment = segment->next) {
    const uint32_t segment_length = rte_pktmbuf_data_len(segment);
    if (offset >= segment_length) {
      offset -= segment_length;
      continue;
    }
    const uint32_t chunk = std::min(segment_length - offset, length);
    std::memcpy(rte_pktmbuf_mtod_offset(segment, uint8_t*, offset), bytes, chunk);
    bytes += chunk;
    length -= chunk;
    offset = 0;
  }
}

}  // namespace

bool ParseGatheredHeaders(const rte_mbuf* mbuf, const OverlayPorts& overlay_ports,
                          ParsedPacket* parsed) {
  uint8_t window[kHeaderGatherWindow];
  const uint32_t frame_length = rte_pktmbuf_pkt_len(mbuf);
  const uint32_t gathered = std::min(frame_length, kHeaderGatherWindow);
  const auto* bytes = static_cast<const uint8_t*>(rte_pktmbuf_read(mbuf, 0, gathered, window));
  if (bytes == nullptr) return false;  // segment lengths disagree with pkt_len: leave it be
  ParsePacket(bytes, gathered, frame_length, overlay_ports, parsed);
  return parsed->reason == UnclassifiedReason::kNone;
}

bool SetIpDscpAcrossSegments(rte_mbuf* mbuf, uint32_t l3_offset, uint8_t ip_version, uint8_t dscp) {
  uint8_t header[kIpMarkSpan];
  const auto* bytes =
      static_cast<const uint8_t*>(rte_pktmbuf_read(mbuf, l3_offset, kIpMarkSpan, header));
  if (bytes == nullptr) return false;
  if (bytes != header) std::memcpy(header, bytes, kIpMarkSpan);
  if (!SetIpDscp(header, ip_version, dscp)) return false;
  WriteAcrossSegments(mbuf, l3_offset, header, kIpMarkSpan);
  return true;
}

}  // namespace dg
