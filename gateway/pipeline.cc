#include "gateway/pipeline.h"

#include <rte_mbuf.h>
#include <rte_prefetch.h>

#include "control/policy.h"
#include "gateway/dscp_marker.h"
#include "gateway/pcp_marker.h"
#include "gateway/pod_table.h"
#include "gateway/segmented_frame.h"

namespace dg {
namespace {

// As l3fwd: the first frames' headers are requested before any is parsed, then each
// step requests the one this far ahead. Two lines per frame: an overlay's inner source
// (offset 76 in VXLAN) lies in the second, and profiles showed ReadInnerSource waiting
// on it.
constexpr uint16_t kPrefetchDistance = 4;

inline void PrefetchHeaders(const rte_mbuf* mbuf) {
  const uint8_t* data = rte_pktmbuf_mtod(mbuf, const uint8_t*);
  rte_prefetch0(data);
  rte_prefetch0(data + RTE_CACHE_LINE_SIZE);
}

// podEgressStamp: a non-pod frame whose DSCP is a stamp codepoint (written by the node's
// dg_pod_stamp before NAT; the guard clears forged ones) takes that class. Off the pod
// path: only frames of unknown source get here.
bool StampedClass(const PolicySnapshot& policy, const rte_mbuf* mbuf, const ParsedPacket& packet,
                  WorkerCounters& counters, uint8_t* class_id) {
  uint8_t header_copy[kIpMarkSpan];
  const auto* ip_header = static_cast<const uint8_t*>(
      rte_pktmbuf_read(mbuf, packet.l3_offset, kIpMarkSpan, header_copy));
  if (ip_header == nullptr) return false;
  const uint8_t dscp = IpDscp(ip_header, packet.ip_version);
  if (!dg_is_stamp_codepoint(dscp)) return false;
  const uint8_t stamped_class = dg_stamp_class(dscp);
  if (stamped_class >= policy.stamp_class_count) {
    counters.stamp_unknown_class.Increment();
    return false;
  }
  counters.stamp_classified.Increment();
  *class_id = stamped_class;
  return true;
}

// One lookup-sized chunk of a burst.
uint16_t ClassifyChunk(PipelineContext& context, const PolicySnapshot& policy,
                       rte_mbuf* const* packets, uint16_t count, uint8_t* class_ids,
                       uint32_t* namespace_ids) {
  ParsedPacket parsed[kPodLookupBurstMax];
  // The classifiable frames' keys, in packet order.
  const dg_pod_key* lookup_keys[kPodLookupBurstMax];
  uint32_t looked_up_namespaces[kPodLookupBurstMax];
  uint16_t lookup_count = 0;
  WorkerCounters& counters = *context.counters;

  // The mbufs themselves first: receive has just written them in the worker, but not
  // in every caller, and reading data_off of a cold mbuf stalls the loop below.
  for (uint16_t i = 0; i < count; ++i) rte_prefetch0(packets[i]);
  for (uint16_t i = 0; i < kPrefetchDistance && i < count; ++i) PrefetchHeaders(packets[i]);
  for (uint16_t i = 0; i < count; ++i) {
    if (i + kPrefetchDistance < count) PrefetchHeaders(packets[i + kPrefetchDistance]);
    const rte_mbuf* mbuf = packets[i];
    ParsePacket(rte_pktmbuf_mtod(mbuf, const uint8_t*), rte_pktmbuf_data_len(mbuf),
                rte_pktmbuf_pkt_len(mbuf), context.overlay_ports, &parsed[i]);
    if (parsed[i].reason != UnclassifiedReason::kNone &&
        (parsed[i].reason != UnclassifiedReason::headers_not_contiguous ||
         !ParseGatheredHeaders(mbuf, context.overlay_ports, &parsed[i]))) {
      continue;
    }
    lookup_keys[lookup_count++] = &parsed[i].classify_source;
  }
  if (lookup_count != 0) context.pods->LookupBurst(lookup_keys, lookup_count, looked_up_namespaces);

  // Summed per chunk and added once: each Counter update is a load and a store the
  // compiler may not merge (docs/performance.md, "Fast path and table at scale").
  uint32_t fragment_cache_hits = 0;
  uint32_t unknown_sources = 0;
  uint32_t marked = 0;
  uint16_t next_lookup = 0;
  // In packet order, so a first fragment decides for later fragments of the same burst.
  for (uint16_t i = 0; i < count; ++i) {
    const ParsedPacket& packet = parsed[i];
    namespace_ids[i] = packet.reason == UnclassifiedReason::kNone
                           ? looked_up_namespaces[next_lookup++]
                           : DG_NAMESPACE_NONE;
    if (packet.is_first_fragment) {
      // Even an unclassifiable first fragment decides: its datagram stays unmarked.
      context.fragments.Remember(packet.fragment_tag, namespace_ids[i]);
    } else if (packet.is_fragment &&
               context.fragments.Find(packet.fragment_tag, &namespace_ids[i])) {
      // From here on the cached decision is handled like a looked-up one.
      ++fragment_cache_hits;
    }
    if (packet.reason != UnclassifiedReason::kNone) {
      counters.unclassified[static_cast<uint32_t>(packet.reason)].Increment();
      class_ids[i] = packet.reason == UnclassifiedReason::not_ip
                         ? kNonIpClass
                         : static_cast<uint8_t>(policy.default_class);
      continue;
    }
    const uint32_t namespace_id = namespace_ids[i];
    uint8_t class_id;
    if (namespace_id == DG_NAMESPACE_NONE) {
      // Not a pod of ours (the node itself, host-network pods): forwarded unchanged,
      // unless it is a pod's masqueraded egress carrying its class's stamp.
      ++unknown_sources;
      class_ids[i] = static_cast<uint8_t>(policy.default_class);
      if (likely(policy.stamp_class_count == 0) ||
          !StampedClass(policy, packets[i], packet, counters, &class_id)) {
        continue;
      }
    } else {
      // The pod's own class (allowed annotation, Volcano offline) or its namespace's.
      class_id = policy.ClassOf(namespace_id);
    }
    class_ids[i] = class_id;
    rte_mbuf* mbuf = packets[i];
    uint8_t* frame = rte_pktmbuf_mtod(mbuf, uint8_t*);
    const uint8_t dscp = policy.class_dscp[class_id];
    const uint8_t pcp = policy.class_pcp[class_id];
    const bool ip_header_contiguous =
        likely(packet.l3_offset + kIpMarkSpan <= rte_pktmbuf_data_len(mbuf));
    // VLAN tags precede the IP header, so they are in the first segment whenever the IP
    // header starts there (a frame split inside its tags keeps its PCP).
    const bool tags_contiguous = packet.l3_offset <= rte_pktmbuf_data_len(mbuf);
    if (unlikely(policy.observe_only)) {
      uint8_t header_copy[kIpMarkSpan];
      const auto* ip_header = ip_header_contiguous
                                  ? frame + packet.l3_offset
                                  : static_cast<const uint8_t*>(rte_pktmbuf_read(
                                        mbuf, packet.l3_offset, kIpMarkSpan, header_copy));
      if ((ip_header != nullptr && IpDscp(ip_header, packet.ip_version) != dscp) ||
          (pcp != kNoPcp && tags_contiguous && OuterVlanPcpDiffers(frame, packet.l3_offset, pcp))) {
        counters.classes[class_id].would_mark_packets.Increment();
        counters.namespace_would_mark_packets[namespace_id % DG_MAX_NAMESPACES].Increment();
      }
      continue;
    }
    const bool changed =
        ip_header_contiguous
            ? SetIpDscp(frame + packet.l3_offset, packet.ip_version, dscp)
            : SetIpDscpAcrossSegments(mbuf, packet.l3_offset, packet.ip_version, dscp);
    marked += changed ? 1 : 0;
    if (pcp != kNoPcp && tags_contiguous && SetOuterVlanPcp(frame, packet.l3_offset, pcp)) {
      counters.pcp_marked.Increment();
    }
  }
  counters.fragment_cache_hits.Add(fragment_cache_hits);
  counters.unknown_source.Add(unknown_sources);
  counters.marked.Add(marked);
  return count;
}

}  // namespace

uint16_t ClassifyAndMarkBurst(PipelineContext& context, const PolicySnapshot& policy,
                              rte_mbuf* const* packets, uint16_t count, uint8_t* class_ids,
                              uint32_t* namespace_ids) {
  for (uint16_t done = 0; done < count;) {
    const uint16_t chunk = static_cast<uint16_t>(
        static_cast<uint32_t>(count - done) < kPodLookupBurstMax ? count - done
                                                                 : kPodLookupBurstMax);
    ClassifyChunk(context, policy, packets + done, chunk, class_ids + done, namespace_ids + done);
    done = static_cast<uint16_t>(done + chunk);
  }
  return count;
}

}  // namespace dg
