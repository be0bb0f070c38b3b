// Null-tolerant field access for Kubernetes objects: a missing or mistyped field reads as
// absent, so callers chain lookups (metadata -> labels -> key) without checking each step.
#pragma once

#include <boost/json/object.hpp>
#include <string>
#include <string_view>

namespace dg::k8s {

inline const boost::json::object* ObjectAt(const boost::json::object* parent,
                                           std::string_view key) {
  if (parent == nullptr) return nullptr;
  const boost::json::value* value = parent->if_contains(key);
  return value != nullptr ? value->if_object() : nullptr;
}

inline std::string StringAt(const boost::json::object* parent, std::string_view key) {
  if (parent == nullptr) return "";
  const boost::json::value* value = parent->if_contains(key);
  return value != nullptr && value->is_string() ? std::string(value->get_string()) : "";
}

}  // namespace dg::k8s
