#include "gateway/pipeline.h"

#include <rte_mbuf.h>
#include <rte_prefetch.h>

#include "control/policy.h"
#include "gateway/dscp_marker.h"
#include "gateway/pcp_marker.h"
#include "gateway/pod_table.h"

namespace dg {
namespace {

constexpr uint16_t kPrefetchDistance = 4;

// One lookup-sized chunk of a burst.
uint16_t ClassifyChunk(PipelineContext& context, const PolicySnapshot& policy,
                       rte_mbuf* const* packets, uint16_t count, uint8_t* class_ids,
                       uint32_t* namespace_ids) {
  ParsedPacket parsed[kPodLookupBurstMax];
  const dg_pod_key* lookup_keys[kPodLookupBurstMax];
  uint16_t lookup_index[kPodLookupBurstMax];
  uint32_t looked_up_namespaces[kPodLookupBurstMax];
  uint16_t lookup_count = 0;
  WorkerCounters& counters = *context.counters;

  for (uint16_t i = 0; i < count; ++i) {
    if (i + kPrefetchDistance < count) {
      rte_prefetch0(rte_pktmbuf_mtod(packets[i + kPrefetchDistance], void*));
    }
    const rte_mbuf* mbuf = packets[i];
    ParsePacket(rte_pktmbuf_mtod(mbuf, const uint8_t*), rte_pktmbuf_data_len(mbuf),
                rte_pktmbuf_pkt_len(mbuf), context.overlay_ports, &parsed[i]);
    namespace_ids[i] = DG_NAMESPACE_NONE;
    if (parsed[i].reason != UnclassifiedReason::kNone) continue;
    lookup_keys[lookup_count] = &parsed[i].classify_source;
    lookup_index[lookup_count] = i;
    ++lookup_count;
  }
  if (lookup_count != 0) context.pods->LookupBurst(lookup_keys, lookup_count, looked_up_namespaces);
  for (uint16_t k = 0; k < lookup_count; ++k)
    namespace_ids[lookup_index[k]] = looked_up_namespaces[k];

  // In packet order, so a first fragment decides for later fragments of the same burst.
  for (uint16_t i = 0; i < count; ++i) {
    const ParsedPacket& packet = parsed[i];
    if (packet.is_first_fragment) {
      // Even an unclassifiable first fragment decides: its datagram stays unmarked.
      context.fragments.Remember(packet.fragment_tag, namespace_ids[i]);
    } else if (packet.is_fragment &&
               context.fragments.Find(packet.fragment_tag, &namespace_ids[i])) {
      // From here on the cached decision is handled like a looked-up one.
      counters.fragment_cache_hits.Increment();
    }
    if (packet.reason != UnclassifiedReason::kNone) {
      counters.unclassified[static_cast<uint32_t>(packet.reason)].Increment();
      class_ids[i] = packet.reason == UnclassifiedReason::not_ip
                         ? kNonIpClass
                         : static_cast<uint8_t>(policy.default_class);
      continue;
    }
    const uint32_t namespace_id = namespace_ids[i];
    if (namespace_id == DG_NAMESPACE_NONE) {
      // Not a pod of ours (the node itself, host-network pods): forwarded unchanged.
      counters.unknown_source.Increment();
      class_ids[i] = static_cast<uint8_t>(policy.default_class);
      continue;
    }
    const uint8_t class_id = policy.class_of_namespace[namespace_id % DG_MAX_NAMESPACES];
    class_ids[i] = class_id;
    uint8_t* frame = rte_pktmbuf_mtod(packets[i], uint8_t*);
    uint8_t* ip_header = frame + packet.l3_offset;
    const uint8_t dscp = policy.class_dscp[class_id];
    const uint8_t pcp = policy.class_pcp[class_id];
    if (policy.observe_only) {
      if (IpDscp(ip_header, packet.ip_version) != dscp ||
          (pcp != kNoPcp && OuterVlanPcpDiffers(frame, packet.l3_offset, pcp))) {
        counters.classes[class_id].would_mark_packets.Increment();
        counters.namespace_would_mark_packets[namespace_id % DG_MAX_NAMESPACES].Increment();
      }
      continue;
    }
    if (SetIpDscp(ip_header, packet.ip_version, dscp)) counters.marked.Increment();
    if (pcp != kNoPcp && SetOuterVlanPcp(frame, packet.l3_offset, pcp)) {
      counters.pcp_marked.Increment();
    }
  }
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
