// Why a frame was passed through without classification. Declared once: the
// counters, the REST/metrics labels and the replay report all expand this list.
#pragma once

#include <cstdint>

#define DG_UNCLASSIFIED_REASONS(X)                                         \
  X(not_ip, "ethertype is neither IPv4 nor IPv6 (ARP, LLDP, ...)")         \
  X(vlan_depth, "more than two VLAN tags")                                 \
  X(truncated, "frame shorter than its headers or IP total length say")    \
  X(bad_ip_version, "IP version field disagrees with the ethertype")       \
  X(bad_ihl, "IPv4 header length below 5 words")                           \
  X(bad_total_length, "IP total length shorter than the IP header")        \
  X(ipv6_ext_headers, "IPv6 extension header chain too long or truncated") \
  X(inner_malformed, "overlay packet whose inner frame cannot be parsed")  \
  X(inner_not_ip, "overlay packet whose inner frame is not IP")            \
  X(headers_not_contiguous, "multi-segment frame whose headers reach past the bytes gathered")

namespace dg {

enum class UnclassifiedReason : uint8_t {
  kNone = 0,
#define DG_REASON_ENUM(name, help) name,
  DG_UNCLASSIFIED_REASONS(DG_REASON_ENUM)
#undef DG_REASON_ENUM
      kCount
};

inline constexpr uint32_t kUnclassifiedReasonCount =
    static_cast<uint32_t>(UnclassifiedReason::kCount);

inline constexpr const char* kUnclassifiedReasonNames[kUnclassifiedReasonCount] = {
    "none",
#define DG_REASON_NAME(name, help) #name,
    DG_UNCLASSIFIED_REASONS(DG_REASON_NAME)
#undef DG_REASON_NAME
};

}  // namespace dg
