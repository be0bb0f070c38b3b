#include "gateway/packet_parser.h"

#include <bit>
#include <cstring>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace dg {
namespace {

constexpr uint16_t kEtherTypeIpv4 = 0x0800;
constexpr uint16_t kEtherTypeIpv6 = 0x86DD;
constexpr uint16_t kEtherTypeVlan = 0x8100;
constexpr uint16_t kEtherTypeQinQ = 0x88A8;
constexpr uint16_t kEtherTypeTransparentBridging = 0x6558;  // Geneve carrying Ethernet
constexpr uint32_t kEthernetHeaderLength = 14;
constexpr uint32_t kVlanTagLength = 4;
constexpr uint32_t kIpv4MinHeaderLength = 20;
constexpr uint32_t kIpv6HeaderLength = 40;
constexpr uint32_t kUdpHeaderLength = 8;
constexpr uint32_t kVxlanHeaderLength = 8;
constexpr uint32_t kGeneveBaseHeaderLength = 8;
constexpr uint8_t kVxlanFlagValidVni = 0x08;
constexpr uint8_t kIpProtoUdp = 17;
constexpr int kMaxVlanTags = 2;
constexpr int kMaxIpv6ExtensionHeaders = 8;

inline uint16_t ReadBigEndian16(const uint8_t* bytes) {
  return static_cast<uint16_t>((bytes[0] << 8) | bytes[1]);
}

inline void SetIpv4MappedKey(const uint8_t* ipv4_address, dg_pod_key* key) {
  std::memset(key->addr, 0, 10);
  key->addr[10] = 0xff;
  key->addr[11] = 0xff;
  std::memcpy(key->addr + 12, ipv4_address, 4);
}

// FNV-1a over the fields that identify a datagram across its fragments.
inline uint64_t HashFragmentIdentity(const uint8_t* source, const uint8_t* destination,
                                     uint32_t address_length, uint32_t identification,
                                     uint8_t protocol) {
  uint64_t hash = 1469598103934665603ULL;
  auto mix = [&hash](uint8_t byte) {
    hash ^= byte;
    hash *= 1099511628211ULL;
  };
  for (uint32_t i = 0; i < address_length; ++i) mix(source[i]);
  for (uint32_t i = 0; i < address_length; ++i) mix(destination[i]);
  for (int shift = 24; shift >= 0; shift -= 8) mix(static_cast<uint8_t>(identification >> shift));
  mix(protocol);
  return hash | 1;  // never 0: 0 marks an empty fragment-cache slot
}

// Every UDP frame asks this, nearly always to hear no: one vector compare of all eight
// slots, where a loop paid a compare and a branch per configured port.
inline bool IsOneOf(uint16_t port, const uint16_t (&ports)[OverlayPorts::kMaxPorts],
                    uint8_t count) {
#if defined(__SSE2__)
  static_assert(sizeof ports == sizeof(__m128i));
  const __m128i equal = _mm_cmpeq_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(ports)),
                                        _mm_set1_epi16(static_cast<int16_t>(port)));
  // Two mask bits per 16-bit slot; the slots beyond `count` do not count.
  const uint32_t configured = count >= OverlayPorts::kMaxPorts ? 0xffffu : (1u << (2 * count)) - 1;
  return (static_cast<uint32_t>(_mm_movemask_epi8(equal)) & configured) != 0;
#else
  for (uint8_t i = 0; i < count; ++i) {
    if (ports[i] == port) return true;
  }
  return false;
#endif
}

struct Cursor {
  const uint8_t* frame;
  uint32_t contiguous_length;
  uint32_t frame_length;

  // Distinguishes "the frame is too short" (`beyond_frame`) from "the bytes exist but in
  // a later segment", which the pipeline retries from gathered bytes.
  UnclassifiedReason ShortfallReason(
      uint32_t needed_end, UnclassifiedReason beyond_frame = UnclassifiedReason::truncated) const {
    return needed_end <= frame_length ? UnclassifiedReason::headers_not_contiguous : beyond_frame;
  }
};

