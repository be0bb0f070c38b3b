#include "control/units.h"

#include <array>
#include <utility>

#include "control/yaml_helpers.h"

namespace dg {
namespace {

bool AllDigits(std::string_view text) {
  return !text.empty() && text.find_first_not_of("0123456789") == std::string_view::npos;
}

}  // namespace

Result<uint32_t> ParseByteSize(std::string_view text, const std::string& source,
                               const std::string& key) {
  const std::string usage = "; expected bytes such as 16384, 16KiB or 1MiB";
  std::string_view number = text;
  uint64_t multiplier = 1;
  if (number.ends_with("KiB")) {
    multiplier = 1024;
  } else if (number.ends_with("MiB")) {
    multiplier = 1024 * 1024;
  }
  if (multiplier != 1) number.remove_suffix(3);
  if (!AllDigits(number) || number.size() > 10) {
    return ConfigError{source, key, Quoted(text) + " is not a size" + usage};
  }
  const uint64_t bytes = std::stoull(std::string(number)) * multiplier;
  if (bytes > UINT32_MAX) return ConfigError{source, key, Quoted(text) + " is larger than 4GiB"};
  return static_cast<uint32_t>(bytes);
}

Result<uint32_t> ParseDurationNs(std::string_view text, const std::string& source,
                                 const std::string& key) {
  static constexpr std::array<std::pair<std::string_view, uint64_t>, 5> kUnits = {
      {{"ns", 1}, {"us", 1'000}, {"µs", 1'000}, {"ms", 1'000'000}, {"s", 1'000'000'000}}};
  const std::string usage = "; expected an integer with a unit such as 500us, 10ms or 1s";
  for (const auto& [unit, nanoseconds] : kUnits) {
    if (!text.ends_with(unit)) continue;
    const std::string_view number = text.substr(0, text.size() - unit.size());
    if (!AllDigits(number)) break;  // "10xs", "ms", "-5ms": not a duration whatever the unit
    if (number.size() > 10) return ConfigError{source, key, Quoted(text) + " is longer than 4s"};
    const uint64_t value = std::stoull(std::string(number)) * nanoseconds;
    if (value > UINT32_MAX) return ConfigError{source, key, Quoted(text) + " is longer than 4s"};
    return static_cast<uint32_t>(value);
  }
  return ConfigError{source, key, Quoted(text) + " is not a duration" + usage};
}

}  // namespace dg
