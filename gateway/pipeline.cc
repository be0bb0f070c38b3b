#include "gateway/pipeline.h"

#include <rte_mbuf.h>
#include <rte_prefetch.h>

#include "gateway/dscp_marker.h"
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
    if (parsed[i].reason != UnclassifiedReason::kNone) {
      // A first fragment we cannot classify still decides for the rest of its datagram.
      if (parsed[i].is_first_fragment) context.fragments.Remember(parsed[i].fragment_tag, DG_NAMESPACE_NONE);
      continue;
    }
    if (parsed[i].is_fragment && !parsed[i].is_first_fragment &&
        context.fragments.Find(parsed[i].fragment_tag, &namespace_ids[i])) {
      counters.fragment_cache_hits.Increment();
      continue;
    }
    lookup_keys[lookup_count] = &parsed[i].classify_source;
    lookup_index[lookup_count] = i;
    ++lookup_count;
  }

  if (lookup_count != 0) {
    context.pods->LookupBurst(lookup_keys, lookup_count, looked_up_namespaces);
    for (uint16_t k = 0; k < lookup_count; ++k) {
      const uint16_t i = lookup_index[k];
      namespace_ids[i] = looked_up_namespaces[k];
      if (parsed[i].is_first_fragment) context.fragments.Remember(parsed[i].fragment_tag, namespace_ids[i]);
    }
  }

  for (uint16_t i = 0; i < count; ++i) {
    const UnclassifiedReason reason = parsed[i].reason;
    if (reason != UnclassifiedReason::kNone) {
      counters.unclassified[static_cast<uint32_t>(reason)].Increment();
      class_ids[i] = reason == UnclassifiedReason::not_ip ? kNonIpClass
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
    uint8_t* ip_header = rte_pktmbuf_mtod_offset(packets[i], uint8_t*, parsed[i].l3_offset);
    if (SetIpDscp(ip_header, parsed[i].ip_version, policy.class_dscp[class_id])) {
      counters.marked.Increment();
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
        static_cast<uint32_t>(count - done) < kPodLookupBurstMax ? count - done : kPodLookupBurstMax);
    ClassifyChunk(context, policy, packets + done, chunk, class_ids + done, namespace_ids + done);
    done = static_cast<uint16_t>(done + chunk);
  }
  return count;
}

}  // namespace dg
