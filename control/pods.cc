#include "control/pods.h"

#include <arpa/inet.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <compare>
#include <cstring>
#include <map>
#include <optional>
#include <string_view>
#include <tuple>

#include "control/input_limits.h"
#include "control/yaml_helpers.h"

namespace dg {
namespace {

constexpr uint8_t kIpv4MappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

// The value at `key`, or nullptr when absent or null: both mean "not set".
const boost::json::value* FieldAt(const boost::json::object* parent, std::string_view key) {
  if (parent == nullptr) return nullptr;
  const boost::json::value* value = parent->if_contains(key);
  return value != nullptr && !value->is_null() ? value : nullptr;
}

Result<std::string> OptionalString(const boost::json::object* parent, std::string_view key,
                                   const std::string& parent_path) {
  const boost::json::value* value = FieldAt(parent, key);
  if (value == nullptr) return StringValue("");
  if (!value->is_string()) return ConfigError{"", ChildPath(parent_path, key), "expected a string"};
  return StringValue(std::string(value->get_string()));
}

Result<std::string> RequiredString(const boost::json::object* parent, std::string_view key,
                                   const std::string& parent_path) {
  auto value = OptionalString(parent, key, parent_path);
  if (value && value->empty()) {
    return ConfigError{"", ChildPath(parent_path, key), "missing; every pod needs one"};
  }
  return value;
}

Result<PodAddress> ParseAddressField(const boost::json::value& value, const std::string& path) {
  if (!value.is_string()) return ConfigError{"", path, "expected an IP address string"};
  PodAddress address;
  address.text = std::string(value.get_string());
  if (!ParsePodAddress(address.text, &address.key)) {
    return ConfigError{"", path, Quoted(address.text) + " is not an IPv4 or IPv6 address"};
  }
  return address;
}

void AddUniqueAddress(std::vector<PodAddress>& addresses, PodAddress address) {
  const bool already_listed = std::any_of(
      addresses.begin(), addresses.end(),
      [&](const PodAddress& existing) { return PodKeyEqual{}(existing.key, address.key); });
  if (!already_listed) addresses.push_back(std::move(address));
}

// status.podIPs lists every family of a dual-stack pod; status.podIP (the first of them) is
// all that older clusters report.
Result<std::vector<PodAddress>> ParsePodAddresses(const boost::json::object* status) {
  std::vector<PodAddress> addresses;
  const boost::json::value* pod_ips = FieldAt(status, "podIPs");
  if (pod_ips != nullptr && !pod_ips->is_array()) {
    return ConfigError{"", "status.podIPs", "expected a list of {ip: ...}"};
  }
  if (pod_ips != nullptr && !pod_ips->get_array().empty()) {
    const boost::json::array& entries = pod_ips->get_array();
    if (entries.size() > kMaxPodAddresses) {
      return ConfigError{"", "status.podIPs",
                         std::to_string(entries.size()) + " addresses; a pod has at most " +
                             std::to_string(kMaxPodAddresses) +
                             " (Kubernetes allows one per family)"};
    }
    for (size_t index = 0; index < entries.size(); ++index) {
      const std::string ip_path = ChildPath(IndexPath("status.podIPs", index), "ip");
      const boost::json::value* ip = FieldAt(entries[index].if_object(), "ip");
      if (ip == nullptr) return ConfigError{"", ip_path, "missing"};
      auto address = ParseAddressField(*ip, ip_path);
      if (!address) return address.error();
      AddUniqueAddress(addresses, std::move(*address));
    }
    return addresses;
  }
  if (const boost::json::value* pod_ip = FieldAt(status, "podIP")) {
    auto address = ParseAddressField(*pod_ip, "status.podIP");
    if (!address) return address.error();
    addresses.push_back(std::move(*address));
  }
  return addresses;
}

// Only the annotations control/pod_overrides.h acts on are read; Kubernetes makes every
// annotation value a string, so anything else is a broken object.
std::optional<ConfigError> DecodeAnnotations(const boost::json::value* annotations_value,
                                             PodAnnotations& annotations) {
  if (annotations_value == nullptr) return std::nullopt;
  const boost::json::object* annotations_object = annotations_value->if_object();
  if (annotations_object == nullptr) {
    return ConfigError{"", "metadata.annotations", "expected a mapping of strings"};
  }
  for (auto [key, target] :
       {std::pair{kPodClassAnnotation, &annotations.requested_class},
        std::pair{kVolcanoQosLevelAnnotation, &annotations.qos_level},
        std::pair{kEgressBandwidthAnnotation, &annotations.egress_bandwidth}}) {
    auto value = OptionalString(annotations_object, key, "metadata.annotations");
    if (!value) return value.error();
    *target = std::move(*value);
  }
  return std::nullopt;
}

std::optional<ConfigError> DecodeInto(const boost::json::object& item, PodRecord& pod) {
  const boost::json::value* kind = FieldAt(&item, "kind");
  // `kubectl get pods,svc` would mix other kinds into a List; they carry no pod IPs.
  if (kind != nullptr && !(kind->is_string() && kind->get_string() == "Pod")) {
    return ConfigError{"", "kind", "expected Pod; list only pods (kubectl get pods -A -o json)"};
  }
  const boost::json::value* metadata_value = FieldAt(&item, "metadata");
  const boost::json::object* metadata =
      metadata_value != nullptr ? metadata_value->if_object() : nullptr;
  if (metadata == nullptr) return ConfigError{"", "metadata", "missing; every pod needs metadata"};
  for (auto [key, target, required] :
       {std::tuple{"name", &pod.name, true}, std::tuple{"namespace", &pod.namespace_name, true},
        std::tuple{"uid", &pod.uid, true},
        std::tuple{"creationTimestamp", &pod.creation_timestamp, false},
        std::tuple{"deletionTimestamp", &pod.deletion_timestamp, false}}) {
    auto value = required ? RequiredString(metadata, key, "metadata")
                          : OptionalString(metadata, key, "metadata");
    if (!value) return value.error();
    *target = std::move(*value);
  }

  if (auto error = DecodeAnnotations(FieldAt(metadata, "annotations"), pod.annotations)) {
    return error;
  }

  const boost::json::value* spec = FieldAt(&item, "spec");
  if (const boost::json::value* host_network =
          FieldAt(spec ? spec->if_object() : nullptr, "hostNetwork")) {
    if (!host_network->is_bool()) {
      return ConfigError{"", "spec.hostNetwork", "expected true or false"};
    }
    pod.host_network = host_network->get_bool();
  }

  const boost::json::value* status_value = FieldAt(&item, "status");
  const boost::json::object* status = status_value ? status_value->if_object() : nullptr;
  auto phase = OptionalString(status, "phase", "status");
  if (!phase) return phase.error();
  pod.phase = std::move(*phase);
  auto addresses = ParsePodAddresses(status);
  if (!addresses) return addresses.error();
  pod.addresses = std::move(*addresses);
  return std::nullopt;
}

// kubectl's YAML output as the JSON it stands for. A plain true/false is a boolean and a
// plain null (or ~, or nothing) is null; every other scalar stays a string, which is all a
// Pod's decoded fields hold.
boost::json::value YamlToJson(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      boost::json::object object;
      for (const auto& entry : node) {
        object[entry.first.IsScalar() ? entry.first.Scalar() : ""] = YamlToJson(entry.second);
      }
      return object;
    }
    case YAML::NodeType::Sequence: {
      boost::json::array array;
      for (const YAML::Node& element : node) array.push_back(YamlToJson(element));
      return array;
    }
    case YAML::NodeType::Scalar: {
      const std::string& text = node.Scalar();
      if (node.Tag() == "?") {
        if (text == "true" || text == "True" || text == "TRUE") return true;
        if (text == "false" || text == "False" || text == "FALSE") return false;
      }
      return boost::json::string(text);
    }
    default:
      return nullptr;
  }
}

