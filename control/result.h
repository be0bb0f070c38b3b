// Value-or-error for the control plane: parsing and loading never throw past this API.
// Two error kinds, never mixed: ConfigError is bad input the operator must fix (a file,
// a key, a ConfigMap); EnvironmentError is the machine refusing (a device, a socket, a
// permission, the kernel) and names the operation that failed.
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

struct EnvironmentError {
  std::string operation;  // what was attempted, e.g. "bind 127.0.0.1:9470", "rte_eal_init"
  std::string reason;     // what the system said

  std::string Message() const { return operation + ": " + reason; }
};

[[noreturn]] void throw_exception_from_error(const ConfigError& error,
                                             const boost::source_location& location);
[[noreturn]] void throw_exception_from_error(const EnvironmentError& error,
                                             const boost::source_location& location);

template <class T>
using Result = boost::system::result<T, ConfigError>;
template <class T>
using EnvResult = boost::system::result<T, EnvironmentError>;

// The whole file as text; the error names the file and the system's reason.
Result<std::string> ReadTextFile(const std::string& path);

}  // namespace dg
