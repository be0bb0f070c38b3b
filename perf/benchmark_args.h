// The Google Benchmark mains' shared tail: what a benchmark's own flags did not take goes
// to the library, which rejects anything it does not know either.
#pragma once

#include <benchmark/benchmark.h>

#include <vector>

namespace dg {

// `rest` starts with argv[0]. False (exit 2) on an argument nobody knows.
inline bool InitializeBenchmark(std::vector<char*>& rest) {
  int rest_argc = static_cast<int>(rest.size());
  benchmark::Initialize(&rest_argc, rest.data());
  return !benchmark::ReportUnrecognizedArguments(rest_argc, rest.data());
}

}  // namespace dg