// kubectl's JSON is read as JSON; anything else (YAML, or JSON boost.json rejects) goes
// through yaml-cpp, whose syntax errors carry a line and column.
Result<boost::json::value> ParseDocument(std::string_view text, const std::string& source) {
  boost::system::error_code json_error;
  boost::json::value document = boost::json::parse(text, json_error);
  if (!json_error) return document;
  auto loaded = LoadYaml(text, source);
  if (!loaded) return loaded.error();
  return YamlToJson(*loaded);
}

Result<std::vector<PodRecord>> ParsePodListUnchecked(std::string_view text,
                                                     const std::string& source) {
  auto document = ParseDocument(text, source);
  if (!document) return document.error();
  const boost::json::object* root = document->if_object();
  if (root == nullptr) {
    return ConfigError{source, "", "expected a PodList (kubectl get pods -A -o json)"};
  }
  const boost::json::value* kind = root->if_contains("kind");
  if (kind == nullptr || !kind->is_string() ||
      (kind->get_string() != "PodList" && kind->get_string() != "List")) {
    return ConfigError{source, "kind", "expected PodList or List"};
  }

  std::vector<PodRecord> pods;
  const boost::json::value* items = FieldAt(root, "items");
  if (items == nullptr) return pods;  // An empty cluster lists "items": [] or omits it.
  if (!items->is_array()) return ConfigError{source, "items", "expected a list of pods"};
  const boost::json::array& item_list = items->get_array();
  pods.reserve(item_list.size());
  for (size_t index = 0; index < item_list.size(); ++index) {
    const std::string item_path = IndexPath("items", index);
    const boost::json::object* item = item_list[index].if_object();
    if (item == nullptr) return ConfigError{source, item_path, "expected a Pod object"};
    auto pod = DecodePod(*item);
    if (!pod) return ConfigError{source, ChildPath(item_path, pod.error().key), pod.error().reason};
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

// An instant as whole seconds since the epoch and the nanoseconds within that second:
// nanoseconds alone overflow int64 after 2262, and RFC 3339 runs to 9999.
struct Instant {
  std::chrono::sys_seconds seconds;
  int64_t nanoseconds = 0;  // 0 to 999,999,999
  auto operator<=>(const Instant&) const = default;
};

// RFC 3339 as the API server writes it ("2024-05-01T12:00:00Z", optionally with a fraction
// or a numeric offset). Comparing the strings would misorder timestamps that differ only in
// precision or offset.
std::optional<Instant> ParseRfc3339(std::string_view text) {
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
  return Instant{std::chrono::sys_days(date) + hours(hour) + minutes(minute) + seconds(second) -
                     minutes(offset_minutes),
                 nanoseconds};
}

// Creation time as a sortable key; a missing or malformed timestamp sorts as the oldest so
// that a well-formed record is never displaced by one we cannot date.
auto CreationOrder(const PodRecord& pod) {
  const auto created = ParseRfc3339(pod.creation_timestamp);
  return std::make_tuple(created.has_value(), created.value_or(Instant{}), pod.creation_timestamp);
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

Result<PodRecord> DecodePod(const boost::json::object& pod) {
  PodRecord record;
  if (auto error = DecodeInto(pod, record)) {
    if (!record.namespace_name.empty())
      error->file = "pod " + record.namespace_name + "/" + record.name;
    return *error;
  }
  return record;
}

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
    entries.push_back(PodTableEntry{*owner.second, owner.first->namespace_name, owner.first->name,
                                    owner.first->uid, owner.first->annotations});
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

size_t PodKeyHash::operator()(const dg_pod_key& key) const {
  return std::hash<std::string_view>{}(
      std::string_view(reinterpret_cast<const char*>(key.addr), sizeof(key.addr)));
}

bool PodKeyEqual::operator()(const dg_pod_key& a, const dg_pod_key& b) const {
  return std::memcmp(a.addr, b.addr, sizeof(a.addr)) == 0;
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
