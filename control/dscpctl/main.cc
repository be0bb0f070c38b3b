// dscpctl: command-line client for dscp-gateway's read-only REST API. Shows health and
// policy status, live rates (two /v1/stats samples apart), the pod table and the policy;
// --json passes the documents through for scripts. Plain HTTP/1.1 only: the API listens
// on a local address.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "control/dscpctl/client.h"
#include "control/dscpctl/commands.h"
#include "control/gateway_config.h"
#include "control/rest_server.h"

namespace {

using namespace dg::dscpctl;

std::string Usage() {
  return R"(usage: dscpctl [--endpoint URL] [--json] [--interval SECONDS] [--timeout SECONDS] COMMAND

Query a running dscp-gateway through its read-only REST API.

commands:
  status    health, readiness, uptime, policy source/hash/reloads, pod table fill, shaper,
            Kubernetes sync
  stats     rates from two /v1/stats samples --interval apart: per port, per class
            (throughput, drops, queue depth, sojourn), per namespace, unclassified frames
  pods      the pod table: ip, namespace, pod, class, dscp, where the class came from,
            the class the pod asked for, its egress limit (bit/s) and refused annotations
  policy    priority classes, namespace mappings and reload status

options:
  --endpoint URL      REST address of the gateway, http://HOST[:PORT][/PREFIX]
                      (default $DSCPCTL_ENDPOINT, else )" +
         DefaultEndpoint() + R"(; PORT defaults
                      to )" +
         std::to_string(dg::kDefaultRestPort) + R"(; https is not supported)
  --json              print the endpoint JSON instead of tables (stats: both samples and
                      the computed rates as one object; status: every document it read)
  --interval SECONDS  stats: time between the two samples (default 1)
  --timeout SECONDS   connect + request + response budget per request (default 2)
  -h, --help          this text

exit status: 0 ok; 1 status found the gateway not healthy or not ready; 2 bad usage;
3 gateway not reachable (or no answer in time); 4 HTTP error status or unexpected body.
)";
}

int UsageError(const std::string& message) {
  std::fprintf(stderr, "dscpctl: %s\n\n%s", message.c_str(), Usage().c_str());
  return kExitUsage;
}

bool ParseSeconds(const std::string& text, double* seconds) {
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || !std::isfinite(value) || value <= 0 || value > 86400) {
    return false;
  }
  *seconds = value;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (const char* from_environment = std::getenv("DSCPCTL_ENDPOINT")) {
    options.endpoint = from_environment;
  }
  if (options.endpoint.empty()) options.endpoint = DefaultEndpoint();

  for (int i = 1; i < argc; ++i) {
    std::string argument = argv[i];
    if (argument == "-h" || argument == "--help" || argument == "help") {
      std::fputs(Usage().c_str(), stdout);
      return kExitOk;
    }
    if (argument == "--json") {
      options.json = true;
      continue;
    }
    if (argument.rfind("--", 0) == 0) {
      std::string name = argument;
      std::string value;
      bool has_value = false;
      if (const size_t equals = argument.find('='); equals != std::string::npos) {
        name = argument.substr(0, equals);
        value = argument.substr(equals + 1);
        has_value = true;
      }
      if (name != "--endpoint" && name != "--interval" && name != "--timeout") {
        return UsageError("unknown option '" + name + "'");
      }
      if (!has_value) {
        if (i + 1 >= argc) return UsageError(name + " needs a value");
        value = argv[++i];
      }
      if (name == "--endpoint") {
        options.endpoint = value;
      } else if (!ParseSeconds(value, name == "--interval" ? &options.interval_seconds
                                                           : &options.timeout_seconds)) {
        return UsageError(name + " takes seconds, more than 0 and at most 86400 (got '" + value +
                          "')");
      }
      continue;
    }
    if (!options.command.empty()) {
      return UsageError("one command at a time (got '" + options.command + "' and '" + argument +
                        "')");
    }
    options.command = argument;
  }
  if (options.command.empty()) return UsageError("a command is required");
  if (options.command != "status" && options.command != "stats" && options.command != "pods" &&
      options.command != "policy") {
    return UsageError("unknown command '" + options.command + "'");
  }

  Endpoint endpoint;
  std::string error;
  if (!ParseEndpoint(options.endpoint, &endpoint, &error)) return UsageError(error);
  Client client(std::move(endpoint), options.timeout_seconds);
  if (options.command == "status") return Status(client, options);
  if (options.command == "stats") return Stats(client, options);
  if (options.command == "pods") return Pods(client, options);
  return Policy(client, options);
}
