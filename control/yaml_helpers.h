// Small helpers shared by the YAML loaders (control/ and the kubeconfig reader): key paths
// for error messages, the one wording of a syntax error, and unambiguous Result construction.
#pragma once

#include <yaml-cpp/yaml.h>

#include <exception>
#include <string>
#include <string_view>

#include "control/input_limits.h"
#include "control/result.h"

namespace dg {

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

// Counts the nodes of `node` as a reader sees them (an alias counts each time it is
// reached), giving up once `budget` is spent or the nesting passes kMaxYamlDepth: the cost
// of the walk is bounded by them.
inline bool FitsNodeBudget(const YAML::Node& node, size_t& budget, size_t depth = 0) {
  if (budget == 0 || depth > kMaxYamlDepth) return false;
  --budget;
  if (node.IsMap()) {
    for (const auto& entry : node) {
      if (!FitsNodeBudget(entry.first, budget, depth + 1) ||
          !FitsNodeBudget(entry.second, budget, depth + 1)) {
        return false;
      }
    }
  } else if (node.IsSequence()) {
    for (const YAML::Node& element : node) {
      if (!FitsNodeBudget(element, budget, depth + 1)) return false;
    }
  }
  return true;
}

// One document (YAML, or JSON as YAML flow syntax). A syntax error reads "invalid YAML at
// line N, column M: why", attributed to `key` of `source`. A document that expands through
// aliases beyond the bound of control/input_limits.h is rejected before anyone walks it.
inline Result<YAML::Node> LoadYaml(std::string_view text, const std::string& source,
                                   const std::string& key = "") {
  if (text.size() > kMaxInputFileBytes) {
    return NodeError(ConfigError{source, key,
                                 "document of " + std::to_string(text.size()) + " bytes; at most " +
                                     std::to_string(kMaxInputFileBytes)});
  }
  try {
    YAML::Node root = YAML::Load(std::string(text));
    size_t budget = text.size() + kYamlNodeSlack;
    if (!FitsNodeBudget(root, budget)) {
      return NodeError(
          ConfigError{source, key,
                      "YAML nests deeper than " + std::to_string(kMaxYamlDepth) +
                          " or its aliases expand to more than " +
                          std::to_string(text.size() + kYamlNodeSlack) +
                          " nodes (the document's size in bytes); write the values out"});
    }
    return root;
  } catch (const YAML::Exception& exception) {
    // yaml-cpp marks are 0-based; editors count from 1.
    return NodeError(ConfigError{source, key,
                                 "invalid YAML at line " + std::to_string(exception.mark.line + 1) +
                                     ", column " + std::to_string(exception.mark.column + 1) +
                                     ": " + exception.msg});
  }
}

// Runs a document parser; a structure it did not expect (yaml-cpp throws on it) becomes an
// error naming the file instead of escaping as an exception.
template <class Parse>
auto ParseGuarded(const std::string& source, Parse parse) -> decltype(parse()) {
  try {
    return parse();
  } catch (const YAML::Exception& exception) {
    return ConfigError{source, "", "unexpected YAML structure: " + exception.msg};
  } catch (const std::exception& exception) {
    return ConfigError{source, "", exception.what()};
  }
}

// Reads `path` and hands its text to `parse(text, path)`.
template <class Parse>
auto LoadFileWith(const std::string& path, Parse parse)
    -> decltype(parse(std::string_view(), path)) {
  auto text = ReadTextFile(path);
  if (!text) return text.error();
  return parse(*text, path);
}

}  // namespace dg