// Skips up to two VLAN tags. Returns the payload ethertype and its offset, or a reason.
UnclassifiedReason SkipEthernet(const Cursor& cursor, uint32_t offset, uint16_t* ether_type,
                                uint32_t* payload_offset) {
  if (offset + kEthernetHeaderLength > cursor.contiguous_length) {
    return cursor.ShortfallReason(offset + kEthernetHeaderLength);
  }
  uint16_t type = ReadBigEndian16(cursor.frame + offset + 12);
  offset += kEthernetHeaderLength;
  for (int tags = 0; type == kEtherTypeVlan || type == kEtherTypeQinQ; ++tags) {
    if (tags == kMaxVlanTags) return UnclassifiedReason::vlan_depth;
    if (offset + kVlanTagLength > cursor.contiguous_length) {
      return cursor.ShortfallReason(offset + kVlanTagLength);
    }
    type = ReadBigEndian16(cursor.frame + offset + 2);
    offset += kVlanTagLength;
  }
  *ether_type = type;
  *payload_offset = offset;
  return UnclassifiedReason::kNone;
}

struct IpHeaderInfo {
  uint8_t version = 0;
  uint8_t protocol = 0;  // upper-layer protocol after IPv6 extension headers
  bool is_fragment = false;
  bool is_first_fragment = false;
  uint32_t l4_offset = 0;
  uint64_t fragment_tag = 0;
};

UnclassifiedReason ParseIpv4(const Cursor& cursor, uint32_t offset, IpHeaderInfo* info) {
  if (offset + kIpv4MinHeaderLength > cursor.contiguous_length) {
    return cursor.ShortfallReason(offset + kIpv4MinHeaderLength);
  }
  const uint8_t* ip = cursor.frame + offset;
  if ((ip[0] >> 4) != 4) return UnclassifiedReason::bad_ip_version;
  const uint32_t header_length = (ip[0] & 0x0f) * 4u;
  if (header_length < kIpv4MinHeaderLength) return UnclassifiedReason::bad_ihl;
  if (offset + header_length > cursor.contiguous_length)
    return cursor.ShortfallReason(offset + header_length);
  const uint32_t total_length = ReadBigEndian16(ip + 2);
  // Total length 0 is a GSO/BIG TCP frame beyond 64 KiB (Linux; tcpdump and Wireshark
  // read it so too): nothing is derived from it, the frame is the only bound.
  if (total_length != 0) {
    if (total_length < header_length) return UnclassifiedReason::bad_total_length;
    if (offset + total_length > cursor.frame_length) return UnclassifiedReason::truncated;
  }
  const uint16_t flags_and_offset = ReadBigEndian16(ip + 6);
  const bool more_fragments = (flags_and_offset & 0x2000) != 0;
  const uint16_t fragment_offset = flags_and_offset & 0x1fff;
  info->version = 4;
  info->protocol = ip[9];
  info->l4_offset = offset + header_length;
  info->is_fragment = more_fragments || fragment_offset != 0;
  info->is_first_fragment = info->is_fragment && fragment_offset == 0;
  if (info->is_fragment) {
    info->fragment_tag = HashFragmentIdentity(ip + 12, ip + 16, 4, ReadBigEndian16(ip + 4), ip[9]);
  }
  return UnclassifiedReason::kNone;
}

// Hop-by-hop (0), routing (43), fragment (44), AH (51), destination options (60).
constexpr uint64_t kWalkedExtensionHeaders =
    (1ULL << 0) | (1ULL << 43) | (1ULL << 44) | (1ULL << 51) | (1ULL << 60);

inline bool IsWalkedExtensionHeader(uint8_t next_header) {
  return next_header < 64 && ((kWalkedExtensionHeaders >> next_header) & 1) != 0;
}

