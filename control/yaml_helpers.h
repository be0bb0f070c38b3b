// Small helpers shared by the YAML loaders in control/: key paths for error messages and
// unambiguous Result construction.
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>
#include <string_view>

#include "control/result.h"

namespace dg::yaml_helpers {

// "shaper" + "rate" -> "shaper.rate"; the root has an empty path.
inline std::string ChildPath(const std::string& parent, std::string_view key) {
  if (parent.empty()) return std::string(key);
  return parent + "." + std::string(key);
}

inline std::string IndexPath(const std::string& parent, size_t index) {
  return parent + "[" + std::to_string(index) + "]";
}

inline std::string Quoted(std::string_view text) { return "\"" + std::string(text) + "\""; }

// Absent and `key:` (null) both mean "use the default".
inline bool IsPresent(const YAML::Node& node) { return node.IsDefined() && !node.IsNull(); }

// ConfigError is an aggregate of strings, so in C++20 a std::string can initialise it and a
// YAML::Node can be built from it; a plain `return` into Result<std::string> or
// Result<YAML::Node> is then ambiguous, and these name the side explicitly.
inline Result<std::string> StringValue(std::string value) {
  return Result<std::string>(boost::system::in_place_value, std::move(value));
}
inline Result<YAML::Node> NodeError(ConfigError error) {
  return Result<YAML::Node>(boost::system::in_place_error, std::move(error));
}

}  // namespace dg::yaml_helpers
