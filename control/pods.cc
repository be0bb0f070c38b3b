#include "control/pods.h"

#include <arpa/inet.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <tuple>

#include "control/yaml_helpers.h"

namespace dg {
namespace {

constexpr uint8_t kIpv4MappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

// yaml-cpp throws from IsMap() on the placeholder it returns for a missing key.
bool IsMapping(const YAML::Node& node) { return node.IsDefined() && node.IsMap(); }

// Reads an optional string field; absent and null both mean "not set".
Result<std::string> OptionalString(const YAML::Node& parent, std::string_view key,
                                   const std::string& parent_path, const std::string& source) {
  if (!IsMapping(parent)) return StringValue("");
  const YAML::Node node = parent[std::string(key)];
  if (!IsPresent(node)) return StringValue("");
  if (!node.IsScalar()) {
    return ConfigError{source, ChildPath(parent_path, key), "expected a string"};
  }
  return StringValue(node.Scalar());
}

Result<std::string> RequiredString(const YAML::Node& parent, std::string_view key,
                                   const std::string& parent_path, const std::string& source) {
  auto value = OptionalString(parent, key, parent_path, source);
  if (value && value->empty()) {
    return ConfigError{source, ChildPath(parent_path, key), "missing; every pod needs one"};
  }
  return value;
}

Result<PodAddress> ParseAddressField(const YAML::Node& node, const std::string& path,
                                     const std::string& source) {
  if (!node.IsScalar()) return ConfigError{source, path, "expected an IP address string"};
  PodAddress address;
  address.text = node.Scalar();
  if (!ParsePodAddress(address.text, &address.key)) {
    return ConfigError{source, path, "\"" + address.text + "\" is not an IPv4 or IPv6 address"};
  }
  return address;
}

void AddUniqueAddress(std::vector<PodAddress>& addresses, PodAddress address) {
  const bool already_listed =
      std::any_of(addresses.begin(), addresses.end(), [&](const PodAddress& existing) {
        return std::memcmp(existing.key.addr, address.key.addr, sizeof(address.key.addr)) == 0;
      });
  if (!already_listed) addresses.push_back(std::move(address));
}

// status.podIPs lists every family of a dual-stack pod; status.podIP (the first of them) is
// all that older clusters report.
Result<std::vector<PodAddress>> ParsePodAddresses(const YAML::Node& status,
                                                  const std::string& status_path,
                                                  const std::string& source) {
  std::vector<PodAddress> addresses;
  if (!IsMapping(status)) return addresses;

  const YAML::Node pod_ips = status["podIPs"];
  const std::string pod_ips_path = ChildPath(status_path, "podIPs");
  if (IsPresent(pod_ips) && !pod_ips.IsSequence()) {
    return ConfigError{source, pod_ips_path, "expected a list of {ip: ...}"};
  }
  if (IsPresent(pod_ips) && pod_ips.size() > 0) {
    for (size_t index = 0; index < pod_ips.size(); ++index) {
      const std::string entry_path = IndexPath(pod_ips_path, index);
      const YAML::Node entry = pod_ips[index];
      if (!entry.IsMap() || !IsPresent(entry["ip"])) {
        return ConfigError{source, ChildPath(entry_path, "ip"), "missing"};
      }
      auto address = ParseAddressField(entry["ip"], ChildPath(entry_path, "ip"), source);
      if (!address) return address.error();
      AddUniqueAddress(addresses, std::move(*address));
    }
    return addresses;
  }

  const YAML::Node pod_ip = status["podIP"];
  if (IsPresent(pod_ip)) {
    auto address = ParseAddressField(pod_ip, ChildPath(status_path, "podIP"), source);
    if (!address) return address.error();
    addresses.push_back(std::move(*address));
  }
  return addresses;
}

Result<PodRecord> ParsePod(const YAML::Node& item, const std::string& item_path,
                           const std::string& source) {
  if (!item.IsMap()) return ConfigError{source, item_path, "expected a Pod object"};
  const YAML::Node kind = item["kind"];
  // `kubectl get pods,svc` would mix other kinds into a List; they carry no pod IPs.
  if (IsPresent(kind) && (!kind.IsScalar() || kind.Scalar() != "Pod")) {
    return ConfigError{source, ChildPath(item_path, "kind"),
                       "expected Pod; list only pods (kubectl get pods -A -o json)"};
  }

  PodRecord pod;
  const std::string metadata_path = ChildPath(item_path, "metadata");
  const YAML::Node metadata = item["metadata"];
  if (!IsMapping(metadata)) {
    return ConfigError{source, metadata_path, "missing; every pod needs metadata"};
  }
  auto name = RequiredString(metadata, "name", metadata_path, source);
  if (!name) return name.error();
  pod.name = std::move(*name);
  auto namespace_name = RequiredString(metadata, "namespace", metadata_path, source);
  if (!namespace_name) return namespace_name.error();
  pod.namespace_name = std::move(*namespace_name);
  auto uid = OptionalString(metadata, "uid", metadata_path, source);
  if (!uid) return uid.error();
  pod.uid = std::move(*uid);
  auto created = OptionalString(metadata, "creationTimestamp", metadata_path, source);
  if (!created) return created.error();
  pod.creation_timestamp = std::move(*created);
  auto deleted = OptionalString(metadata, "deletionTimestamp", metadata_path, source);
  if (!deleted) return deleted.error();
  pod.deletion_timestamp = std::move(*deleted);

  const YAML::Node spec = item["spec"];
  if (IsMapping(spec) && IsPresent(spec["hostNetwork"])) {
    const YAML::Node host_network = spec["hostNetwork"];
    bool value = false;
    if (!host_network.IsScalar() || !YAML::convert<bool>::decode(host_network, value)) {
      return ConfigError{source, ChildPath(item_path, "spec.hostNetwork"),
                         "expected true or false"};
    }
    pod.host_network = value;
  }

  const std::string status_path = ChildPath(item_path, "status");
  const YAML::Node status = item["status"];
  auto phase = OptionalString(status, "phase", status_path, source);
  if (!phase) return phase.error();
  pod.phase = std::move(*phase);
  auto addresses = ParsePodAddresses(status, status_path, source);
  if (!addresses) return addresses.error();
  pod.addresses = std::move(*addresses);
  return pod;
}

Result<std::vector<PodRecord>> ParsePodListUnchecked(std::string_view text,
                                                     const std::string& source) {
  // kubectl's JSON is valid YAML flow syntax, so one parser serves both output formats.
  auto loaded = LoadYaml(text, source);
  if (!loaded) return loaded.error();
  const YAML::Node root = *loaded;
  if (!root.IsMap()) {
    return ConfigError{source, "", "expected a PodList (kubectl get pods -A -o json)"};
  }
  const YAML::Node kind = root["kind"];
  if (!kind.IsDefined() || !kind.IsScalar() ||
      (kind.Scalar() != "PodList" && kind.Scalar() != "List")) {
    return ConfigError{source, "kind", "expected PodList or List"};
  }

  std::vector<PodRecord> pods;
  const YAML::Node items = root["items"];
  if (!IsPresent(items)) return pods;  // An empty cluster lists "items": [] or omits it.
  if (!items.IsSequence()) return ConfigError{source, "items", "expected a list of pods"};
  for (size_t index = 0; index < items.size(); ++index) {
    auto pod = ParsePod(items[index], IndexPath("items", index), source);
    if (!pod) return pod.error();
    pods.push_back(std::move(*pod));
  }
  return pods;
}

bool ParseFixedDigits(std::string_view text, size_t offset, size_t count, int* value) {
  if (offset + count > text.size()) return false;
  int parsed = 0;
  for (size_t i = offset; i < offset + count; ++i) {
    if (text[i] < '0' || text[i] > '9') return false;
    parsed = parsed * 10 + (text[i] - '0');
  }
  *value = parsed;
  return true;
}

// RFC 3339 as the API server writes it ("2024-05-01T12:00:00Z", optionally with a fraction
// or a numeric offset), as nanoseconds since the epoch. Comparing the strings would misorder
// timestamps that differ only in precision or offset.
std::optional<std::chrono::sys_time<std::chrono::nanoseconds>> ParseRfc3339(std::string_view text) {
  int year, month, day, hour, minute, second;
  if (!ParseFixedDigits(text, 0, 4, &year) || text.size() < 19 || text[4] != '-' ||
      !ParseFixedDigits(text, 5, 2, &month) || text[7] != '-' ||
      !ParseFixedDigits(text, 8, 2, &day) || (text[10] != 'T' && text[10] != 't') ||
      !ParseFixedDigits(text, 11, 2, &hour) || text[13] != ':' ||
      !ParseFixedDigits(text, 14, 2, &minute) || text[16] != ':' ||
      !ParseFixedDigits(text, 17, 2, &second)) {
    return std::nullopt;
  }
  const std::chrono::year_month_day date{std::chrono::year(year),
                                         std::chrono::month(static_cast<unsigned>(month)),
                                         std::chrono::day(static_cast<unsigned>(day))};
  if (!date.ok() || hour > 23 || minute > 59 || second > 60) return std::nullopt;

  size_t position = 19;
  int64_t nanoseconds = 0;
  if (position < text.size() && text[position] == '.') {
    ++position;
    int64_t scale = 100000000;
    const size_t digits_start = position;
    while (position < text.size() && text[position] >= '0' && text[position] <= '9') {
      nanoseconds += (text[position] - '0') * scale;
      scale /= 10;
      ++position;
    }
    if (position == digits_start) return std::nullopt;
  }

  int offset_minutes = 0;
  if (position < text.size() && (text[position] == 'Z' || text[position] == 'z')) {
    ++position;
  } else if (position < text.size() && (text[position] == '+' || text[position] == '-')) {
    int offset_hours, offset_remainder_minutes;
    if (!ParseFixedDigits(text, position + 1, 2, &offset_hours) || position + 3 >= text.size() ||
        text[position + 3] != ':' ||
        !ParseFixedDigits(text, position + 4, 2, &offset_remainder_minutes)) {
      return std::nullopt;
    }
    offset_minutes = offset_hours * 60 + offset_remainder_minutes;
    if (text[position] == '-') offset_minutes = -offset_minutes;
    position += 6;
  } else {
    return std::nullopt;
  }
  if (position != text.size()) return std::nullopt;

  using std::chrono::hours, std::chrono::minutes, std::chrono::seconds;
  return std::chrono::sys_days(date) + hours(hour) + minutes(minute) + seconds(second) +
         std::chrono::nanoseconds(nanoseconds) - minutes(offset_minutes);
}

// Creation time as a sortable key; a missing or malformed timestamp sorts as the oldest so
// that a well-formed record is never displaced by one we cannot date.
auto CreationOrder(const PodRecord& pod) {
  const auto created = ParseRfc3339(pod.creation_timestamp);
  return std::make_tuple(created.has_value(),
                         created.value_or(std::chrono::sys_time<std::chrono::nanoseconds>()),
                         pod.creation_timestamp);
}

// True if `candidate` should own a contested address instead of `incumbent`: a pod that is
// being deleted is on its way out, a newer pod has most likely been handed a recycled IP, and
// the uid only breaks exact ties so the outcome never depends on list order.
bool ShouldReplace(const PodRecord& candidate, const PodRecord& incumbent) {
  const bool candidate_live = candidate.deletion_timestamp.empty();
  const bool incumbent_live = incumbent.deletion_timestamp.empty();
  if (candidate_live != incumbent_live) return candidate_live;
  const auto candidate_created = CreationOrder(candidate);
  const auto incumbent_created = CreationOrder(incumbent);
  if (candidate_created != incumbent_created) return candidate_created > incumbent_created;
  return candidate.uid > incumbent.uid;
}

bool SendsFromOwnAddress(const PodRecord& pod) {
  // hostNetwork pods share the node's address, so their traffic cannot be told apart by IP;
  // finished pods have released theirs for reuse.
  return !pod.host_network && pod.phase != "Succeeded" && pod.phase != "Failed";
}

std::array<uint8_t, 16> KeyBytes(const dg_pod_key& key) {
  std::array<uint8_t, 16> bytes;
  std::memcpy(bytes.data(), key.addr, bytes.size());
  return bytes;
}

}  // namespace

Result<std::vector<PodRecord>> ParsePodList(std::string_view text, const std::string& source) {
  return ParseGuarded(source, [&] { return ParsePodListUnchecked(text, source); });
}

Result<std::vector<PodRecord>> LoadPodListFile(const std::string& path) {
  return LoadFileWith(path, ParsePodList);
}

std::vector<PodTableEntry> BuildPodTableEntries(const std::vector<PodRecord>& pods) {
  std::map<std::array<uint8_t, 16>, std::pair<const PodRecord*, const PodAddress*>> owners;
  for (const PodRecord& pod : pods) {
    if (!SendsFromOwnAddress(pod)) continue;
    for (const PodAddress& address : pod.addresses) {
      auto [owner, inserted] = owners.try_emplace(KeyBytes(address.key), &pod, &address);
      if (!inserted && ShouldReplace(pod, *owner->second.first)) {
        owner->second = {&pod, &address};
      }
    }
  }

  std::vector<PodTableEntry> entries;
  entries.reserve(owners.size());
  for (const auto& [key, owner] : owners) {
    entries.push_back(PodTableEntry{*owner.second, owner.first->namespace_name, owner.first->name});
  }
  // Grouped by pod for readable listings (/v1/pods); address order keeps it deterministic.
  std::stable_sort(entries.begin(), entries.end(),
                   [](const PodTableEntry& left, const PodTableEntry& right) {
                     return std::tie(left.namespace_name, left.pod_name) <
                            std::tie(right.namespace_name, right.pod_name);
                   });
  return entries;
}

bool ParsePodAddress(std::string_view text, dg_pod_key* key) {
  // inet_pton needs a C string, and would stop early at an embedded NUL.
  if (text.find('\0') != std::string_view::npos) return false;
  const std::string terminated(text);
  in_addr ipv4;
  if (inet_pton(AF_INET, terminated.c_str(), &ipv4) == 1) {
    std::memcpy(key->addr, kIpv4MappedPrefix, sizeof(kIpv4MappedPrefix));
    std::memcpy(key->addr + sizeof(kIpv4MappedPrefix), &ipv4, sizeof(ipv4));
    return true;
  }
  in6_addr ipv6;
  if (inet_pton(AF_INET6, terminated.c_str(), &ipv6) == 1) {
    std::memcpy(key->addr, &ipv6, sizeof(ipv6));
    return true;
  }
  return false;
}

std::string FormatPodAddress(const dg_pod_key& key) {
  char text[INET6_ADDRSTRLEN];
  const bool ipv4_mapped = std::memcmp(key.addr, kIpv4MappedPrefix, sizeof(kIpv4MappedPrefix)) == 0;
  const int family = ipv4_mapped ? AF_INET : AF_INET6;
  const void* address = ipv4_mapped ? key.addr + sizeof(kIpv4MappedPrefix) : key.addr;
  if (inet_ntop(family, address, text, sizeof(text)) == nullptr) return std::string();
  return text;
}

}  // namespace dg