UnclassifiedReason ParseIpv6(const Cursor& cursor, uint32_t offset, IpHeaderInfo* info) {
  if (offset + kIpv6HeaderLength > cursor.contiguous_length) {
    return cursor.ShortfallReason(offset + kIpv6HeaderLength);
  }
  const uint8_t* ip = cursor.frame + offset;
  if ((ip[0] >> 4) != 6) return UnclassifiedReason::bad_ip_version;
  const uint32_t payload_length = ReadBigEndian16(ip + 4);
  // Payload length 0 is a jumbogram (RFC 2675): the frame length is the only bound.
  if (payload_length != 0 && offset + kIpv6HeaderLength + payload_length > cursor.frame_length) {
    return UnclassifiedReason::truncated;
  }
  info->version = 6;
  uint8_t next_header = ip[6];
  uint32_t header_offset = offset + kIpv6HeaderLength;
  for (int count = 0;; ++count) {
    if (!IsWalkedExtensionHeader(next_header)) {
      break;  // upper-layer protocol (or one we do not walk through)
    }
    if (count == kMaxIpv6ExtensionHeaders) return UnclassifiedReason::ipv6_ext_headers;
    if (header_offset + 8 > cursor.contiguous_length) {
      return cursor.ShortfallReason(header_offset + 8, UnclassifiedReason::ipv6_ext_headers);
    }
    const uint8_t* extension = cursor.frame + header_offset;
    if (next_header == 44) {  // fragment header: fixed 8 bytes
      const uint16_t fragment_offset = ReadBigEndian16(extension + 2) >> 3;
      const bool more_fragments = (extension[3] & 0x01) != 0;
      const uint32_t identification =
          (static_cast<uint32_t>(ReadBigEndian16(extension + 4)) << 16) |
          ReadBigEndian16(extension + 6);
      info->is_fragment = more_fragments || fragment_offset != 0;
      info->is_first_fragment = info->is_fragment && fragment_offset == 0;
      if (info->is_fragment) {
        info->fragment_tag = HashFragmentIdentity(ip + 8, ip + 24, 16, identification, 0);
      }
      next_header = extension[0];
      header_offset += 8;
      if (info->is_fragment && !info->is_first_fragment) break;  // no upper layer here
      continue;
    }
    const uint32_t extension_length =
        next_header == 51 ? (extension[1] + 2u) * 4u : (extension[1] + 1u) * 8u;
    next_header = extension[0];
    header_offset += extension_length;
  }
  info->protocol = next_header;
  info->l4_offset = header_offset;
  return UnclassifiedReason::kNone;
}

// Reads the inner source address of an overlay packet whose inner frame starts at
// `offset`: Ethernet (VXLAN, Geneve 0x6558) or bare IP (Geneve 0x0800/0x86DD).
UnclassifiedReason ReadInnerSource(const Cursor& cursor, uint32_t offset, uint16_t inner_type,
                                   dg_pod_key* source) {
  if (inner_type == kEtherTypeTransparentBridging) {
    uint32_t payload_offset = 0;
    const UnclassifiedReason reason = SkipEthernet(cursor, offset, &inner_type, &payload_offset);
    if (reason == UnclassifiedReason::headers_not_contiguous) return reason;
    if (reason != UnclassifiedReason::kNone) return UnclassifiedReason::inner_malformed;
    offset = payload_offset;
  }
  const uint8_t* ip = cursor.frame + offset;
  if (inner_type == kEtherTypeIpv4) {
    if (offset + kIpv4MinHeaderLength > cursor.contiguous_length) {
      return cursor.ShortfallReason(offset + kIpv4MinHeaderLength,
                                    UnclassifiedReason::inner_malformed);
    }
    if ((ip[0] >> 4) != 4 || (ip[0] & 0x0f) < 5) {
      return UnclassifiedReason::inner_malformed;
    }
    SetIpv4MappedKey(ip + 12, source);
    return UnclassifiedReason::kNone;
  }
  if (inner_type == kEtherTypeIpv6) {
    if (offset + kIpv6HeaderLength > cursor.contiguous_length) {
      return cursor.ShortfallReason(offset + kIpv6HeaderLength,
                                    UnclassifiedReason::inner_malformed);
    }
    if ((ip[0] >> 4) != 6) return UnclassifiedReason::inner_malformed;
    std::memcpy(source->addr, ip + 8, 16);
    return UnclassifiedReason::kNone;
  }
  return UnclassifiedReason::inner_not_ip;
}

