#include "control/log.h"

#include <unistd.h>

#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <ctime>
#include <string>

#include "control/format.h"

namespace dg {
namespace {

std::atomic<int> threshold{static_cast<int>(LogLevel::kInfo)};

}  // namespace

std::optional<LogLevel> ParseLogLevel(std::string_view name) {
  if (name == "error") return LogLevel::kError;
  if (name == "warning" || name == "warn") return LogLevel::kWarning;
  if (name == "info") return LogLevel::kInfo;
  if (name == "debug") return LogLevel::kDebug;
  return std::nullopt;
}

std::string_view LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kError:
      return "error";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kDebug:
      return "debug";
  }
  return "info";
}

void SetLogLevel(LogLevel level) { threshold.store(static_cast<int>(level)); }

bool LogEnabled(LogLevel level) {
  return static_cast<int>(level) <= threshold.load(std::memory_order_relaxed);
}

void Log(LogLevel level, std::string_view component, std::string_view message) {
  if (!LogEnabled(level)) return;
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  tm utc{};
  gmtime_r(&now.tv_sec, &utc);
  char stamp[40];
  const size_t stamp_length = strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &utc);
  std::string line(stamp, stamp_length);
  char millis[24];
  std::snprintf(millis, sizeof millis, ".%03dZ ", static_cast<int>(now.tv_nsec / 1000000));
  line += millis;
  line += LogLevelName(level);
  line += ' ';
  line += component;
  line += ": ";
  line += message;
  if (line.back() != '\n') line += '\n';
  // One write(2) per line: stdio buffering could split a line between threads.
  size_t written = 0;
  while (written < line.size()) {
    const ssize_t n = ::write(STDERR_FILENO, line.data() + written, line.size() - written);
    if (n <= 0) break;
    written += static_cast<size_t>(n);
  }
}

void Logf(LogLevel level, const char* component, const char* format, ...) {
  if (!LogEnabled(level)) return;
  va_list arguments;
  va_start(arguments, format);
  const std::string message = VFormat(format, arguments);
  va_end(arguments);
  Log(level, component, message);
}

}  // namespace dg
