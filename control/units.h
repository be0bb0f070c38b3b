// Quantities written as text in the configuration files: byte sizes and durations. Rates
// are ParseRateBps (control/policy.h). `source` and `key` only name the place in errors.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "control/result.h"

namespace dg {

// Plain bytes, or binary KiB/MiB multiples ("16KiB" is 16384); decimal "KB" is rejected
// rather than guessed at. At most 4 GiB - 1.
Result<uint32_t> ParseByteSize(std::string_view text, const std::string& source,
                               const std::string& key);

// An integer with a unit: "500us", "10ms", "1s", "250000ns" ("µs" too). Nanoseconds, at
// most 4 s - 1 ns (2^32 - 1 ns).
Result<uint32_t> ParseDurationNs(std::string_view text, const std::string& source,
                                 const std::string& key);

}  // namespace dg