// If the UDP datagram at `l4_offset` is an overlay, classifies by its inner source.
// Returns kNone with parsed->is_overlay=false for ordinary UDP.
UnclassifiedReason ParseOverlay(const Cursor& cursor, uint32_t l4_offset,
                                const OverlayPorts& overlay_ports, ParsedPacket* parsed) {
  if (l4_offset + kUdpHeaderLength > cursor.contiguous_length) {
    // Beyond the frame only when no IP length bounded it (IPv4 total length 0, jumbogram).
    return cursor.ShortfallReason(l4_offset + kUdpHeaderLength);
  }
  const uint16_t destination_port = ReadBigEndian16(cursor.frame + l4_offset + 2);
  const bool vxlan = IsOneOf(destination_port, overlay_ports.vxlan, overlay_ports.vxlan_count);
  const bool geneve = IsOneOf(destination_port, overlay_ports.geneve, overlay_ports.geneve_count);
  if (!vxlan && !geneve) return UnclassifiedReason::kNone;

  parsed->is_overlay = true;
  const uint32_t tunnel_offset = l4_offset + kUdpHeaderLength;
  if (vxlan) {
    if (tunnel_offset + kVxlanHeaderLength > cursor.contiguous_length) {
      return cursor.ShortfallReason(tunnel_offset + kVxlanHeaderLength,
                                    UnclassifiedReason::inner_malformed);
    }
    if ((cursor.frame[tunnel_offset] & kVxlanFlagValidVni) == 0) {
      return UnclassifiedReason::inner_malformed;
    }
    return ReadInnerSource(cursor, tunnel_offset + kVxlanHeaderLength,
                           kEtherTypeTransparentBridging, &parsed->classify_source);
  }
  if (tunnel_offset + kGeneveBaseHeaderLength > cursor.contiguous_length) {
    return cursor.ShortfallReason(tunnel_offset + kGeneveBaseHeaderLength,
                                  UnclassifiedReason::inner_malformed);
  }
  const uint8_t* geneve_header = cursor.frame + tunnel_offset;
  if ((geneve_header[0] >> 6) != 0) return UnclassifiedReason::inner_malformed;  // version 0 only
  const uint32_t options_length = (geneve_header[0] & 0x3f) * 4u;
  const uint16_t protocol_type = ReadBigEndian16(geneve_header + 2);
  return ReadInnerSource(cursor, tunnel_offset + kGeneveBaseHeaderLength + options_length,
                         protocol_type, &parsed->classify_source);
}

// Four frame bytes as the word a native-order load of them yields.
constexpr uint32_t BytesAsWord(uint8_t b0, uint8_t b1, uint8_t b2, uint8_t b3) {
  static_assert(std::endian::native == std::endian::little ||
                std::endian::native == std::endian::big);
  return std::endian::native == std::endian::little
             ? b0 | (b1 << 8) | (b2 << 16) | (static_cast<uint32_t>(b3) << 24)
             : (static_cast<uint32_t>(b0) << 24) | (b1 << 16) | (b2 << 8) | b3;
}

inline uint32_t LoadWord(const uint8_t* bytes) {
  uint32_t word;
  std::memcpy(&word, bytes, sizeof word);
  return word;
}

// Bytes 12-15 of an untagged Ethernet frame: the ethertype, then the IP version nibble
// (and for IPv4 the IHL: 5, no options).
constexpr uint32_t kIpv4NoOptionsMask = BytesAsWord(0xff, 0xff, 0xff, 0x00);
constexpr uint32_t kIpv4NoOptionsWord = BytesAsWord(0x08, 0x00, 0x45, 0x00);
constexpr uint32_t kIpv6Mask = BytesAsWord(0xff, 0xff, 0xf0, 0x00);
constexpr uint32_t kIpv6Word = BytesAsWord(0x86, 0xdd, 0x60, 0x00);
// Bytes 4-7 of the IPv4 header: the more-fragments flag and the fragment offset (DF may
// be set, the identification is ignored).
constexpr uint32_t kIpv4FragmentBitsMask = BytesAsWord(0, 0, 0x3f, 0xff);
constexpr uint32_t kIpv4FrameMinLength = kEthernetHeaderLength + kIpv4MinHeaderLength;
constexpr uint32_t kIpv6FrameMinLength = kEthernetHeaderLength + kIpv6HeaderLength;

void SetUntaggedIpResult(uint8_t ip_version, ParsedPacket* parsed) {
  parsed->reason = UnclassifiedReason::kNone;
  parsed->ip_version = ip_version;
  parsed->is_overlay = false;
  parsed->is_fragment = false;
  parsed->is_first_fragment = false;
  parsed->l3_offset = kEthernetHeaderLength;
  parsed->fragment_tag = 0;
}

