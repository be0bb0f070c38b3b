#include "control/policy.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <optional>
#include <set>
#include <sstream>

#include "control/units.h"
#include "control/yaml_helpers.h"

namespace dg {
namespace {

constexpr std::string_view kConfigMapDataKey = "priorities.yaml";
constexpr std::string_view kEmbeddedDocumentPath = "data.priorities.yaml";
constexpr size_t kMaxNamespaceNameLength = 63;  // RFC 1123 label, as Kubernetes enforces

// The policy a gateway runs with when no priorities file is configured. Kept as document
// text so its content_hash is what an operator gets by writing the same text to a file.
constexpr std::string_view kDefaultPrioritiesDocument =
    "classes:\n"
    "  - name: critical\n"
    "    dscp: 46\n"
    "  - name: high\n"
    "    dscp: 34\n"
    "  - name: standard\n"
    "    dscp: 0\n"
    "  - name: scavenger\n"
    "    dscp: 8\n"
    "defaultClass: standard\n";

std::string Fnv1a64Hex(std::string_view text) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (unsigned char byte : text) {
    hash ^= byte;
    hash *= 0x100000001b3ULL;
  }
  char hex[17];
  std::snprintf(hex, sizeof(hex), "%016llx", static_cast<unsigned long long>(hash));
  return hex;
}

// Builds errors for one priorities document; when the document is embedded in a ConfigMap
// every key path is prefixed so the operator knows the key lives inside the data string.
class ErrorReporter {
 public:
  ErrorReporter(const std::string& source, std::string key_prefix)
      : source_(source), key_prefix_(std::move(key_prefix)) {}

  ConfigError operator()(const std::string& path, std::string reason) const {
    std::string key = key_prefix_;
    if (!key.empty() && !path.empty()) key += "/";
    key += path;
    return ConfigError{source_, std::move(key), std::move(reason)};
  }

