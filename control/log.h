// One logging facility for the whole executable: levels, one line format, stderr.
// Control plane only: the worker never logs (it bumps counters instead).
#pragma once

#include <optional>
#include <string_view>

namespace dg {

enum class LogLevel { kError = 0, kWarning = 1, kInfo = 2, kDebug = 3 };

// "error", "warning" (or "warn"), "info", "debug"; nullopt for anything else.
std::optional<LogLevel> ParseLogLevel(std::string_view name);
std::string_view LogLevelName(LogLevel level);

// Process-wide threshold, set once from --log-level before threads start; default info.
void SetLogLevel(LogLevel level);
bool LogEnabled(LogLevel level);

// "2026-12-01T21:55:45.123Z warning policy: <message>" on stderr, one write per line so
// lines from different threads never interleave.
void Log(LogLevel level, std::string_view component, std::string_view message);

// printf-style convenience; the format is checked by the compiler.
[[gnu::format(printf, 3, 4)]] void Logf(LogLevel level, const char* component, const char* format,
                                        ...);

}  // namespace dg

#define DG_LOG_ERROR(component, ...) ::dg::Logf(::dg::LogLevel::kError, component, __VA_ARGS__)
#define DG_LOG_WARNING(component, ...) ::dg::Logf(::dg::LogLevel::kWarning, component, __VA_ARGS__)
#define DG_LOG_INFO(component, ...) ::dg::Logf(::dg::LogLevel::kInfo, component, __VA_ARGS__)
#define DG_LOG_DEBUG(component, ...)                              \
  do {                                                            \
    if (::dg::LogEnabled(::dg::LogLevel::kDebug))                 \
      ::dg::Logf(::dg::LogLevel::kDebug, component, __VA_ARGS__); \
  } while (0)
