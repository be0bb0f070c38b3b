#include "control/result.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <system_error>

#include "control/input_limits.h"

namespace dg {

// Reached only when a caller calls .value() on a failed Result; callers that check the
// Result never get here, so the message must stand alone for whoever catches it.
void throw_exception_from_error(const ConfigError& error,
                                const boost::source_location& /*location*/) {
  throw std::runtime_error(error.Message());
}

void throw_exception_from_error(const EnvironmentError& error,
                                const boost::source_location& /*location*/) {
  throw std::runtime_error(error.Message());
}

Result<std::string> ReadTextFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    return Result<std::string>(
        boost::system::in_place_error,
        ConfigError{path, "", std::string("cannot open: ") + std::strerror(errno)});
  }
  // Checked before reading: a runaway file must cost neither the memory nor the time.
  std::error_code size_error;
  const auto size = std::filesystem::file_size(path, size_error);
  if (!size_error && size > kMaxInputFileBytes) {
    return Result<std::string>(boost::system::in_place_error,
                               ConfigError{path, "",
                                           "file of " + std::to_string(size) + " bytes; at most " +
                                               std::to_string(kMaxInputFileBytes)});
  }
  std::ostringstream contents;
  contents << file.rdbuf();
  if (file.bad()) {
    return Result<std::string>(boost::system::in_place_error, ConfigError{path, "", "read failed"});
  }
  return Result<std::string>(boost::system::in_place_value, contents.str());
}

}  // namespace dg
