// printf-style formatting into a std::string (GCC 12's libstdc++ has no <format>).
#pragma once

#include <cstdarg>
#include <string>

namespace dg {

[[gnu::format(printf, 1, 2)]] std::string Format(const char* format, ...);
std::string VFormat(const char* format, va_list arguments);

}  // namespace dg
