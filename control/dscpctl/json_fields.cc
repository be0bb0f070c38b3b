#include "control/dscpctl/json_fields.h"

#include <boost/json/serialize.hpp>

#include "control/dscpctl/tables.h"

namespace dg::dscpctl {

namespace json = boost::json;

const json::value* Field(const json::value* value, std::initializer_list<std::string_view> path) {
  for (std::string_view key : path) {
    const json::object* object = value ? value->if_object() : nullptr;
    value = object ? object->if_contains(key) : nullptr;
  }
  return value;
}

double Number(const json::value* value) {
  if (value == nullptr) return 0;
  if (const int64_t* i = value->if_int64()) return static_cast<double>(*i);
  if (const uint64_t* u = value->if_uint64()) return static_cast<double>(*u);
  if (const double* d = value->if_double()) return *d;
  return 0;
}

uint64_t Unsigned(const json::value* value) {
  if (value == nullptr) return 0;
  if (const int64_t* i = value->if_int64()) return *i < 0 ? 0 : static_cast<uint64_t>(*i);
  if (const uint64_t* u = value->if_uint64()) return *u;
  if (const double* d = value->if_double()) return *d <= 0 ? 0 : static_cast<uint64_t>(*d);
  return 0;
}

std::string Text(const json::value* value) {
  if (value == nullptr || value->is_null()) return "";
  if (const json::string* s = value->if_string()) return std::string(*s);
  return json::serialize(*value);
}

bool Bool(const json::value* value) {
  if (value == nullptr) return false;
  if (const bool* b = value->if_bool()) return *b;
  return Number(value) != 0;
}

const json::array& Array(const json::value* value) {
  static const json::array kEmpty;
  const json::array* array = value ? value->if_array() : nullptr;
  return array ? *array : kEmpty;
}

const json::object& Object(const json::value* value) {
  static const json::object kEmpty;
  const json::object* object = value ? value->if_object() : nullptr;
  return object ? *object : kEmpty;
}

std::string NumberOrDash(const json::value* value) {
  return value == nullptr || value->is_null() ? std::string("-") : Format("%.1f", Number(value));
}

}  // namespace dg::dscpctl