// The frames nearly every pod sends: untagged Ethernet, then IPv4 with a 20-byte header
// and no fragmentation, or IPv6 with no extension header, the IP length within the frame.
// Decided from two loaded words for IPv4; the general walk reaches the same result
// through several calls and branches (docs/performance.md, "The parser's fast path").
// Returns false, having written nothing, for every other frame.
inline bool ParseUntaggedIp(const Cursor& cursor, const OverlayPorts& overlay_ports,
                            ParsedPacket* parsed) {
  // Length first: an empty frame may come with a null pointer, which takes no offset.
  if (cursor.contiguous_length < kIpv4FrameMinLength) return false;
  const uint8_t* frame = cursor.frame;
  const uint8_t* ip = frame + kEthernetHeaderLength;
  uint32_t l4_offset = 0;
  const uint32_t type_and_version = LoadWord(frame + 12);
  if ((type_and_version & kIpv4NoOptionsMask) == kIpv4NoOptionsWord) {
    const uint32_t total_length = ReadBigEndian16(ip + 2);
    if ((LoadWord(ip + 4) & kIpv4FragmentBitsMask) != 0 || total_length < kIpv4MinHeaderLength ||
        kEthernetHeaderLength + total_length > cursor.frame_length) {
      return false;  // a fragment, GSO (length 0) or malformed: the general walk decides
    }
    SetUntaggedIpResult(4, parsed);
    SetIpv4MappedKey(ip + 12, &parsed->classify_source);
    l4_offset = kIpv4FrameMinLength;
  } else if ((type_and_version & kIpv6Mask) == kIpv6Word) {
    const uint32_t payload_length = ReadBigEndian16(ip + 4);
    if (cursor.contiguous_length < kIpv6FrameMinLength || IsWalkedExtensionHeader(ip[6]) ||
        payload_length == 0 || kIpv6FrameMinLength + payload_length > cursor.frame_length) {
      return false;  // extension headers, a jumbogram or malformed
    }
    SetUntaggedIpResult(6, parsed);
    std::memcpy(parsed->classify_source.addr, ip + 8, 16);
    l4_offset = kIpv6FrameMinLength;
  } else {
    return false;
  }
  // IPv4 protocol and IPv6 next header, with no extension headers both the upper layer.
  const uint8_t protocol = ip[l4_offset == kIpv4FrameMinLength ? 9 : 6];
  if (protocol == kIpProtoUdp) {
    parsed->reason = ParseOverlay(cursor, l4_offset, overlay_ports, parsed);
  }
  return true;
}

// Every frame ParseUntaggedIp does not take: VLAN tags, IPv4 options and fragments, IPv6
// extension headers, and all that is malformed. Out of line so that the common path
// pays none of its register saves.
[[gnu::noinline]] void ParseAnyFrame(const Cursor& cursor, const OverlayPorts& overlay_ports,
                                     ParsedPacket* parsed) {
  const uint8_t* frame = cursor.frame;
  *parsed = ParsedPacket{};
  uint16_t ether_type = 0;
  uint32_t l3_offset = 0;
  parsed->reason = SkipEthernet(cursor, 0, &ether_type, &l3_offset);
  if (parsed->reason != UnclassifiedReason::kNone) return;

  IpHeaderInfo ip_info;
  if (ether_type == kEtherTypeIpv4) {
    parsed->reason = ParseIpv4(cursor, l3_offset, &ip_info);
  } else if (ether_type == kEtherTypeIpv6) {
    parsed->reason = ParseIpv6(cursor, l3_offset, &ip_info);
  } else {
    parsed->reason = UnclassifiedReason::not_ip;
  }
  if (parsed->reason != UnclassifiedReason::kNone) return;

  parsed->ip_version = ip_info.version;
  parsed->l3_offset = static_cast<uint16_t>(l3_offset);
  parsed->is_fragment = ip_info.is_fragment;
  parsed->is_first_fragment = ip_info.is_first_fragment;
  parsed->fragment_tag = ip_info.fragment_tag;
  const uint8_t* ip = frame + l3_offset;
  if (ip_info.version == 4) {
    SetIpv4MappedKey(ip + 12, &parsed->classify_source);
  } else {
    std::memcpy(parsed->classify_source.addr, ip + 8, 16);
  }
  const bool has_upper_layer = !ip_info.is_fragment || ip_info.is_first_fragment;
  if (has_upper_layer && ip_info.protocol == kIpProtoUdp) {
    parsed->reason = ParseOverlay(cursor, ip_info.l4_offset, overlay_ports, parsed);
  }
}

}  // namespace

void ParsePacket(const uint8_t* frame, uint32_t contiguous_length, uint32_t frame_length,
                 const OverlayPorts& overlay_ports, ParsedPacket* parsed) {
  const Cursor cursor{frame, contiguous_length < frame_length ? contiguous_length : frame_length,
                      frame_length};
  if (!ParseUntaggedIp(cursor, overlay_ports, parsed)) ParseAnyFrame(cursor, overlay_ports, parsed);
}

}  // namespace dg
