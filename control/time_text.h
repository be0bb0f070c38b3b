// Timestamps as the REST documents and metrics write them.
#pragma once

#include <chrono>
#include <ctime>
#include <string>

namespace dg {

// "2026-12-01T21:55:45Z"; "" for the epoch (never happened).
inline std::string Rfc3339(std::chrono::system_clock::time_point time) {
  if (time.time_since_epoch().count() == 0) return "";
  const std::time_t seconds = std::chrono::system_clock::to_time_t(time);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char buffer[32];
  std::strftime(buffer, sizeof(buffer), "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buffer;
}

inline double UnixSeconds(std::chrono::system_clock::time_point time) {
  return std::chrono::duration<double>(time.time_since_epoch()).count();
}

}  // namespace dg