 private:
  const std::string& source_;
  std::string key_prefix_;
};

std::string JoinNames(std::initializer_list<std::string_view> names) {
  std::string joined;
  for (std::string_view name : names) {
    if (!joined.empty()) joined += ", ";
    joined += name;
  }
  return joined;
}

// Typos must not pass silently, so a mapping may only hold the keys the schema knows, and
// each at most once (yaml-cpp keeps both copies of a duplicated key; the second would
// otherwise be ignored).
std::optional<ConfigError> CheckMappingKeys(const YAML::Node& mapping, const std::string& path,
                                            std::initializer_list<std::string_view> allowed,
                                            const ErrorReporter& error) {
  std::set<std::string> seen;
  for (const auto& entry : mapping) {
    if (!entry.first.IsScalar()) return error(path, "keys must be plain strings");
    const std::string key = entry.first.Scalar();
    bool known = false;
    for (std::string_view allowed_key : allowed) known = known || key == allowed_key;
    if (!known) {
      return error(ChildPath(path, key), "unknown key; expected one of: " + JoinNames(allowed));
    }
    if (!seen.insert(key).second) return error(ChildPath(path, key), "duplicate key");
  }
  return std::nullopt;
}

Result<std::string> ScalarString(const YAML::Node& node, const std::string& path,
                                 const ErrorReporter& error) {
  if (!node.IsScalar()) return error(path, "expected a string");
  return StringValue(node.Scalar());
}

Result<YAML::Node> LoadYamlAt(std::string_view text, const std::string& path,
                              const ErrorReporter& error) {
  auto loaded = LoadYaml(text, "");
  if (!loaded) return NodeError(error(path, std::move(loaded.error().reason)));
  return loaded;
}

Result<uint8_t> ParseDscp(const YAML::Node& class_node, const std::string& class_path,
                          const ErrorReporter& error) {
  const std::string path = ChildPath(class_path, "dscp");
  const YAML::Node dscp = class_node["dscp"];
  if (!dscp.IsDefined() || dscp.IsNull()) return error(path, "missing; expected an integer 0-63");
  if (!dscp.IsScalar()) return error(path, "expected an integer 0-63");
  const std::string& text = dscp.Scalar();
  // Strict decimal digits: yaml-cpp's own conversion would take "0x2e" and " 46".
  if (text.empty() || text.size() > 3 ||
      text.find_first_not_of("0123456789") != std::string::npos) {
    return error(path, Quoted(text) + " is not an integer; expected 0-63");
  }
  const int value = std::stoi(text);
  if (value > DG_DSCP_MAX) return error(path, text + " is outside 0-63");
  return static_cast<uint8_t>(value);
}

Result<bool> ParseBoolean(const YAML::Node& node, const std::string& path,
                          const ErrorReporter& error) {
  if (node.IsScalar() && node.Scalar() == "true") return true;
  if (node.IsScalar() && node.Scalar() == "false") return false;
  return error(path, "expected true or false");
}

// `aqm: {codel, target, interval, ecn, dropNonEct}` and `queueLimit` of one class
// (control/queue_settings.h); absent keys keep their defaults.
std::optional<ConfigError> ParseClassQueueSettings(const YAML::Node& class_node,
                                                   const std::string& class_path,
                                                   const ErrorReporter& error,
                                                   ClassQueueSettings& settings) {
  const YAML::Node limit = class_node["queueLimit"];
  if (IsPresent(limit)) {
    const std::string path = ChildPath(class_path, "queueLimit");
    auto text = ScalarString(limit, path, error);
    if (!text) return text.error();
    auto bytes = ParseByteSize(*text, "", path);
    if (!bytes) return error(path, bytes.error().reason);
    if (*bytes == 0) return error(path, "must be at least one byte");
    settings.limit_bytes = *bytes;
  }
  const YAML::Node aqm = class_node["aqm"];
  if (!IsPresent(aqm)) return std::nullopt;
  const std::string aqm_path = ChildPath(class_path, "aqm");
  if (!aqm.IsMap())
    return error(aqm_path, "expected a mapping with codel, target, interval, ecn, dropNonEct");
  if (auto key_error = CheckMappingKeys(
          aqm, aqm_path, {"codel", "target", "interval", "ecn", "dropNonEct"}, error)) {
    return key_error;
  }
  for (auto [key, flag] : {std::pair{"codel", &settings.codel}, std::pair{"ecn", &settings.ecn},
                           std::pair{"dropNonEct", &settings.drop_non_ect}}) {
    if (!IsPresent(aqm[key])) continue;
    auto value = ParseBoolean(aqm[key], ChildPath(aqm_path, key), error);
    if (!value) return value.error();
    *flag = *value;
  }
  for (auto [key, duration] : {std::pair{"target", &settings.codel_target_ns},
                               std::pair{"interval", &settings.codel_interval_ns}}) {
    if (!IsPresent(aqm[key])) continue;
    const std::string path = ChildPath(aqm_path, key);
    auto text = ScalarString(aqm[key], path, error);
    if (!text) return text.error();
    auto nanoseconds = ParseDurationNs(*text, "", path);
    if (!nanoseconds) return error(path, nanoseconds.error().reason);
    if (*nanoseconds == 0) return error(path, "must be longer than 0");
    *duration = *nanoseconds;
  }
  if (settings.codel_target_ns >= settings.codel_interval_ns) {
    return error(ChildPath(aqm_path, "target"),
                 "must be shorter than interval (RFC 8289 suggests 5-10% of it)");
  }
  return std::nullopt;
}

std::optional<ConfigError> ParseClassRates(const YAML::Node& class_node,
                                           const std::string& class_path, uint64_t shaper_rate_bps,
                                           const ErrorReporter& error, TrafficClass& traffic_class);
std::optional<ConfigError> CheckFloorsFit(const std::vector<TrafficClass>& classes,
                                          uint64_t shaper_rate_bps, const ErrorReporter& error);

// `pcp: 0-7` (802.1p priority of the outer VLAN tag); absent or empty: kNoPcp.
Result<uint8_t> ParsePcp(const YAML::Node& class_node, const std::string& class_path,
                         const ErrorReporter& error) {
  const YAML::Node pcp = class_node["pcp"];
  if (!pcp.IsDefined() || pcp.IsNull()) return kNoPcp;
  const std::string path = ChildPath(class_path, "pcp");
  if (!pcp.IsScalar()) return error(path, "expected an integer 0-7");
  const std::string& text = pcp.Scalar();
  if (text.size() != 1 || text[0] < '0' || text[0] > '0' + kMaxPcp) {
    return error(path, Quoted(text) + " is not an integer 0-7");
  }
  return static_cast<uint8_t>(text[0] - '0');
}

Result<TrafficClass> ParseClass(const YAML::Node& class_node, const std::string& class_path,
                                uint64_t shaper_rate_bps, const ErrorReporter& error) {
  if (!class_node.IsMap()) return error(class_path, "expected a mapping with name and dscp");
  if (auto key_error = CheckMappingKeys(
          class_node, class_path,
          {"name", "dscp", "maxRate", "minRate", "aqm", "queueLimit", "pcp"}, error)) {
    return *key_error;
  }

  TrafficClass traffic_class;
  const std::string name_path = ChildPath(class_path, "name");
  const YAML::Node name = class_node["name"];
  if (!name.IsDefined() || name.IsNull()) {
    return error(name_path, "missing; every class needs a name");
  }
  auto name_text = ScalarString(name, name_path, error);
  if (!name_text) return name_text.error();
  if (name_text->empty()) return error(name_path, "must not be empty");
  traffic_class.name = *name_text;

  auto dscp = ParseDscp(class_node, class_path, error);
  if (!dscp) return dscp.error();
  traffic_class.dscp = *dscp;

  if (auto rate_error =
          ParseClassRates(class_node, class_path, shaper_rate_bps, error, traffic_class)) {
    return *rate_error;
  }
  if (auto queue_error =
          ParseClassQueueSettings(class_node, class_path, error, traffic_class.queue)) {
    return *queue_error;
  }
  auto pcp = ParsePcp(class_node, class_path, error);
  if (!pcp) return pcp.error();
  traffic_class.pcp = *pcp;
  return traffic_class;
}

Result<std::vector<TrafficClass>> ParseClasses(const YAML::Node& root, uint64_t shaper_rate_bps,
                                               const ErrorReporter& error) {
  const YAML::Node classes = root["classes"];
  if (!classes.IsDefined() || classes.IsNull()) {
    return error("classes", "missing; list the traffic classes, highest priority first");
  }
  if (!classes.IsSequence()) return error("classes", "expected a list of classes");
  if (classes.size() == 0) return error("classes", "must list at least one class");
  if (classes.size() > DG_MAX_CLASSES) {
    return error("classes", std::to_string(classes.size()) + " classes; at most " +
                                std::to_string(DG_MAX_CLASSES) + " are supported");
  }

  std::vector<TrafficClass> parsed;
  std::set<std::string> names;
  for (size_t index = 0; index < classes.size(); ++index) {
    const std::string class_path = IndexPath("classes", index);
    auto traffic_class = ParseClass(classes[index], class_path, shaper_rate_bps, error);
    if (!traffic_class) return traffic_class.error();
    if (!names.insert(traffic_class->name).second) {
      return error(ChildPath(class_path, "name"),
                   "duplicate class name " + Quoted(traffic_class->name));
    }
    parsed.push_back(std::move(*traffic_class));
  }
  if (auto floor_error = CheckFloorsFit(parsed, shaper_rate_bps, error)) return *floor_error;
  return parsed;
}

std::optional<uint32_t> FindClass(const std::vector<TrafficClass>& classes, std::string_view name) {
  for (size_t index = 0; index < classes.size(); ++index) {
    if (classes[index].name == name) return static_cast<uint32_t>(index);
  }
  return std::nullopt;
}

std::string ClassNames(const std::vector<TrafficClass>& classes) {
  std::string joined;
  for (const TrafficClass& traffic_class : classes) {
    if (!joined.empty()) joined += ", ";
    joined += traffic_class.name;
  }
  return joined;
}

bool IsLowerAlphanumeric(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// Namespace names are RFC 1123 labels; anything else can never match a pod, so it is a typo.
// A prefix may end in '-' because "batch-*" is the natural way to write one.
std::optional<std::string> NamespacePatternProblem(std::string_view pattern) {
  if (pattern.empty()) return "empty namespace name";
  const size_t star = pattern.find('*');
  const bool is_prefix = star != std::string_view::npos;
  if (is_prefix && star != pattern.size() - 1) {
    return "'*' is only allowed at the end, as a prefix match";
  }
  const std::string_view name = is_prefix ? pattern.substr(0, star) : pattern;
  if (name.empty()) return "a bare '*' would match every namespace; use defaultClass instead";
  if (name.size() > kMaxNamespaceNameLength) return "longer than 63 characters";
  for (char c : name) {
    if (!IsLowerAlphanumeric(c) && c != '-') {
      return "not a namespace name: only lowercase letters, digits and '-' are allowed";
    }
  }
  if (!IsLowerAlphanumeric(name.front())) {
    return "not a namespace name: must start with a lowercase letter or digit";
  }
  if (!is_prefix && !IsLowerAlphanumeric(name.back())) {
    return "not a namespace name: must end with a lowercase letter or digit";
  }
  return std::nullopt;
}

std::optional<ConfigError> ParseNamespaces(const YAML::Node& root, PriorityPolicy& policy,
                                           const ErrorReporter& error) {
  const YAML::Node namespaces = root["namespaces"];
  // No mappings is a valid policy: every pod gets defaultClass.
  if (!namespaces.IsDefined() || namespaces.IsNull()) return std::nullopt;
  if (!namespaces.IsMap()) {
    return error("namespaces", "expected a mapping of namespace (or prefix-*) to class name");
  }

  std::set<std::string> seen;
  for (const auto& entry : namespaces) {
    if (!entry.first.IsScalar()) return error("namespaces", "keys must be namespace names");
    const std::string pattern = entry.first.Scalar();
    // An empty key would otherwise print as a dangling "namespaces.".
    const std::string path = ChildPath("namespaces", pattern.empty() ? "\"\"" : pattern);
    if (!seen.insert(pattern).second) return error(path, "duplicate namespace");
    if (auto problem = NamespacePatternProblem(pattern)) return error(path, *problem);

    auto class_name = ScalarString(entry.second, path, error);
    if (!class_name) return class_name.error();
    const auto class_index = FindClass(policy.classes, *class_name);
    if (!class_index) {
      return error(path, "unknown class " + Quoted(*class_name) + "; classes are " +
                             ClassNames(policy.classes));
    }
    if (pattern.back() == '*') {
      policy.prefix_namespaces.emplace_back(pattern.substr(0, pattern.size() - 1), *class_index);
    } else {
      policy.exact_namespaces.emplace_back(pattern, *class_index);
    }
  }
  return std::nullopt;
}

Result<uint32_t> ClassNamed(const YAML::Node& node, const std::string& path,
                            const PriorityPolicy& policy, const ErrorReporter& error) {
  auto name = ScalarString(node, path, error);
  if (!name) return name.error();
  const auto class_index = FindClass(policy.classes, *name);
  if (!class_index) {
    return error(path,
                 "unknown class " + Quoted(*name) + "; classes are " + ClassNames(policy.classes));
  }
  return *class_index;
}

// podOverrides: {allowedClasses: [...], offlineClass: name}; both optional, and without
// them pod annotations change nothing (control/pod_overrides.h decides per pod).
std::optional<ConfigError> ParsePodOverrides(const YAML::Node& root, PriorityPolicy& policy,
                                             const ErrorReporter& error) {
  const YAML::Node overrides = root["podOverrides"];
  if (!overrides.IsDefined() || overrides.IsNull()) return std::nullopt;
  if (!overrides.IsMap()) {
    return error("podOverrides", "expected a mapping with allowedClasses and offlineClass");
  }
  if (auto key_error =
          CheckMappingKeys(overrides, "podOverrides", {"allowedClasses", "offlineClass"}, error)) {
    return *key_error;
  }
  const YAML::Node allowed = overrides["allowedClasses"];
  if (allowed.IsDefined() && !allowed.IsNull()) {
    if (!allowed.IsSequence()) {
      return error("podOverrides.allowedClasses", "expected a list of class names");
    }
    for (size_t index = 0; index < allowed.size(); ++index) {
      const std::string path = IndexPath("podOverrides.allowedClasses", index);
      auto class_index = ClassNamed(allowed[index], path, policy, error);
      if (!class_index) return class_index.error();
      auto& classes = policy.pod_overrides.allowed_classes;
      if (std::find(classes.begin(), classes.end(), *class_index) != classes.end()) {
        return error(path, "duplicate class " + Quoted(policy.classes[*class_index].name));
      }
      classes.push_back(*class_index);
    }
  }
  const YAML::Node offline = overrides["offlineClass"];
  if (offline.IsDefined() && !offline.IsNull()) {
    auto class_index = ClassNamed(offline, "podOverrides.offlineClass", policy, error);
    if (!class_index) return class_index.error();
    policy.pod_overrides.offline_class = *class_index;
  }
  return std::nullopt;
}

// `document_text` is the priorities document itself (already unwrapped from any ConfigMap).
Result<PriorityPolicy> ParsePrioritiesDocument(std::string_view document_text,
                                               uint64_t shaper_rate_bps,
                                               const ErrorReporter& error) {
  auto loaded = LoadYamlAt(document_text, "", error);
  if (!loaded) return loaded.error();
  const YAML::Node root = *loaded;
  if (!root.IsMap()) {
    return error("", "expected a mapping with classes, defaultClass and namespaces");
  }
  if (auto key_error = CheckMappingKeys(
          root, "", {"classes", "defaultClass", "namespaces", "podOverrides"}, error)) {
    return *key_error;
  }

  PriorityPolicy policy;
  auto classes = ParseClasses(root, shaper_rate_bps, error);
  if (!classes) return classes.error();
  policy.classes = std::move(*classes);

  const YAML::Node default_class = root["defaultClass"];
  if (!default_class.IsDefined() || default_class.IsNull()) {
    return error("defaultClass", "missing; name the class for pods whose namespace is not listed");
  }
  auto default_index = ClassNamed(default_class, "defaultClass", policy, error);
  if (!default_index) return default_index.error();
  policy.default_class = *default_index;

  if (auto namespace_error = ParseNamespaces(root, policy, error)) return *namespace_error;
  if (auto override_error = ParsePodOverrides(root, policy, error)) return *override_error;
  policy.content_hash = Fnv1a64Hex(document_text);
  return policy;
}

// A ConfigMap carries the policy as a string under data."priorities.yaml"; metadata and the
// other top-level fields belong to Kubernetes and are not ours to validate.
Result<std::string> ExtractFromConfigMap(const YAML::Node& config_map, const ErrorReporter& error) {
  const YAML::Node data = config_map["data"];
  const std::string missing = "ConfigMap has no data.priorities.yaml";
  if (!data.IsDefined() || data.IsNull()) return error(std::string(kEmbeddedDocumentPath), missing);
  if (!data.IsMap()) return error("data", "expected a mapping of file names to contents");
  if (auto key_error = CheckMappingKeys(data, "data", {kConfigMapDataKey}, error)) {
    return *key_error;
  }
  const YAML::Node document = data[std::string(kConfigMapDataKey)];
  if (!document.IsDefined()) return error(std::string(kEmbeddedDocumentPath), missing);
  if (!document.IsScalar()) {
    return error(std::string(kEmbeddedDocumentPath),
                 "expected the document as a string (write `priorities.yaml: |`)");
  }
  return StringValue(document.Scalar());
}

Result<PriorityPolicy> ParsePrioritiesUnchecked(std::string_view text, const std::string& source,
                                                uint64_t shaper_rate_bps) {
  const ErrorReporter top_level(source, "");
  auto loaded = LoadYamlAt(text, "", top_level);
  if (!loaded) return loaded.error();
  const YAML::Node root = *loaded;

  const bool has_kind = root.IsMap() && root["kind"].IsDefined();
  if (!has_kind) return ParsePrioritiesDocument(text, shaper_rate_bps, top_level);

  const YAML::Node kind = root["kind"];
  if (!kind.IsScalar() || kind.Scalar() != "ConfigMap") {
    return top_level("kind", "expected ConfigMap, or the bare priorities document without kind");
  }
  auto document = ExtractFromConfigMap(root, top_level);
  if (!document) return document.error();
  return ParsePrioritiesDocument(*document, shaper_rate_bps,
                                 ErrorReporter(source, std::string(kEmbeddedDocumentPath)));
}

// Digits with an optional fraction, e.g. "1.5", split out so the multiplier can be applied
// exactly in integers: 1.5 Gbit is 1500000000, not whatever a double rounds it to.
struct DecimalNumber {
  std::string_view integer_digits;
  std::string_view fraction_digits;
};

std::optional<DecimalNumber> SplitDecimal(std::string_view number) {
  const size_t dot = number.find('.');
  DecimalNumber decimal{number.substr(0, dot), std::string_view()};
  if (dot != std::string_view::npos) decimal.fraction_digits = number.substr(dot + 1);
  auto all_digits = [](std::string_view digits) {
    return digits.find_first_not_of("0123456789") == std::string_view::npos;
  };
  if (decimal.integer_digits.empty() || !all_digits(decimal.integer_digits)) return std::nullopt;
  if (dot != std::string_view::npos &&
      (decimal.fraction_digits.empty() || !all_digits(decimal.fraction_digits))) {
    return std::nullopt;
  }
  return decimal;
}

char ToLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// Class rates (minRate, maxRate): bits per second as ParseRateBps reads them, or a share of
// shaper.rate written "10%" or "12.5%" (at most two decimals), resolved here so the datapath
// only ever sees bit/s.
constexpr uint64_t kBasisPointsPerWhole = 10000;  // 100.00%

std::optional<uint64_t> ParsePercentBasisPoints(std::string_view number) {
  const auto decimal = SplitDecimal(number);
  if (!decimal || decimal->integer_digits.size() > 3 || decimal->fraction_digits.size() > 2) {
    return std::nullopt;
  }
  uint64_t basis_points = 0;
  for (char digit : decimal->integer_digits) basis_points = basis_points * 10 + (digit - '0');
  basis_points *= 100;
  uint64_t weight = 10;
  for (char digit : decimal->fraction_digits) {
    basis_points += static_cast<uint64_t>(digit - '0') * weight;
    weight /= 10;
  }
  return basis_points;
}

// 0 when the key is absent or null, which is the same as writing 0: no floor, no ceiling.
Result<uint64_t> ParseClassRate(const YAML::Node& class_node, std::string_view key,
                                const std::string& class_path, uint64_t shaper_rate_bps,
                                const ErrorReporter& error) {
  const std::string path = ChildPath(class_path, std::string(key));
  const YAML::Node node = class_node[std::string(key)];
  if (!node.IsDefined() || node.IsNull()) return uint64_t{0};
  auto text = ScalarString(node, path, error);
  if (!text) return text.error();
  if (!text->ends_with('%')) {
    auto rate = ParseRateBps(*text, "", path);
    if (!rate) return error(path, rate.error().reason);
    return *rate;
  }
  const auto basis_points =
      ParsePercentBasisPoints(std::string_view(*text).substr(0, text->size() - 1));
  if (!basis_points) {
    return error(path, Quoted(*text) +
                           " is not a percentage; expected 0-100 with at most two decimals, "
                           "such as 10% or 12.5%");
  }
  if (*basis_points > kBasisPointsPerWhole) return error(path, Quoted(*text) + " is above 100%");
  if (shaper_rate_bps == 0) {
    return error(path, Quoted(*text) +
                           " is a share of shaper.rate, but the gateway is unshaped; set "
                           "shaper.rate in the gateway config or write the rate in bit/s");
  }
  // Split so the product cannot overflow: basis_points <= 10000.
  return shaper_rate_bps / kBasisPointsPerWhole * *basis_points +
         shaper_rate_bps % kBasisPointsPerWhole * *basis_points / kBasisPointsPerWhole;
}

std::optional<ConfigError> ParseClassRates(const YAML::Node& class_node,
                                           const std::string& class_path, uint64_t shaper_rate_bps,
                                           const ErrorReporter& error,
                                           TrafficClass& traffic_class) {
  auto max_rate = ParseClassRate(class_node, "maxRate", class_path, shaper_rate_bps, error);
  if (!max_rate) return max_rate.error();
  auto min_rate = ParseClassRate(class_node, "minRate", class_path, shaper_rate_bps, error);
  if (!min_rate) return min_rate.error();
  if (*max_rate != 0 && *min_rate > *max_rate) {
    return error(ChildPath(class_path, "minRate"),
                 std::to_string(*min_rate) + " bit/s is above the class's maxRate (" +
                     std::to_string(*max_rate) + " bit/s); a floor cannot exceed the ceiling");
  }
  traffic_class.max_rate_bps = *max_rate;
  traffic_class.min_rate_bps = *min_rate;
  return std::nullopt;
}

// Floors are promises the port must be able to keep all at once. Unshaped, the port's rate
// is unknown here, so only percentages (already refused without a shaper) could be checked.
std::optional<ConfigError> CheckFloorsFit(const std::vector<TrafficClass>& classes,
                                          uint64_t shaper_rate_bps, const ErrorReporter& error) {
  if (shaper_rate_bps == 0) return std::nullopt;
  uint64_t floors = 0;
  for (size_t index = 0; index < classes.size(); ++index) {
    const bool overflow = __builtin_add_overflow(floors, classes[index].min_rate_bps, &floors);
    if (overflow || floors > shaper_rate_bps) {
      const double share = 100.0 * (overflow ? static_cast<double>(UINT64_MAX) : floors) /
                           static_cast<double>(shaper_rate_bps);
      char share_text[32];
      std::snprintf(share_text, sizeof(share_text), "%.2f%%", share);
      return error(ChildPath(IndexPath("classes", index), "minRate"),
                   std::string("the floors of the classes up to this one add up to ") + share_text +
                       " of shaper.rate (" + std::to_string(shaper_rate_bps) +
                       " bit/s); together they may take at most 100%");
    }
  }
  return std::nullopt;
}

}  // namespace

uint32_t PriorityPolicy::ClassForNamespace(std::string_view namespace_name,
                                           std::string_view label_class) const {
  for (const auto& [name, class_index] : exact_namespaces) {
    if (name == namespace_name) return class_index;
  }
  if (!label_class.empty()) {
    for (uint32_t c = 0; c < classes.size(); ++c) {
      if (classes[c].name == label_class) return c;
    }
  }
  std::optional<uint32_t> longest_match;
  size_t longest_length = 0;
  for (const auto& [prefix, class_index] : prefix_namespaces) {
    if (namespace_name.starts_with(prefix) && (!longest_match || prefix.size() > longest_length)) {
      longest_match = class_index;
      longest_length = prefix.size();
    }
  }
  return longest_match.value_or(default_class);
}

Result<PriorityPolicy> ParsePriorities(std::string_view text, const std::string& source,
                                       uint64_t shaper_rate_bps) {
  return ParseGuarded(source,
                      [&] { return ParsePrioritiesUnchecked(text, source, shaper_rate_bps); });
}

Result<PriorityPolicy> LoadPrioritiesFile(const std::string& path, uint64_t shaper_rate_bps) {
  return LoadFileWith(path, [shaper_rate_bps](std::string_view text, const std::string& source) {
    return ParsePriorities(text, source, shaper_rate_bps);
  });
}

PriorityPolicy DefaultPriorityPolicy() {
  // The embedded document is covered by a unit test, so this cannot fail at run time.
  return ParsePriorities(kDefaultPrioritiesDocument, "built-in default policy").value();
}

Result<uint64_t> ParseRateBps(std::string_view text, const std::string& source,
                              const std::string& key) {
  auto invalid = [&](const std::string& why) {
    return ConfigError{source, key,
                       Quoted(text) + " " + why +
                           "; expected bits per second such as 500Mbit, 1.5Gbit, 10kbit, "
                           "500Mbps or 200000000"};
  };
  if (text.empty()) return invalid("is empty");
  if (text.front() == '-') return invalid("is negative");

  // "bit" and "bps" both mean bits per second here (unlike tc, where bps is bytes). The unit
  // is case-sensitive so that "MBps", conventionally megabytes, is rejected.
  std::string_view number = text;
  if (number.ends_with("bit") || number.ends_with("bps")) {
    number.remove_suffix(3);
  }
  int decimal_exponent = 0;
  if (!number.empty()) {
    switch (ToLower(number.back())) {
      case 'k':
        decimal_exponent = 3;
        break;
      case 'm':
        decimal_exponent = 6;
        break;
      case 'g':
        decimal_exponent = 9;
        break;
      case 't':
        decimal_exponent = 12;
        break;
      default:
        break;
    }
    if (decimal_exponent != 0) number.remove_suffix(1);
  }
  const auto decimal = SplitDecimal(number);
  if (!decimal) return invalid("is not a rate");

  uint64_t multiplier = 1;
  for (int i = 0; i < decimal_exponent; ++i) multiplier *= 10;

  uint64_t bits_per_second = 0;
  for (char digit : decimal->integer_digits) {
    if (__builtin_mul_overflow(bits_per_second, 10, &bits_per_second) ||
        __builtin_add_overflow(bits_per_second, static_cast<uint64_t>(digit - '0'),
                               &bits_per_second)) {
      return invalid("is too large");
    }
  }
  if (__builtin_mul_overflow(bits_per_second, multiplier, &bits_per_second)) {
    return invalid("is too large");
  }
  // Each fraction digit is worth a tenth of the previous one; once that drops below one bit/s
  // a non-zero digit would need a fractional rate, which the shaper cannot express.
  uint64_t digit_weight = multiplier;
  for (char digit : decimal->fraction_digits) {
    digit_weight /= 10;
    const uint64_t digit_value = static_cast<uint64_t>(digit - '0');
    if (digit_value != 0 && digit_weight == 0) return invalid("is not a whole number of bit/s");
    if (__builtin_add_overflow(bits_per_second, digit_value * digit_weight, &bits_per_second)) {
      return invalid("is too large");
    }
  }
  return bits_per_second;
}

}  // namespace dg
