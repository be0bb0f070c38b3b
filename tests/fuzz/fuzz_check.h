// What every fuzz target shares: a failed property aborts with its reason, which libFuzzer
// reports as a crash and saves the input that caused it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

// Output of a crashing run goes to libFuzzer's log, so plain stderr is right here.
#define FUZZ_CHECK(condition, ...)                               \
  do {                                                           \
    if (!(condition)) {                                          \
      std::fprintf(stderr, "property failed: %s: ", #condition); \
      std::fprintf(stderr, __VA_ARGS__);                         \
      std::fprintf(stderr, "\n");                                \
      std::abort();                                              \
    }                                                            \
  } while (false)

namespace dg::fuzz {

inline std::string_view AsText(const uint8_t* data, size_t size) {
  return std::string_view(reinterpret_cast<const char*>(data), size);
}

}  // namespace dg::fuzz
