// Value-or-error for the control plane: parsing and loading never throw past this API.
#pragma once

#include <boost/system/result.hpp>
#include <string>

namespace dg {

// A rejected input, located precisely enough for an operator to fix it:
// "configs/priorities.yaml: classes[2].dscp: 64 is outside 0-63".
struct ConfigError {
  std::string file;    // path, or a label such as "ConfigMap kube-system/dscp-priorities"
  std::string key;     // key path inside the document, e.g. "data.priorities.yaml/classes[2].dscp"
  std::string reason;  // human-readable, says what was expected

  std::string Message() const {
    std::string message = file;
    if (!key.empty()) message += (message.empty() ? "" : ": ") + key;
    return message + (message.empty() ? "" : ": ") + reason;
  }
};

[[noreturn]] void throw_exception_from_error(const ConfigError& error,
                                             const boost::source_location& location);

template <class T>
using Result = boost::system::result<T, ConfigError>;

// The whole file as text; the error names the file and the system's reason.
Result<std::string> ReadTextFile(const std::string& path);

}  // namespace dg
