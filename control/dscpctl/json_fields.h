// Lenient access to the gateway's JSON documents: a field the gateway does not send
// reads as 0 / "" / empty, so dscpctl works against older and newer gateways.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

namespace dg::dscpctl {

// value[path[0]][path[1]]...; nullptr where the path leaves the document.
const boost::json::value* Field(const boost::json::value* value,
                                std::initializer_list<std::string_view> path);
double Number(const boost::json::value* value);
uint64_t Unsigned(const boost::json::value* value);
std::string Text(const boost::json::value* value);
bool Bool(const boost::json::value* value);
const boost::json::array& Array(const boost::json::value* value);
const boost::json::object& Object(const boost::json::value* value);
// "%.1f", or "-" when the field is missing or null.
std::string NumberOrDash(const boost::json::value* value);

}  // namespace dg::dscpctl
